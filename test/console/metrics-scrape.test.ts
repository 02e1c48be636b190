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
