// Goal: what a power loss costs per flush policy, on a real 3-member group (issue 6, "Done when").
//  - flush sync: a majority loses power at once, then the whole group, repeatedly, while clients
//    append: no acknowledged append may be lost (nor moved, duplicated, invented; replicas equal).
//  - flush async (flushFileInterval 300 ms): the whole group loses power repeatedly with every
//    unflushed byte dropped (the worst case): acknowledged appends are lost, and each lost one was
//    acknowledged within the flush interval (plus scheduling slack) before the power loss.
// Method: ChaosCluster with the store's fault journal (src/store/fault-journal.ts): powerLoss()
// SIGKILLs the members and rewrites their files from the shadows of what was flushed
// (power-loss-disk.ts; under sync with seeded drop / prefix / torn fates). healAll() restarts
// them at once; the next round waits for a leader and fresh acknowledgements. The end is the
// campaign's healConvergeAndCheck (converge ≤ 30 s, SIGTERM, read files, checkers). Requires the
// compiled CLI (`npx tsc` first). Each part runs ~20-30 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { until } from '../cluster/helpers.js';
import { healConvergeAndCheck, prng } from './campaign.js';
import { ChaosCluster } from './cluster.js';
import { ClientLoops } from './history.js';
import { describePowerLoss, type TailFate } from './power-loss-disk.js';

const ASYNC_FLUSH_INTERVAL_MS = 300;
/** Timer lateness and the msync itself on a loaded 2-core machine, on top of the interval. */
const ASYNC_SLACK_MS = 700;

interface Round {
  readonly targets: 'majority' | 'all';
}

async function runPowerRounds(t: Test, flush: 'sync' | 'async', rounds: readonly Round[], fates: readonly TailFate[] | undefined, seed: number) {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-power-${flush}-`));
  const log: string[] = [];
  const startedAt = Date.now();
  const cluster = await ChaosCluster.start({
    group: 'power',
    baseDir,
    flush,
    ...(flush === 'async' ? { flushIntervalMs: ASYNC_FLUSH_INTERVAL_MS } : {}),
    faultJournal: true,
    log: (line) => log.push(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`),
  });
  let loops: ClientLoops | null = null;
  const lossTimesMs: number[] = [];
  let unflushedBytesDiscarded = 0;
  try {
    await until(() => cluster.leader(), 20_000, 'a first leader');
    const clients = new ClientLoops({ group: 'power', peers: cluster.realPeers, clients: 3, retryTimeoutMs: 3000, requestTimeoutMs: 1500, thinkMs: 2, maxOpsPerClient: 100_000 });
    loops = clients;
    const random = prng(seed);
    const acked = (): number => clients.history.ops.filter((op) => op.outcome?.type === 'ok').length;
    for (const [n, round] of rounds.entries()) {
      const before = acked();
      await until(() => acked() >= before + 150, 20_000, `150 more acknowledged appends before power loss ${n + 1}`);
      const leader = await cluster.leader();
      const others = cluster.ids.filter((id) => id !== leader).sort(() => random() - 0.5);
      // A majority always includes the leader: its acknowledged tail is the one at risk.
      const targets = round.targets === 'all' || leader === null ? cluster.ids : [leader, others[0]!];
      const reports = await cluster.powerLoss(targets, random, fates);
      lossTimesMs.push(cluster.lastPowerLossAtMs);
      for (const report of reports) for (const file of report.files) unflushedBytesDiscarded += file.unflushedBytes - file.keptBytes;
      log.push(`power loss ${n + 1} of ${targets.join(',')} (leader ${leader}): ${reports.map(describePowerLoss).join(' | ')}`);
      cluster.healAll();
      await until(() => cluster.leader(), 20_000, `a leader after power loss ${n + 1}`);
    }
    loops = null;
    const final = await healConvergeAndCheck(cluster, () => clients.stop());
    return { final, lossTimesMs, unflushedBytesDiscarded, log };
  } finally {
    if (loops !== null) await loops.stop().catch(() => undefined);
    await cluster.close();
    t.same(cluster.runningPids(), [], 'every member process stopped');
    cluster.removeData();
  }
}

t.test('flush sync: a majority (with the leader), then the whole group, loses power; no acknowledged append is lost', async (t) => {
  const rounds: Round[] = [{ targets: 'majority' }, { targets: 'all' }, { targets: 'majority' }, { targets: 'all' }];
  const { final, unflushedBytesDiscarded, log } = await runPowerRounds(t, 'sync', rounds, undefined, 20261125);
  t.comment(`acknowledged ${final.check.acknowledged}, lost ${final.check.lost}, unknown-present ${final.check.unacknowledgedPresent}, unflushed bytes discarded ${unflushedBytesDiscarded}`);
  t.ok(final.check.acknowledged > 300, `${final.check.acknowledged} appends acknowledged`);
  t.ok(unflushedBytesDiscarded > 0, 'the power losses discarded unflushed bytes');
  t.ok(final.converged, 'the group converged');
  t.equal(final.check.lost, 0, 'no acknowledged append lost');
  if (final.violations.length > 0) t.comment(log.join('\n'));
  t.same(final.violations, [], 'no violation');
});

t.test(`flush async (${ASYNC_FLUSH_INTERVAL_MS} ms): a whole-group power loss loses only appends acknowledged within the last interval`, async (t) => {
  const rounds: Round[] = [{ targets: 'all' }, { targets: 'all' }, { targets: 'all' }];
  const { final, lossTimesMs, log } = await runPowerRounds(t, 'async', rounds, ['drop'], 7);
  const present = new Set(final.logs.flatMap((l) => l.entries.map((e) => e.body)));
  const lostAges: number[] = [];
  for (const op of final.history.ops) {
    if (op.outcome?.type !== 'ok' || present.has(op.value)) continue;
    const completeMs = op.completeMs!;
    const lossAt = lossTimesMs.find((at) => at >= completeMs);
    lostAges.push(lossAt === undefined ? Number.POSITIVE_INFINITY : lossAt - completeMs);
  }
  const maxAgeMs = Math.max(...lostAges);
  t.comment(`acknowledged ${final.check.acknowledged}, lost ${lostAges.length} over ${lossTimesMs.length} power losses; oldest lost acknowledgement ${maxAgeMs.toFixed(0)} ms before its power loss (interval ${ASYNC_FLUSH_INTERVAL_MS} ms)`);
  t.ok(lostAges.length > 0, 'async loses acknowledged appends on a whole-group power loss (the fault bites)');
  t.ok(maxAgeMs <= ASYNC_FLUSH_INTERVAL_MS + ASYNC_SLACK_MS, `every lost append was acknowledged within ${ASYNC_FLUSH_INTERVAL_MS} + ${ASYNC_SLACK_MS} ms of a power loss (oldest ${maxAgeMs.toFixed(0)} ms)`);
  // Everything else must hold as under sync: only losses, no duplicates, phantoms or divergence.
  const others = final.violations.filter((v) => !v.startsWith('lost:') && !v.startsWith('moved:'));
  if (others.length > 0) t.comment(log.join('\n'));
  t.same(others, [], 'no violation other than the lost tail');
  t.ok(final.converged, 'the group converged');
});
