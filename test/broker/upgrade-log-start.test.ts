// Goal: a DLedger member started without the copied old (classic) commit log, or the only member
// with it, is refused loudly instead of stalling or serving another history (issue 5 weak spot).
// Before the check, a leader without the old files made the two members that had them index its
// entries below their dividedCommitlogOffset and throw an AssertionError while applying (their
// commit index stayed 0); a follower without them silently followed an upgraded leader with no
// old topics and other queue offsets. Now each member compares the group's entry 0 position with
// its own dividedCommitlogOffset before applying anything: a mismatch logs FATAL naming the key and
// both values, stops the member (stoppedByItself = 3) and its next start is refused.
// Method: in-process name server and brokers (upgrade-harness.ts); who leads is fixed by giving
// the members that must not campaign an election timeout they never reach; bounded waits.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Broker } from '../../src/broker/broker.js';
import { ClassicUpgradeError } from '../../src/broker/classic-upgrade.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { until } from './group-harness.js';
import { QUEUES, TOPIC, upgradeWorld } from './upgrade-harness.js';

const FILE_BYTES = 256 * 1024;
const OLD_MESSAGES = 60;
/** Members that must not start an election (they still vote). */
const NEVER_CAMPAIGN = { electionTimeoutTicks: 1_000_000 };

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('the leader lacks the old commit log: both members that have it refuse', async (t) => {
  const world = await upgradeWorld(t, FILE_BYTES);
  await world.classicMessages(OLD_MESSAGES);
  fs.cpSync(path.join(world.rootOf(0), 'commitlog'), path.join(world.rootOf(1), 'commitlog'), { recursive: true });
  fs.cpSync(path.join(world.rootOf(0), 'commitlog'), path.join(world.rootOf(2), 'commitlog'), { recursive: true });
  fs.rmSync(path.join(world.rootOf(0), 'commitlog'), { recursive: true });
  // n0 now has no classic files; n1 and n2 have the same copy (dividedCommitlogOffset FILE_BYTES).
  const members = await Promise.all([0, 1, 2].map((i) => world.startBroker(world.dledgerKeys(i), `n${i}`, true, i === 0 ? undefined : NEVER_CAMPAIGN)));
  world.introduce(members);
  const exits = await Promise.race([
    Promise.all([members[1] as Broker, members[2] as Broker].map((m) => m.stoppedByItself)),
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000).unref()),
  ]);
  t.same(exits, [3, 3], 'n1 and n2 stop by themselves with exit code 3');
  for (const id of ['n1', 'n2']) {
    const fatal = world.logs.find((line) => line.startsWith(`${id}: FATAL: `)) ?? '';
    t.match(fatal, new RegExp(`log starts at offset 0 \\(entry 0, leader n0\\), but this member's dividedCommitlogOffset is ${FILE_BYTES} \\(its classic commit log in ${escape(world.rootOf(Number(id[1])))}/commitlog ends there\\)`), `${id}: FATAL names dividedCommitlogOffset ${FILE_BYTES} and the group's start 0`);
  }
  for (const member of members.slice(1)) {
    t.same(Array.from({ length: QUEUES }, (_, q) => member.commitLog.state.maxOffset(TOPIC, q)), Array(QUEUES).fill(OLD_MESSAGES / QUEUES), `${member.config.dLegerSelfId}: nothing indexed beyond the old messages`);
  }
  t.notOk(world.logs.some((line) => /AssertionError|offset \d+ after \d+/.test(line)), 'no assertion failed while applying');
  const n0 = members[0] as Broker;
  const created = await world.call(n0.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.not(created.code, ResponseCode.SUCCESS, `n0 alone commits nothing (${created.remark ?? ''})`);
  t.comment('n1 starts again: refused before serving');
  await world.stopBroker(members[1] as Broker);
  await t.rejects(world.startBroker(world.dledgerKeys(1), "n1'"), { name: 'ClassicUpgradeError', message: new RegExp(`starts at offset 0, but the classic commit log in .* ends at ${FILE_BYTES} \\(dividedCommitlogOffset\\)`) }, 'the restart is refused naming both offsets');
});

t.test('a follower lacks the old commit log: it refuses, the other two serve', async (t) => {
  const world = await upgradeWorld(t, FILE_BYTES);
  await world.classicMessages(OLD_MESSAGES);
  fs.cpSync(path.join(world.rootOf(0), 'commitlog'), path.join(world.rootOf(1), 'commitlog'), { recursive: true });
  // n2 has no classic files.
  const members = await Promise.all([0, 1, 2].map((i) => world.startBroker(world.dledgerKeys(i), `n${i}`, true, i === 0 ? undefined : NEVER_CAMPAIGN)));
  world.introduce(members);
  const [n0, n1, n2] = members as [Broker, Broker, Broker];
  const exit = await Promise.race([n2.stoppedByItself, new Promise<null>((resolve) => setTimeout(() => resolve(null), 20_000).unref())]);
  t.equal(exit, 3, 'n2 stops by itself with exit code 3');
  const fatal = world.logs.find((line) => line.startsWith('n2: FATAL: ')) ?? '';
  t.match(fatal, new RegExp(`log starts at offset ${FILE_BYTES} \\(entry 0, leader n0\\), but this member has no classic commit log in ${escape(world.rootOf(2))}/commitlog \\(dividedCommitlogOffset 0\\)`), 'FATAL names both values');
  t.equal(n2.commitLog.state.topicConfig(TOPIC), null, 'n2 applied nothing');
  const master = await until(() => (n0.commitLog.isWritable() ? n0 : null), 15_000, 'n0 as master');
  const sent = await world.send(master.brokerAddr, 1, OLD_MESSAGES);
  t.equal(sent.code, ResponseCode.SUCCESS, 'n0 and n1 still commit a new message');
  t.equal(sent.extFields['queueOffset'], String(OLD_MESSAGES / QUEUES), 'at the queue offset after the old ones');
  await until(() => n1.commitLog.state.maxOffset(TOPIC, 1) === OLD_MESSAGES / QUEUES + 1, 10_000, 'n1 indexes it');
  const pulled = await world.call(n1.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: TOPIC, queueId: 1, queueOffset: 0, maxMsgNums: 4, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 1000, subscription: '*', subVersion: 0 });
  t.equal(pulled.code, ResponseCode.SUCCESS, 'n1 serves the old messages');
  t.comment('n2 starts again: refused before serving');
  await world.stopBroker(n2);
  await t.rejects(world.startBroker(world.dledgerKeys(2), "n2'"), ClassicUpgradeError, 'the restart is refused');
  const again = await world.startBroker(world.dledgerKeys(2), "n2''").then(() => 'started', (error: Error) => error.message);
  t.match(again, new RegExp(`starts at offset ${FILE_BYTES} \\(a group upgraded with dividedCommitlogOffset ${FILE_BYTES}\\), but .* holds no classic commit log \\(dividedCommitlogOffset 0\\)`), 'the refusal names both values');
});
