// A real Prometheus (the Debian package's `prometheus` binary; .ci/run installs it when missing)
// scrapes the /metrics of 3 `dledger server` processes every second, and its query API returns
// each node's series with the right labels: dledger_term for all three (job, instance, group,
// self_id), dledger_role{role="leader"} = 1 for exactly the member the client sees leading, and
// the commit index of an append. Under CI=true a missing prometheus is a failure (with the
// install error .ci/run saw, if any); locally the test is skipped with a message.
// Method: OS-assigned loopback ports, a temp dir for prometheus.yml and the TSDB, every process
// stopped by pid.
import t from 'tap';
import { freePorts, startProcessGroup } from './helpers.js';
import { requirePrometheus, startPrometheus } from '../util/prometheus.js';

const version = requirePrometheus(t, 'real Prometheus scrape');
if (version !== null) {
  t.test(`${version} scrapes every member and answers queries with its series`, async (t) => {
    const [m0, m1, m2] = await freePorts(3);
    const metricsPorts: Record<string, number> = { n0: m0!, n1: m1!, n2: m2! };
    const group = await startProcessGroup(t, { group: 'prom', extraArgs: (id) => ['--metrics-port', String(metricsPorts[id])] });
    const { query, waitFor } = await startPrometheus(t, group.baseDir, 'dledger', Object.values(metricsPorts).map((p) => `127.0.0.1:${p}`));
    const leader = await group.leader();
    const [appended] = await group.client.append(new TextEncoder().encode('scraped'));

    // Elected before the append, so every member's term is >= 1 in a scrape taken after it.
    await waitFor('dledger_term >= 1', (s) => s.length === 3, 'dledger_term >= 1 from all 3 members');
    const terms = await query('dledger_term');
    t.comment(`GET /api/v1/query?query=dledger_term -> ${JSON.stringify(terms)}`);
    const bySelf = new Map(terms.map((s) => [s.metric['self_id'], s]));
    for (const [id, port] of Object.entries(metricsPorts)) {
      const sample = bySelf.get(id);
      t.ok(sample, `a dledger_term series for ${id}`);
      t.match(sample?.metric, { __name__: 'dledger_term', job: 'dledger', instance: `127.0.0.1:${port}`, group: 'prom', self_id: id }, `${id}'s labels`);
      t.ok(Number(sample?.value[1]) >= 1, `${id} reports term ${sample?.value[1]}`);
    }
    const leaders = await waitFor('dledger_role{role="leader"} == 1', (s) => s.length === 1 && s[0]!.metric['self_id'] === leader, `the leader ${leader} to report role leader`);
    t.equal(leaders[0]!.metric['self_id'], leader, `exactly one member, ${leader}, reports role="leader"`);
    const commits = await waitFor(`dledger_commit_index{group="prom"} >= ${appended!.index}`, (s) => s.length === 3, `every member's commit index to reach ${appended!.index}`);
    t.equal(commits.length, 3, `all 3 members report a commit index >= ${appended!.index} (the append)`);
    const up = await query('up{job="dledger"}');
    t.same(up.map((s) => s.value[1]).sort(), ['1', '1', '1'], 'prometheus sees all 3 targets up');
  });
}
