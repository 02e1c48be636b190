// A bounded ring of the most recent simulator events, printed with a violation so that a
// failing seed can be read without re-running it under a debugger. Events are strings built
// lazily only when tracing is on, so the hot loop of a large campaign does not pay for them.
import { assert } from '../../../src/util/assert.js';

export class EventTrace {
  // Invariant: events.length <= capacity; next is the slot the next event overwrites once full.
  private readonly events: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0, `bad trace capacity ${capacity}`);
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  record(tick: number, event: string): void {
    if (this.capacity === 0) return;
    const line = `t=${tick} ${event}`;
    if (this.events.length < this.capacity) {
      this.events.push(line);
    } else {
      this.events[this.next] = line;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  lines(): string[] {
    return [...this.events.slice(this.next), ...this.events.slice(0, this.next)];
  }
}
