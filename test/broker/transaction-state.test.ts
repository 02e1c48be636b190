// Goal: the replicated table of half messages (transaction-state.ts) is derived the same way on
// every member from the same entries: a half message opens a transaction; the COMMIT-type
// message whose PREPAREDTRANSACTIONOFFSET and UNIQ_KEY match ends it as committed (a mismatching
// one does not), an op message "d" (4.9's "n" and 5.x's "n,m," bodies) as rolled back, the
// TRANS_CHECK_MAX_TIME_TOPIC copy as discarded; 'checked' commands raise the count; malformed
// entries are ignored. A member that rebuilds from a compacted log (its log starts after the
// checkpoint's capturedAt, with a half message between capturedAt and the checkpoint entry) and a
// member restarted from its durable point end with the same table as one that applied everything.
// Method: BrokerState fed hand-built entries directly (no group).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MappedConsumeQueueStore } from '../../src/broker/store/mapped-consume-queue.js';
import { CQ_UNIT_BYTES } from '../../src/broker/state/consume-queue.js';
import { encodeMessage, formatMessageProperties, patchPhysicalOffset } from '../../src/broker/message-codec.js';
import { BrokerState } from '../../src/broker/state/broker-state.js';
import { encodeCommand, type StateCheckpoint } from '../../src/broker/state/commands.js';
import type { DurableBrokerState } from '../../src/broker/state/durable-state.js';
import { CHECK_MAX_TIME_TOPIC, HALF_TOPIC, OP_HALF_TOPIC, TRANSACTION_EXTENSION, TransactionState } from '../../src/broker/transaction/transaction-state.js';

const host = { ip: Uint8Array.of(127, 0, 0, 1), port: 30911 };
const ENTRY_BYTES = 1000;
const uniq = (n: number): string => `UNIQ${n}`;

interface Entry { readonly body: Uint8Array }

/** A stored message at entry `index` (pos index * ENTRY_BYTES, physical offset pos + 48). */
function message(index: number, topic: string, queueOffset: number, properties: Array<[string, string]>, options: { sysFlag?: number; prepared?: number; body?: string } = {}): Entry {
  const bytes = encodeMessage({
    topic, queueId: 0, flag: 0, queueOffset, physicalOffset: 0, sysFlag: options.sysFlag ?? 0, bornTimestampMs: 1000 + index, bornHost: host,
    storeTimestampMs: 2000 + index, storeHost: host, reconsumeTimes: 0, preparedTransactionOffset: options.prepared ?? 0,
    body: new TextEncoder().encode(options.body ?? `m${index}`), properties: formatMessageProperties(properties),
  });
  patchPhysicalOffset(bytes, index * ENTRY_BYTES);
  return { body: bytes };
}
const physical = (index: number): number => index * ENTRY_BYTES + 48;
const half = (index: number, queueOffset: number, n: number, extra: Array<[string, string]> = []): Entry =>
  message(index, HALF_TOPIC, queueOffset, [['REAL_TOPIC', 'TopicTx'], ['REAL_QID', '2'], ['UNIQ_KEY', uniq(n)], ['PGROUP', 'PG'], ['TRAN_MSG', 'true'], ...extra]);
const checked = (queueOffset: number, checkTimes: number): Entry => ({ body: encodeCommand({ type: 'extension', extension: TRANSACTION_EXTENSION, body: { op: 'checked', queueOffset, checkTimes } }, host, 5) });

/** queueDir: consume queues in mapped files there (a durable point restores from them), else in memory. */
function member(queueDir?: string): { state: BrokerState; tx: TransactionState; lines: string[]; apply(index: number, entry: Entry): void } {
  const lines: string[] = [];
  const state = new BrokerState((line) => lines.push(line), queueDir === undefined ? undefined : new MappedConsumeQueueStore({ directoryPath: queueDir, fileSizeBytes: 100 * CQ_UNIT_BYTES }));
  const tx = new TransactionState(state, (line) => lines.push(line));
  return { state, tx, lines, apply: (index, entry) => void state.apply({ index, term: 1, body: entry.body }) };
}

const view = (tx: TransactionState): unknown => tx.pendingHalves().map((h) => [h.queueOffset, h.physicalOffset, h.uniqKey, h.realTopic, h.realQueueId, h.producerGroup, h.checkTimes, h.checkImmunityMs]);

t.test('derived from the entries: open, commit, rollback, discard, counts', async (t) => {
  const m = member();
  const log: Entry[] = [
    half(0, 0, 0),
    half(1, 1, 1, [['CHECK_IMMUNITY_TIME_IN_SECONDS', '20']]),
    half(2, 2, 2),
    half(3, 3, 3),
    half(4, 4, 4),
    checked(1, 2),
    checked(1, 1), // a lower count never lowers it
    message(7, 'TopicTx', 0, [['UNIQ_KEY', uniq(0)]], { sysFlag: 8, prepared: physical(0) }), // commits H0
    message(8, 'TopicTx', 1, [['UNIQ_KEY', 'SOMEONE_ELSE']], { sysFlag: 8, prepared: physical(1) }), // wrong UNIQ_KEY: H1 stays
    message(9, 'TopicTx', 2, [['UNIQ_KEY', uniq(1)]], { sysFlag: 0, prepared: physical(1) }), // not COMMIT-type: H1 stays
    message(10, OP_HALF_TOPIC, 0, [['TAGS', 'd']], { body: '2' }), // 4.9 op body: rolls back H2
    message(11, OP_HALF_TOPIC, 1, [['TAGS', 'x']], { body: '3' }), // not tagged d: ignored
    message(12, CHECK_MAX_TIME_TOPIC, 0, [['UNIQ_KEY', uniq(3)]], { prepared: physical(3) }), // discards H3
    message(13, HALF_TOPIC, 5, [['UNIQ_KEY', uniq(9)]]), // no REAL_TOPIC: ignored
    { body: encodeCommand({ type: 'extension', extension: TRANSACTION_EXTENSION, body: { op: 'checked', queueOffset: -1 } }, host, 5) },
  ];
  log.forEach((entry, i) => m.apply(i, entry));
  t.same(view(m.tx), [[1, physical(1), uniq(1), 'TopicTx', 2, 'PG', 2, 20_000], [4, physical(4), uniq(4), 'TopicTx', 2, 'PG', 0, null]], 'H1 (count 2, immunity 20 s) and H4 pending');
  t.same([m.tx.outcomeOf(physical(0)), m.tx.outcomeOf(physical(2)), m.tx.outcomeOf(physical(3)), m.tx.outcomeOf(physical(1))], ['commit', 'rollback', 'discard', null], 'outcomes remembered');
  t.ok(m.lines.some((l) => /half message .* ignored: no REAL_TOPIC/.test(l)) && m.lines.some((l) => /op message .* ignored/.test(l)) && m.lines.some((l) => /transaction command .* ignored/.test(l)), 'malformed entries logged and ignored');
  m.apply(log.length, message(log.length, OP_HALF_TOPIC, 2, [['TAGS', 'd']], { body: '1,4,' })); // 5.x batched op body
  t.same(view(m.tx), [], 'a 5.x op body "1,4," ends both');
  const other = member();
  log.forEach((entry, i) => other.apply(i, entry));
  other.apply(log.length, message(log.length, OP_HALF_TOPIC, 2, [['TAGS', 'd']], { body: '1,4,' }));
  t.same(other.tx.snapshot(), m.tx.snapshot(), 'another member applying the same entries holds the same table');
});

t.test('a member rebuilt from a compacted log, and one restarted from its durable point, hold the same table', async (t) => {
  const queueDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-state-'));
  t.teardown(() => fs.rmSync(queueDir, { recursive: true, force: true }));
  const full = member(queueDir);
  const entries: Entry[] = [half(0, 0, 0), half(1, 1, 1), checked(0, 3)];
  entries.forEach((entry, i) => full.apply(i, entry));
  // The master captures the state at entry 2 and writes the checkpoint at entry 4, after H2 (entry 3).
  const checkpoint: StateCheckpoint = full.state.checkpoint();
  t.equal(checkpoint.capturedAt, 2);
  const tail: Entry[] = [
    half(3, 2, 2),
    { body: encodeCommand(checkpoint, host, 6) },
    message(5, 'TopicTx', 0, [['UNIQ_KEY', uniq(1)]], { sysFlag: 8, prepared: physical(1) }), // commits H1
    checked(2, 1),
  ];
  tail.forEach((entry, i) => full.apply(3 + i, entry));
  const expected = [[0, physical(0), uniq(0), 'TopicTx', 2, 'PG', 3, null], [2, physical(3), uniq(2), 'TopicTx', 2, 'PG', 1, null]];
  t.same(view(full.tx), expected, 'the member with the whole history: H0 (count 3) and H2 (count 1)');

  const rebuilt = member();
  rebuilt.state.beginFromCompactedLog(3);
  tail.forEach((entry, i) => rebuilt.apply(3 + i, entry));
  t.notOk(rebuilt.state.isRestoring, 'restored at the checkpoint');
  t.same(view(rebuilt.tx), expected, 'rebuilt from the log starting at entry 3: the same table (H2, between capturedAt and the checkpoint, kept)');

  const durable = full.state.captureDurable();
  t.ok(durable !== null);
  await full.state.flushQueues();
  full.state.closeQueues();
  const restarted = member(queueDir);
  restarted.state.restoreDurable(durable as unknown as DurableBrokerState);
  t.same(view(restarted.tx), expected, 'restarted from the durable point: the same table');
  t.same(restarted.tx.outcomeOf(physical(1)), 'commit', 'and the same remembered outcomes');
});
