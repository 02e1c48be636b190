// Goal: the guide's upgrade of a classic broker to a DLedger group ("旧集群升级"). A broker with
// enableDLegerCommitLog=false stores messages, a topic and a consumer offset; its commit log is
// copied to two more nodes and `mqadmin commitLogMd5` says the copies match (and a changed copy
// differs, exit 1); the three start as one DLedger group on those stores. Then every member serves
// the old messages byte for byte at the same queue offsets and physical offsets (so msgIds stay
// valid), the consumer resumes from its committed offset, new messages continue the queue
// offsets above the divided offset and reach every member through Raft, a pull crosses the
// boundary, a restarted member keeps it all, and a classic start on an upgraded store is refused.
// Method: in-process name server and brokers on OS-assigned ports (remoting + DLedger over TCP),
// temp dirs, bounded waits.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Broker } from '../../src/broker/broker.js';
import { ClassicUpgradeError } from '../../src/broker/classic-upgrade.js';
import { createMessageId, decodeMessage, decodeMessages } from '../../src/broker/message-codec.js';
import { main as mqadmin } from '../../src/cli/mqadmin.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import type { RemotingCommand } from '../../src/remoting/command.js';
import { MEMBER_IDS, until } from './group-harness.js';
import { QUEUES, TOPIC, upgradeWorld } from './upgrade-harness.js';

const FILE_BYTES = 256 * 1024;
const OLD_MESSAGES = 400;
const NEW_MESSAGES = 100;

t.test('classic broker upgraded to a 3-member DLedger group', async (t) => {
  const world = await upgradeWorld(t, FILE_BYTES);
  const { baseDir, namesrv, call, rootOf, startBroker, stopBroker, send, introduce } = world;
  const registered = (): Map<number, string> => new Map(namesrv.routeInfo.clusterInfo().brokerAddrTable['RaftNode00']?.brokerAddrs ?? []);

  t.comment('a classic broker: enableDLegerCommitLog=false, brokerId 0');
  const classicKeys = { storePathRootDir: rootOf(0), enableDLegerCommitLog: 'false', brokerId: '0', brokerRole: 'ASYNC_MASTER', flushDiskType: 'SYNC_FLUSH' };
  const classic = await startBroker(classicKeys, 'classic', false);
  await until(() => registered().get(0) === classic.brokerAddr, 5000, 'the classic broker registered as brokerId 0');
  t.equal((await call(classic.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false })).code, ResponseCode.SUCCESS);
  const oldSends: RemotingCommand[] = [];
  for (let i = 0; i < OLD_MESSAGES; i += 20) oldSends.push(...await Promise.all(Array.from({ length: 20 }, (_, j) => send(classic.brokerAddr, (i + j) % QUEUES, i + j))));
  t.ok(oldSends.every((r) => r.code === ResponseCode.SUCCESS), `${OLD_MESSAGES} sends to the classic broker succeed`);
  const query = { consumerGroup: 'CG', topic: TOPIC, queueId: 0 };
  t.equal((await call(classic.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { ...query, commitOffset: 30 })).code, ResponseCode.SUCCESS, 'a consumer commits offset 30 on queue 0');
  const oldCount = Array.from({ length: QUEUES }, (_, q) => classic.brokerCommitLog.state.maxOffset(TOPIC, q));
  t.same(oldCount, Array(QUEUES).fill(OLD_MESSAGES / QUEUES), 'queue offsets as a classic master hands them out');
  const oldBytes = oldCount.map((count, q) => classic.brokerCommitLog.readMessages(TOPIC, q, 0, count, Number.MAX_SAFE_INTEGER).map((b) => Buffer.from(b)));
  const pulledFromClassic = await call(classic.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: TOPIC, queueId: 1, queueOffset: 0, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 1000, subscription: '*', subVersion: 0 });
  t.equal(pulledFromClassic.code, ResponseCode.SUCCESS, 'the classic broker serves pulls');
  const someOld = oldSends[123] as RemotingCommand;
  const someOldOffset = Number(BigInt(`0x${(someOld.extFields['msgId'] as string).slice(16)}`)); // msgId = ip, port, offset
  const classicFiles = fs.readdirSync(path.join(rootOf(0), 'commitlog')).sort();
  t.ok(classicFiles.length >= 2, `the classic commit log spans ${classicFiles.length} files (${classicFiles.join(', ')})`);
  await stopBroker(classic);

  t.comment('the guide: copy the old commit log to every node, compare md5 of the last file');
  for (const i of [1, 2]) fs.cpSync(path.join(rootOf(0), 'commitlog'), path.join(rootOf(i), 'commitlog'), { recursive: true });
  const dirs = [0, 1, 2].map((i) => path.join(rootOf(i), 'commitlog'));
  let output = '';
  t.equal(await mqadmin(['commitLogMd5', '-d', dirs.join(',')], (text) => { output += text; }, () => undefined), 0, 'commitLogMd5 exits 0 on identical copies');
  t.match(output, /MATCH: 3 directories, last file \d{20} md5 [0-9a-f]{32}/);
  const bad = path.join(baseDir, 'bad-copy');
  fs.cpSync(dirs[0] as string, bad, { recursive: true });
  const badLast = path.join(bad, classicFiles.at(-1) as string);
  const badBytes = fs.readFileSync(badLast);
  badBytes[100] = (badBytes[100] ?? 0) ^ 1;
  fs.writeFileSync(badLast, badBytes);
  output = '';
  t.equal(await mqadmin(['commitLogMd5', '-d', `${dirs[0]},${bad}`], (text) => { output += text; }, () => undefined), 1, 'commitLogMd5 exits 1 when a copy differs');
  t.match(output, /DIFFER: .*md5 of \d{20} is [0-9a-f]{32}/);
  fs.rmSync(bad, { recursive: true, force: true });

  t.comment('restart the three stores as one DLedger group');
  const dledgerKeys = world.dledgerKeys;
  const members = await Promise.all([0, 1, 2].map((i) => startBroker(dledgerKeys(i), MEMBER_IDS[i] as string)));
  introduce(members);
  const dividedOffset = classicFiles.length * FILE_BYTES;
  for (const [i, member] of members.entries()) {
    const data = fs.readdirSync(path.join(rootOf(i), `dledger-${MEMBER_IDS[i]}`, 'data')).sort();
    t.equal(data[0], String(dividedOffset).padStart(20, '0'), `${MEMBER_IDS[i]}: the DLedger data starts at the divided offset ${dividedOffset} (end of the last old file)`);
    t.same(oldCount.map((_, q) => member.commitLog.state.maxOffset(TOPIC, q)), oldCount, `${MEMBER_IDS[i]}: old messages indexed before any Raft entry`);
    t.equal(member.commitLog.state.consumerOffset('CG', TOPIC, 0), 30, `${MEMBER_IDS[i]}: the committed offset carried over`);
    t.equal(member.commitLog.state.topicConfig(TOPIC)?.writeQueueNums, QUEUES, `${MEMBER_IDS[i]}: the topic carried over`);
    const same = oldCount.every((count, q) => member.commitLog.readMessages(TOPIC, q, 0, count, Number.MAX_SAFE_INTEGER).every((b, k) => Buffer.compare(Buffer.from(b), oldBytes[q]?.[k] as Buffer) === 0));
    t.ok(same, `${MEMBER_IDS[i]}: every old message byte for byte at its old queue offset`);
    const byOffset = member.commitLog.readByPhysicalOffset(someOldOffset);
    t.equal(byOffset === null ? null : Buffer.from(decodeMessage(byOffset).body).toString().slice(0, 11), 'message 123', `${MEMBER_IDS[i]}: an old msgId's physical offset still finds its message`);
  }
  const master = await until(() => members.find((m) => m.commitLog.isWritable()), 15_000, 'a master');
  await until(() => registered().get(0) === master.brokerAddr && registered().size === 3, 10_000, 'the group registered, the leader as brokerId 0');
  t.equal((await call(master.brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, query)).extFields['offset'], '30', 'the consumer resumes from its committed offset');
  const resumed = await call(master.brokerAddr, RequestCode.PULL_MESSAGE, { ...query, queueOffset: 30, maxMsgNums: 8, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 1000, subscription: '*', subVersion: 0 });
  t.equal(resumed.code, ResponseCode.SUCCESS);
  const resumedMessages = decodeMessages(resumed.body as Buffer);
  t.same(resumedMessages.map((m) => m.queueOffset), [30, 31, 32, 33, 34, 35, 36, 37], 'old messages pulled from offset 30');
  t.ok(resumedMessages.every((m) => m.physicalOffset < dividedOffset), 'at their old physical offsets');

  t.comment('new messages through Raft');
  const newSends: RemotingCommand[] = [];
  for (let i = 0; i < NEW_MESSAGES; i += 20) newSends.push(...await Promise.all(Array.from({ length: 20 }, (_, j) => send(master.brokerAddr, (i + j) % QUEUES, OLD_MESSAGES + i + j))));
  t.ok(newSends.every((r) => r.code === ResponseCode.SUCCESS), `${NEW_MESSAGES} sends to the DLedger master succeed`);
  t.same(newSends.filter((r) => r.extFields['queueId'] === '0').map((r) => Number(r.extFields['queueOffset'])).sort((a, b) => a - b),
    Array.from({ length: NEW_MESSAGES / QUEUES }, (_, k) => (oldCount[0] as number) + k), 'queue offsets continue after the old ones');
  const newMsgIds = newSends.map((r) => r.extFields['msgId'] as string);
  t.ok(newMsgIds.every((id) => BigInt(`0x${id.slice(16)}`) >= BigInt(dividedOffset)), 'new physical offsets are above the divided offset');
  const total = oldCount.map((count) => count + NEW_MESSAGES / QUEUES);
  await until(() => members.every((m) => total.every((count, q) => m.commitLog.state.maxOffset(TOPIC, q) === count)), 10_000, 'the new messages on every member');
  t.pass('every member indexed the new messages');
  for (const member of members) {
    const tail = member.commitLog.readMessages(TOPIC, 2, (oldCount[2] as number) - 2, 4, Number.MAX_SAFE_INTEGER).map((b) => decodeMessage(b));
    t.same(tail.map((m) => m.physicalOffset < dividedOffset), [true, true, false, false], `${member.config.dLegerSelfId}: one read crosses from the old files into DLedger`);
  }
  const crossing = await call(members.find((m) => m !== master)?.brokerAddr as string, RequestCode.PULL_MESSAGE, { ...query, queueId: 3, queueOffset: (oldCount[3] as number) - 1, maxMsgNums: 3, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 1000, subscription: '*', subVersion: 0 });
  t.same(decodeMessages(crossing.body as Buffer).map((m) => m.queueOffset), [(oldCount[3] as number) - 1, oldCount[3], (oldCount[3] as number) + 1], 'a follower serves a pull across the boundary');
  const newest = decodeMessages(crossing.body as Buffer)[2];
  t.equal(newest === undefined ? '' : createMessageId({ ip: Uint8Array.of(127, 0, 0, 1), port: master.port }, newest.physicalOffset), newMsgIds.find((id) => newest !== undefined && id.endsWith(newest.physicalOffset.toString(16).toUpperCase().padStart(16, '0'))), 'the stored message matches the msgId the send returned');

  t.comment('a member restarts: the old prefix and the new entries are still there');
  const follower = members.find((m) => m !== master) as Broker;
  const followerIndex = members.indexOf(follower);
  await stopBroker(follower);
  const restarted = await startBroker(dledgerKeys(followerIndex), `${MEMBER_IDS[followerIndex]}'`);
  members[followerIndex] = restarted;
  introduce(members);
  await until(() => total.every((count, q) => restarted.commitLog.state.maxOffset(TOPIC, q) === count), 10_000, 'the restarted member with every message');
  t.ok(oldCount.every((count, q) => restarted.commitLog.readMessages(TOPIC, q, 0, count, Number.MAX_SAFE_INTEGER).every((b, k) => Buffer.compare(Buffer.from(b), oldBytes[q]?.[k] as Buffer) === 0)), 'old messages byte for byte after the restart');

  t.comment('a classic start on an upgraded store is refused');
  for (const member of members) await stopBroker(member);
  const again = new Broker({ config: world.brokerConfig(classicKeys), log: () => undefined, listenPortOverride: 0, grpcPortOverride: 0 });
  await t.rejects(again.start(), ClassicUpgradeError, 'enableDLegerCommitLog=false on a store with a DLedger log');
  await again.close();
});
