// `dledger bench`: drive a running group through DLedgerClient with a fixed number of appends in
// flight and report throughput and commit latency percentiles. Bounded by --count.
import { performance } from 'node:perf_hooks';
import { DLedgerClient } from '../client/client.js';
import type { TlsClientOptions } from '../net/tls.js';

export interface ClientBenchOptions {
  readonly group: string;
  readonly peers: string;
  /** The nodes' client secret file (DLedgerClient clientSecretFile). */
  readonly clientSecretFile?: string;
  readonly sizeBytes: number;
  readonly concurrency: number;
  readonly count: number;
  /** Entries per append request (the batch API) */
  readonly batch: number;
  /** TLS to the members; null: plaintext. */
  readonly tls?: TlsClientOptions | null;
}

export interface ClientBenchResult {
  readonly sizeBytes: number;
  readonly concurrency: number;
  readonly batch: number;
  readonly appends: number;
  readonly errors: number;
  readonly seconds: number;
  readonly appendsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** The latency distribution for plots: [percentile, ms] pairs. */
  readonly curve: ReadonlyArray<readonly [number, number]>;
}

const CURVE_PERCENTILES = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999];

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

export async function runClientBench(options: ClientBenchOptions): Promise<ClientBenchResult> {
  const client = new DLedgerClient({ group: options.group, peers: options.peers, maxInflightRequests: options.concurrency + 1, tls: options.tls ?? null, ...(options.clientSecretFile === undefined ? {} : { clientSecretFile: options.clientSecretFile }) });
  const body = new Uint8Array(options.sizeBytes).fill(0x61);
  const bodies = Array.from({ length: options.batch }, () => body);
  const requests = Math.ceil(options.count / options.batch);
  const latenciesMs: number[] = [];
  let errors = 0;
  let issued = 0;
  try {
    await client.append(body); // find the leader and warm the connection
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (issued < requests) {
        issued++;
        const t0 = performance.now();
        try {
          await client.append(bodies);
          latenciesMs.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    latenciesMs.sort((a, b) => a - b);
    const appends = latenciesMs.length * options.batch;
    return {
      sizeBytes: options.sizeBytes,
      concurrency: options.concurrency,
      batch: options.batch,
      appends,
      errors,
      seconds,
      appendsPerSecond: appends / seconds,
      p50Ms: percentile(latenciesMs, 0.5),
      p99Ms: percentile(latenciesMs, 0.99),
      p999Ms: percentile(latenciesMs, 0.999),
      maxMs: latenciesMs[latenciesMs.length - 1] ?? Number.NaN,
      curve: CURVE_PERCENTILES.map((p) => [p, percentile(latenciesMs, p)] as const),
    };
  } finally {
    client.close();
  }
}
