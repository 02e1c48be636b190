// Goal: with the commit log in a 3-member DLedger group, messages put on the master land in the
// consume queues of all three members at identical queue offsets, physical offsets (= entry pos +
// 48, patched into the stored bytes) and msgIds; topic config and consumer offsets replicate
// through the log; a leader change (transfer, then the leader closing) keeps queue offsets
// contiguous and consumer offsets intact; a restarted member rebuilds the same queues by
// re-applying its log; followers refuse puts with SERVICE_NOT_AVAILABLE.
// Method: in-process group on OS-assigned loopback ports (group-harness.ts), real stores in temp
// dirs, bounded waits; every member's queues are compared unit by unit and byte by byte.
import t, { type Test } from 'tap';
import type { DLedgerCommitLog } from '../../src/broker/dledger-commit-log.js';
import { PutMessageError } from '../../src/broker/dledger-commit-log.js';
import { createMessageId, decodeMessage, javaStringHashCode, parseMessageProperties } from '../../src/broker/message-codec.js';
import { PERM_READ_WRITE } from '../../src/broker/state/topic-config.js';
import { masterOf, message, startGroup, until } from './group-harness.js';

const TOPIC = 'TopicTest';
const QUEUES = 4;

/** Check every queue is identical on all members and self-consistent; returns the units compared. */
function compareQueues(t: Test, members: readonly DLedgerCommitLog[], expected: ReadonlyMap<number, number>): number {
  let compared = 0;
  for (let queueId = 0; queueId < QUEUES; queueId++) {
    const length = expected.get(queueId) ?? 0;
    for (const member of members) {
      if (member.state.maxOffset(TOPIC, queueId) !== length) {
        t.fail(`${member.server.config.selfId}: queue ${queueId} has ${member.state.maxOffset(TOPIC, queueId)} messages, expected ${length}`);
        return compared;
      }
    }
    for (let offset = 0; offset < length; offset++) {
      const units = members.map((m) => m.state.consumeQueue(TOPIC, queueId)!.get(offset)!);
      const bodies = members.map((m) => m.readMessages(TOPIC, queueId, offset, 1, 1 << 20)[0]!);
      const reference = units[0]!;
      for (let i = 1; i < members.length; i++) {
        const unit = units[i]!;
        if (unit.commitLogOffset !== reference.commitLogOffset || unit.size !== reference.size || unit.tagsCode !== reference.tagsCode) {
          t.fail(`queue ${queueId}@${offset}: unit differs between members`);
          return compared;
        }
        if (Buffer.compare(bodies[i]!, bodies[0]!) !== 0) {
          t.fail(`queue ${queueId}@${offset}: stored bytes differ between members`);
          return compared;
        }
      }
      const stored = decodeMessage(bodies[0]!);
      const tags = parseMessageProperties(stored.properties).get('TAGS');
      if (stored.queueOffset !== offset || stored.queueId !== queueId || stored.physicalOffset !== reference.commitLogOffset || stored.totalSize !== reference.size || reference.tagsCode !== (tags === undefined ? 0 : javaStringHashCode(tags))) {
        t.fail(`queue ${queueId}@${offset}: stored message ${JSON.stringify({ q: stored.queueOffset, p: stored.physicalOffset })} does not match its CQ unit ${JSON.stringify(reference)}`);
        return compared;
      }
      compared++;
    }
  }
  return compared;
}

t.test('replicated queues, topics and consumer offsets across leader changes', async (t) => {
  const group = await startGroup();
  t.teardown(() => group.close());
  const members = group.members;
  let master = await until(() => masterOf(members), 10_000, 'a master');
  const followers = members.filter((m) => m !== master);

  await master.proposeCommand({ type: 'upsertTopic', topic: { topicName: TOPIC, readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
  await until(() => members.every((m) => m.state.topicConfig(TOPIC)?.writeQueueNums === QUEUES), 5000, 'the topic on every member');
  t.pass('topic config replicated to all members');

  const refusal = await followers[0]!.putMessages([message(TOPIC, 0, 'to a follower')]).then(() => null, (error: unknown) => error);
  t.ok(refusal instanceof PutMessageError && refusal.status === 'SERVICE_NOT_AVAILABLE', `a follower refuses puts with SERVICE_NOT_AVAILABLE (${String(refusal)})`);

  const expected = new Map<number, number>();
  const msgIds = new Map<string, { queueId: number; queueOffset: number }>();
  const putRound = async (on: DLedgerCommitLog, round: string, count: number): Promise<void> => {
    const puts = Array.from({ length: count }, (_, i) => {
      const queueId = i % QUEUES;
      return on.putMessages([message(TOPIC, queueId, `${round}-${i}`, i % 3 === 0 ? undefined : `Tag${i % 3}`)]);
    });
    puts.push(on.putMessages([0, 1, 2].map((j) => message(TOPIC, 1, `${round}-batch-${j}`, 'TagB'))));
    for (const results of await Promise.all(puts)) {
      for (const r of results) {
        if (msgIds.has(r.msgId)) t.fail(`msgId ${r.msgId} returned twice`);
        msgIds.set(r.msgId, { queueId: r.queueId, queueOffset: r.queueOffset });
        expected.set(r.queueId, Math.max(expected.get(r.queueId) ?? 0, r.queueOffset + 1));
        const storePort = 30911 + 10 * Number(on.server.config.selfId.slice(1));
        if (r.msgId !== createMessageId({ ip: Uint8Array.of(127, 0, 0, 1), port: storePort }, r.physicalOffset)) t.fail(`msgId ${r.msgId} is not store host + physical offset ${r.physicalOffset}`);
      }
    }
  };
  t.comment('round 1 on the first master (msgIds: store host + physical offset, never repeated)');
  await putRound(master, 'r1', 40);
  t.equal([...expected.values()].reduce((a, b) => a + b, 0), 43, 'queue offsets are contiguous per queue: 43 messages');
  await until(() => members.every((m) => m.state.maxOffset(TOPIC, 1) === expected.get(1)), 5000, 'followers to index round 1');
  t.equal(compareQueues(t, members, expected), 43, 'all 43 units identical on all members and matching the stored messages');

  await master.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: TOPIC, queueId: 0, offset: 7 }, { topic: TOPIC, queueId: 1, offset: 3 }] });
  await until(() => members.every((m) => m.state.consumerOffset('CG', TOPIC, 0) === 7 && m.state.consumerOffset('CG', TOPIC, 1) === 3), 5000, 'consumer offsets on every member');
  t.pass('consumer offsets replicated');

  t.comment('leadership transfer');
  const target = followers[0]!;
  await master.server.transferLeadership(target.server.config.selfId);
  master = await until(() => masterOf(members), 10_000, 'the transferee to become master');
  t.equal(master, target, 'the transferee is master');
  t.equal(master.state.consumerOffset('CG', TOPIC, 0), 7, 'the new master has the committed consumer offset at once');
  await putRound(master, 'r2', 20);
  await until(() => members.every((m) => m.state.maxOffset(TOPIC, 1) === expected.get(1)), 5000, 'followers to index round 2');
  t.equal(compareQueues(t, members, expected), 66, 'queue offsets continue without gaps or duplicates after the transfer');

  t.comment('the master closes: failover');
  const old = master;
  await old.close();
  const rest = members.filter((m) => m !== old);
  master = await until(() => masterOf(rest), 10_000, 'a new master after the old one closed');
  await master.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: TOPIC, queueId: 0, offset: 9 }] });
  await putRound(master, 'r3', 20);
  t.equal(master.state.consumerOffset('CG', TOPIC, 1), 3, 'offsets committed under the first master survive two leader changes');

  t.comment('the closed member restarts and rebuilds its queues from the log');
  const restarted = await group.restart(old.server.config.selfId);
  await until(() => restarted.state.maxOffset(TOPIC, 1) === expected.get(1) && restarted.state.consumerOffset('CG', TOPIC, 0) === 9, 10_000, 'the restarted member to catch up');
  t.equal(compareQueues(t, group.members, expected), 89, 'the restarted member has identical queues (89 messages)');
  t.equal(restarted.state.topicConfig(TOPIC)?.readQueueNums, QUEUES, 'and the topic config');
  for (const member of group.members) t.equal(member.state.stats.queueOffsetMismatches, 0, `${member.server.config.selfId}: no queue offset mismatch`);
});
