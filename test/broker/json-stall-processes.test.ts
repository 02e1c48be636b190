// Goal: with real broker processes (bin/mqbroker, the default DLedger timings: 100 ms heartbeats,
// election after 600 ms without one), JSON bodies and headers a client sends to the master cannot
// stall its event loop long enough to cost an election (issue 11: the old parser took 3-5 s per
// 16 MiB body on the loop that also runs Raft): a 12 MiB heartbeat (over heartbeatBodyMaxBytes),
// eight heartbeats just under the 1 MiB cap of the costliest shape (objects with distinct keys),
// and a 12 MiB JSON header of one unknown field. After them every member has the same term and
// leader as before (unless the master's own stall report shows it starved of CPU past the election
// timeout: a loaded machine), no stall of the master was its own CPU work, the master counts the
// refusal, and sends still succeed.
// Method: three mqbroker child processes on free ports, the name server in this process,
// GET_BROKER_RUNTIME_INFO for term and leader.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { until } from './group-harness.js';
import { testSecretFile } from '../util/peer-secret.js';
import { freePorts } from '../util/free-ports.js';

const MIB = 1024 * 1024;
/** A stall of the master's own work must stay this far under the 600 ms election timeout. */
const OWN_WORK_STALL_CPU_MAX_MS = 500;

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

/** A JSON array of objects with distinct keys, about `bytes` long. */
function distinctKeys(bytes: number): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const piece = `{"k${i}":${i}}`;
    parts.push(piece);
    size += piece.length + 1;
  }
  return `[${parts.join(',')}]`;
}

function rawExchange(addr: string, frame: Buffer): Promise<number> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => socket.write(frame));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.length);
    });
    socket.once('error', reject);
  });
}

/** The loop-stall lines a broker logged (src/node/loop-stall.ts's describeStall). */
function stallReports(output: string): Array<{ gapMs: number; cpuMs: number }> {
  return [...output.matchAll(/event loop stalled (\d+) ms \((\d+) ms of CPU used meanwhile/g)].map((m) => ({ gapMs: Number(m[1]), cpuMs: Number(m[2]) }));
}

t.test('JSON bodies sent to a master process cost no election', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'json-stall-'));
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
      `dLegerSelfId=n${n}`, `dLegerPeerSecretFile=${testSecretFile()}`, 'grpcServerPort=0', 'mappedFileSizeCommitLog=67108864',
    ].join('\n'));
    return startBroker(t, conf);
  });
  t.teardown(() => { if (t.passing() === false) t.comment(brokers.map((b) => b.output().split('\n').slice(-15).join('\n')).join('\n---\n')); });
  const addrs = (): Map<number, string> => new Map(namesrv.routeInfo.clusterInfo().brokerAddrTable['RaftNode00']?.brokerAddrs ?? []);
  await until(() => addrs().size === 3 && addrs().has(0) || brokers.some((b) => b.child.exitCode !== null) || null, 30_000, 'one BID 0 and two followers at the name server');
  const masterAddr = addrs().get(0)!;
  const memberAddrs = listenPorts.map((p) => `127.0.0.1:${p}`);
  const call = (addr: string, code: number, extFields: Record<string, string | number | boolean>, body?: Buffer) => client.invoke(addr, createRequest(code, { extFields, body: body ?? null }), 20_000);
  const runtime = async (addr: string): Promise<Record<string, string>> => (JSON.parse((await call(addr, RequestCode.GET_BROKER_RUNTIME_INFO, {})).body?.toString() ?? '{}') as { table: Record<string, string> }).table;
  const views = async () => Promise.all(memberAddrs.map(async (addr) => { const table = await runtime(addr); return `${table['dLegerTerm']}/${table['dLegerLeaderId']}`; }));
  await until(async () => new Set(await views()).size === 1 || null, 10_000, 'every member agrees on term and leader');
  const before = await views();
  t.comment(`term/leader before: ${before.join(', ')}`);
  t.equal((await call(masterAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'TopicTest', defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false })).code, ResponseCode.SUCCESS);

  const huge = await call(masterAddr, RequestCode.HEART_BEAT, {}, Buffer.from(`{"clientID":"c","consumerDataSet":[],"junk":${distinctKeys(12 * MIB)}}`));
  t.match(huge.remark, 'exceeds heartbeatBodyMaxBytes=1048576', 'the 12 MiB heartbeat is refused');
  const under = Buffer.from(`{"clientID":"c","consumerDataSet":[],"junk":${distinctKeys(MIB - 100)}}`);
  for (let i = 0; i < 8; i++) t.equal((await call(masterAddr, RequestCode.HEART_BEAT, {}, under)).code, ResponseCode.SUCCESS, `1 MiB distinct-key heartbeat ${i} read`);
  const header = Buffer.from(JSON.stringify({ code: RequestCode.GET_BROKER_RUNTIME_INFO, extFields: {}, flag: 0, language: 'JAVA', opaque: 5, version: 0, junk: JSON.parse(distinctKeys(12 * MIB)) as unknown }));
  const frame = Buffer.alloc(8 + header.length);
  frame.writeInt32BE(4 + header.length, 0);
  frame.writeInt32BE(header.length, 4);
  header.copy(frame, 8);
  t.ok((await rawExchange(masterAddr, frame)) > 0, 'the 12 MiB header is read and answered');

  await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await views();
  t.match((await runtime(masterAddr))['boundRefusals'], '"heartbeatBodyMaxBytes":1', 'the refusal is counted');
  const masterIndex = memberAddrs.indexOf(masterAddr);
  const stalls = stallReports(brokers[masterIndex]!.output());
  t.comment(`the master's loop-stall reports: ${stalls.length === 0 ? 'none' : stalls.map((s) => `${s.gapMs} ms (${s.cpuMs} ms CPU)`).join(', ')}`);
  // Its own work (parsing) is CPU time, whatever the load: no stall may use 500 ms of it (the
  // election timeout is 600 ms; the old parser took 3-5 s per 16 MiB). The CPU counted is every
  // thread's (GC helpers too), so this over-states the loop's share; 309 ms was seen once, idle.
  t.same(stalls.filter((s) => s.cpuMs > 0.3 * s.gapMs && s.cpuMs >= OWN_WORK_STALL_CPU_MAX_MS), [], `no stall of the master was its own work for ${OWN_WORK_STALL_CPU_MAX_MS} ms of CPU or more`);
  if (JSON.stringify(after) === JSON.stringify(before)) {
    t.pass('every member: same term, same leader');
  } else {
    // An election is excused only when the master's log shows a stall past the election timeout
    // (600 ms) whose own CPU stayed under the own-work bound asserted above: the rest of the stall
    // was waiting for a CPU (the machine was loaded, CI beside other work), the JSON did not do it.
    // (A CI run at load 14 had 843 ms with 286 ms of CPU: 34 %, over the 30 % share this used to
    // demand.) On an idle machine this branch is never taken.
    const starved = stalls.filter((s) => s.gapMs >= 600 && s.cpuMs < OWN_WORK_STALL_CPU_MAX_MS);
    t.ok(starved.length > 0, `every member: same term, same leader (before ${before.join(', ')}, after ${after.join(', ')}), or the master starved of CPU past the election timeout`);
    await until(() => addrs().has(0) || null, 10_000, 'a BID 0 again');
  }
  const sent = await call(addrs().get(0) ?? masterAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: 'TopicTest', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA']]), j: 0, k: false }, Buffer.from('after'));
  t.equal(sent.code, ResponseCode.SUCCESS, 'sends still succeed');
  for (const broker of brokers) broker.child.kill('SIGTERM');
  await Promise.all(brokers.map((b) => b.exited));
});
