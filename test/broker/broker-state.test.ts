// Goal: apply() is deterministic and total: messages go into their consume queue with Java's
// tagsCode, commands update topics and offsets, and anything malformed (not a message, a bad
// command, wrong TOTALSIZE) is skipped and counted, never thrown; the queue-offset allocator
// counts in-flight reservations and refuses to allocate after a failure until it can re-sync.
// Method: feed BrokerState hand-built entries directly (no group), drive the allocator by hand.
import t from 'tap';
import { encodeMessage, formatMessageProperties, javaStringHashCode, patchPhysicalOffset } from '../../src/broker/message-codec.js';
import { BrokerState } from '../../src/broker/state/broker-state.js';
import { encodeCommand } from '../../src/broker/state/commands.js';
import { CQ_UNIT_BYTES } from '../../src/broker/state/consume-queue.js';
import { QueueOffsetAllocator } from '../../src/broker/state/queue-offset-allocator.js';
import { PERM_READ_WRITE } from '../../src/broker/state/topic-config.js';

const host = { ip: Uint8Array.of(127, 0, 0, 1), port: 30911 };

function stored(topic: string, queueId: number, queueOffset: number, pos: number, tags?: string): Uint8Array {
  const bytes = encodeMessage({
    topic, queueId, flag: 0, queueOffset, physicalOffset: 0, sysFlag: 0, bornTimestampMs: 1, bornHost: host,
    storeTimestampMs: 2, storeHost: host, reconsumeTimes: 0, preparedTransactionOffset: 0,
    body: new TextEncoder().encode(`m${queueOffset}`), properties: formatMessageProperties(tags === undefined ? [] : [['TAGS', tags]]),
  });
  patchPhysicalOffset(bytes, pos);
  return bytes;
}

t.test('messages and commands', async (t) => {
  const lines: string[] = [];
  const state = new BrokerState((line) => lines.push(line));
  const woken: string[] = [];
  let topicChanges = 0;
  state.addListener({ onMessage: (topic, queueId, offset) => woken.push(`${topic}-${queueId}@${offset}`), onTopicsChanged: () => topicChanges++ });
  let index = 0;
  let pos = 0;
  const apply = (body: Uint8Array) => {
    const result = state.apply({ index: index++, term: 1, body });
    pos += body.length + 48;
    return result;
  };
  t.match(apply(encodeCommand({ type: 'upsertTopic', topic: { topicName: 'T', readQueueNums: 2, writeQueueNums: 2, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } }, host, 5)), { kind: 'command' });
  t.equal(state.topicConfig('T')?.writeQueueNums, 2);
  t.equal(topicChanges, 1);
  const firstPos = pos;
  t.match(apply(stored('T', 1, 0, pos, 'TagA')), { kind: 'message', topic: 'T', queueId: 1, queueOffset: 0, physicalOffset: firstPos + 48 });
  apply(stored('T', 1, 1, pos));
  apply(stored('T', 0, 0, pos, 'TagB'));
  t.equal(state.maxOffset('T', 1), 2);
  t.equal(state.maxOffset('T', 0), 1);
  t.equal(state.maxOffset('T', 3), 0, 'a queue without messages has max offset 0');
  const unit = state.consumeQueue('T', 1)!.get(0)!;
  t.equal(unit.tagsCode, javaStringHashCode('TagA'));
  t.equal(state.consumeQueue('T', 1)!.get(1)!.tagsCode, 0, 'no TAGS: tagsCode 0');
  t.equal(state.consumeQueue('T', 1)!.rawUnits(0, 2).length, 2 * CQ_UNIT_BYTES);
  t.equal(state.consumeQueue('T', 1)!.rawUnits(0, 1).readBigInt64BE(0), BigInt(unit.commitLogOffset), 'raw unit starts with the commit log offset');
  t.same(woken, ['T-1@0', 'T-1@1', 'T-0@0']);
  apply(encodeCommand({ type: 'commitOffsets', group: 'G', offsets: [{ topic: 'T', queueId: 1, offset: 2 }] }, host, 6));
  apply(encodeCommand({ type: 'commitOffsets', group: 'G', offsets: [{ topic: 'T', queueId: 1, offset: 1 }] }, host, 7));
  t.equal(state.consumerOffset('G', 'T', 1), 1, 'the last commit in log order wins (an admin reset may go backwards)');
  t.equal(state.consumerOffset('G', 'T', 0), null);
  apply(encodeCommand({ type: 'deleteTopic', topicName: 'T' }, host, 8));
  t.equal(state.topicConfig('T'), null);
  t.equal(state.maxOffset('T', 1), 2, 'queues outlive a deleted topic (their messages are still in the log)');
  t.same(state.stats, { messages: 3, commands: 4, skipped: 0, queueOffsetMismatches: 0 });
});

t.test('malformed entries are skipped and counted, identically on every member', async (t) => {
  const lines: string[] = [];
  const state = new BrokerState((line) => lines.push(line));
  t.match(state.apply({ index: 0, term: 1, body: new TextEncoder().encode('not a message') }), { kind: 'skipped', reason: /not a stored message/ });
  const padded = new Uint8Array(stored('T', 0, 0, 0).length + 3);
  padded.set(stored('T', 0, 0, 0));
  t.match(state.apply({ index: 1, term: 1, body: padded }), { kind: 'skipped', reason: /TOTALSIZE/ });
  const badCommand = encodeMessage({
    topic: 'RMQ_SYS_DLEDGER_BROKER_STATE', queueId: 0, flag: 0, queueOffset: 0, physicalOffset: 0, sysFlag: 0, bornTimestampMs: 0, bornHost: host,
    storeTimestampMs: 0, storeHost: host, reconsumeTimes: 0, preparedTransactionOffset: 0, body: new TextEncoder().encode('{"type":"commitOffsets","group":"G","offsets":[{"topic":"T","queueId":-1,"offset":1}]}'), properties: '',
  });
  t.match(state.apply({ index: 2, term: 1, body: badCommand }), { kind: 'skipped', reason: /queueId -1 is not a queue id/ });
  t.match(state.apply({ index: 3, term: 1, body: stored('T', 0, 5, 100) }), { kind: 'message', queueOffset: 0 }, 'a wrong QUEUEOFFSET is indexed where it lands');
  t.same(state.stats, { messages: 1, commands: 0, skipped: 3, queueOffsetMismatches: 1 });
  t.equal(lines.length, 4, 'each is logged');
  t.throws(() => state.apply({ index: 3, term: 1, body: stored('T', 0, 1, 200) }), /applied after 3/, 'out-of-order apply is a programmer error');
});

t.test('queue offset allocator', async (t) => {
  const applied = new Map<string, number>([['T-0', 5]]);
  let caughtUp = false;
  const allocator = new QueueOffsetAllocator({ appliedMaxOffset: (topic, q) => applied.get(`${topic}-${q}`) ?? 0, leaderCaughtUp: () => caughtUp });
  t.notOk(allocator.ready(), 'not ready before the leader has applied its log');
  caughtUp = true;
  t.ok(allocator.ready());
  t.equal(allocator.reserve('T', 0, 1), 5, 'starts at the consume queue length');
  t.equal(allocator.reserve('T', 0, 3), 6, 'counts proposals not yet applied');
  t.equal(allocator.reserve('T', 0, 1), 9);
  t.equal(allocator.reserve('T', 1, 1), 0, 'queues are independent');
  allocator.settle(true);
  allocator.settle(false); // one proposal failed: its offsets (and the later ones) are in doubt
  t.notOk(allocator.ready(), 'after a failure: no allocation while reservations are outstanding');
  allocator.settle(true);
  allocator.settle(true);
  caughtUp = false;
  t.notOk(allocator.ready(), 'nor before the log is applied');
  caughtUp = true;
  applied.set('T-0', 9);
  applied.set('T-1', 1);
  t.ok(allocator.ready(), 'with nothing outstanding and the log applied it re-syncs');
  t.equal(allocator.reserve('T', 0, 1), 9, 're-synced from the consume queue (the failed proposal never landed)');
  allocator.reset();
  caughtUp = false;
  t.notOk(allocator.ready(), 'a role change blocks until the log is applied again');
  allocator.settle(true);
  t.throws(() => allocator.settle(true), /settle\(\) without reserve\(\)/);
});
