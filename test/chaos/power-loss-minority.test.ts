// Goal: under flush async, the power loss of ONE member (a minority) can already lose acknowledged
// appends, and the member that still holds them as committed must then stop itself loudly
// instead of diverging silently; under flush sync the same schedule loses nothing. This pins down
// the async guarantee the READMEs state (FINDINGS.md F5).
// Method: 3 real members (ChaosCluster with the fault journal). F2 is cut off, so each append is
// acknowledged by the leader L and F1 alone. L loses power (every unflushed byte dropped). Then F1
// is cut off and F2 rejoins: L (restarted) and F2 are a majority that never saw L's lost tail under
// async, so they elect a leader without it. Under sync L's tail was durable before it
// acknowledged, so it comes back and nothing is lost.
// Under async F1 learned the lost entries committed; when it rejoins, the new leader's first
// Append contradicts an entry F1 committed. Measured before the core checked that (2026-11-25):
// F1 answered "match up to my commit index", never converged and held other entries than the
// group at 104 indexes, without an error. Now it must exit with code 3 and a FATAL line naming the
// index, both terms and its commit index; rebuilt from a peer as that line says (data directory
// emptied, restarted) it converges with the group, and the lost appends stay lost.
// Async uses flushFileInterval 60,000 ms (the maximum), so no timer flush falls inside the window.
// ~15-25 s per policy (42 and 48 s at load 25).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { faultJournalDirOf } from '../../src/store/index.js';
import { until } from '../cluster/helpers.js';
import { healConvergeAndCheck, prng } from './campaign.js';
import { ChaosCluster } from './cluster.js';
import { ClientLoops } from './history.js';

async function minorityPowerLoss(t: Test, flush: 'sync' | 'async', convergeTimeoutMs: number) {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-power-minority-${flush}-`));
  const log: string[] = [];
  const cluster = await ChaosCluster.start({ group: 'minority', baseDir, flush, ...(flush === 'async' ? { flushIntervalMs: 60_000 } : {}), faultJournal: true, log: (line) => log.push(line) });
  let loops: ClientLoops | null = null;
  try {
    const leader = await until(() => cluster.leader(), 20_000, 'a first leader');
    const [f1, f2] = cluster.ids.filter((id) => id !== leader) as [string, string];
    cluster.isolate(f2);
    const clients = new ClientLoops({ group: 'minority', peers: cluster.realPeers, clients: 2, retryTimeoutMs: 3000, requestTimeoutMs: 1500, thinkMs: 2, maxOpsPerClient: 100_000 });
    loops = clients;
    const acked = (): number => clients.history.ops.filter((op) => op.outcome?.type === 'ok').length;
    await until(() => acked() >= 100, 20_000, `100 appends acknowledged by ${leader} and ${f1}`);
    await cluster.powerLoss([leader], prng(5), ['drop']);
    cluster.healLinks();
    cluster.isolate(f1);
    cluster.restart(leader);
    const newLeader = await until(async () => {
      const l = await cluster.leader();
      return l !== null && l !== f1 ? l : null;
    }, 20_000, `a leader among ${leader} and ${f2}`);
    const before = acked();
    await until(() => acked() >= before + 30, 20_000, `30 appends acknowledged by ${newLeader}`);
    let f1Stop: ChaosCluster['unexpectedExits'][number] | null = null;
    if (flush === 'async') {
      cluster.healLinks();
      f1Stop = await until(() => cluster.unexpectedExits.find((exit) => exit.id === f1) ?? null, 20_000, `${f1} to stop itself`);
      // The remedy its FATAL line names: rebuild it from a peer (an empty data directory, so the
      // leader sends it the whole log).
      fs.rmSync(cluster.nodeDir(f1), { recursive: true, force: true });
      fs.rmSync(faultJournalDirOf(cluster.journalRoot as string, cluster.nodeDir(f1)), { recursive: true, force: true });
      cluster.restart(f1);
    }
    loops = null;
    const final = await healConvergeAndCheck(cluster, () => clients.stop(), convergeTimeoutMs);
    return { final, log, leader, f1, f2, newLeader, f1Stop, unexpectedExits: [...cluster.unexpectedExits] };
  } finally {
    if (loops !== null) await loops.stop().catch(() => undefined);
    await cluster.close();
    t.same(cluster.runningPids(), [], 'every member process stopped');
    cluster.removeData();
  }
}

t.test('flush async: one member losing power loses appends it acknowledged with one peer; the member that kept them stops loudly', async (t) => {
  const { final, log, leader, f1, f2, newLeader, f1Stop, unexpectedExits } = await minorityPowerLoss(t, 'async', 30_000);
  t.comment(`leader ${leader} lost power; ${newLeader} led ${leader}+${f2} after; acknowledged ${final.check.acknowledged}, lost ${final.check.lost} (counted per member), divergences ${final.check.divergences}, converged ${final.converged}, commit indexes ${JSON.stringify(final.commitIndexes)}`);
  const fatal = f1Stop?.outputTail.split('\n').find((line) => line.includes('FATAL')) ?? '';
  t.comment(`${f1}: ${fatal}`);
  t.equal(f1Stop?.code, 3, `${f1} stopped itself with exit code 3`);
  t.match(fatal, /FATAL: n\d: entry \d+ conflicts with committed entry \[committed\(\d+\)\]: this member holds term \d+ at index \d+, leader n\d of term \d+ holds term \d+ .*must be rebuilt from a peer.*; stopping this node/, 'its FATAL line names the index, both terms and its commit index');
  const [, index, commit] = /entry (\d+) conflicts with committed entry \[committed\((\d+)\)\]/.exec(fatal) ?? [];
  t.ok(Number(index) <= Number(commit), `the conflict (index ${index}) is at or below its commit index ${commit}`);
  t.same(unexpectedExits.map((exit) => exit.id), [f1], `no other member stopped (${JSON.stringify(unexpectedExits.map((e) => `${e.id}: ${e.code}`))})`);
  t.ok(final.check.lost > 0, `acknowledged appends were lost (${final.check.lost}) although only one member lost power`);
  const survivors = final.logs.filter((l) => l.id !== f1).map((l) => new Set(l.entries.map((e) => e.body)));
  const goneFromMajority = final.history.ops.filter((op) => op.outcome?.type === 'ok' && survivors.every((bodies) => !bodies.has(op.value))).length;
  t.ok(goneFromMajority > 0, `${goneFromMajority} acknowledged appends are on no member of the new majority ${leader}+${f2}`);
  t.ok(final.converged, `${f1}, rebuilt from a peer, converged with the group`);
  t.equal(final.check.divergences, 0, 'no replica holds another history');
  t.equal(final.check.duplicates, 0, 'no duplicate');
  t.equal(final.check.phantoms, 0, 'no phantom');
  if (!final.converged || final.check.divergences > 0) t.comment(log.join('\n'));
});

t.test('flush sync: the same schedule loses nothing', async (t) => {
  const { final, log, leader, f2, newLeader } = await minorityPowerLoss(t, 'sync', 30_000);
  t.comment(`leader ${leader} lost power; ${newLeader} led ${leader}+${f2} after; acknowledged ${final.check.acknowledged}, lost ${final.check.lost}`);
  t.ok(final.converged, 'the group converged');
  t.equal(final.check.lost, 0, 'no acknowledged append lost');
  if (final.violations.length > 0) t.comment(log.join('\n'));
  t.same(final.violations, [], 'no violation');
});
