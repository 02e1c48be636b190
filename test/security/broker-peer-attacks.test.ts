// Goal (issue 11, "Done when", first item, for the RocketMQ deployment): the peer attacks of
// peer-attacks.test.ts against a broker group — fast-try's RaftNode00, three mqbroker processes
// whose commit log is the Raft log. An attacker who knows what is public (the group is the
// brokerName, the member ids are in every broker's runtime info) but not the group secret sends
// forged Snapshot / Vote-transfer / Heartbeat / AppendResp / conflicting Append frames, client
// append and transfer requests (a broker's own group takes no external client ops at all), and a
// replay of a recorded legitimate handshake. After each: every member's role, term and leader,
// the names and sizes of every member's DLedger data and index files, the name
// server's routes, the master's topic configs and the consumer offsets are what they were, every
// broker process is alive, and ali-ons sends are stored (SEND_OK); at the end an ali-ons consumer
// receives every message sent. The commit index may move on entries the master writes itself
// (state checkpoints), but only together on every member and never past a member's last entry.
// Method: the real scripts (bin/dledger/fast-try.sh) on the quick start's confs with free ports
// (test/quickstart/helpers.ts), 8 MiB commit-log segments so the logs can be read back, and n1's
// and n2's links to n0 through a recording TCP proxy (a handshake to replay). Attacks are raw
// frames (test/security/attacker.ts), sent after an old protocol-1 hello and after a protocol-2
// handshake with a guessed proof. One cluster for the file; teardown SIGKILLs every pid started.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AdminClient } from '../../src/admin/admin-client.js';
import { closeAll, consumeInto, ons, produce, SHORT_INTERVALS_MS, awaitDeliveries, unexpectedErrors, type AliClient, type AliProducer } from '../quickstart/ali-ons-client.js';
import { alive, FAST_TRY, NODES, requireDist, runSh, writeQuickConfs, untilDefined as until } from '../quickstart/helpers.js';
import { readEntries } from '../cluster/store-files.js';
import { attack, decodeFrames, recordingProxy, replay, type AttackOutcome } from './attacker.js';
import { clientOps, FORGED_ATTACKS, type GroupView } from './forged-messages.js';

const GROUP = 'RaftNode00';
const TOPIC = 'TopicPeerAttack';
const CONSUMER_GROUP = 'CG_peer_attack';
const SETTLE_MS = 1500;
const DATA_SEGMENT_BYTES = 8 * 1024 * 1024;
// The node's default mappedFileSizeForEntryIndex (src/node/config.ts).
const INDEX_SEGMENT_BYTES = 32 * 5 * 1024 * 1024;

t.before(requireDist);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-peer-attacks-'));
const logDir = path.join(dir, 'logs');
const { confDir, namesrvPort, clientPorts } = await writeQuickConfs(dir);
const confOf = (node: string): string => path.join(confDir, `broker-${node}.conf`);
const peerPortOf = Object.fromEntries(
  (/^dLegerPeers=(.*)$/m.exec(fs.readFileSync(confOf('n0'), 'utf8'))?.[1] ?? '').split(';').map((p) => [p.split('-')[0] as string, Number(p.split(':').pop())]),
) as Record<string, number>;
const proxy = await recordingProxy(peerPortOf['n0'] as number);
for (const node of NODES) {
  let text = fs.readFileSync(confOf(node), 'utf8') + `\nmappedFileSizeCommitLog=${DATA_SEGMENT_BYTES}\n`;
  // n1 and n2 reach n0 through the proxy: whoever leads, someone dials n0 through it.
  if (node !== 'n0') text = text.replace(`n0-127.0.0.1:${peerPortOf['n0']}`, `n0-127.0.0.1:${proxy.port}`);
  fs.writeFileSync(confOf(node), text);
}
const namesrvAddr = `127.0.0.1:${namesrvPort}`;
const brokerAddr = (node: string): string => `127.0.0.1:${clientPorts[NODES.indexOf(node as (typeof NODES)[number])]}`;
const env = { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, NAMESRV_PORT: String(namesrvPort), FAST_TRY_GRACE_SECONDS: '8' };
const pidFiles = ['namesrv', ...NODES.map((node) => `broker-${node}`)].map((name) => path.join(logDir, `${name}.pid`));
const pids = new Map<string, number>();
const admin = new AdminClient([namesrvAddr], 5000);
const clients: AliClient[] = [];
t.teardown(async () => {
  if (clients.length > 0) await closeAll(clients);
  admin.close();
  await proxy.close();
  for (const pid of pids.values()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Each member's DLedger directory ({storePathRootDir}/dledger-{selfId}). */
function nodeDirOf(node: string): string {
  const root = /^storePathRootDir=(.*)$/m.exec(fs.readFileSync(confOf(node), 'utf8'))?.[1]?.trim() as string;
  return path.join(root, `dledger-${node}`);
}

interface Member {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leaderId: string;
  readonly commitIndex: number;
}

async function memberOf(node: string): Promise<Member> {
  const info = await admin.runtimeInfo(brokerAddr(node));
  return { id: info['dLegerSelfId'] ?? '?', role: info['dLegerRole'] ?? '?', term: Number(info['dLegerTerm']), leaderId: info['dLegerLeaderId'] ?? '', commitIndex: Number(info['dLegerCommitIndex']) };
}

/** Every member agrees on one leader and term and has committed the same index. */
async function stable(): Promise<Member[]> {
  return until(async () => {
    const all = await Promise.all(NODES.map(memberOf));
    const [first] = all as [Member];
    const agree = first.leaderId !== '' && all.every((m) => m.term === first.term && m.leaderId === first.leaderId && m.commitIndex === first.commitIndex);
    return agree ? all : undefined;
  }, 30_000, 'a stable group');
}

/** Names and sizes of each member's DLedger data and index segments. */
function files(): Record<string, string[]> {
  return Object.fromEntries(NODES.map((node) => {
    const list: string[] = [];
    for (const sub of ['data', 'index']) {
      const segments = path.join(nodeDirOf(node), sub);
      for (const name of fs.existsSync(segments) ? fs.readdirSync(segments).sort() : []) list.push(`${sub}/${name}:${fs.statSync(path.join(segments, name)).size}`);
    }
    return [node, list];
  }));
}

const lastIndexOf = (node: string): number => readEntries(nodeDirOf(node), { dataSegmentSizeBytes: DATA_SEGMENT_BYTES, indexSegmentSizeBytes: INDEX_SEGMENT_BYTES }).at(-1)?.index ?? -1;

const storedBodies = (node: string): string[] => readEntries(nodeDirOf(node), { dataSegmentSizeBytes: DATA_SEGMENT_BYTES, indexSegmentSizeBytes: INDEX_SEGMENT_BYTES }).map((e) => Buffer.from(e.body).toString('latin1'));

const brokersAlive = (): Record<string, boolean> => Object.fromEntries(NODES.map((node) => [node, alive(pids.get(`broker-${node}`) ?? -1)]));

let producer: AliProducer;
const producerErrors: Error[] = [];
const sentKeys: string[] = [];
const masterAddr = async (): Promise<string> => (await admin.clusterInfo()).brokerAddrTable[GROUP]?.brokerAddrs['0'] as string;
const sendRound = async (prefix: string, count: number): Promise<number> => {
  const results = await produce(producer, TOPIC, prefix, count, 4);
  for (const body of results.keys()) sentKeys.push(body);
  return [...results.values()].filter((r) => r.sendStatus === 'SEND_OK').length;
};

// The cluster starts and serves ali-ons: a topic and traffic to compare against.
await t.test('fast-try starts RaftNode00 and ali-ons sends to it', async (t) => {
  const start = await runSh(FAST_TRY, ['start'], env, 90_000);
  for (const file of pidFiles) if (fs.existsSync(file)) pids.set(path.basename(file, '.pid'), Number(fs.readFileSync(file, 'utf8').trim()));
  t.equal(start.code, 0, `fast-try start\n${start.stdout}${start.stderr}`);
  t.equal(pids.size, 4, 'name server and 3 brokers started');

  await until(async () => {
    const addrs = (await admin.clusterInfo()).brokerAddrTable[GROUP]?.brokerAddrs ?? {};
    return Object.keys(addrs).length === 3 && addrs['0'] !== undefined ? true : undefined;
  }, 60_000, 'the group registered: three members, one BID 0');
  await admin.updateTopic(await masterAddr(), { topic: TOPIC, readQueueNums: 4, writeQueueNums: 4, perm: 6, order: false });
  producer = new ons.Producer({ nameSrv: namesrvAddr, httpclient: {}, producerGroup: 'PG_peer_attack', instanceName: 'peer-attack', ...SHORT_INTERVALS_MS }) as AliProducer;
  clients.push(producer);
  producer.on('error', (error) => producerErrors.push(error));
  await producer.ready();
  t.equal(await sendRound('warmup', 20), 20, 'ali-ons: 20 sends SEND_OK before the attacks');
});

interface Baseline {
  readonly members: Member[];
  readonly view: GroupView;
  readonly files: Record<string, string[]>;
  readonly routes: unknown;
  readonly topics: unknown;
  readonly offsets: unknown;
}

const routesNow = async (): Promise<unknown> => {
  const info = await admin.clusterInfo();
  const route = await admin.topicRoute(TOPIC);
  return JSON.parse(JSON.stringify({ brokers: info.brokerAddrTable, clusters: info.clusterAddrTable, queues: route.queueDatas, routeBrokers: route.brokerDatas }));
};
const offsetsNow = async (master: string): Promise<unknown> => Promise.all([0, 1, 2, 3].map(async (q) => [await admin.maxOffset(master, TOPIC, q), await admin.consumerOffset(master, CONSUMER_GROUP, TOPIC, q)]));

async function baseline(): Promise<Baseline> {
  const members = await stable();
  const leader = members[0]?.leaderId as string;
  const commitIndex = members[0]?.commitIndex as number;
  const leaderEntries = readEntries(nodeDirOf(leader), { dataSegmentSizeBytes: DATA_SEGMENT_BYTES, indexSegmentSizeBytes: INDEX_SEGMENT_BYTES });
  const view: GroupView = { leader, followers: NODES.filter((n) => n !== leader), term: members[0]?.term as number, commitIndex, prevTerm: leaderEntries[commitIndex - 1]?.term ?? 0 };
  const master = await masterAddr();
  return { members, view, files: files(), routes: await routesNow(), topics: await admin.topicConfigs(master), offsets: await offsetsNow(master) };
}

let attacksDone = 0;

/** The victim and the group are as they were, and the group still serves ali-ons. */
async function unharmed(t: Test, before: Baseline, outcomes: AttackOutcome[], forbiddenBody?: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  t.same(brokersAlive(), { n0: true, n1: true, n2: true }, 'every broker process is still running');
  t.same(files(), before.files, 'every member\'s DLedger data and index files: same names, same sizes');
  const after = await Promise.all(NODES.map((node) => memberOf(node).catch(() => ({ id: node, role: 'unreachable', term: -1, leaderId: '', commitIndex: -1 }))));
  t.same(after.map((m) => [m.id, m.role, m.term, m.leaderId]), before.members.map((m) => [m.id, m.role, m.term, m.leaderId]), `roles, term ${before.view.term} and leader ${before.view.leader} unchanged on every member`);
  // The master writes entries of its own (state checkpoints, cleanResourceInterval): the commit
  // index may move, but only together, on entries every member has (a forged Heartbeat or
  // AppendResp would commit past what exists, or on one member only).
  const settled = await stable();
  t.ok(settled.every((m) => m.commitIndex >= before.view.commitIndex), `every member's commit index agrees and did not go back (${before.view.commitIndex} -> ${settled[0]?.commitIndex})`);
  t.ok(NODES.every((node) => lastIndexOf(node) >= (settled[0]?.commitIndex ?? Infinity)), 'no member has committed past its own last entry');
  t.ok(outcomes.every((o) => o.closedByVictim), `the victim closed each attacking connection (${outcomes.map((o) => o.closedByVictim).join(', ')})`);
  const master = await masterAddr();
  t.same(await routesNow(), before.routes, 'the name server\'s cluster info and topic route unchanged');
  t.same(await admin.topicConfigs(master), before.topics, 'the master\'s topic configs unchanged');
  t.same(await offsetsNow(master), before.offsets, 'queue max offsets and consumer offsets unchanged');
  if (forbiddenBody !== undefined) t.notOk(NODES.some((node) => storedBodies(node).some((body) => body.includes(forbiddenBody))), `"${forbiddenBody}" is in no member's log`);
  t.equal(await sendRound(`after-attack-${++attacksDone}`, 5), 5, 'ali-ons: 5 more sends SEND_OK');
}

for (const forged of FORGED_ATTACKS) {
  await t.test(forged.name, async (t) => {
    const b = await baseline();
    const victim = forged.victim(b.view);
    const from = forged.from(b.view);
    const value = { ...forged.message(b.view), from, to: victim };
    const hello = { group: GROUP, from, to: victim };
    const port = peerPortOf[victim] as number;
    const outcomes = [await attack(port, 'v1', hello, [value]), await attack(port, 'v2', hello, [value])];
    await unharmed(t, b, outcomes, forged.forbiddenBody);
  });
}

await t.test('client append and leadership transfer on the peer port (unauthenticated, and a broker\'s group takes none)', async (t) => {
  const b = await baseline();
  const body = 'attacker-append';
  const hello = { group: GROUP, from: 'client', to: b.view.leader, client: true };
  const port = peerPortOf[b.view.leader] as number;
  const outcomes = [await attack(port, 'v1', hello, clientOps(b.view, body), 3000), await attack(port, 'v2', hello, clientOps(b.view, body), 3000)];
  const answers = outcomes.flatMap((o) => o.received).filter((v) => typeof v === 'object' && v !== null && 'id' in v);
  t.same(answers, [], 'no client request was answered');
  await unharmed(t, b, outcomes, body);
});

await t.test('replay of a recorded legitimate handshake (a member to n0) to n0', async (t) => {
  const recorded = await until(async () => (proxy.recorded().length > 0 ? proxy.recorded() : undefined), 10_000, 'a member to dial n0 through the proxy');
  t.ok(decodeFrames(recorded).length >= 2, `recorded ${recorded.length} bytes (${decodeFrames(recorded).length} frames: hello, auth answer, ...) a member sent to n0`);
  const b = await baseline();
  const outcome = await replay(peerPortOf['n0'] as number, recorded);
  await unharmed(t, b, [outcome]);
});

await t.test('after every attack an ali-ons consumer receives every message sent', async (t) => {
  const deliveries = new Map<string, number>();
  const consumerErrors: Error[] = [];
  const consumer = consumeInto({ nameSrv: namesrvAddr, consumerGroup: CONSUMER_GROUP, instanceName: 'peer-attack' }, TOPIC, deliveries, consumerErrors);
  clients.push(consumer);
  await consumer.ready();
  t.same(await awaitDeliveries(deliveries, sentKeys, 40_000), [], `all ${sentKeys.length} sent messages consumed`);
  // ali-ons shares one MQClient per instanceName: the consumer's errors reach the producer too.
  t.same(unexpectedErrors([...producerErrors, ...consumerErrors]), [], 'no ali-ons client saw an error (but the retry topic\'s missing route)');
});
