// Latency samples and their summary. Samples are kept whole (bounded by the caller's time budget:
// a bench slice of one second records at most a few hundred thousand numbers) so percentiles are
// exact rather than bucketed.

import { assert } from '../../src/util/assert.js';

export interface LatencySummary {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly meanUs: number;
}

/** Collects latencies in microseconds. */
export class LatencySamples {
  // Invariant: every value is a finite, non-negative duration in microseconds.
  private readonly samplesUs: number[] = [];

  /** Upper bound so a runaway loop cannot exhaust memory (8 bytes each: 80 MB at most). */
  static readonly MAX_SAMPLES = 10_000_000;

  add(durationUs: number): void {
    assert(Number.isFinite(durationUs) && durationUs >= 0, `bad latency sample ${durationUs}`);
    if (this.samplesUs.length < LatencySamples.MAX_SAMPLES) this.samplesUs.push(durationUs);
  }

  addAll(other: LatencySamples): void {
    for (const value of other.samplesUs) this.add(value);
  }

  get count(): number {
    return this.samplesUs.length;
  }

  summary(): LatencySummary {
    const sorted = Float64Array.from(this.samplesUs).sort();
    const n = sorted.length;
    if (n === 0) return { count: 0, p50Us: NaN, p99Us: NaN, p999Us: NaN, maxUs: NaN, meanUs: NaN };
    let sum = 0;
    for (const value of sorted) sum += value;
    return {
      count: n,
      p50Us: quantile(sorted, 0.5),
      p99Us: quantile(sorted, 0.99),
      p999Us: quantile(sorted, 0.999),
      maxUs: sorted[n - 1] ?? NaN,
      meanUs: sum / n,
    };
  }
}

/** Nearest-rank quantile of an ascending array. */
function quantile(sorted: Float64Array, q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

/** Monotonic clock in microseconds (fractional). */
export function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}
