// The leader's window of Append messages in flight to one follower, bounded in count and bytes
// (etcd's tracker.Inflights). Entries are released when the follower acknowledges an index.
import { assert } from '../util/assert.js';

export class Inflights {
  // Invariant: lastIndexes is strictly ascending (Appends go out in log order) and
  // lastIndexes.length === sizesBytes.length <= maxMsgs.
  private lastIndexes: number[] = [];
  private sizesBytes: number[] = [];
  // Invariant: totalBytes === sum(sizesBytes).
  private totalBytes = 0;

  constructor(
    readonly maxMsgs: number,
    readonly maxBytes: number,
  ) {
    assert(maxMsgs > 0 && maxBytes > 0, 'inflight limits must be positive');
  }

  /** Records one Append whose last entry is lastIndex, carrying sizeBytes of entry data. */
  add(lastIndex: number, sizeBytes: number): void {
    assert(!this.full(), 'add to a full inflight window');
    const tail = this.lastIndexes[this.lastIndexes.length - 1];
    assert(tail === undefined || lastIndex > tail, `inflight ${lastIndex} not after ${String(tail)}`);
    this.lastIndexes.push(lastIndex);
    this.sizesBytes.push(sizeBytes);
    this.totalBytes += sizeBytes;
  }

  /** Releases every message whose last index is <= index. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && (this.lastIndexes[n] as number) <= index) {
      this.totalBytes -= this.sizesBytes[n] as number;
      n++;
    }
    if (n > 0) {
      this.lastIndexes.splice(0, n);
      this.sizesBytes.splice(0, n);
    }
  }

  /** Full when the count limit is reached or the bytes limit is reached or passed. */
  full(): boolean {
    return this.lastIndexes.length >= this.maxMsgs || this.totalBytes >= this.maxBytes;
  }

  count(): number {
    return this.lastIndexes.length;
  }

  bytes(): number {
    return this.totalBytes;
  }

  reset(): void {
    this.lastIndexes = [];
    this.sizesBytes = [];
    this.totalBytes = 0;
  }
}
