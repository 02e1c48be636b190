// Goal: `sh bin/mqbroker -c FILE` behaves as the quick start expects: three broker processes
// with one name server form a group, one registers as brokerId 0 and the others as selfId
// digits + 1, clients can create a topic and send to the master, SIGKILL of the master moves
// BID 0 to another broker (time measured), sends continue there, and SIGTERM stops a broker with
// exit 0. -p prints the config; bad confs and flags exit 1 naming file:line.
// Method: the launcher runs the compiled CLI (dist/, built by `npm test`) as child processes on
// free ports with confs in a temp dir; the name server runs in this process; RemotingClient talks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { createRequest } from '../../src/remoting/command.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { until } from './group-harness.js';
import { testSecretFile } from '../util/peer-secret.js';
import { freePorts } from '../util/free-ports.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAUNCHER = path.join(ROOT, 'bin/mqbroker');

t.before(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist/src/cli/mqbroker.js'))) throw new Error('dist/src/cli/mqbroker.js is missing: run `npx tsc -p tsconfig.json` first (npm test does)');
});

async function freePort(): Promise<number> {
  const [port] = (await freePorts(1)) as [number];
  return port;
}

interface Child {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function startBroker(t: Test, conf: string): Child {
  const child = spawn('sh', [LAUNCHER, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, output: () => out, exited };
}

t.test('-p prints the quick start conf; bad confs exit 1 with file:line', async (t) => {
  const printed = spawnSync('sh', [LAUNCHER, '-c', path.join(ROOT, 'conf/dledger/broker-n1.conf'), '-p'], { encoding: 'utf8' });
  t.equal(printed.status, 0, printed.stderr);
  t.match(printed.stdout, /^listenPort=30921$/m);
  t.match(printed.stdout, /^dLegerPeers=n0-127\.0\.0\.1:40911;n1-127\.0\.0\.1:40912;n2-127\.0\.0\.1:40913$/m);
  t.match(printed.stdout, /^storePathRootDir=\/tmp\/rmqstore\/node01$/m);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqbroker-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bad = path.join(dir, 'bad.conf');
  // DLedger keys are only validated with enableDLegerCommitLog=true (false = the classic store).
  fs.writeFileSync(bad, 'enableDLegerCommitLog=true\nbrokerName=B\nlistenPort=30911\ndLegerSelfId=node1\n');
  const badRun = spawnSync('sh', [LAUNCHER, '-c', bad], { encoding: 'utf8' });
  t.equal(badRun.status, 1);
  t.match(badRun.stderr, `${bad}:4: dLegerSelfId: "node1" must be one letter followed by digits`);
  t.match(badRun.stderr, /namesrvAddr: required/);
  const noConf = spawnSync('sh', [LAUNCHER], { encoding: 'utf8' });
  t.equal(noConf.status, 1);
  t.match(noConf.stderr, /-c configFile is required/);
  t.equal(spawnSync('sh', [LAUNCHER, '--bogus'], { encoding: 'utf8' }).status, 1);
});

t.test('three broker processes: BID 0, sends, SIGKILL of the master, SIGTERM', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqbroker-group-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: () => undefined });
  const namesrvAddr = `127.0.0.1:${await namesrv.start()}`;
  t.teardown(() => namesrv.close());
  const client = new RemotingClient();
  t.teardown(() => client.close());
  const listenPorts = [await freePort(), await freePort(), await freePort()];
  const peerPorts = [await freePort(), await freePort(), await freePort()];
  const brokers = [0, 1, 2].map((n) => {
    const conf = path.join(dir, `broker-n${n}.conf`);
    fs.writeFileSync(conf, [
      'brokerClusterName = RaftCluster', 'brokerName=RaftNode00', `listenPort=${listenPorts[n]}`, `namesrvAddr=${namesrvAddr}`,
      'brokerIP1=127.0.0.1', `storePathRootDir=${dir}/node0${n}`, `storePathCommitLog=${dir}/node0${n}/commitlog`,
      'enableDLegerCommitLog=true', 'dLegerGroup=RaftNode00', `dLegerPeers=${peerPorts.map((p, i) => `n${i}-127.0.0.1:${p}`).join(';')}`,
      `dLegerSelfId=n${n}`, `dLegerPeerSecretFile=${testSecretFile()}`, 'grpcServerPort=0', 'sendMessageThreadPoolNums=16', 'mappedFileSizeCommitLog=67108864',
    ].join('\n'));
    return startBroker(t, conf);
  });
  await until(() => brokers.every((b) => b.output().includes('boot success')) || brokers.some((b) => b.child.exitCode !== null) || null, 20_000, 'three brokers to boot');
  t.ok(brokers.every((b) => /The broker\[RaftNode00, 127\.0\.0\.1:\d+\] boot success/.test(b.output())), 'each prints the boot line');
  const addrs = (): Map<number, string> => new Map(namesrv.routeInfo.clusterInfo().brokerAddrTable['RaftNode00']?.brokerAddrs ?? []);
  await until(() => addrs().size === 3 && addrs().has(0) || null, 20_000, 'one BID 0 and two followers at the name server');
  const ids = [...addrs().keys()].sort();
  t.equal(ids[0], 0, 'BID 0 is registered');
  t.equal(ids.length, 3, `brokerIds ${ids.join(', ')}`);
  const masterAddr = addrs().get(0)!;
  const masterIndex = listenPorts.findIndex((p) => masterAddr.endsWith(`:${p}`));
  t.ok(masterIndex >= 0, `the master is n${masterIndex}`);
  t.same(ids.slice(1), [0, 1, 2].filter((n) => n !== masterIndex).map((n) => n + 1), 'followers are registered as selfId digits + 1');

  const call = (addr: string, code: number, extFields: Record<string, string | number | boolean>, body?: Buffer) => client.invoke(addr, createRequest(code, { extFields, body: body ?? null }), 10_000);
  t.equal((await call(masterAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'TopicTest', defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false })).code, ResponseCode.SUCCESS);
  const send = (addr: string, text: string) => call(addr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: 'TopicTest', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA']]), j: 0, k: false }, Buffer.from(text));
  for (let i = 0; i < 5; i++) t.equal((await send(masterAddr, `before-${i}`)).code, ResponseCode.SUCCESS);

  const killedAt = Date.now();
  brokers[masterIndex]!.child.kill('SIGKILL');
  const newMaster = await until(() => { const a = addrs().get(0); return a !== undefined && a !== masterAddr ? a : null; }, 15_000, 'a new BID 0');
  const failoverMs = Date.now() - killedAt;
  t.pass(`BID 0 moved from ${masterAddr} to ${newMaster} ${failoverMs} ms after SIGKILL`);
  t.ok(failoverMs <= 3000, `failover within the 3 s target (${failoverMs} ms)`);
  const after = await send(newMaster, 'after');
  t.equal(after.code, ResponseCode.SUCCESS, 'sends continue on the new master');
  t.equal(after.extFields['queueOffset'], '5', 'at the next queue offset');

  for (const [i, broker] of brokers.entries()) {
    if (i === masterIndex) continue;
    broker.child.kill('SIGTERM');
    t.equal(await broker.exited, 0, `n${i} exits 0 on SIGTERM`);
  }
  await until(() => addrs().size === 0 || null, 5000, 'the stopped brokers gone from the name server');
  t.pass('no broker left registered');
});
