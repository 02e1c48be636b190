// Goal: broker retention deletes the oldest commit-log segments on every member without losing
// broker state: the master writes state checkpoints into the log, retention never deletes past
// the last one, and a member whose log starts after entry 0 — restarted after the deletions, or
// caught up by the core's snapshot install after being down through them — rebuilds the same
// topics, consumer offsets and queue offsets, and indexes new messages at the same offsets.
// Method: a 3-member in-process DLedgerCommitLog group (group-harness.ts) with RocketMQ's keys
// (1 MiB segments, fileReservedTime of 1 s, deleteWhen "*", cleanResourceInterval 100 ms), about
// 2,400 messages of 1 KiB per phase; each member's state compared with the master's.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { type DLedgerCommitLog, type MessageToPut } from '../../src/broker/dledger-commit-log.js';
import { PERM_READ_WRITE, type TopicConfig } from '../../src/broker/state/topic-config.js';
import { MEMBER_IDS, masterOf, message, startGroup, until, type Group } from './group-harness.js';

const TOPIC = 'RetainedTopic';
const LATER_TOPIC = 'CreatedLater';
const QUEUES = 2;
const KEYS = { fileReservedTime: String(1 / 3600), deleteWhen: '*', cleanResourceInterval: '100', deleteCommitLogFilesInterval: '0' };

function topic(name: string): TopicConfig {
  return { topicName: name, readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} };
}

async function putMessages(group: Group, count: number, tag: string): Promise<void> {
  const filler = 'x'.repeat(1000);
  for (let sent = 0; sent < count; ) {
    const master = await until(() => masterOf(group.members), 10_000, 'a master');
    const batch: MessageToPut[] = [];
    const queueId = (sent / 20) % QUEUES;
    for (let i = 0; i < 20; i++) batch.push(message(TOPIC, queueId, `${tag}-${sent + i}-${filler}`));
    await master.putMessages(batch);
    sent += batch.length;
  }
}

function view(member: DLedgerCommitLog): Record<string, unknown> {
  const state = member.state;
  return {
    topics: [...state.topicConfigs().keys()].sort(),
    offsets: [0, 1].map((q) => state.consumerOffset('CG', TOPIC, q)),
    maxOffsets: [0, 1].map((q) => state.maxOffset(TOPIC, q)),
  };
}

function sameMessageAtMin(t: Test, member: DLedgerCommitLog, master: DLedgerCommitLog, who: string): void {
  for (let q = 0; q < QUEUES; q++) {
    // Each member trims by its own log start: compare where both still hold messages.
    const min = Math.max(member.state.minOffset(TOPIC, q), master.state.minOffset(TOPIC, q));
    const [mine] = member.readMessages(TOPIC, q, min, 1, Number.MAX_SAFE_INTEGER);
    const [theirs] = master.readMessages(TOPIC, q, min, 1, Number.MAX_SAFE_INTEGER);
    t.ok(mine !== undefined && theirs !== undefined && Buffer.from(mine).equals(Buffer.from(theirs)), `${who}: queue ${q} at offset ${min} (min ${member.state.minOffset(TOPIC, q)}) holds the master's message`);
  }
}

t.test('restart and snapshot catch-up after retention keep topics, offsets and queue offsets', async (t) => {
  const logs: string[] = [];
  const group = await startGroup(KEYS, (id, line) => logs.push(`${id}: ${line}`));
  t.teardown(() => group.close());
  let master = await until(() => masterOf(group.members), 10_000, 'a master');
  await master.proposeCommand({ type: 'upsertTopic', topic: topic(TOPIC) });
  await master.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: TOPIC, queueId: 0, offset: 5 }] });
  await putMessages(group, 2400, 'a');
  await master.proposeCommand({ type: 'upsertTopic', topic: topic(LATER_TOPIC) });
  await master.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: TOPIC, queueId: 1, offset: 100 }] });
  await until(() => group.members.every((m) => m.retainedRange().firstIndex > 0 && m.state.minOffset(TOPIC, 0) > 0 && m.state.minOffset(TOPIC, 1) > 0), 20_000, 'every member to delete old segments and move its queue minimums');
  t.ok(logs.some((l) => l.includes('consume queue units below it dropped')), 'consume queues trimmed at the new start');
  for (const member of group.members) {
    const range = member.retainedRange();
    t.ok(range.firstIndex > 0, `${member.server.config.selfId}: log starts at index ${range.firstIndex} (pos ${range.firstPos}), min offsets ${[0, 1].map((q) => member.state.minOffset(TOPIC, q)).join('/')}`);
    t.ok(member.state.lastCheckpoint !== null && range.firstIndex <= member.state.lastCheckpoint.capturedAt + 1, `${member.server.config.selfId}: never past the last state checkpoint (captured at ${member.state.lastCheckpoint?.capturedAt})`);
  }

  // A follower restarts from what is left of its log.
  master = await until(() => masterOf(group.members), 10_000, 'a master');
  const restartedId = MEMBER_IDS.find((id) => id !== master.server.config.selfId)!;
  const index = MEMBER_IDS.indexOf(restartedId);
  await group.members[index]!.close();
  // Without its durable point (config/dledgerState.json, written at close): the member rebuilds
  // from what is left of its log and the next state checkpoint (the durable path: restart-tail.test.ts).
  fs.rmSync(path.join(group.baseDir, restartedId, 'config', 'dledgerState.json'));
  const restarted = await group.restart(restartedId);
  t.ok(restarted.retainedRange().firstIndex > 0, `${restartedId} reopened a log starting at ${restarted.retainedRange().firstIndex}`);
  await until(() => !restarted.state.isRestoring && restarted.state.maxOffset(TOPIC, 1) === master.state.maxOffset(TOPIC, 1), 20_000, `${restartedId} to restore from a checkpoint`);
  t.same(view(restarted), view(master), `${restartedId} after restart: same topics, consumer offsets and queue ends as the master`);
  t.ok(logs.some((l) => l.startsWith(`${restartedId}: state restored from the checkpoint`)), 'restored from a state checkpoint');
  sameMessageAtMin(t, restarted, master, restartedId);

  // Another follower is down while the others delete past everything it holds.
  const downId = MEMBER_IDS.find((id) => id !== master.server.config.selfId && id !== restartedId)!;
  const downIndex = MEMBER_IDS.indexOf(downId);
  const downLast = group.members[downIndex]!.server.status().lastIndex;
  await group.members[downIndex]!.close();
  await putMessages(group, 2400, 'b');
  await master.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: TOPIC, queueId: 0, offset: 1500 }] });
  const live = group.members.filter((_, i) => i !== downIndex);
  await until(() => live.every((m) => m.retainedRange().firstIndex > downLast + 1), 20_000, `the live members to delete past ${downId}'s last index ${downLast}`);
  const back = await group.restart(downId);
  await until(() => !back.state.isRestoring && back.state.maxOffset(TOPIC, 0) === master.state.maxOffset(TOPIC, 0) && back.state.consumerOffset('CG', TOPIC, 0) === 1500, 20_000, `${downId} to catch up`);
  t.ok(logs.some((l) => l.includes(`sends snapshot`) && l.includes(`to ${downId}`)), `the master sent ${downId} a snapshot`);
  t.same(view(back), view(master), `${downId} after the snapshot: same topics, consumer offsets and queue ends`);
  sameMessageAtMin(t, back, master, downId);

  // Everyone indexes new messages at the same offsets.
  await putMessages(group, 40, 'c');
  await until(() => group.members.every((m) => m.state.maxOffset(TOPIC, 0) === master.state.maxOffset(TOPIC, 0) && m.state.maxOffset(TOPIC, 1) === master.state.maxOffset(TOPIC, 1)), 10_000, 'every member to apply the new messages');
  for (const member of group.members) t.equal(member.state.stats.queueOffsetMismatches, 0, `${member.server.config.selfId}: every message indexed at its stored QUEUEOFFSET`);
  t.same(view(group.members[index]!), view(master));
  t.same(view(back), view(master));
});
