// Commit latency for the charts, from the /metrics of each group's leader where it serves one
// (a broker publishes its DLedger member's Prometheus port as dLegerMetricsPort in its runtime
// info; plain `dledger server` members serve /metrics with --metrics-port): the
// dledger_commit_latency_seconds histogram is scraped each poll, and the percentiles are those of
// the commits between two scrapes (bucket deltas), as Prometheus' histogram_quantile would say.
import http from 'node:http';
import type { ClusterSnapshot } from './cluster-view.js';

/** A /metrics answer larger than this is dropped (the page shows no latency for that poll). */
export const METRICS_MAX_BYTES = 2 * 1024 * 1024;
const HISTOGRAM = 'dledger_commit_latency_seconds';

export type Buckets = Array<[upperSeconds: number, cumulativeCount: number]>;

/** The cumulative buckets of one histogram in Prometheus text (labels other than le ignored). */
export function parseHistogram(text: string, name: string): Buckets {
  const buckets: Buckets = [];
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    buckets.push([le === '+Inf' ? Infinity : Number(le), value]);
  }
  return buckets.sort((a, b) => a[0] - b[0]);
}

/** The q-quantile (0..1) of the observations between two scrapes, linear within a bucket; null without any. */
export function quantileBetween(before: Buckets | null, after: Buckets, q: number): number | null {
  const deltas = after.map(([le, count], i) => [le, count - (before?.[i]?.[1] ?? 0)] as [number, number]);
  const total = deltas[deltas.length - 1]?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of deltas) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      const inBucket = count - below;
      return inBucket <= 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
    }
    lower = le;
    below = count;
  }
  return lower;
}

function fetchText(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path: '/metrics', timeout: timeoutMs }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`HTTP ${response.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > METRICS_MAX_BYTES) {
          request.destroy(new Error(`/metrics larger than ${METRICS_MAX_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

export class MetricsScraper {
  /** `${group}/${selfId}` → the leader's buckets at the last scrape (a leader change starts over). */
  private readonly last = new Map<string, Buckets>();

  constructor(private readonly timeoutMs: number) {}

  async commitLatencies(snapshot: ClusterSnapshot): Promise<Map<string, { p50Ms: number | null; p99Ms: number | null }>> {
    const out = new Map<string, { p50Ms: number | null; p99Ms: number | null }>();
    const seen = new Set<string>();
    await Promise.all(snapshot.clusters.flatMap((cluster) => cluster.groups.map(async (group) => {
      const leader = group.members.find((m) => m.selfId === group.leader && m.live && m.metricsPort !== null && m.addr !== null);
      if (leader === undefined) return;
      const key = `${group.brokerName}/${leader.selfId}`;
      seen.add(key);
      const host = (leader.addr as string).slice(0, (leader.addr as string).lastIndexOf(':'));
      try {
        const buckets = parseHistogram(await fetchText(host, leader.metricsPort as number, this.timeoutMs), HISTOGRAM);
        if (buckets.length === 0) return;
        const before = this.last.get(key) ?? null;
        this.last.set(key, buckets);
        if (before === null) return;
        const ms = (q: number): number | null => {
          const s = quantileBetween(before, buckets, q);
          return s === null ? null : Math.round(s * 1e6) / 1e3;
        };
        out.set(group.brokerName, { p50Ms: ms(0.5), p99Ms: ms(0.99) });
      } catch {
        // No latency for this poll; the chart shows a gap.
      }
    })));
    // Invariant: only the current leaders' last scrapes are kept.
    for (const key of this.last.keys()) if (!seen.has(key)) this.last.delete(key);
    return out;
  }
}
