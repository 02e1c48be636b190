// Counts of requests a bound refused, per bound, with a log line per refusal that is rate-limited
// per bound (an attacker repeating a refused request must not turn the log into the next
// unbounded resource): the first refusal of a bound in each window is logged with its reason,
// later ones in that window only counted and summed into the next line.

/** One log line per bound per this long at most. */
const LOG_WINDOW_MS = 10_000;

export class RefusalCounter {
  // Invariant: counts holds one entry per bound name ever refused (a fixed set in the code).
  private readonly counts = new Map<string, number>();
  private readonly lastLogMs = new Map<string, number>();
  private readonly unlogged = new Map<string, number>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Count one refusal by `bound` (a config key name) and log `reason` unless logged recently. */
  refuse(bound: string, reason: string): void {
    this.counts.set(bound, (this.counts.get(bound) ?? 0) + 1);
    const now = this.nowMs();
    const last = this.lastLogMs.get(bound);
    if (last !== undefined && now - last < LOG_WINDOW_MS) {
      this.unlogged.set(bound, (this.unlogged.get(bound) ?? 0) + 1);
      return;
    }
    const skipped = this.unlogged.get(bound) ?? 0;
    this.unlogged.delete(bound);
    this.lastLogMs.set(bound, now);
    this.log(`refused by ${bound}: ${reason}${skipped > 0 ? ` (and ${skipped} more since the last such line)` : ''}`);
  }

  count(bound: string): number {
    return this.counts.get(bound) ?? 0;
  }

  /** Every bound's count, sorted by name (GET_BROKER_RUNTIME_INFO shows them). */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
