// The load cases benches take on the command line (bench/ab.ts --cases, bench/embedded-appender.ts).
import type { LoadCase } from './dledger-group.js';

/** `C:N` (N single appends, C in flight) or `CxB:N` (N entries in batches of B, C batches in flight). */
export function parseCases(text: string): LoadCase[] {
  return text.split(',').map((part) => {
    const match = /^(\d+)(?:x(\d+))?:(\d+)$/.exec(part.trim());
    const concurrency = Number(match?.[1]);
    const batch = Number(match?.[2] ?? '1');
    const count = Number(match?.[3]);
    if (match === null || concurrency < 1 || batch < 1 || count < 1) {
      throw new Error(`--cases: "${part}" is not concurrency:count or concurrencyxbatch:count`);
    }
    return { concurrency, batch, count };
  });
}
