// A real Prometheus (the Debian package's `prometheus` binary; .ci/run installs it when missing)
// scrapes the /metrics of 3 `dledger server` processes every second, and its query API returns
// each node's series with the right labels: dledger_term for all three (job, instance, group,
// self_id), dledger_role{role="leader"} = 1 for exactly the member the client sees leading, and
// the commit index of an append. Under CI=true a missing prometheus is a failure (with the
// install error .ci/run saw, if any); locally the test is skipped with a message.
// Method: OS-assigned loopback ports, a temp dir for prometheus.yml and the TSDB, every process
// stopped by pid.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePorts, startProcessGroup, until } from './helpers.js';

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

function prometheusBinary(): string | null {
  const found = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  return found.status === 0 ? `${found.stdout}${found.stderr}`.split('\n')[0]! : null;
}

const version = prometheusBinary();
if (version === null) {
  const why = `prometheus is not installed (Debian: apt-get install -y --no-install-recommends prometheus)${process.env['PROMETHEUS_INSTALL_ERROR'] ? `; .ci/run: ${process.env['PROMETHEUS_INSTALL_ERROR']}` : ''}`;
  if (process.env['CI'] === 'true') t.fail(why);
  else t.test('real Prometheus scrape', { skip: `${why}; skipped outside CI` }, () => undefined);
} else {
  t.test(`${version} scrapes every member and answers queries with its series`, async (t) => {
    const [m0, m1, m2, webPort] = await freePorts(4);
    const metricsPorts: Record<string, number> = { n0: m0!, n1: m1!, n2: m2! };
    const group = await startProcessGroup(t, { group: 'prom', extraArgs: (id) => ['--metrics-port', String(metricsPorts[id])] });
    const promDir = path.join(group.baseDir, 'prometheus');
    fs.mkdirSync(promDir);
    const configFile = path.join(promDir, 'prometheus.yml');
    fs.writeFileSync(configFile, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: dledger',
      '    static_configs:',
      `      - targets: [${Object.values(metricsPorts).map((p) => `'127.0.0.1:${p}'`).join(', ')}]`,
      '',
    ].join('\n'));
    const prometheus = spawn('prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let prometheusLog = '';
    prometheus.stderr.on('data', (d: Buffer) => { prometheusLog = (prometheusLog + d.toString()).slice(-4000); });
    t.teardown(async () => {
      if (prometheus.exitCode !== null || prometheus.signalCode !== null) return;
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const timer = setTimeout(() => prometheus.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    });

    const leader = await group.leader();
    const [appended] = await group.client.append(new TextEncoder().encode('scraped'));
    const query = async (expr: string): Promise<Sample[]> => {
      const response = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as { status: string; data: { resultType: string; result: Sample[] } };
      if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
      return body.data.result;
    };
    const waitFor = (expr: string, ok: (samples: Sample[]) => boolean, what: string): Promise<Sample[]> => until(async () => {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited ${prometheus.exitCode}: ${prometheusLog}`);
      const samples = await query(expr);
      return ok(samples) ? samples : null;
    }, 30_000, what).catch((error: Error) => {
      throw new Error(`${error.message}; prometheus log tail:\n${prometheusLog}`);
    });

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
