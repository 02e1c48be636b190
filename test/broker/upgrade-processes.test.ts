// Goal: the guide's upgrade ("旧集群升级") as an operator runs it, with real processes and a real
// client. `sh bin/mqbroker -c classic.conf` (enableDLegerCommitLog=false, brokerId=0,
// brokerRole=ASYNC_MASTER) registers as BID 0; ali-ons sends 200 messages and a CLUSTERING
// consumer takes them all (offsets committed); the broker stops; its commit log is copied to two
// more nodes and `sh bin/mqadmin commitLogMd5` says MATCH (exit 0); the three stores start as one
// DLedger group (`bin/mqbroker` with the dLeger* keys). Then the same consumer group, restarted,
// gets exactly the 100 messages sent after the upgrade (it resumes from its old offsets: no old
// message again), and a new group reads all 300, old and new, through the leader.
// Method: bin/mqnamesrv, bin/mqbroker, bin/mqadmin on free ports with confs in a temp dir
// (1 MiB commit-log files so copies and md5 stay cheap), ali-ons from npm with short intervals;
// bounded waits; every child stopped by pid in teardown.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { awaitDeliveries, closeAll, consumeInto, ons, produce, SHORT_INTERVALS_MS, type AliClient } from '../quickstart/ali-ons-client.js';
import { addrPort, awaitClusterList, freePorts, MQADMIN, requireDist, ROOT, runSh } from '../quickstart/helpers.js';
import { awaitLine, launch, startGroup, startNamesrv, stop } from '../quickstart/process-cluster.js';

const TOPIC = 'TopicUpgrade';
const FILE_BYTES = 1024 * 1024;
const OLD = 200;
const NEW = 100;

t.before(requireDist);

/** argv: root, nameSrv, topic, count. Sends old-0..old-<count-1>, consumes them as CG_upgrade, prints JSON. */
const CLASSIC_PHASE_SCRIPT = `
import { createRequire } from 'node:module';
const [root, nameSrv, topic, countText] = process.argv.slice(2);
const ons = createRequire(root + '/package.json')('ali-ons');
const intervals = ${JSON.stringify(SHORT_INTERVALS_MS)};
const producer = new ons.Producer({ nameSrv, httpclient: {}, producerGroup: 'PG_upgrade', ...intervals });
producer.on('error', () => undefined);
const sent = {};
for (let i = 0; i < Number(countText); i++) {
  const message = new ons.Message(topic, 'TagA', 'old-' + i);
  const result = await producer.send(message);
  if (result.sendStatus !== 'SEND_OK') throw new Error('send old-' + i + ': ' + result.sendStatus);
  sent['old-' + i] = result.msgId;
}
const consumed = new Set();
const consumer = new ons.Consumer({ nameSrv, httpclient: {}, consumerGroup: 'CG_upgrade', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...intervals });
consumer.on('error', () => undefined);
await new Promise((resolve) => {
  consumer.subscribe(topic, '*', async (m) => {
    consumed.add(m.body.toString());
    if (consumed.size === Number(countText)) setTimeout(resolve, 500);
  });
});
await consumer.close(); // commits the offsets
console.log(JSON.stringify({ sent, consumed: [...consumed] }));
process.exit(0);
`;

/** `promise`, or a rejection naming `what` after timeoutMs (ali-ons' ready() has no timeout). */
async function bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs); })]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('classic mqbroker, md5 check, restart as a DLedger group: consumers resume', { timeout: 150_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-processes-'));
  const clients: AliClient[] = [];
  t.teardown(async () => {
    await closeAll(clients);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const namesrv = await startNamesrv(t);
  const mqadmin = (...args: string[]) => runSh(MQADMIN, args, process.env, 30_000);
  // startGroup's store layout, so the group below finds the classic log where n0 keeps it.
  const storeOf = (i: number): string => path.join(dir, 'rmqstore', `RaftNode00-node0${i}`);

  t.comment('the old broker');
  const [classicPort] = (await freePorts(1)) as [number];
  const classicConf = path.join(dir, 'classic.conf');
  fs.writeFileSync(classicConf, [
    'brokerClusterName=RaftCluster', 'brokerName=RaftNode00', 'brokerId=0', 'brokerRole=ASYNC_MASTER', 'flushDiskType=ASYNC_FLUSH',
    `listenPort=${classicPort}`, `namesrvAddr=${namesrv.addr}`, `storePathRootDir=${storeOf(0)}`, `storePathCommitLog=${storeOf(0)}/commitlog`,
    'enableDLegerCommitLog=false', `mappedFileSizeCommitLog=${FILE_BYTES}`, 'maxMessageSize=65536', 'grpcServerPort=0', '',
  ].join('\n'));
  const classic = launch(t, 'classic broker', 'bin/mqbroker', ['-c', classicConf]);
  await awaitLine(classic, /boot success/);
  await awaitClusterList(namesrv.addr, (rows) => (rows.length === 1 && rows[0]?.bid === 0 && addrPort(rows[0].addr) === classicPort ? rows : undefined), 20_000, 'the classic broker as BID 0');
  const update = await mqadmin('updateTopic', '-n', namesrv.addr, '-t', TOPIC, '-c', 'RaftCluster', '-r', '4', '-w', '4');
  t.equal(update.code, 0, update.stdout + update.stderr);

  // The classic phase's client runs in its own process: ali-ons keeps the stopped broker's address
  // in its shared client and then fails to close (a process that never exits).
  const script = path.join(dir, 'classic-phase.mjs');
  fs.writeFileSync(script, CLASSIC_PHASE_SCRIPT);
  const phase = await new Promise<{ sent: Record<string, string>; consumed: string[] }>((resolve, reject) => {
    execFile(process.execPath, [script, ROOT, namesrv.addr, TOPIC, String(OLD)], { timeout: 60_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`classic phase: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) as string) as { sent: Record<string, string>; consumed: string[] });
    });
  });
  const oldSent = new Map(Object.entries(phase.sent));
  t.equal(oldSent.size, OLD, `${OLD} ali-ons sends to the classic broker acknowledged`);
  t.same([...phase.consumed].sort(), [...oldSent.keys()].sort(), 'an ali-ons consumer group (CG_upgrade) took every old message, then closed');
  const progress = await mqadmin('consumerProgress', '-n', namesrv.addr, '-g', 'CG_upgrade');
  t.match(progress.stdout, /Diff Total: 0/, 'its offsets are committed up to the end');
  await stop(classic.child);
  t.equal(classic.child.exitCode, 0, 'the classic broker stopped cleanly');

  t.comment('copy the old commit log to the other nodes and compare');
  for (const i of [1, 2]) fs.cpSync(path.join(storeOf(0), 'commitlog'), path.join(storeOf(i), 'commitlog'), { recursive: true });
  const md5 = await mqadmin('commitLogMd5', '-d', [0, 1, 2].map((i) => path.join(storeOf(i), 'commitlog')).join(','));
  t.equal(md5.code, 0, 'commitLogMd5 exits 0');
  t.match(md5.stdout, /MATCH: 3 directories, last file \d{20} md5 [0-9a-f]{32}/, md5.stdout);

  t.comment('the same stores as one DLedger group');
  const upgradedAt = Date.now();
  const brokers = await startGroup(t, dir, namesrv.addr, { cluster: 'RaftCluster', brokerName: 'RaftNode00', members: 3, extraConf: [`mappedFileSizeCommitLog=${FILE_BYTES}`, 'maxMessageSize=65536'] });
  const rows = await awaitClusterList(namesrv.addr, (r) => (r.length === 3 && r.filter((row) => row.bid === 0).length === 1 ? r : undefined), 30_000, 'one BID 0 and two followers');
  t.pass(`the upgraded group lists BID 0 ${Date.now() - upgradedAt} ms after start`);
  t.ok(brokers.every((b) => /upgrade: classic commit log .* dividedCommitlogOffset \d+/.test(b.output())), 'every member continued the old commit log');
  const errors: Error[] = [];
  const newProducer = new ons.Producer({ nameSrv: namesrv.addr, httpclient: {}, producerGroup: 'PG_upgrade', ...SHORT_INTERVALS_MS });
  clients.push(newProducer);
  newProducer.on('error', (error) => errors.push(error));
  const newSent = await produce(newProducer, TOPIC, 'new', NEW);
  t.equal(newSent.size, NEW, `${NEW} sends to the DLedger group acknowledged`);
  const oldOffsets = new Set([...oldSent.values()].map((msgId) => msgId.slice(16)));
  t.ok([...newSent.values()].every((r) => !oldOffsets.has(r.msgId.slice(16)) && BigInt(`0x${r.msgId.slice(16)}`) >= BigInt(FILE_BYTES)), 'new physical offsets lie past the old files');

  const resumed = new Map<string, number>();
  const resumedConsumer = consumeInto({ nameSrv: namesrv.addr, consumerGroup: 'CG_upgrade' }, TOPIC, resumed, errors);
  clients.push(resumedConsumer);
  await bounded(resumedConsumer.ready(), 20_000, 'resumed consumer ready');
  t.same(await awaitDeliveries(resumed, newSent.keys(), 30_000), [], 'the old group gets every new message');
  const fresh = new Map<string, number>();
  const freshConsumer = consumeInto({ nameSrv: namesrv.addr, consumerGroup: 'CG_fresh' }, TOPIC, fresh, errors);
  clients.push(freshConsumer);
  await bounded(freshConsumer.ready(), 20_000, 'fresh consumer ready');
  t.same(await awaitDeliveries(fresh, [...oldSent.keys(), ...newSent.keys()], 30_000), [], 'a new group reads all of them, old and new');
  t.same([...resumed.keys()].filter((body) => body.startsWith('old-')), [], 'the old group resumed from its offsets: no old message again');
  t.equal(rows.filter((row) => row.bid !== 0).length, 2);
  // While the brokers still run (teardown stops them first): ali-ons' close needs them to finish.
  await closeAll(clients);
  clients.length = 0;
});
