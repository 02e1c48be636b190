// Goal: with a store hook (patchBody: RocketMQ writes each message's physical offset into it),
// every member's state machine is handed the body as stored, also on a leader that applies an
// entry before its own flush is done (it applies at commit since 71b1341; the entry is then still
// the unpatched proposal in its unstable log: chaos seed 13 crashed brokers on 'offset 0').
// Method: 3 in-process members under flush sync with the fault journal's slow disk making the
// leader's flushes take 400 ms; sequential appends are acknowledged well before that (so the leader
// applied them before its own flush), and each member's applied bodies must equal the stored
// bytes, with the position the hook wrote matching where the entry lies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { DLedgerServer } from '../../src/node/server.js';
import { FAULT_JOURNAL_ENV, faultJournalDirOf, SLOW_DISK_CONTROL_FILE } from '../../src/store/fault-journal.js';
import { startInProcessGroup, until } from './in-process-group.js';
import { readPos, writePos } from './stored-body-hook.js';

const SLOW_FLUSH_MS = 400;
const APPENDS = 6;

/** patchBody by module as well, for a node on a Raft worker (DLEDGER_RAFT_WORKER=true). */
const HOOK_MODULE = { url: new URL('./stored-body-hook.js', import.meta.url).href, exportName: 'writePos' };

t.test('apply sees the stored (patched) body, also when the leader applies before its own flush', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'apply-stored-body-'));
  const journal = path.join(root, 'journal');
  fs.mkdirSync(journal);
  const previousJournal = process.env[FAULT_JOURNAL_ENV];
  process.env[FAULT_JOURNAL_ENV] = journal;
  const applied = new Map<string, Map<number, Uint8Array>>();
  const servers: DLedgerServer[] = [];
  t.teardown(async () => {
    for (const server of servers) await server.close();
    if (previousJournal === undefined) delete process.env[FAULT_JOURNAL_ENV];
    else process.env[FAULT_JOURNAL_ENV] = previousJournal;
    fs.rmSync(root, { recursive: true, force: true });
  });
  servers.push(...(await startInProcessGroup(path.join(root, 'store'), { flushPolicy: 'sync' }, (selfId) => {
    const mine = new Map<number, Uint8Array>();
    applied.set(selfId, mine);
    return { patchBody: writePos, patchBodyModule: HOOK_MODULE, stateMachine: { apply: (entry) => void mine.set(entry.index, new Uint8Array(entry.body)) } };
  })));
  const leader = await until(() => servers.find((s) => s.status().role === 'leader'), 10_000, 'a leader');
  await leader.append(new Uint8Array(16)); // settles the first commits before the disk slows down
  const control = path.join(faultJournalDirOf(journal, leader.nodeDir), SLOW_DISK_CONTROL_FILE);
  fs.mkdirSync(path.dirname(control), { recursive: true });
  fs.writeFileSync(control, String(SLOW_FLUSH_MS));
  await new Promise((resolve) => setTimeout(resolve, 250)); // the store polls the control file every 100 ms

  const appendedMs: number[] = [];
  const appendedAt: Array<{ index: number; pos: number }> = [];
  for (let i = 0; i < APPENDS; i++) {
    const startedAt = performance.now();
    const [result] = await leader.append(new Uint8Array(64).fill(i + 1));
    appendedMs.push(performance.now() - startedAt);
    appendedAt.push({ index: result!.index, pos: result!.pos });
  }
  fs.writeFileSync(control, '0');
  t.comment(`append latencies with the leader's flush at ${SLOW_FLUSH_MS} ms: ${appendedMs.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  // Acknowledged before the leader's own flush could have finished: it applied from its unstable log.
  t.ok(appendedMs.filter((ms) => ms < SLOW_FLUSH_MS / 2).length >= APPENDS / 2, 'most appends were acknowledged before the leader\'s own flush ended');

  const last = appendedAt[appendedAt.length - 1]!.index;
  await until(() => servers.every((s) => (applied.get(s.config.selfId)?.has(last) ?? false)), 10_000, 'every member to apply the last append');
  for (const server of servers) {
    const mine = applied.get(server.config.selfId)!;
    for (const { index, pos } of appendedAt) {
      const body = mine.get(index);
      const stored = server.get(index);
      t.ok(body !== undefined && stored !== null, `${server.config.selfId} applied and stores ${index}`);
      t.equal(readPos(body!), pos, `${server.config.selfId} applied ${index} with the position it was written at (${pos})`);
      t.same(Buffer.from(body!), Buffer.from(stored!.body), `${server.config.selfId} applied ${index} as stored`);
    }
  }
});
