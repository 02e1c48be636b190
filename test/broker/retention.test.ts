// Goal: a broker group deletes old commit-log segments by RocketMQ's keys and answers as RocketMQ
// does around it: GET_MIN_OFFSET answers the new minimum on every member, a consumer behind it
// gets PULL_OFFSET_MOVED to it and pulls on from there; a master whose disk goes over
// diskSpaceWarningLevelRatio hands leadership to a member with space; when every disk is over it,
// sends are refused with SERVICE_NOT_AVAILABLE and RocketMQ's remark, forced cleaning
// (diskSpaceCleanForciblyRatio) frees space, sends resume, and every acknowledged message still
// retained is there.
// Method: 3 in-process brokers with real remoting on OS-assigned ports (broker-harness.ts), raw
// frames; 1 MiB segments. The disk-full part puts each broker's store on its own 16 MiB tmpfs
// (needs mount; skipped with the reason when refused) and fills the master's with a filler file (it
// hands leadership to a member with space), then every member's.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import type { Broker } from '../../src/broker/broker.js';
import { decodeMessages, formatMessageProperties } from '../../src/broker/message-codec.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { main as mqadminMain } from '../../src/cli/mqadmin.js';
import { mountTmpfsEach } from '../native/helpers/tmpfs.js';
import { startCluster, type Cluster } from './broker-harness.js';
import { message } from './group-harness.js';
import { until } from '../cluster/helpers.js';

const TOPIC = 'RetentionTopic';
const MIB = 1024 * 1024;

async function createTopic(t: Test, cluster: Cluster, master: Broker): Promise<void> {
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(created.code, ResponseCode.SUCCESS, 'topic created');
  await until(() => cluster.brokers.every((b) => b.commitLog.state.topicConfig(TOPIC) !== null), 5000, 'the topic on every member');
}

/** `count` messages of ~2.2 KiB stored (group-harness's message() repeats the body in KEYS) into queue 0 and 1 alternately (20 per put): bodies "q<queue>-<n>". */
async function fill(master: Broker, count: number, next: number[]): Promise<void> {
  const padding = 'p'.repeat(1000);
  for (let sent = 0; sent < count; sent += 20) {
    const queueId = (sent / 20) % 2;
    const batch = Array.from({ length: 20 }, () => message(TOPIC, queueId, `q${queueId}-${next[queueId]!++}-${padding}`));
    await master.commitLog.putMessages(batch);
  }
}

function pullFields(queueId: number, queueOffset: number): Record<string, string | number | boolean> {
  return { consumerGroup: 'CG', topic: TOPIC, queueId, queueOffset, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 };
}

function v2Send(queueId: number, body: string): [Record<string, string | number | boolean>, Buffer] {
  return [{ a: 'PG', b: TOPIC, c: 'TBW102', d: 2, e: queueId, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['WAIT', 'true']]), j: 0, k: false }, Buffer.from(body)];
}

t.test('GET_MIN_OFFSET moves with retention on every member; a consumer behind gets PULL_OFFSET_MOVED and pulls on', async (t) => {
  const cluster = await startCluster({ mappedFileSizeCommitLog: String(MIB), fileReservedTime: String(1 / 3600), deleteWhen: '*', cleanResourceInterval: '100', deleteCommitLogFilesInterval: '0' });
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await createTopic(t, cluster, master);
  await fill(master, 3000, [0, 0]);
  const minimums = await until(async () => {
    const answers = await Promise.all(cluster.brokers.map((b) => cluster.call(b.brokerAddr, RequestCode.GET_MIN_OFFSET, { topic: TOPIC, queueId: 0 })));
    const offsets = answers.map((a) => Number(a.extFields['offset']));
    return offsets.every((o) => o > 0) ? offsets : null;
  }, 20_000, 'GET_MIN_OFFSET > 0 on every member');
  t.pass(`GET_MIN_OFFSET of queue 0 on the three members: ${minimums.join(', ')}`);
  for (const broker of cluster.brokers) t.equal(Number((await cluster.call(broker.brokerAddr, RequestCode.GET_MIN_OFFSET, { topic: TOPIC, queueId: 0 })).extFields['offset']), broker.commitLog.state.minOffset(TOPIC, 0), `${broker.config.dLegerSelfId}: the answer is its consume queue's minimum`);

  // What operators see: the runtime info's retained range and disk ratio, and mqadmin dledgerStatus.
  const info = JSON.parse((await cluster.call(master.brokerAddr, RequestCode.GET_BROKER_RUNTIME_INFO)).body!.toString('utf8')) as { table: Record<string, string> };
  const range = master.commitLog.retainedRange()!;
  t.equal(info.table['dLegerFirstIndex'], String(range.firstIndex), `runtime info dLegerFirstIndex ${info.table['dLegerFirstIndex']}`);
  t.equal(info.table['commitLogMinOffset'], String(range.firstPos + 48), `commitLogMinOffset ${info.table['commitLogMinOffset']} (first message kept)`);
  t.equal(info.table['dLegerRetainedBytes'], String(range.endPos - range.firstPos), 'dLegerRetainedBytes');
  t.ok(Number(info.table['retentionSegmentsDeleted']) >= 1, `retentionSegmentsDeleted ${info.table['retentionSegmentsDeleted']}`);
  const ratio = Number(info.table['commitLogDiskRatio']);
  t.ok(ratio > 0 && ratio < 1, `commitLogDiskRatio ${ratio.toFixed(4)}`);
  let out = '';
  t.equal(await mqadminMain(['dledgerStatus', '-n', cluster.namesrvAddr], (text) => (out += text), () => undefined), 0, 'mqadmin dledgerStatus');
  const header = out.split('\n')[0]!.split(/\s{2,}/);
  const firstIndexColumn = header.indexOf('#FirstIndex');
  t.ok(firstIndexColumn > 0 && header.includes('#RetainedMiB') && header.includes('#Disk'), 'dledgerStatus has #FirstIndex, #RetainedMiB and #Disk');
  const rows = out.split('\n').filter((line) => line.startsWith('RaftCluster')).map((line) => line.trim().split(/\s+/));
  t.equal(rows.length, 3, 'a row per member');
  t.ok(rows.every((cols) => Number(cols.at(-3)) > 0 && Number(cols.at(-2)) > 0 && Number(cols.at(-1)) > 0), `every member shows a first index > 0, MiB retained and its disk ratio: ${rows.map((cols) => cols.slice(-3).join('/')).join(', ')}`);

  const behind = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(0, 0));
  const min = master.commitLog.state.minOffset(TOPIC, 0);
  t.equal(behind.code, ResponseCode.PULL_OFFSET_MOVED, `a pull at 0 is answered PULL_OFFSET_MOVED (${behind.remark})`);
  const nextBegin = Number(behind.extFields['nextBeginOffset']);
  t.ok(nextBegin >= min && nextBegin > 0, `nextBeginOffset ${nextBegin} is the new minimum (${min})`);
  t.equal(Number(behind.extFields['minOffset']), master.commitLog.state.minOffset(TOPIC, 0), 'minOffset in the answer');
  const onwards = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(0, nextBegin));
  t.equal(onwards.code, ResponseCode.SUCCESS, 'pulling from nextBeginOffset finds messages');
  const messages = decodeMessages(onwards.body!);
  t.equal(messages[0]?.queueOffset, nextBegin, 'the first one at that queue offset');
  t.match(new TextDecoder().decode(messages[0]!.body), new RegExp(`^q0-${nextBegin}-`), 'and it is the message sent at that offset');
});

t.test('disk over diskSpaceWarningLevelRatio: sends refused with RocketMQ\'s remark until forced cleaning frees space', async (t) => {
  const disks = mountTmpfsEach(t, 3, 16 * MIB, 'broker-retention-');
  if (disks === null) return;
  // No deletion by age (72 h, and deleteWhen an hour that is not now): only forced cleaning.
  const otherHour = String((new Date().getHours() + 12) % 24).padStart(2, '0');
  const cluster = await startCluster({
    mappedFileSizeCommitLog: String(MIB), maxHashSlotNum: '1000', maxIndexNum: '4000',
    deleteWhen: otherHour, diskMaxUsedSpaceRatio: '95', diskSpaceCleanForciblyRatio: '70', diskSpaceWarningLevelRatio: '85',
    cleanResourceInterval: '200', deleteCommitLogFilesInterval: '200',
  }, undefined, { storeRootOf: (i) => path.join(disks[i]!, 'store') });
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.filter((l) => !l.includes('registering')).slice(-30).join('\n')); });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await createTopic(t, cluster, master);
  const next = [0, 0];
  await fill(master, 3000, next); // ~2.2 KiB stored each (KEYS repeats the body)
  const before = master.commitLog.retentionStats()!;
  t.ok(before.diskUsageRatio < 0.7 && !before.diskFull, `after 3,000 messages the master's disk is at ${before.diskUsageRatio.toFixed(3)}`);
  t.equal(before.segmentsDeleted, 0, 'nothing deleted yet');

  // Something else takes the master's disk: over 85 %. It hands leadership to a member with space
  // (src/node/disk-full-handover.ts), so sends go on through the new master.
  const fillerOf = (broker: Broker): string => path.join(broker.config.storePathRootDir, '..', 'filler');
  fs.writeFileSync(fillerOf(master), Buffer.alloc(Math.round(6.5 * MIB)));
  await until(() => master.commitLog.retentionStats()!.diskFull, 5000, 'the master to mark its disk full');
  const successor = await until(() => cluster.brokers.find((b) => b !== master && b.commitLog.isWritable()), 10_000, 'a member with space to become master');
  t.notOk(master.commitLog.isWritable(), 'the full master is a slave now');
  const handedOver = await cluster.call(successor.brokerAddr, RequestCode.SEND_MESSAGE_V2, ...v2Send(0, `q0-${next[0]}-successor`));
  t.equal(handedOver.code, ResponseCode.SUCCESS, `the new master ${successor.config.dLegerSelfId} takes sends while the old one's disk is full`);
  next[0]!++;

  // Every member's disk over 85 %: nobody with space can lead; the master refuses with RocketMQ's answer.
  for (const broker of cluster.brokers) if (broker !== master) fs.writeFileSync(fillerOf(broker), Buffer.alloc(Math.round(6.5 * MIB)));
  const current = await until(() => cluster.brokers.find((b) => b.commitLog.isWritable() && b.commitLog.retentionStats()!.diskFull), 10_000, 'a master with a full disk');
  const refused = await cluster.call(current.brokerAddr, RequestCode.SEND_MESSAGE_V2, ...v2Send(0, 'refused'));
  t.equal(refused.code, ResponseCode.SERVICE_NOT_AVAILABLE, 'a send on the full disk: SERVICE_NOT_AVAILABLE');
  t.match(refused.remark, /^service not available now\. It may be caused by one of the following reasons: the broker's disk is full \[CL: {1,2}0\.\d\d CQ: {1,2}0\.\d\d INDEX: {1,2}0\.\d\d\], messages are put to the slave, message store has been shut down, etc\.$/, `RocketMQ's remark: ${refused.remark}`);

  // Forced cleaning deletes old segments whether expired or not; once at or below 70 %, sends resume.
  const resumedOn = await until(async () => {
    const writer = cluster.brokers.find((b) => b.commitLog.isWritable());
    if (writer === undefined) return null;
    const answer = await cluster.call(writer.brokerAddr, RequestCode.SEND_MESSAGE_V2, ...v2Send(0, `q0-${next[0]}-after`));
    return answer.code === ResponseCode.SUCCESS ? { answer, writer } : null;
  }, 20_000, 'a send to be accepted again');
  next[0]!++;
  // The master that accepted it (the first member whose forced cleaning freed space may have taken
  // over from a master still cleaning).
  const after = resumedOn.writer.commitLog.retentionStats()!;
  t.ok(after.segmentsDeleted >= 3 && after.diskUsageRatio <= 0.7, `forced cleaning deleted ${after.segmentsDeleted} segments (${after.bytesDeleted} bytes): disk at ${after.diskUsageRatio.toFixed(3)}; a send succeeds again on ${resumedOn.writer.config.dLegerSelfId} (queue offset ${resumedOn.answer.extFields['queueOffset']})`);

  // Every acknowledged message from the new minimum on is there, in order (on the master now).
  const reader = cluster.brokers.find((b) => b.commitLog.isWritable()) ?? current;
  for (const queueId of [0, 1]) {
    const min = Number((await cluster.call(reader.brokerAddr, RequestCode.GET_MIN_OFFSET, { topic: TOPIC, queueId })).extFields['offset']);
    const max = Number((await cluster.call(reader.brokerAddr, RequestCode.GET_MAX_OFFSET, { topic: TOPIC, queueId })).extFields['offset']);
    t.ok(min > 0 && max === next[queueId], `queue ${queueId}: retained [${min}, ${max}) of ${next[queueId]} acknowledged`);
    let bad = 0;
    for (let offset = min; offset < max; ) {
      const pulled = await cluster.call(reader.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(queueId, offset));
      if (pulled.code !== ResponseCode.SUCCESS) throw new Error(`pull ${queueId}@${offset}: ${pulled.code} ${pulled.remark}`);
      for (const stored of decodeMessages(pulled.body!)) {
        if (stored.queueOffset !== offset || !new TextDecoder().decode(stored.body).startsWith(`q${queueId}-${offset}-`)) bad++;
        offset++;
      }
    }
    t.equal(bad, 0, `queue ${queueId}: every retained message pulled back at its offset`);
  }
});
