// Goal (issue 12, with real processes): retention with RocketMQ's keys in a real broker group
// deletes the oldest commit-log segments on every member and moves GET_MIN_OFFSET on each; a pull
// behind the minimum is answered PULL_OFFSET_MOVED to it; a lagging ali-ons consumer (its committed
// offsets deleted under it) goes on from there and gets exactly the TagA messages sent afterwards
// (tag filtering through real brokers); a follower that was down during the deletions comes back
// by snapshot install and serves the same retained messages at the same offsets as the others.
// Method: bin/mqnamesrv + 3 x bin/mqbroker (process-cluster.ts), 64 KiB commit-log segments,
// fileReservedTime = 3 s, deleteWhen=*, cleanResourceInterval=500; ali-ons from npm; raw
// GET_MIN_OFFSET and PULL_MESSAGE frames to each member. Every wait is bounded.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { decodeMessages } from '../../src/broker/message-codec.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { message, ons, SHORT_INTERVALS_MS, type AliMessage, type AliProducer } from '../quickstart/ali-ons-client.js';
import { addrPort, awaitClusterList, MQADMIN, requireDist, runSh, untilDefined } from '../quickstart/helpers.js';
import { awaitLine, launch, startGroup, startTestBed, stop, type BrokerProcess } from '../quickstart/process-cluster.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicRetained';
const QUEUES = 2;
const RESERVED_SECONDS = 3;
const SEGMENT_BYTES = 64 * 1024;
/** ~600 B bodies: 1,200 of them fill about 11 segments of 64 KiB. */
const BODY_PAD = 'x'.repeat(560);

t.before(requireDist);

/** Sends `${prefix}-i` for i < count, tag TagA for even i and TagB for odd; every send must succeed. */
async function send(producer: AliProducer, prefix: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const i = next++;
      const result = await producer.send(message(TOPIC, i % 2 === 0 ? 'TagA' : 'TagB', `key-${prefix}-${i}`, `${prefix}-${i} ${BODY_PAD}`));
      if (result.sendStatus !== 'SEND_OK') throw new Error(`send ${prefix}-${i}: ${result.sendStatus}`);
    }
  }));
}

async function minOffset(client: RemotingClient, addr: string, queueId: number): Promise<number> {
  const answer = await client.invoke(addr, createRequest(RequestCode.GET_MIN_OFFSET, { extFields: { topic: TOPIC, queueId } }), 5000);
  if (answer.code !== ResponseCode.SUCCESS) throw new Error(`GET_MIN_OFFSET ${TOPIC}-${queueId} at ${addr}: ${answer.code} ${answer.remark ?? ''}`);
  return Number(answer.extFields['offset']);
}

/** queueOffset:body-prefix of every retained message of one queue on one member, pulled from its minimum. */
async function retainedOn(client: RemotingClient, addr: string, queueId: number): Promise<string[]> {
  const out: string[] = [];
  let offset = await minOffset(client, addr, queueId);
  for (let pulls = 0; pulls < 2000; pulls++) {
    const response = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: 'CG_check', topic: TOPIC, queueId, queueOffset: offset, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 } }), 5000);
    if (response.code === ResponseCode.PULL_NOT_FOUND) return out;
    if (response.code !== ResponseCode.SUCCESS || response.body === null) throw new Error(`pull ${TOPIC}-${queueId}@${offset} from ${addr}: ${response.code} ${response.remark ?? ''}`);
    for (const m of decodeMessages(response.body)) out.push(`${m.queueOffset}:${new TextDecoder().decode(m.body).split(' ')[0]}`);
    offset = Number(response.extFields['nextBeginOffset']);
  }
  throw new Error(`pulling ${TOPIC}-${queueId} from ${addr} did not end`);
}

t.test('retention in a real broker group: segments deleted on every member, PULL_OFFSET_MOVED, a lagging consumer goes on, a member down catches up by snapshot', { timeout: 180_000 }, async (t) => {
  const { dir, clients, client, namesrv } = await startTestBed(t, 'retention-processes-');
  const members = await startGroup(t, dir, namesrv.addr, {
    cluster: 'RaftCluster', brokerName: 'RaftNode00', members: 3,
    extraConf: [`mappedFileSizeCommitLog=${SEGMENT_BYTES}`, 'maxMessageSize=4096', `fileReservedTime=${RESERVED_SECONDS / 3600}`, 'deleteWhen=*', 'cleanResourceInterval=500', 'deleteCommitLogFilesInterval=100', 'flushIntervalConsumeQueue=200'],
  });
  const addrOf = (m: BrokerProcess): string => `127.0.0.1:${m.clientPort}`;
  const master = async (): Promise<BrokerProcess> => {
    const addr = await awaitClusterList(namesrv.addr, (rows) => rows.find((r) => r.bid === 0)?.addr, 30_000, 'a master');
    return members.find((m) => m.clientPort === addrPort(addr)) as BrokerProcess;
  };
  await awaitClusterList(namesrv.addr, (rows) => (rows.length === 3 && rows.some((r) => r.bid === 0) ? rows : undefined), 30_000, 'the group registered with a master');
  const update = await runSh(MQADMIN, ['updateTopic', '-n', namesrv.addr, '-t', TOPIC, '-c', 'RaftCluster', '-r', String(QUEUES), '-w', String(QUEUES)], process.env, 30_000);
  t.equal(update.code, 0, update.stdout + update.stderr);

  const producer = new ons.Producer({ nameSrv: namesrv.addr, httpclient: {}, producerGroup: 'PG_retained', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', () => undefined);
  await send(producer, 'early', 40);

  // A consumer of TagA takes the early messages, commits its offsets and stops: it will lag.
  const consumerOptions = { nameSrv: namesrv.addr, httpclient: {}, consumerGroup: 'CG_lagging', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS };
  const early = new Set<string>();
  const first = new ons.Consumer(consumerOptions);
  first.on('error', () => undefined);
  clients.push(first);
  first.subscribe(TOPIC, 'TagA', async (m: AliMessage) => void early.add(m.body.toString().split(' ')[0] as string));
  await until(() => early.size >= 20 || null, 30_000, 'the consumer took the 20 early TagA messages');
  t.equal(early.size, 20, 'the lagging consumer took the 20 early TagA messages and no TagB');
  await new Promise((resolve) => setTimeout(resolve, 600)); // offsets committed (every 200 ms)
  await first.close();

  // A follower goes down before the deletions.
  const lead = await master();
  const victim = members.find((m) => m !== lead) as BrokerProcess;
  await stop(victim.child, 'SIGKILL');
  t.comment(`${victim.selfId} killed (master ${lead.selfId})`);

  await send(producer, 'bulk', 1200);
  const live = members.filter((m) => m !== victim);
  // The segments written first age past the reserved time and go, on each live member.
  const minimums = await untilDefined(async () => {
    await send(producer, 'tick', 4); // keeps the newest segment moving
    const mins = await Promise.all(live.map(async (m) => Promise.all(Array.from({ length: QUEUES }, (_, q) => minOffset(client, addrOf(m), q)))));
    return mins.every((perQueue) => perQueue.every((min) => min > 20)) ? mins : undefined;
  }, 40_000, 'GET_MIN_OFFSET past the early messages on every live member');
  t.pass(`GET_MIN_OFFSET per queue after retention: ${live.map((m, i) => `${m.selfId} ${minimums[i]?.join('/')}`).join(', ')}`);
  for (const m of live) {
    const files = fs.readdirSync(path.join(dir, 'rmqstore', `RaftNode00-node0${m.selfId.slice(1)}`), { recursive: true }).map(String);
    t.comment(`${m.selfId}: ${files.length} files in its store`);
  }

  // A pull at offset 0 (deleted) is answered PULL_OFFSET_MOVED to the minimum.
  const masterNow = await master();
  const moved = await client.invoke(addrOf(masterNow), createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: 'CG_raw', topic: TOPIC, queueId: 0, queueOffset: 0, maxMsgNums: 8, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 } }), 5000);
  const minNow = await minOffset(client, addrOf(masterNow), 0);
  t.equal(moved.code, ResponseCode.PULL_OFFSET_MOVED, `a pull at 0 is PULL_OFFSET_MOVED (${moved.remark ?? ''})`);
  t.ok(Number(moved.extFields['nextBeginOffset']) >= minNow - 4 && Number(moved.extFields['nextBeginOffset']) <= minNow + 4, `its nextBeginOffset ${moved.extFields['nextBeginOffset']} is the minimum (${minNow})`);

  // The follower that was down comes back and catches up by snapshot install.
  const child = launch(t, `${victim.selfId} restarted`, 'bin/mqbroker', ['-c', victim.conf]);
  const back: BrokerProcess = { ...child, selfId: victim.selfId, conf: victim.conf, clientPort: victim.clientPort };
  members[members.indexOf(victim)] = back;
  await awaitLine(child, /restored snapshot \(/);
  t.pass(`${victim.selfId} logged a snapshot install`);

  // The lagging consumer comes back: its committed offsets are below the minimum; it goes on.
  const late = new Set<string>();
  const wrongTag: string[] = [];
  const second = new ons.Consumer(consumerOptions);
  second.on('error', () => undefined);
  clients.push(second);
  second.subscribe(TOPIC, 'TagA', async (m: AliMessage) => {
    const body = m.body.toString().split(' ')[0] as string;
    if (m.tags !== 'TagA') wrongTag.push(body);
    late.add(body);
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await send(producer, 'after', 40);
  const afterTagA = Array.from({ length: 20 }, (_, i) => `after-${2 * i}`);
  await until(() => afterTagA.every((b) => late.has(b)) || null, 30_000, 'the lagging consumer got the 20 TagA messages sent after it came back');
  t.pass('the lagging consumer went on past the minimum and got every TagA message sent afterwards');
  t.same(wrongTag, [], 'it got no message of another tag');
  t.same([...late].filter((b) => /-\d*[13579]$/.test(b)), [], 'no odd (TagB) body reached it');
  t.notOk([...late].some((b) => b.startsWith('early-')), 'no early message again (those were consumed and then deleted)');

  // Every member, the restarted one included, serves the same retained messages at the same offsets.
  const same = await untilDefined(async () => {
    const views = await Promise.all(members.map(async (m) => (await Promise.all(Array.from({ length: QUEUES }, (_, q) => retainedOn(client, addrOf(m), q)))).map((q) => q.join(',')).join('|')));
    return views.every((v) => v === views[0]) ? views[0] : undefined;
  }, 30_000, 'every member to serve the same retained messages');
  t.ok(same.length > 0 && same.includes('after-39'), 'all three members serve the same retained messages at the same offsets, the latest included');
  for (const m of members) await stop(m.child, 'SIGTERM');
  await stop(namesrv.process.child, 'SIGTERM');
});
