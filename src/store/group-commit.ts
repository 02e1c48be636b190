// Durability waiters for group commit. Appends are durable in index order, so the waiters form a
// queue sorted by index; one flush resolves every waiter at or below the new durable index.
import { assert } from '../util/assert.js';

interface Waiter {
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class DurabilityWaiters {
  // Invariant: sorted by index, non-decreasing.
  private readonly queue: Waiter[] = [];
  private head = 0;

  get size(): number {
    return this.queue.length - this.head;
  }

  add(index: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const last = this.queue.at(-1);
      if (this.size === 0 || last === undefined || last.index <= index) {
        this.queue.push({ index, resolve, reject });
        return;
      }
      // Rare: a waiter for an earlier index than the newest one; keep the queue sorted.
      let at = this.queue.length;
      while (at > this.head && (this.queue[at - 1] as Waiter).index > index) at--;
      this.queue.splice(at, 0, { index, resolve, reject });
    });
  }

  /** Resolve every waiter with index <= durableIndex. */
  resolveThrough(durableIndex: number): void {
    while (this.head < this.queue.length) {
      const waiter = this.queue[this.head] as Waiter;
      if (waiter.index > durableIndex) break;
      this.head++;
      waiter.resolve();
    }
    this.compact();
  }

  /** Reject every waiter with index >= fromIndex (a truncate removed those entries). */
  rejectFrom(fromIndex: number, errorFor: (index: number) => unknown): void {
    while (this.size > 0) {
      const waiter = this.queue.at(-1);
      assert(waiter !== undefined, 'non-empty queue');
      if (waiter.index < fromIndex) break;
      this.queue.pop();
      waiter.reject(errorFor(waiter.index));
    }
  }

  rejectAll(error: unknown): void {
    while (this.head < this.queue.length) (this.queue[this.head++] as Waiter).reject(error);
    this.compact();
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
