// Goal: a broker member restarts from its durable applied point (config/dledgerState.json, written
// after the consume queues are flushed): it maps its consume-queue files, re-applies only the
// entries after the point, and serves the same messages at the same offsets; without the point
// it re-applies the whole log (the old behaviour) and ends in the same state.
// Method: a 3-member in-process DLedgerCommitLog group (group-harness.ts, consume-queue files of
// 2,000 units), 3,000 messages over 2 queues; a follower closed and restarted; the entries it
// applies after the restart are counted (state.stats, a fresh BrokerState per start).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { DLedgerCommitLog, MessageToPut } from '../../src/broker/dledger-commit-log.js';
import { decodeMessage } from '../../src/broker/message-codec.js';
import { PERM_READ_WRITE } from '../../src/broker/state/topic-config.js';
import { MEMBER_IDS, masterOf, message, startGroup, until, type Group } from './group-harness.js';

const TOPIC = 'RestartTopic';
const QUEUES = 2;
const MESSAGES = 3000;

async function put(group: Group, from: number, count: number): Promise<void> {
  for (let sent = from; sent < from + count; ) {
    const master = await until(() => masterOf(group.members), 10_000, 'a master');
    const queueId = (sent / 50) % QUEUES;
    const batch: MessageToPut[] = [];
    for (let i = 0; i < 50; i++) batch.push(message(TOPIC, queueId, `m-${sent + i}`, (sent + i) % 3 === 0 ? 'TagA' : 'TagB'));
    await master.putMessages(batch);
    sent += batch.length;
  }
}

/** Every message of the topic as [queue, offset, body] from the member's consume queues. */
function contents(member: DLedgerCommitLog): string[] {
  const out: string[] = [];
  for (let q = 0; q < QUEUES; q++) {
    const max = member.state.maxOffset(TOPIC, q);
    for (let offset = member.state.minOffset(TOPIC, q); offset < max; offset += 32) {
      for (const [i, bytes] of member.readMessages(TOPIC, q, offset, 32, Number.MAX_SAFE_INTEGER).entries()) {
        const m = decodeMessage(bytes, 0);
        out.push(`${q}@${offset + i}:${m.queueOffset}:${new TextDecoder().decode(m.body)}`);
      }
    }
  }
  return out;
}

t.test('a restarted member maps its consume queues and re-applies only the tail', async (t) => {
  const logs: string[] = [];
  const group = await startGroup({}, (id, line) => logs.push(`${id}: ${line}`));
  t.teardown(() => group.close());
  const master = await until(() => masterOf(group.members), 10_000, 'a master');
  await master.proposeCommand({ type: 'upsertTopic', topic: { topicName: TOPIC, readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
  await put(group, 0, MESSAGES);
  await master.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: TOPIC, queueId: 0, offset: 77 }] });
  const lastIndex = master.server.status().lastIndex;
  await until(() => group.members.every((m) => m.state.lastAppliedIndex >= lastIndex), 10_000, 'every member to apply everything');
  const before = contents(master);
  t.equal(before.length, MESSAGES);

  const followerId = MEMBER_IDS.find((id) => id !== master.server.config.selfId)!;
  const i = MEMBER_IDS.indexOf(followerId);
  const cqDir = path.join(group.baseDir, followerId, 'consumequeue', TOPIC, '0');
  await group.members[i]!.close();
  t.same(fs.readdirSync(cqDir).sort(), ['00000000000000000000'], 'queue 0: 1,500 units in the first 2,000-unit file');
  t.equal(fs.statSync(path.join(cqDir, '00000000000000000000')).size, 2000 * 20, 'a whole mappedFileSizeConsumeQueue file');
  const unit3 = fs.readFileSync(path.join(cqDir, '00000000000000000000')).subarray(3 * 20, 4 * 20);
  const third = decodeMessage(master.readMessages(TOPIC, 0, 3, 1, Number.MAX_SAFE_INTEGER)[0]!, 0);
  t.equal(Number(unit3.readBigInt64BE(0)), third.physicalOffset, 'unit 3 on disk: the message\'s physical offset');
  t.equal(unit3.readInt32BE(8), third.totalSize, 'unit 3 on disk: its size');
  // RocketMQ's checkpoint file, written with the durable point: the last message's store time.
  const lastStored = Math.max(...[0, 1].map((q) => decodeMessage(master.readMessages(TOPIC, q, master.state.maxOffset(TOPIC, q) - 1, 1, Number.MAX_SAFE_INTEGER)[0]!, 0).storeTimestampMs));
  const checkpointFile = fs.readFileSync(path.join(group.baseDir, followerId, 'checkpoint'));
  t.equal(checkpointFile.length, 4096, 'checkpoint: one page');
  t.same([0, 8, 16].map((at) => Number(checkpointFile.readBigInt64BE(at))), [lastStored, lastStored, lastStored], 'checkpoint: physicMsgTimestamp, logicsMsgTimestamp, indexMsgTimestamp = the last message\'s store time');

  const restarted = await group.restart(followerId);
  const restoredLine = logs.find((l) => l.startsWith(`${followerId}: restored the broker state and consume queues at entry`)) ?? '';
  t.match(restoredLine, new RegExp(`at entry ${lastIndex} from config/dledgerState.json`), `restored at the last applied entry: ${restoredLine}`);
  t.equal(restarted.restoredAt, lastIndex);
  t.equal(restarted.state.lastAppliedIndex, lastIndex, 'applied index from the durable point, before any entry is applied');
  t.equal(restarted.state.consumerOffset('CG', TOPIC, 0), 77, 'consumer offsets restored');
  t.same(contents(restarted), before, 'same messages at the same offsets right after the restart');

  await put(group, MESSAGES, 100);
  const newLast = (await until(() => masterOf(group.members), 10_000, 'a master')).server.status().lastIndex;
  await until(() => restarted.state.lastAppliedIndex >= newLast, 10_000, 'the restarted member to apply the new messages');
  t.equal(restarted.state.stats.messages, 100, 'only the 100 new messages were applied after the restart, none of the 3,000 before');
  t.same(contents(restarted), contents(masterOf(group.members)!), 'and it serves what the master serves');

  // Without the durable point: the whole log again (the old behaviour), same result.
  await restarted.close();
  fs.rmSync(path.join(group.baseDir, followerId, 'config', 'dledgerState.json'));
  const full = await group.restart(followerId);
  await until(() => full.state.lastAppliedIndex >= newLast, 10_000, 'the full replay');
  t.ok(logs.some((l) => l.startsWith(`${followerId}: no durable point: the log [0, `)), 'no durable point: re-applied from the start');
  t.equal(full.state.stats.messages, MESSAGES + 100, 'every message re-applied');
  t.same(contents(full), contents(masterOf(group.members)!));
});
