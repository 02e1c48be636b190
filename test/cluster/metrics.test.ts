// A running `dledger server --metrics-port P` must serve Prometheus text on /metrics with the
// node's role, term and indexes (labelled with group and self id) and prom-client's defaults.
// Method: 3 real processes on OS-assigned loopback ports, one append, one scrape per member.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DLedgerClient } from '../../src/client/client.js';
import { freePorts, startNode, stopNode, until, type NodeProcess } from './helpers.js';
import { testSecretFile } from '../util/peer-secret.js';

t.test('every member exposes its role, term and indexes', async (t) => {
  const ids = ['n0', 'n1', 'n2'];
  const [p0, p1, p2, m0, m1, m2] = await freePorts(6);
  const peers = `n0-127.0.0.1:${p0};n1-127.0.0.1:${p1};n2-127.0.0.1:${p2}`;
  const metricsPorts = [m0, m1, m2];
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-metrics-'));
  const nodes: NodeProcess[] = ids.map((id, i) => startNode(id, 'mg', peers, baseDir, ['--metrics-port', String(metricsPorts[i])]));
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'mg', peers });
  t.teardown(async () => {
    client.close();
    for (const node of nodes) await stopNode(node);
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  await until(async () => (await client.metadata()).leaderId, 15_000, 'a leader');
  const [appended] = await client.append(new TextEncoder().encode('metrics'));
  const scrape = (port: number | undefined): Promise<string> => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const bodies = await until(async () => {
    const all = await Promise.all(metricsPorts.map(scrape));
    return all.every((b) => new RegExp(`dledger_commit_index\\{group="mg",self_id="n\\d"\\} ${appended!.index}`).test(b)) ? all : null;
  }, 10_000, 'every member to report the commit index');
  const leaders = bodies.filter((b) => /dledger_role\{role="leader",group="mg",self_id="n\d"\} 1/.test(b));
  t.equal(leaders.length, 1, 'exactly one member reports the leader role');
  for (const body of bodies) {
    t.match(body, /dledger_term\{group="mg",self_id="n\d"\} [1-9]/);
    t.match(body, /nodejs_eventloop_lag_seconds/);
  }
  t.match(leaders[0]!, /dledger_follower_match_index\{remote_id="n\d",group="mg",self_id="n\d"\}/);
});
