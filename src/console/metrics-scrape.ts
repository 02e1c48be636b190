// The charts' numbers from each member's Prometheus /metrics: every live member that publishes an
// endpoint in its runtime info (a broker with metricsExporterType=PROM: dLegerMetricsHost /
// dLegerMetricsPort; a host of 0.0.0.0 means "the broker's own address") is scraped each poll.
// Discovery is from the runtime info, not a console flag: the console asks every member for it
// anyway, the answer is the port the broker actually bound (0 = OS-assigned works), and it stays
// right when members are added, moved or restarted, with no second list to keep in step.
// From each scrape: the entries the member wrote to its log per second since the last scrape
// (dledger_batch_entries_sum delta: every member writes, so a follower shows what it replicates),
// and for the group's leader the commit-latency percentiles of the commits between two scrapes
// (dledger_commit_latency_seconds bucket deltas), as Prometheus' histogram_quantile would say.
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

/** A sample's value of a metric without labels other than the registry's defaults (first line), or null. */
export function parseValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    return Number.isFinite(value) ? value : null;
  }
  return null;
}

export interface GroupMetrics {
  /** The leader's commit latency between its last two scrapes (null: no commit meanwhile, or no scrape). */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** selfId → entries written to its log per second between its last two scrapes. */
  readonly appendTps: Record<string, number>;
}

interface Scraped {
  readonly atMs: number;
  readonly batchEntriesSum: number | null;
  readonly commitBuckets: Buckets;
}

/** Members whose last scrape is kept, over all groups (MAX_REMEMBERED_MEMBERS of cluster-view.ts). */
export const SCRAPED_MEMBERS_MAX = 1024;

export class MetricsScraper {
  /** `${group}/${selfId}` → that member's last scrape (a member that was not scraped in a poll is forgotten). */
  private readonly last = new Map<string, Scraped>();

  constructor(private readonly timeoutMs: number) {}

  async scrape(snapshot: ClusterSnapshot): Promise<Map<string, GroupMetrics>> {
    const out = new Map<string, GroupMetrics>();
    const seen = new Set<string>();
    await Promise.all(snapshot.clusters.flatMap((cluster) => cluster.groups.map(async (group) => {
      const members = group.members.filter((m) => m.live && m.metricsPort !== null && m.addr !== null && m.selfId !== null);
      const appendTps: Record<string, number> = {};
      let latency: { p50Ms: number | null; p99Ms: number | null } = { p50Ms: null, p99Ms: null };
      await Promise.all(members.map(async (member) => {
        const key = `${group.brokerName}/${member.selfId as string}`;
        const addr = member.addr as string;
        const bound = member.metricsHost;
        const host = bound === null || bound === '' || bound === '0.0.0.0' ? addr.slice(0, addr.lastIndexOf(':')) : bound;
        let text: string;
        try {
          text = await fetchText(host, member.metricsPort as number, this.timeoutMs);
        } catch {
          return; // No numbers for this member in this poll; the chart shows a gap.
        }
        if (seen.size >= SCRAPED_MEMBERS_MAX) return;
        seen.add(key);
        const now: Scraped = { atMs: snapshot.atMs, batchEntriesSum: parseValue(text, 'dledger_batch_entries_sum'), commitBuckets: parseHistogram(text, HISTOGRAM) };
        const before = this.last.get(key) ?? null;
        this.last.set(key, now);
        if (before === null) return;
        const seconds = (now.atMs - before.atMs) / 1000;
        // A restart resets the counters: no rate across it.
        if (seconds > 0 && now.batchEntriesSum !== null && before.batchEntriesSum !== null && now.batchEntriesSum >= before.batchEntriesSum) {
          appendTps[member.selfId as string] = Math.round(((now.batchEntriesSum - before.batchEntriesSum) / seconds) * 10) / 10;
        }
        if (member.selfId === group.leader && now.commitBuckets.length > 0 && before.commitBuckets.length === now.commitBuckets.length) {
          const ms = (q: number): number | null => {
            const s = quantileBetween(before.commitBuckets, now.commitBuckets, q);
            return s === null ? null : Math.round(s * 1e6) / 1e3;
          };
          latency = { p50Ms: ms(0.5), p99Ms: ms(0.99) };
        }
      }));
      out.set(group.brokerName, { ...latency, appendTps });
    })));
    // Invariant: only the members scraped in this poll are kept (at most SCRAPED_MEMBERS_MAX).
    for (const key of this.last.keys()) if (!seen.has(key)) this.last.delete(key);
    return out;
  }
}
