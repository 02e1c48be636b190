// Goal: read-latest against a real 3-member group, and proof on real processes that the
// linearizability checker catches stale reads: while the leader is isolated (every peer link cut,
// clients still reach it), 'local' reads served by the deposed leader without a barrier return a
// frozen value after newer appends were acknowledged by the new majority — the checker must report
// stale reads; the 'linearizable' reads (ReadIndex barrier at the leader) of the same run, checked
// against the same appends, must pass.
// Method: ChaosCluster (real `dledger server` processes behind proxies), the campaign's append
// loops (history.ts) and two ReadLoops; every wait is a bounded `until`; close() stops every pid.
// Requires the compiled CLI (`npx tsc` first).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { requestProblem, ResponseCode } from '../../src/node/client-protocol.js';
import { until } from '../cluster/helpers.js';
import { ChaosCluster } from './cluster.js';
import { ClientLoops, summarize } from './history.js';
import { checkRegisterHistory, formatViolation } from './linearizable.js';
import { ReadLoops, summarizeReads, toRegisterOps } from './linearizable-reads.js';
import { testSecretFile } from '../util/peer-secret.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

t.test('read-latest requests are validated', async (t) => {
  t.equal(requestProblem({ id: 1, op: 'read-latest' }), null, 'consistency defaults to linearizable');
  t.equal(requestProblem({ id: 1, op: 'read-latest', consistency: 'local' }), null, 'local');
  t.match(requestProblem({ id: 1, op: 'read-latest', consistency: 'stale' }), /^read-latest\.consistency: /, 'anything else is refused naming the field');
});

t.test('read-latest on a real group; stale local reads of an isolated leader are caught, barrier reads pass', async (t) => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-lin-'));
  const cluster = await ChaosCluster.start({ group: 'lin', baseDir, log: (line) => t.comment(line) });
  const peerOf = (id: string): string => cluster.realPeers.split(';').find((p) => p.startsWith(`${id}-`))!;
  const clients: DLedgerClient[] = [];
  const stoppers: (() => Promise<unknown>)[] = [];
  t.teardown(async () => {
    for (const stop of stoppers) await stop().catch(() => undefined);
    for (const c of clients) c.close();
    await cluster.close();
    cluster.removeData();
  });
  const leader = await until(() => cluster.leader(), 20_000, 'a first leader').catch((error: unknown) => {
    for (const id of cluster.ids) t.comment(cluster.output(id).slice(-2000));
    throw error;
  });
  // A follower that is up and follows this leader (under load one may still be starting).
  const follower = await until(async () => (await cluster.statuses()).find((s) => s.id !== leader && s.leaderId === leader)?.id ?? null, 20_000, 'a follower of the leader');

  // The operation itself.
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'lin', peers: cluster.realPeers, retryTimeoutMs: 5000 });
  clients.push(client);
  const empty = await client.readLatest();
  t.equal(empty.latest, null, `empty register before any append (read index ${empty.readIndex}: the leader's NOOP)`);
  const [a] = await client.append(encoder.encode('a'));
  const afterA = await client.readLatest();
  t.ok(afterA.readIndex >= a!.index, `read index ${afterA.readIndex} >= the append's index ${a!.index}`);
  t.equal(decoder.decode(afterA.latest!.body), 'a', 'a barrier read returns the acknowledged append');
  t.equal(afterA.latest!.index, a!.index, 'at its index');
  const followerClient = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'lin', peers: peerOf(follower), retryTimeoutMs: -1, requestTimeoutMs: 2000 });
  clients.push(followerClient);
  const refusal = await followerClient.readLatest('linearizable').then(() => null, (e: unknown) => e);
  t.ok(refusal instanceof DLedgerClientError && refusal.code === ResponseCode.NOT_LEADER, `a follower refuses a linearizable read with NOT_LEADER (${String(refusal)})`);
  const local = await until(async () => {
    const r = await followerClient.readLatest('local');
    return r.latest !== null && decoder.decode(r.latest.body) === 'a' ? r : null;
  }, 10_000, 'the follower to apply "a"');
  t.ok(local.readIndex >= a!.index, `a local read on ${follower} serves its applied index ${local.readIndex}`);

  // The run: appends from 2 clients, barrier reads over all members, local reads of the leader.
  const appends = new ClientLoops({ group: 'lin', peers: cluster.realPeers, clients: 2, retryTimeoutMs: 3000, requestTimeoutMs: 1500, thinkMs: 5, maxOpsPerClient: 5000 });
  stoppers.push(() => appends.stop());
  const barrierReads = new ReadLoops({ group: 'lin', peers: cluster.realPeers, readers: 1, consistency: 'linearizable', retryTimeoutMs: 3000, requestTimeoutMs: 1500, thinkMs: 5, maxOpsPerReader: 5000 });
  stoppers.push(() => barrierReads.stop());
  const staleReads = new ReadLoops({ group: 'lin', peers: peerOf(leader), readers: 1, consistency: 'local', retryTimeoutMs: 1000, requestTimeoutMs: 1000, thinkMs: 5, maxOpsPerReader: 5000 });
  stoppers.push(() => staleReads.stop());
  const acked = (): number => summarize(appends.history).ok;
  await until(() => acked() >= 30, 20_000, '30 acknowledged appends before the partition');
  const isolatedAtMs = performance.now();
  cluster.isolate(leader);
  t.comment(`isolated leader ${leader} at ${acked()} acknowledged appends, ${isolatedAtMs.toFixed(1)} ms`);
  const isolatedAt = acked();
  await until(async () => {
    const statuses = await cluster.statuses();
    return statuses.some((s) => s.id !== leader && s.leaderId === s.id) ? true : null;
  }, 20_000, 'a new leader in the majority');
  await until(() => acked() >= isolatedAt + 50, 30_000, '50 more appends acknowledged by the new majority');
  const healedAtMs = performance.now();
  cluster.healAll();
  t.comment(`healed at ${healedAtMs.toFixed(1)} ms`);
  await until(() => acked() >= isolatedAt + 80, 30_000, 'appends after healing');
  await appends.stop();
  await barrierReads.stop();
  await staleReads.stop();

  await cluster.close();
  t.same(cluster.runningPids(), [], 'no member left running');

  // The register held "a" (appended above, outside the loops' history) when the loops started.
  const barrier = checkRegisterHistory(toRegisterOps(appends.history, barrierReads.reads), { initialValue: 'a' });
  const stale = checkRegisterHistory(toRegisterOps(appends.history, staleReads.reads, 'local-reader'), { initialValue: 'a' });
  t.comment(`appends ${JSON.stringify(summarize(appends.history))}; barrier reads ${JSON.stringify(summarizeReads(barrierReads.reads))}; local reads of ${leader} ${JSON.stringify(summarizeReads(staleReads.reads))}`);
  t.comment(`barrier check: ${barrier.checkedOps} ops, ${barrier.violationCount} violations, max ${barrier.maxPending} pending, ${barrier.maxConfigurations} configurations`);
  t.comment(`local check: ${stale.checkedOps} ops, ${stale.violationCount} violations; first: ${stale.violations.slice(0, 2).map(formatViolation).join(' | ')}`);
  t.ok(summarizeReads(barrierReads.reads).ok >= 20, 'barrier reads succeeded during the run');
  t.equal(barrier.inconclusive, null, 'barrier check conclusive');
  t.equal(barrier.violationCount, 0, `barrier reads are linearizable ${barrier.violations.map(formatViolation).join(' | ')}`);
  const beforeIsolation = checkRegisterHistory(toRegisterOps(appends.history, staleReads.reads.filter((r) => r.completeMs !== null && r.completeMs < isolatedAtMs), 'local-reader'), { initialValue: 'a' });
  t.equal(beforeIsolation.violationCount, 0, `local reads of the leader before it was isolated are linearizable (${beforeIsolation.reads} reads)`);
  t.ok(stale.violationCount > 0, `the deposed leader's local reads are caught (${stale.violationCount} violations)`);
  t.ok(stale.violations.length > 0 && stale.violations.every((v) => v.kind === 'stale-read' && v.op.startsWith('local-reader0 read')), `all reported as stale reads of the local reader (${[...new Set(stale.violations.map((v) => v.kind))].join(',')})`);
});
