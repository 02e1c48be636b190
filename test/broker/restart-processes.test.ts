// Goal: a real broker group survives kill -9 of a follower and of the leader (issue 12): after
// each restart every message ali-ons had acknowledged is consumable at the offset its send
// answered, the restarted member's consume-queue files end byte-identical to the other members',
// queryMsgByKey and queryMsgById find messages sent before and after the kill on it, and it re-applied only the
// entries of its recovered log past its durable point (config/dledgerState.json, read from the
// dead member's disk before the restart) - not the history before it. A truncated dledgerState.json
// and a truncated consume-queue file each give a log line naming the problem and a full replay
// that loses nothing.
// Method: bin/mqnamesrv + 3 x bin/mqbroker (process-cluster.ts) with 500-unit consume-queue
// files and 200 ms consume-queue flushes; ali-ons from npm sends 2,000 messages, then more while
// a follower and later the leader are SIGKILLed and started again with the same conf. The
// restarted member's stderr gives its restore point and "restart replay done: N entries
// re-applied"; pulls (PULL_MESSAGE without a subscription) read each member's queues.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AdminClient } from '../../src/admin/admin-client.js';
import { decodeMessages, parseMessageProperties } from '../../src/broker/message-codec.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { closeAll, message, ons, SHORT_INTERVALS_MS, type AliMessage, type AliProducer } from '../quickstart/ali-ons-client.js';
import { addrPort, awaitClusterList, MQADMIN, requireDist, runSh, untilDefined } from '../quickstart/helpers.js';
import { awaitLine, launch, startGroup, startTestBed, stop, type BrokerProcess } from '../quickstart/process-cluster.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicRestart';
const QUEUES = 4;
const FIRST = 2000;
const DURING = 800;
const CQ_UNITS_PER_FILE = 500;

t.before(requireDist);

interface Ack { readonly queueId: number; readonly queueOffset: number; readonly msgId: string }

/** Sends prefix-0..count-1 (concurrency 8), recording acknowledged ones; failures (a kill) are counted, not thrown. */
async function send(producer: AliProducer, prefix: string, count: number, acked: Map<string, Ack>): Promise<number> {
  let next = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const body = `${prefix}-${next++}`;
      try {
        const result = await producer.send(message(TOPIC, body.endsWith('0') ? 'TagA' : 'TagB', `key-${body}`, body));
        if (result.sendStatus === 'SEND_OK') acked.set(body, { queueId: result.messageQueue.queueId, queueOffset: result.queueOffset, msgId: result.msgId });
        else failed++;
      } catch {
        failed++;
      }
    }
  }));
  return failed;
}

/** queueOffset -> body of every message of one queue on one member, by pulls without a subscription. */
async function queueOn(client: RemotingClient, addr: string, queueId: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let offset = 0, pulls = 0; pulls < 10_000; pulls++) {
    const response = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: 'CG_check', topic: TOPIC, queueId: queueId, queueOffset: offset, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0 } }), 10_000);
    if (response.code === ResponseCode.PULL_NOT_FOUND) return out;
    if (response.code !== ResponseCode.SUCCESS || response.body === null) throw new Error(`pull ${TOPIC}-${queueId}@${offset} from ${addr}: ${response.code} ${response.remark ?? ''}`);
    for (const m of decodeMessages(response.body)) out.set(m.queueOffset, new TextDecoder().decode(m.body));
    offset = Number(response.extFields['nextBeginOffset']);
  }
  throw new Error(`pulling ${TOPIC}-${queueId} from ${addr} did not end`);
}

async function contentsOn(client: RemotingClient, addr: string): Promise<string[]> {
  const out: string[] = [];
  for (let q = 0; q < QUEUES; q++) for (const [offset, body] of await queueOn(client, addr, q)) out.push(`${q}@${offset}:${body}`);
  return out.sort();
}

function storeOf(dir: string, member: BrokerProcess): string {
  return path.join(dir, 'rmqstore', `RaftNode00-node0${member.selfId.slice(1)}`);
}

/** The topic's consume-queue files of a member: `q/name` -> bytes. */
function cqFiles(store: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let q = 0; q < QUEUES; q++) {
    const dir = path.join(store, 'consumequeue', TOPIC, String(q));
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) out.set(`${q}/${name}`, fs.readFileSync(path.join(dir, name)));
  }
  return out;
}

function durablePointOf(store: string): number {
  const bytes = fs.readFileSync(path.join(store, 'config', 'dledgerState.json'));
  return (JSON.parse(bytes.subarray(bytes.indexOf(0x0a) + 1).toString()) as { state: { capturedAt: number } }).state.capturedAt;
}

interface Replay { readonly restoredAt: number | null; readonly lastIndex: number; readonly entries: number; readonly messages: number }

/** Starts a killed member again with its conf; resolves once it logged its restart replay as done. */
async function restart(t: Test, members: BrokerProcess[], member: BrokerProcess): Promise<{ member: BrokerProcess; replay: Replay }> {
  const child = launch(t, `${member.selfId} restarted`, 'bin/mqbroker', ['-c', member.conf]);
  const restarted = { ...child, selfId: member.selfId, conf: member.conf, clientPort: member.clientPort };
  members[members.indexOf(member)] = restarted;
  await awaitLine(child, /restart replay done: \d+ entries/);
  const out = child.output();
  const restored = /restored the broker state and consume queues at entry (\d+) from config\/dledgerState.json: entries \d+\.\.(-?\d+)/.exec(out);
  const full = /no durable point: the log \[\d+, (-?\d+)\] is re-applied from its start/.exec(out);
  const done = /restart replay done: (\d+) entries re-applied \((\d+) messages\)/.exec(out);
  if (done === null || (restored === null && full === null)) throw new Error(`${member.selfId}: no restore or replay line:\n${out}`);
  return {
    member: restarted,
    replay: { restoredAt: restored === null ? null : Number(restored[1]), lastIndex: Number((restored ?? full)?.[restored === null ? 1 : 2]), entries: Number(done[1]), messages: Number(done[2]) },
  };
}

t.test('kill -9 of a follower and of the leader: tail-only restart, same messages at the same offsets', { timeout: 240_000 }, async (t) => {
  const { dir, clients, client, namesrv } = await startTestBed(t, 'restart-processes-');
  const admin = new AdminClient([namesrv.addr], 5000);
  t.teardown(() => admin.close());
  const members = await startGroup(t, dir, namesrv.addr, {
    cluster: 'RaftCluster', brokerName: 'RaftNode00', members: 3,
    extraConf: [`mappedFileSizeConsumeQueue=${CQ_UNITS_PER_FILE * 20}`, 'flushIntervalConsumeQueue=200', `mappedFileSizeCommitLog=${4 * 1024 * 1024}`, 'maxMessageSize=65536'],
  });
  const addrOf = (m: BrokerProcess): string => `127.0.0.1:${m.clientPort}`;
  const leader = async (notPort = -1): Promise<BrokerProcess> => {
    const port = await awaitClusterList(namesrv.addr, (rows) => rows.find((r) => r.bid === 0 && addrPort(r.addr) !== notPort)?.addr, 30_000, 'a master');
    return members.find((m) => m.clientPort === addrPort(port)) as BrokerProcess;
  };
  // "boot success" comes before the group registers with the name server (a master elected first).
  await awaitClusterList(namesrv.addr, (rows) => (rows.length === 3 && rows.some((r) => r.bid === 0) ? rows : undefined), 30_000, 'the group registered with a master');
  const update = await runSh(MQADMIN, ['updateTopic', '-n', namesrv.addr, '-t', TOPIC, '-c', 'RaftCluster', '-r', String(QUEUES), '-w', String(QUEUES)], process.env, 30_000);
  t.equal(update.code, 0, update.stdout + update.stderr);

  const producer = new ons.Producer({ nameSrv: namesrv.addr, httpclient: {}, producerGroup: 'PG_restart', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', () => undefined);
  const acked = new Map<string, Ack>();
  const started = Date.now();
  t.equal(await send(producer, 'first', FIRST, acked), 0, `${FIRST} ali-ons sends, none failed`);
  t.comment(`${FIRST} sends in ${Date.now() - started} ms`);

  /** Every member serves the same queues, and every acknowledged message is at the offset its send answered. */
  const settled = async (what: string): Promise<string[]> => {
    const master = await leader();
    const expected = await untilDefined(async () => {
      const contents = await Promise.all(members.map((m) => contentsOn(client, addrOf(m))));
      return contents.every((c) => c.join() === contents[0]?.join()) ? contents[0] : undefined;
    }, 30_000, `every member to serve the same queues ${what}`);
    const at = new Set(expected);
    const missing = [...acked].filter(([body, ack]) => !at.has(`${ack.queueId}@${ack.queueOffset}:${body}`));
    t.same(missing.slice(0, 5), [], `${what}: all ${acked.size} acknowledged messages at their acknowledged queue offsets on all 3 members (master ${master.selfId})`);
    return expected;
  };

  t.comment('kill -9 a follower while sending');
  const master0 = await leader();
  const victim = members.find((m) => m !== master0) as BrokerProcess;
  const sizeBefore = acked.size;
  const sending = send(producer, 'during-follower', DURING, acked);
  await until(() => acked.size >= sizeBefore + DURING / 2 || null, 30_000, 'sends under way');
  await stop(victim.child, 'SIGKILL');
  t.equal(victim.child.signalCode, 'SIGKILL', `${victim.selfId} killed with SIGKILL`);
  t.equal(await sending, 0, 'no send failed while a follower was down');
  const victimStore = storeOf(dir, victim);
  const point = durablePointOf(victimStore);
  const checkpoint = fs.readFileSync(path.join(victimStore, 'checkpoint'));
  const times = [0, 8, 16].map((at) => Number(checkpoint.readBigInt64BE(at)));
  t.ok(checkpoint.length === 4096 && times.every((ms) => ms >= started && ms <= Date.now()) && times[2] === times[1], `RocketMQ's checkpoint file: physic/logics/index ${times.map((ms) => new Date(ms).toISOString()).join(' ')}`);
  const { member: back, replay } = await restart(t, members, victim);
  t.equal(replay.restoredAt, point, `restored at its durable point, entry ${point}`);
  t.ok(point >= FIRST, `the point (${point}) covers the ${FIRST} messages sent before the kill`);
  t.ok(replay.entries <= replay.lastIndex - point, `re-applied ${replay.entries} entries (${replay.messages} messages): at most the ${replay.lastIndex - point} of its recovered log past the point`);
  t.ok(replay.lastIndex - point < DURING, `the tail past the point (${replay.lastIndex - point} entries) is bounded by what came after the last flush, not the history (${replay.lastIndex})`);
  await settled('after the follower restart');
  const keyOn = async (m: BrokerProcess, body: string): Promise<string[]> => {
    const bytes = await admin.queryMessage(addrOf(m), TOPIC, `key-${body}`, 64, 0, Number.MAX_SAFE_INTEGER);
    return decodeMessages(bytes).filter((x) => (parseMessageProperties(x.properties).get('KEYS') ?? '') === `key-${body}`).map((x) => `${x.queueId}@${x.queueOffset}:${new TextDecoder().decode(x.body)}`);
  };
  for (const body of ['first-7', 'during-follower-3', `during-follower-${DURING - 1}`]) {
    const ack = acked.get(body);
    if (ack !== undefined) t.same(await keyOn(back, body), [`${ack.queueId}@${ack.queueOffset}:${body}`], `QUERY_MESSAGE on the restarted ${back.selfId} finds key-${body}`);
  }

  t.comment('kill -9 the leader while sending');
  const oldMaster = await leader();
  const sizeBefore2 = acked.size;
  const sending2 = send(producer, 'during-leader', DURING, acked);
  await until(() => acked.size >= sizeBefore2 + DURING / 4 || null, 30_000, 'sends under way');
  await stop(oldMaster.child, 'SIGKILL');
  const newMaster = await leader(oldMaster.clientPort);
  t.not(newMaster.selfId, oldMaster.selfId, `${newMaster.selfId} took over`);
  const failed = await sending2;
  t.comment(`${failed} sends failed around the leader kill (their outcome is unknown: not counted as acknowledged)`);
  const leaderStore = storeOf(dir, oldMaster);
  const leaderPoint = durablePointOf(leaderStore);
  const { member: leaderBack, replay: leaderReplay } = await restart(t, members, oldMaster);
  t.equal(leaderReplay.restoredAt, leaderPoint, `the old leader restored at its durable point, entry ${leaderPoint}`);
  t.ok(leaderReplay.entries <= leaderReplay.lastIndex - leaderPoint && leaderReplay.lastIndex - leaderPoint < DURING, `the old leader re-applied ${leaderReplay.entries} entries of the ${leaderReplay.lastIndex - leaderPoint} past its point (log end ${leaderReplay.lastIndex})`);
  t.equal(await send(producer, 'after', 200, acked), 0, '200 more sends to the new leader');
  const expected = await settled('after the leader restart');
  for (const body of ['first-11', 'after-5']) {
    const ack = acked.get(body) as Ack;
    t.same(await keyOn(leaderBack, body), [`${ack.queueId}@${ack.queueOffset}:${body}`], `QUERY_MESSAGE on the restarted old leader finds key-${body}`);
  }
  const cli = await runSh(MQADMIN, ['queryMsgByKey', '-n', namesrv.addr, '-t', TOPIC, '-k', 'key-after-5'], process.env, 30_000);
  const afterAck = acked.get('after-5') as Ack;
  t.match(cli.stdout, new RegExp(`\\s${afterAck.queueId}\\s+${afterAck.queueOffset}\\s*$`, 'm'), `mqadmin queryMsgByKey: ${cli.stdout.trim().split('\n').at(-1)}`);
  // queryMsgById: the msgId a send answered (store host + physical offset) of a message stored
  // before both kills (its host is the old leader, restarted) and of one sent to the new leader.
  for (const body of ['first-11', 'after-5']) {
    const ack = acked.get(body) as Ack;
    const byId = await runSh(MQADMIN, ['queryMsgById', '-n', namesrv.addr, '-i', ack.msgId], process.env, 30_000);
    t.equal(byId.code, 0, byId.stderr);
    t.ok(new RegExp(`OffsetID:\\s+${ack.msgId}`).test(byId.stdout) && new RegExp(`Queue ID:\\s+${ack.queueId}\\n`).test(byId.stdout) && new RegExp(`Keys:\\s+\\[key-${body}\\]`).test(byId.stdout), `mqadmin queryMsgById ${ack.msgId} finds ${body} (queue ${ack.queueId})`);
  }

  const files = members.map((m) => cqFiles(storeOf(dir, m)));
  t.ok([...(files[0] as Map<string, Buffer>).keys()].some((name) => !name.endsWith('/00000000000000000000')), 'the queues span more than one consume-queue file');
  for (const [i, m] of members.entries()) {
    if (i === 0) continue;
    const differing = [...(files[0] as Map<string, Buffer>)].filter(([name, bytes]) => !(files[i]?.get(name)?.equals(bytes) ?? false)).map(([name]) => name);
    t.same({ names: [...(files[i] as Map<string, Buffer>).keys()], differing }, { names: [...(files[0] as Map<string, Buffer>).keys()], differing: [] }, `${m.selfId}'s consume-queue files are byte-identical to ${members[0]?.selfId}'s`);
  }

  t.comment('a truncated dledgerState.json: full replay');
  const third = members.find((m) => m !== newMaster && m !== leaderBack) ?? back;
  const thirdStore = storeOf(dir, third);
  await stop(third.child, 'SIGKILL');
  const stateFile = path.join(thirdStore, 'config', 'dledgerState.json');
  fs.truncateSync(stateFile, Math.floor(fs.statSync(stateFile).size / 2));
  const { member: fromScratch, replay: fullReplay } = await restart(t, members, third);
  t.match(fromScratch.output(), /durable point ignored: .*dledgerState\.json: CRC mismatch/, 'the log names the bad file');
  t.equal(fullReplay.restoredAt, null, 'no restore point');
  t.ok(fullReplay.messages >= acked.size, `re-applied the whole log: ${fullReplay.entries} entries, ${fullReplay.messages} messages (>= ${acked.size} acknowledged)`);
  t.same(await contentsOn(client, addrOf(fromScratch)), expected, 'it serves the same messages at the same offsets');

  t.comment('a truncated consume-queue file: full replay');
  await stop(fromScratch.child, 'SIGKILL');
  const cqFile = path.join(thirdStore, 'consumequeue', TOPIC, '1', '00000000000000000000');
  fs.truncateSync(cqFile, 100);
  const { member: rebuilt, replay: cqReplay } = await restart(t, members, fromScratch);
  t.match(rebuilt.output(), new RegExp(`durable point at entry \\d+ ignored: consume queue ${TOPIC}-1: .*00000000000000000000 missing or not ${CQ_UNITS_PER_FILE * 20} bytes`), 'the log names the short consume-queue file');
  t.equal(cqReplay.restoredAt, null);
  t.ok(cqReplay.messages >= acked.size, `re-applied the whole log: ${cqReplay.messages} messages`);
  t.same(await contentsOn(client, addrOf(rebuilt)), expected, 'it serves the same messages at the same offsets');
  t.equal(fs.statSync(cqFile).size, CQ_UNITS_PER_FILE * 20, 'the consume-queue file is whole again');

  t.comment('a fresh ali-ons consumer gets every acknowledged message at its offset');
  const received = new Map<string, AliMessage>();
  const consumer = new ons.Consumer({ nameSrv: namesrv.addr, httpclient: {}, consumerGroup: 'CG_restart', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS });
  clients.push(consumer);
  consumer.on('error', () => undefined);
  consumer.subscribe(TOPIC, '*', async (m) => {
    received.set(m.body.toString(), m);
  });
  await until(() => [...acked.keys()].every((body) => received.has(body)) || null, 60_000, `the consumer to receive all ${acked.size} acknowledged messages (has ${received.size})`);
  const wrong = [...acked].filter(([body, ack]) => Number(received.get(body)?.queueId) !== Number(ack.queueId) || Number(received.get(body)?.queueOffset) !== Number(ack.queueOffset));
  t.same(wrong.slice(0, 5), [], `all ${acked.size} consumed at their acknowledged queue and offset`);
  await closeAll(clients);
  clients.length = 0;
  for (const m of members) await stop(m.child);
});
