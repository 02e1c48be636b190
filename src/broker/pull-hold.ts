// Long polling (PullRequestHoldService): a pull that finds nothing new, sent with the suspend
// flag, is held until a message for its queue is applied or its suspend timeout passes, then
// re-run once and answered. Held pulls are bounded; past the bound a pull is answered at once.
import { assert } from '../util/assert.js';

interface Held {
  readonly key: string;
  readonly wake: () => void;
  readonly timer: NodeJS.Timeout;
}

export class PullHoldService {
  private readonly held = new Map<string, Set<Held>>();
  // Invariant: count = total size of the sets in held.
  private count = 0;
  /** Queues with a new message whose held pulls are about to be re-run. */
  private readonly notified = new Set<string>();

  constructor(private readonly maxHeld: number) {
    assert(Number.isInteger(maxHeld) && maxHeld >= 0, `maxHeld ${maxHeld}`);
  }

  get heldCount(): number {
    return this.count;
  }

  /** Hold; `wake` runs exactly once (message, timeout or close). False if the bound is reached. */
  hold(topic: string, queueId: number, timeoutMs: number, wake: () => void): boolean {
    if (this.count >= this.maxHeld) return false;
    const key = `${queueId}@${topic}`;
    let set = this.held.get(key);
    if (set === undefined) this.held.set(key, (set = new Set()));
    const entry: Held = { key, wake, timer: setTimeout(() => this.release(entry), timeoutMs) };
    set.add(entry);
    this.count++;
    return true;
  }

  /**
   * A message for (topic, queueId) was applied: re-run every pull held on that queue. The re-run
   * happens in a microtask, after the apply loop that called us has finished: DLedgerServer
   * counts a batch as applied (and serves get() for it) only once the whole batch is through.
   */
  notifyMessage(topic: string, queueId: number): void {
    const key = `${queueId}@${topic}`;
    if (!this.held.has(key)) return;
    this.notified.add(key);
    if (this.notified.size === 1) queueMicrotask(() => this.releaseNotified());
  }

  private releaseNotified(): void {
    const keys = [...this.notified];
    this.notified.clear();
    for (const key of keys) for (const entry of [...(this.held.get(key) ?? [])]) this.release(entry);
  }

  /** Answer every held pull now (shutdown). */
  close(): void {
    for (const set of [...this.held.values()]) for (const entry of [...set]) this.release(entry);
  }

  private release(entry: Held): void {
    const set = this.held.get(entry.key);
    if (set === undefined || !set.delete(entry)) return;
    if (set.size === 0) this.held.delete(entry.key);
    this.count--;
    clearTimeout(entry.timer);
    entry.wake();
  }
}
