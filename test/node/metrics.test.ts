// The Prometheus adapter must expose every node metric with its unit in the name and the node's
// labels, plus prom-client's defaults, over HTTP GET /metrics. Method: record values, scrape the
// endpoint on an OS-assigned loopback port, parse the text exposition.
import t from 'tap';
import { PrometheusMetrics, serveMetrics } from '../../src/metrics/prometheus.js';

t.test('scrape shows node metrics with labels and the defaults', async (t) => {
  const metrics = new PrometheusMetrics({ group: 'g1', selfId: 'n0' });
  metrics.setRole('leader');
  metrics.setTerm(7);
  metrics.setIndexes({ commitIndex: 41, appliedIndex: 40, lastIndex: 42 });
  metrics.setFollowerProgress('n1', 40, 2);
  metrics.observeCommitLatencySeconds(0.0007);
  metrics.incElections();
  const { server, port } = await serveMetrics(metrics.registry, '127.0.0.1', 0);
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    t.equal(response.status, 200);
    t.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const body = await response.text();
    t.match(body, /dledger_role\{role="leader",group="g1",self_id="n0"\} 1/);
    t.match(body, /dledger_role\{role="follower",group="g1",self_id="n0"\} 0/);
    t.match(body, /dledger_term\{group="g1",self_id="n0"\} 7/);
    t.match(body, /dledger_commit_index\{group="g1",self_id="n0"\} 41/);
    t.match(body, /dledger_follower_lag_entries\{remote_id="n1",group="g1",self_id="n0"\} 2/);
    t.match(body, /dledger_commit_latency_seconds_bucket\{le="0.001",group="g1",self_id="n0"\} 1/);
    t.match(body, /dledger_elections_total\{group="g1",self_id="n0"\} 1/);
    t.match(body, /nodejs_eventloop_lag_seconds/);
    t.match(body, /process_resident_memory_bytes/);
    const notFound = await fetch(`http://127.0.0.1:${port}/other`);
    t.equal(notFound.status, 404);
    await notFound.text();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
