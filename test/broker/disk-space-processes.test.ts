// Goal (issue 12, with real processes): a broker group whose disks go over
// diskSpaceWarningLevelRatio (0.90) refuses sends with RocketMQ's answer (SERVICE_NOT_AVAILABLE,
// code 14, "... the broker's disk is full [CL: ...] ...") to a raw remoting client and to ali-ons;
// forced cleaning (diskSpaceCleanForciblyRatio 0.85) deletes the oldest commit-log segments although
// none is older than fileReservedTime (72 h), and GET_MIN_OFFSET / commitLogMinOffset move on every
// member; once the space returns sends resume; every acknowledged message still in the retained
// range is pulled back with its body and keys at its queue offset, on every member.
// Method: bin/mqnamesrv + 3 x bin/mqbroker (process-cluster.ts), each store on its own tmpfs
// (test/native/helpers/tmpfs.ts; skipped with the reason when mount is refused). The tmpfs is
// 256 MiB because the broker's DLedger index segment is DLedger's default 160 MiB (fallocated;
// a broker conf has no key for it); 1 MiB commit-log segments. A filler file on each tmpfs, sized
// from statfs and the segments forced cleaning can delete, puts the disk at about 0.87 + what the
// deletable segments hold (> 0.90: sends refused, forced cleaning runs); after the cleaning the disk
// is at about 0.87, still above 0.85, so sends stay refused until the filler is removed. Every
// member's disk is filled (a full master hands leadership to a member with space,
// src/node/disk-full-handover.ts, so a group refuses only when every member is full), with the
// brokers stopped (SIGSTOP) while the fillers are written.
// Every wait is bounded; every broker is stopped by pid in the teardown.
import fs from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import t from 'tap';
import { decodeMessages, formatMessageProperties, parseMessageProperties } from '../../src/broker/message-codec.js';
import type { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { message, ons, SHORT_INTERVALS_MS, type AliMessage, type AliSendResult } from '../quickstart/ali-ons-client.js';
import { addrPort, awaitClusterList, requireDist, untilDefined } from '../quickstart/helpers.js';
import { startGroup, startTestBed, stop, type BrokerProcess } from '../quickstart/process-cluster.js';
import { diskUsedRatio, fillToRatio, mountTmpfsEach } from '../native/helpers/tmpfs.js';

const MIB = 1024 * 1024;
const TMPFS_BYTES = 256 * MIB;
const SEGMENT_BYTES = MIB;
const TOPIC = 'TopicDiskFull';
const QUEUES = 2;
/** Raw sends before the disks fill: ~16 KiB stored each, about 11 segments of 1 MiB. */
const RAW_SENDS = 700;
const ALI_SENDS = 20;
const BODY_PAD = 'x'.repeat(16_000);
/** Where a filler puts the disk once forced cleaning has deleted what it can: over 0.85 (still full), under 0.90. */
const AFTER_CLEANING_RATIO = 0.87;
/** RocketMQ's SendMessageProcessor remark for SERVICE_NOT_AVAILABLE; diskUtil() is "CL: %5.2f CQ: %5.2f INDEX: %5.2f". */
const DISK_FULL_REMARK = /^service not available now\. It may be caused by one of the following reasons: the broker's disk is full \[CL: {1,2}0\.\d\d CQ: {1,2}0\.\d\d INDEX: {1,2}0\.\d\d\], messages are put to the slave, message store has been shut down, etc\.$/;

/** MessageSysFlag.COMPRESSED_FLAG: ali-ons deflates bodies over 4 KiB. */
const COMPRESSED_FLAG = 0x1;

t.before(requireDist);

interface Acked { readonly queueId: number; readonly queueOffset: number; readonly body: string; readonly keys: string }

function sendFields(queueId: number, keys: string): Record<string, string | number | boolean> {
  return { a: 'PG_raw', b: TOPIC, c: 'TBW102', d: QUEUES, e: queueId, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA'], ['KEYS', keys], ['WAIT', 'true']]), j: 0, k: false };
}

async function rawSend(client: RemotingClient, addr: string, queueId: number, keys: string, body: string): Promise<{ code: number; remark: string; queueOffset: number }> {
  const answer = await client.invoke(addr, createRequest(RequestCode.SEND_MESSAGE_V2, { extFields: sendFields(queueId, keys), body: Buffer.from(body) }), 5000);
  return { code: answer.code, remark: answer.remark ?? '', queueOffset: Number(answer.extFields['queueOffset']) };
}

async function offsetOf(client: RemotingClient, addr: string, code: number, queueId: number): Promise<number> {
  const answer = await client.invoke(addr, createRequest(code, { extFields: { topic: TOPIC, queueId } }), 5000);
  if (answer.code !== ResponseCode.SUCCESS) throw new Error(`offset request ${code} ${TOPIC}-${queueId} at ${addr}: ${answer.code} ${answer.remark ?? ''}`);
  return Number(answer.extFields['offset']);
}

async function runtimeInfo(client: RemotingClient, addr: string): Promise<Record<string, string>> {
  const answer = await client.invoke(addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO), 5000);
  return (JSON.parse(answer.body!.toString('utf8')) as { table: Record<string, string> }).table;
}

/** Every message of one queue on one member from GET_MIN_OFFSET on: offset -> body and keys. */
async function pullAll(client: RemotingClient, addr: string, queueId: number): Promise<{ min: number; messages: Map<number, { body: string; keys: string }> }> {
  const min = await offsetOf(client, addr, RequestCode.GET_MIN_OFFSET, queueId);
  const messages = new Map<number, { body: string; keys: string }>();
  let offset = min;
  for (let pulls = 0; pulls < 500; pulls++) {
    const response = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: 'CG_check', topic: TOPIC, queueId, queueOffset: offset, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 } }), 5000);
    if (response.code === ResponseCode.PULL_NOT_FOUND) return { min, messages };
    if (response.code !== ResponseCode.SUCCESS || response.body === null) throw new Error(`pull ${TOPIC}-${queueId}@${offset} from ${addr}: ${response.code} ${response.remark ?? ''}`);
    for (const m of decodeMessages(response.body)) messages.set(m.queueOffset, { body: new TextDecoder().decode(m.sysFlag & COMPRESSED_FLAG ? inflateSync(m.body) : m.body), keys: parseMessageProperties(m.properties).get('KEYS') ?? '' });
    offset = Number(response.extFields['nextBeginOffset']);
  }
  throw new Error(`pulling ${TOPIC}-${queueId} from ${addr} did not end within 500 pulls`);
}

/** Bytes of the data segments forced cleaning may delete: every one before the segment holding the log's end. */
function deletableBytes(storeRoot: string, selfId: string, endPos: number): number {
  const dataDir = path.join(storeRoot, `dledger-${selfId}`, 'data');
  const starts = fs.readdirSync(dataDir).filter((name) => /^\d{20}$/.test(name)).map(Number).sort((a, b) => a - b);
  const before = starts.filter((start) => start + SEGMENT_BYTES <= endPos);
  return before.length * SEGMENT_BYTES;
}

t.test('disk full with real brokers: RocketMQ\'s refusal, forced cleaning before fileReservedTime, sends resume, nothing retained lost', { timeout: 120_000 }, async (t) => {
  const startedAt = Date.now();
  const disks = mountTmpfsEach(t, 3, TMPFS_BYTES, 'disk-space-processes-');
  if (disks === null) return;
  const { dir, clients, client, namesrv } = await startTestBed(t, 'disk-space-processes-');
  const otherHour = String((new Date().getHours() + 12) % 24).padStart(2, '0');
  const storeRootOf = (i: number): string => path.join(disks[i]!, 'store');
  const members = await startGroup(t, dir, namesrv.addr, {
    cluster: 'RaftCluster', brokerName: 'RaftNode00', members: 3, storeRootOf,
    // No deletion by age: 72 h and deleteWhen an hour that is not now; diskMaxUsedSpaceRatio 95.
    extraConf: [`mappedFileSizeCommitLog=${SEGMENT_BYTES}`, 'maxMessageSize=65536', 'mappedFileSizeConsumeQueue=60000', 'maxHashSlotNum=1000', 'maxIndexNum=4000', 'fileReservedTime=72', `deleteWhen=${otherHour}`, 'diskMaxUsedSpaceRatio=95', 'diskSpaceCleanForciblyRatio=0.85', 'diskSpaceWarningLevelRatio=0.90', 'cleanResourceInterval=200', 'deleteCommitLogFilesInterval=0', 'flushIntervalConsumeQueue=200', 'registerNameServerPeriod=1000'],
  });
  t.teardown(() => { if (t.passing() === false) for (const m of members) t.comment(`${m.name}:\n${m.output().split('\n').filter((l) => /disk|retention|FATAL|leader at|exit/.test(l)).slice(-25).join('\n')}`); });
  const addrOf = (m: BrokerProcess): string => `127.0.0.1:${m.clientPort}`;
  const masterNow = async (): Promise<BrokerProcess> => {
    const addr = await awaitClusterList(namesrv.addr, (rows) => (rows.length === 3 ? rows.find((r) => r.bid === 0)?.addr : undefined), 30_000, 'the group registered with a master');
    return members.find((m) => m.clientPort === addrPort(addr))!;
  };
  const master = await masterNow();
  const created = await client.invoke(addrOf(master), createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { extFields: { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false } }), 5000);
  t.equal(created.code, ResponseCode.SUCCESS, `topic created on the master ${master.selfId}`);
  t.comment(`group up and topic created in ${Date.now() - startedAt} ms`);

  const acked: Acked[] = [];
  // Raw sends, 16 at a time, queues alternating.
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < RAW_SENDS) {
      const i = next++;
      const body = `raw-${i} ${BODY_PAD}`;
      const answer = await rawSend(client, addrOf(master), i % QUEUES, `key-raw-${i}`, body);
      if (answer.code !== ResponseCode.SUCCESS) throw new Error(`raw send ${i}: ${answer.code} ${answer.remark}`);
      acked.push({ queueId: i % QUEUES, queueOffset: answer.queueOffset, body, keys: `key-raw-${i}` });
    }
  }));
  t.comment(`${RAW_SENDS} raw sends done at ${Date.now() - startedAt} ms`);
  // ali-ons sends; every attempt's broker answer recorded (ali-ons retries SERVICE_NOT_AVAILABLE and then throws its own message).
  const producer = new ons.Producer({ nameSrv: namesrv.addr, httpclient: {}, producerGroup: 'PG_disk', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', () => undefined);
  const attempts: Array<{ code: number | null; message: string }> = [];
  const hooked = producer as unknown as { sendKernelImpl(msg: AliMessage, queue: unknown): Promise<AliSendResult> };
  const kernel = hooked.sendKernelImpl.bind(producer);
  hooked.sendKernelImpl = async (msg, queue) => {
    try {
      const result = await kernel(msg, queue);
      attempts.push({ code: ResponseCode.SUCCESS, message: result.sendStatus });
      return result;
    } catch (error) {
      attempts.push({ code: (error as { code?: number }).code ?? null, message: (error as Error).message });
      throw error;
    }
  };
  const aliSend = async (name: string): Promise<AliSendResult> => {
    const body = `${name} ${BODY_PAD}`;
    const result = await producer.send(message(TOPIC, 'TagA', `key-${name}`, body));
    if (result.sendStatus === 'SEND_OK') acked.push({ queueId: Number(result.messageQueue.queueId), queueOffset: result.queueOffset, body, keys: `key-${name}` });
    return result;
  };
  for (let i = 0; i < ALI_SENDS; i++) t.equal((await aliSend(`ali-${i}`)).sendStatus, 'SEND_OK', `ali-${i} sent`, { diagnostic: false });
  t.equal(acked.length, RAW_SENDS + ALI_SENDS, `${acked.length} sends acknowledged (raw and ali-ons)`);
  t.comment(`sent in ${Date.now() - startedAt} ms`);

  // Before: nothing deleted, the oldest message at queue offset 0 on every member.
  const before = await Promise.all(members.map(async (m) => ({ info: await runtimeInfo(client, addrOf(m)), mins: await Promise.all([0, 1].map((q) => offsetOf(client, addrOf(m), RequestCode.GET_MIN_OFFSET, q))) })));
  t.same(before.map((b) => b.mins), members.map(() => [0, 0]), 'GET_MIN_OFFSET is 0 on every member before the disks fill');
  t.same(before.map((b) => b.info['retentionSegmentsDeleted']), members.map(() => '0'), 'no segment deleted yet');

  // Fill every disk at once: the brokers are stopped (SIGSTOP) while the fillers are written, so
  // each one's first measurement afterwards sees the final ratio (> 0.90: full, forced cleaning in
  // the same run). A filler written while the broker measures every 200 ms is seen half-written
  // (0.85-0.90: forced cleaning alone, the disk never full), and a full master with a follower that
  // still has space hands leadership over instead of refusing.
  const endPos = Number(before[members.indexOf(master)]!.info['commitLogMaxOffset']);
  const fillers = disks.map((disk) => path.join(disk, 'filler'));
  for (const m of members) m.child.kill('SIGSTOP');
  const pausedAt = Date.now();
  const fills: string[] = [];
  try {
    for (const [i, m] of members.entries()) {
      const deletable = deletableBytes(storeRootOf(i), m.selfId, endPos);
      if (deletable < 5 * SEGMENT_BYTES) throw new Error(`${m.selfId}: only ${deletable} bytes in segments forced cleaning may delete`);
      const used = diskUsedRatio(disks[i]!);
      const bytes = fillToRatio(fillers[i]!, AFTER_CLEANING_RATIO + deletable / TMPFS_BYTES);
      fills.push(`${m.selfId}: ${deletable / MIB} MiB deletable, disk ${used.toFixed(4)} -> ${diskUsedRatio(disks[i]!).toFixed(4)} with a ${(bytes / MIB).toFixed(1)} MiB filler`);
    }
  } finally {
    for (const m of members) m.child.kill('SIGCONT');
  }
  t.pass(`fillers written in ${Date.now() - pausedAt} ms with the brokers stopped: ${fills.join('; ')}`);
  const filledAt = Date.now();

  // Refused: a raw send to the master (code 14 with RocketMQ's remark; the followers answer that
  // they are not master) and an ali-ons send (every attempt answered 14).
  const refused = await untilDefined(async () => {
    for (const m of members) {
      const answer = await rawSend(client, addrOf(m), 0, 'key-refused', 'refused');
      if (answer.code === ResponseCode.SUCCESS) acked.push({ queueId: 0, queueOffset: answer.queueOffset, body: 'refused', keys: 'key-refused' });
      if (DISK_FULL_REMARK.test(answer.remark)) return { ...answer, by: m };
    }
    return undefined;
  }, 5000, 'the master to refuse a send with the disk-full remark');
  t.equal(refused.code, ResponseCode.SERVICE_NOT_AVAILABLE, `the raw send to the master ${refused.by.selfId} is refused with SERVICE_NOT_AVAILABLE (14) ${Date.now() - filledAt} ms after the fill`);
  t.match(refused.remark, DISK_FULL_REMARK, `with RocketMQ's remark: ${refused.remark}`);
  // ali-ons sends to the master its route names: right after the fill (the SIGSTOP can cost an
  // election) that may still be the old one, which answers 14 "not master"; so up to 10 tries,
  // 300 ms apart, until one's attempts all got the disk-full answer.
  const aliTries: string[] = [];
  let aliRefused: Error | null = null;
  for (let tries = 0; tries < 10; tries++) {
    attempts.length = 0;
    aliRefused = await aliSend(`ali-refused-${tries}`).then(() => null, (error: Error) => error);
    aliTries.push(attempts.map((a) => `${a.code ?? 'no code'} ${a.message.slice(-70)}`).join(', '));
    if (aliRefused === null || (attempts.length >= 1 && attempts.every((a) => a.code === ResponseCode.SERVICE_NOT_AVAILABLE && DISK_FULL_REMARK.test(a.message)))) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  t.ok(aliRefused !== null, `the ali-ons send fails: ${aliRefused?.message ?? 'it was acknowledged'}`);
  t.ok(attempts.length >= 1 && attempts.every((a) => a.code === ResponseCode.SERVICE_NOT_AVAILABLE && DISK_FULL_REMARK.test(a.message)), `each of its ${attempts.length} attempts was answered 14 with the disk-full remark (tries: ${aliTries.join(' | ')})`);

  // Forced cleaning: the oldest segments go on every member although none is 72 h old; the disk stays over 0.85, sends stay refused.
  const after = await untilDefined(async () => {
    const views = await Promise.all(members.map(async (m) => ({ info: await runtimeInfo(client, addrOf(m)), mins: await Promise.all([0, 1].map((q) => offsetOf(client, addrOf(m), RequestCode.GET_MIN_OFFSET, q))) })));
    return views.every((v) => Number(v.info['retentionSegmentsDeleted']) >= 5 && v.mins.every((min) => min > 0)) ? views : undefined;
  }, 10_000, 'forced cleaning on every member');
  for (const [i, m] of members.entries()) {
    const view = after[i]!;
    const minOffset = Number(view.info['commitLogMinOffset']);
    t.ok(minOffset >= 5 * SEGMENT_BYTES, `${m.selfId}: ${view.info['retentionSegmentsDeleted']} segments deleted; commitLogMinOffset ${Number(before[i]!.info['commitLogMinOffset'])} -> ${minOffset}, GET_MIN_OFFSET ${view.mins.join('/')}, disk ${Number(view.info['commitLogDiskRatio']).toFixed(4)}`);
    t.match(m.output(), /retention \(forced: disk usage 0\.9\d+\): \d+ data segment\(s\) deleted/, `${m.selfId} logged a forced run`);
  }
  const stillRefused = await rawSend(client, addrOf(refused.by), 0, 'key-refused', 'refused');
  t.equal(stillRefused.code, ResponseCode.SERVICE_NOT_AVAILABLE, `after the cleaning (disks at ${members.map((m, i) => diskUsedRatio(disks[i]!).toFixed(3)).join('/')}, over 0.85) sends are still refused`);

  // The space returns: sends resume (raw and ali-ons).
  for (const filler of fillers) fs.rmSync(filler);
  const removedAt = Date.now();
  const resumed = await untilDefined(async () => {
    const current = await masterNow();
    const answer = await rawSend(client, addrOf(current), 1, 'key-resumed', 'resumed');
    return answer.code === ResponseCode.SUCCESS ? { answer, current } : undefined;
  }, 10_000, 'a send to be accepted again');
  acked.push({ queueId: 1, queueOffset: resumed.answer.queueOffset, body: 'resumed', keys: 'key-resumed' });
  t.pass(`a raw send is acknowledged ${Date.now() - removedAt} ms after the fillers were removed (master ${resumed.current.selfId})`);
  t.equal((await aliSend('ali-resumed')).sendStatus, 'SEND_OK', 'and an ali-ons send');

  // Nothing acknowledged and retained is lost: every member serves each one at its offset, same body and keys.
  const maxOf = await Promise.all([0, 1].map((q) => offsetOf(client, addrOf(resumed.current), RequestCode.GET_MAX_OFFSET, q)));
  const byQueue = [0, 1].map((q) => acked.filter((a) => a.queueId === q));
  t.same(maxOf, byQueue.map((list) => list.length), `queue ends ${maxOf.join('/')}: exactly the acknowledged sends`);
  for (const m of members) {
    const served = await untilDefined(async () => {
      const queues = await Promise.all([0, 1].map((q) => pullAll(client, addrOf(m), q)));
      return queues.every((queue, q) => queue.messages.has(maxOf[q]! - 1)) ? queues : undefined;
    }, 10_000, `${m.selfId} to serve the newest messages`);
    let retained = 0;
    let deleted = 0;
    const wrong: string[] = [];
    for (const [q, list] of byQueue.entries()) {
      const { min, messages } = served[q]!;
      for (const a of list) {
        if (a.queueOffset < min) { deleted++; continue; }
        retained++;
        const got = messages.get(a.queueOffset);
        if (got?.body !== a.body || got.keys !== a.keys) wrong.push(`${q}@${a.queueOffset}: ${a.keys} -> ${got === undefined ? 'missing' : got.keys}`);
      }
      if (messages.size !== list.filter((a) => a.queueOffset >= min).length) wrong.push(`queue ${q}: ${messages.size} served from ${min}, ${list.filter((a) => a.queueOffset >= min).length} acknowledged`);
    }
    t.same(wrong.slice(0, 10), [], `${m.selfId}: all ${retained} retained acknowledged messages pulled back with their bodies and keys (${deleted} older ones deleted by forced cleaning)`);
    t.ok(deleted > 0 && retained > 0, `${m.selfId}: both deleted and retained ones`);
  }
  for (const m of members) await stop(m.child, 'SIGTERM');
  await stop(namesrv.process.child, 'SIGTERM');
  t.comment(`total ${Date.now() - startedAt} ms`);
});
