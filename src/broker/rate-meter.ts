// Events per second over the last WINDOW_SECONDS whole seconds (the TPS columns of clusterList:
// putTps, getTransferredTps). One counter per second in a ring; the current, unfinished second is
// not counted so the rate does not dip at the start of each second.
import { assert } from '../util/assert.js';

const WINDOW_SECONDS = 10;

export class RateMeter {
  private readonly counts = new Float64Array(WINDOW_SECONDS + 1);
  // Invariant: counts[s % length] holds second s for s in (second - length, second].
  private second: number;

  constructor(private readonly nowMs: () => number = Date.now) {
    this.second = Math.floor(nowMs() / 1000);
  }

  add(count = 1): void {
    assert(count >= 0, `count ${count}`);
    this.advance();
    const slot = this.second % this.counts.length;
    this.counts[slot] = (this.counts[slot] as number) + count;
  }

  /** Mean events per second over the last WINDOW_SECONDS complete seconds. */
  perSecond(): number {
    this.advance();
    let total = 0;
    for (let s = this.second - WINDOW_SECONDS; s < this.second; s++) total += this.counts[((s % this.counts.length) + this.counts.length) % this.counts.length] as number;
    return total / WINDOW_SECONDS;
  }

  private advance(): void {
    const now = Math.floor(this.nowMs() / 1000);
    // Clear the seconds skipped since the last call (at most one full ring).
    for (let s = Math.max(this.second + 1, now - this.counts.length + 1); s <= now; s++) this.counts[s % this.counts.length] = 0;
    this.second = Math.max(this.second, now);
  }
}

/** Groups tracked at most; the least recently counted one is forgotten beyond this. */
const KEYED_METERS_MAX = 10_000;

/** One RateMeter per key (a consumer group's pulled messages: ConsumeStats.consumeTps), bounded. */
export class KeyedRateMeters {
  // Invariant: at most KEYED_METERS_MAX entries, in least-recently-added-to order.
  private readonly meters = new Map<string, RateMeter>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  add(key: string, count = 1): void {
    let meter = this.meters.get(key);
    if (meter === undefined) meter = new RateMeter(this.nowMs);
    else this.meters.delete(key);
    this.meters.set(key, meter);
    if (this.meters.size > KEYED_METERS_MAX) this.meters.delete(this.meters.keys().next().value as string);
    meter.add(count);
  }

  /** Events per second of the key over the meter's window; 0 for a key never (or long ago) counted. */
  perSecond(key: string): number {
    return this.meters.get(key)?.perSecond() ?? 0;
  }
}
