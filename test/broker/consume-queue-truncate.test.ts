// Goal: retention's hook into the consume queues: BrokerState.truncateBelow(commitLogOffset) moves
// every queue's minOffset to its first unit at or past the new commit-log start, keeps the queue
// offsets and units of what stays, frees memory, keeps appending after it, and is idempotent.
// Method: a BrokerState fed hand-built stored messages (no group), then truncated at chosen offsets.
import t from 'tap';
import { encodeMessage, formatMessageProperties, patchPhysicalOffset } from '../../src/broker/message-codec.js';
import { BrokerState } from '../../src/broker/state/broker-state.js';

const host = { ip: Uint8Array.of(127, 0, 0, 1), port: 30911 };

function stored(topic: string, queueId: number, queueOffset: number, pos: number): Uint8Array {
  const bytes = encodeMessage({
    topic, queueId, flag: 0, queueOffset, physicalOffset: 0, sysFlag: 0, bornTimestampMs: 1, bornHost: host,
    storeTimestampMs: 2, storeHost: host, reconsumeTimes: 0, preparedTransactionOffset: 0,
    body: new TextEncoder().encode(`m${queueOffset}`), properties: formatMessageProperties([]),
  });
  patchPhysicalOffset(bytes, pos);
  return bytes;
}

t.test('truncateBelow moves the minimum of every queue and keeps the rest', async (t) => {
  const state = new BrokerState();
  let index = 0;
  let pos = 0;
  const physical: Array<{ queueId: number; offset: number; physicalOffset: number }> = [];
  const next = { 0: 0, 1: 0 } as Record<number, number>;
  for (let i = 0; i < 300; i++) {
    const queueId = i % 3 === 0 ? 1 : 0; // queue 0 gets 200, queue 1 gets 100
    const body = stored('T', queueId, next[queueId]!, pos);
    physical.push({ queueId, offset: next[queueId]!++, physicalOffset: pos + 48 });
    state.apply({ index: index++, term: 1, body });
    pos += body.length + 48;
  }
  t.equal(state.minCommitLogOffset(), 48);
  const cut = physical[150]!; // a unit of queue 0 (150 % 3 = 0 -> queue 1; pick the exact one below)
  const dropped = state.truncateBelow(cut.physicalOffset);
  t.equal(dropped, 150, 'every unit below the cut is dropped, over both queues');
  const q0 = state.consumeQueue('T', 0)!;
  const q1 = state.consumeQueue('T', 1)!;
  const firstKept0 = physical.find((p) => p.queueId === 0 && p.physicalOffset >= cut.physicalOffset)!;
  const firstKept1 = physical.find((p) => p.queueId === 1 && p.physicalOffset >= cut.physicalOffset)!;
  t.equal(state.minOffset('T', 0), firstKept0.offset);
  t.equal(state.minOffset('T', 1), firstKept1.offset);
  t.equal(state.maxOffset('T', 0), 200, 'maxOffset unchanged');
  t.equal(state.maxOffset('T', 1), 100);
  t.equal(q0.get(firstKept0.offset - 1), null, 'a unit below the minimum is gone');
  t.equal(q0.get(firstKept0.offset)?.commitLogOffset, firstKept0.physicalOffset, 'the first unit kept is intact');
  t.equal(q1.get(99)?.commitLogOffset, physical.filter((p) => p.queueId === 1)[99]!.physicalOffset);
  t.equal(state.minCommitLogOffset(), cut.physicalOffset);
  t.equal(state.truncateBelow(cut.physicalOffset), 0, 'idempotent');
  t.equal(state.truncateBelow(0), 0, 'a lower start moves nothing');
  // Appending continues at the same queue offsets.
  const body = stored('T', 0, 200, pos);
  t.match(state.apply({ index: index++, term: 1, body }), { kind: 'message', queueOffset: 200, physicalOffset: pos + 48 });
  t.equal(q0.get(200)?.commitLogOffset, pos + 48);
  t.same([...q0.rawUnits(200, 201).subarray(0, 8)], [...Buffer.from(BigInt(pos + 48).toString(16).padStart(16, '0'), 'hex')], 'raw units index from the minimum');
  // Past everything: the queue is empty, min = max.
  t.equal(state.truncateBelow(pos + 49), 151, 'the 150 kept and the one appended');
  t.equal(state.minOffset('T', 0), 201);
  t.equal(state.maxOffset('T', 0), 201);
  t.equal(state.minCommitLogOffset(), null);
});
