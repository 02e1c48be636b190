// Goal: the charts' commit-latency percentiles are those of the commits between two scrapes of a
// leader's dledger_commit_latency_seconds histogram (bucket deltas, linear inside a bucket, as
// Prometheus' histogram_quantile), not of everything since the member started.
// Method: a real prom-client histogram with the node's buckets, scraped as text twice.
import t from 'tap';
import { PrometheusMetrics } from '../../src/metrics/prometheus.js';
import { parseHistogram, quantileBetween } from '../../src/console/metrics-scrape.js';

t.test('percentiles between two scrapes', async (t) => {
  const metrics = new PrometheusMetrics({ group: 'g', selfId: 'n0' });
  for (let i = 0; i < 1000; i++) metrics.observeCommitLatencySeconds(0.2); // old, slow commits
  const before = parseHistogram(await metrics.registry.metrics(), 'dledger_commit_latency_seconds');
  t.ok(before.length > 10 && before[before.length - 1]?.[0] === Infinity, 'buckets parsed, +Inf last');
  t.equal(quantileBetween(before, before, 0.5), null, 'no commits between two equal scrapes: no value');
  for (let i = 0; i < 100; i++) metrics.observeCommitLatencySeconds(0.0007); // new, fast ones
  const after = parseHistogram(await metrics.registry.metrics(), 'dledger_commit_latency_seconds');
  const p50 = quantileBetween(before, after, 0.5) as number;
  const p99 = quantileBetween(before, after, 0.99) as number;
  t.ok(p50 > 0.0005 && p50 <= 0.001, `p50 of the new commits in their bucket (0.5, 1] ms: ${p50 * 1000} ms`);
  t.ok(p99 <= 0.001, `p99 ignores the 1,000 older 200 ms commits: ${p99 * 1000} ms`);
  const all = quantileBetween(null, after, 0.5) as number;
  t.ok(all > 0.1, `since start the median is the old commits' (${all * 1000} ms)`);
  t.same(parseHistogram('garbage\nx_bucket{le="1"} 2\n', 'dledger_commit_latency_seconds'), [], 'other metrics and garbage ignored');
});

// Goal: the scraper reads every live member's endpoint as published in its runtime info (host
// 0.0.0.0 = the broker's address), rates entries written per member between two scrapes, takes
// commit latency from the leader only, and leaves out a member whose endpoint does not answer.
// Method: three real prom-client registries on serveMetrics (loopback, OS-assigned ports); the
// snapshot is what ClusterViewer would build from their runtime info.
t.test('every member scraped: entries written per second, latency from the leader', async (t) => {
  const { serveMetrics } = await import('../../src/metrics/prometheus.js');
  const { MetricsScraper, parseValue } = await import('../../src/console/metrics-scrape.js');
  const members = ['n0', 'n1', 'n2'].map((id) => ({ id, metrics: new PrometheusMetrics({ group: 'G', selfId: id }) }));
  const served = await Promise.all(members.map((m) => serveMetrics(m.metrics.registry, '127.0.0.1', 0)));
  t.teardown(() => Promise.all(served.map((s) => new Promise<void>((resolve) => { s.server.close(() => resolve()); s.server.closeAllConnections(); }))));
  const member = (i: number, live: boolean, metricsHost: string | null) => ({
    cluster: 'C', brokerName: 'G', bid: i === 0 ? 0 : i + 1, addr: `127.0.0.1:${10000 + i}`, live, error: null, selfId: `n${i}`, role: i === 0 ? 'leader' : 'follower',
    term: 1, leaderId: 'n0', commitIndex: 0, appliedIndex: 0, lastIndex: 0, firstIndex: 0, putTps: 0, getTps: 0, diskRatio: 0,
    metricsPort: served[i]?.port ?? null, metricsHost,
  });
  const snapshot = (atMs: number) => ({ atMs, error: null, aclRefused: false, clusters: [{ name: 'C', groups: [{ cluster: 'C', brokerName: 'G', leader: 'n0', term: 1, peers: [], members: [member(0, true, '127.0.0.1'), member(1, true, '0.0.0.0'), member(2, true, null)] }] }] });
  const scraper = new MetricsScraper(2000);
  const first = await scraper.scrape(snapshot(1_000));
  t.same(first.get('G'), { p50Ms: null, p99Ms: null, appendTps: {} }, 'first scrape: nothing to compare with yet');
  for (const m of members) for (let i = 0; i < 10; i++) m.metrics.observeBatchEntries(m.id === 'n2' ? 4 : 2);
  for (let i = 0; i < 50; i++) for (const m of members) m.metrics.observeCommitLatencySeconds(m.id === 'n0' ? 0.002 : 0.4);
  t.equal(parseValue(await members[0]!.metrics.registry.metrics(), 'dledger_batch_entries_sum'), 20, 'parseValue reads the labelled sum');
  served[2]?.server.close();
  served[2]?.server.closeAllConnections();
  const second = await scraper.scrape(snapshot(3_000));
  const g = second.get('G');
  t.same(g?.appendTps, { n0: 10, n1: 10 }, 'n0 and n1 wrote 20 entries in 2 s; n2 (endpoint closed) is left out');
  t.ok(g !== undefined && g.p50Ms !== null && g.p50Ms > 1 && g.p50Ms <= 2.5, `commit p50 from the leader n0 only (${g?.p50Ms} ms; the followers' 400 ms ignored)`);
});
