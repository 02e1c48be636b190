// `npm run bench -- restart [--messages 100000,1000000] [--body-bytes 256] [--rounds 2]`: how long a
// broker takes from process start to serving (issue 12), restarting from its durable applied point
// (config/dledgerState.json: maps the consume queues, re-applies only the tail) vs a full replay
// (the same store with the point file deleted first: the old behaviour, every entry re-applied).
// One real `bin/mqbroker` process, a 1-member DLedger group (it leads at once, so the time measured
// is the replay the master waits for before it takes sends) with an in-process name server; the
// bench fills it with SEND_BATCH_MESSAGE (1,024 messages a batch, 4 queues, 64 MiB segments), waits for a durable
// point, then per round: SIGKILL, (full: delete the point), start, and time
//   boot   the "boot success" line,
//   send   the first acknowledged SEND_MESSAGE_V2 (polled every 10 ms from the spawn),
//   pull   the first PULL_MESSAGE answering a message (queue 0, offset 0),
// plus the entries the member says it re-applied ("restart replay done") and its RSS at serving.
// Tail and full rounds alternate; the report gives full/tail per size. Bounded: every wait has a
// deadline, the fill stops at --fill-seconds (default 240) per size, and every process is stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMessageProperties } from '../src/broker/message-codec.js';
import { DEFAULT_NAMESRV_CONFIG } from '../src/namesrv/config.js';
import { NameServer } from '../src/namesrv/namesrv.js';
import { RemotingClient } from '../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../src/remoting/codes.js';
import { createRequest, type RemotingCommand } from '../src/remoting/command.js';
import { testSecretFile } from '../test/util/peer-secret.js';
import { rssOf } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MQBROKER = path.join(ROOT, 'dist', 'src', 'cli', 'mqbroker.js');
const TOPIC = 'BenchRestart';
const QUEUES = 4;
const BATCH = 1024;
const FLUSH_INTERVAL_MS = 500;
const START_TIMEOUT_MS = 300_000;

function flag(args: readonly string[], name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? (args[at + 1] ?? fallback) : fallback;
}

function positiveInts(text: string, what: string): number[] {
  const values = text.split(',').map(Number);
  if (values.length === 0 || !values.every((v) => Number.isSafeInteger(v) && v > 0)) throw new Error(`--${what} wants positive integers, got "${text}"`);
  return values;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

interface Broker {
  readonly child: ChildProcess;
  readonly spawnedMs: number;
  output(): string;
  /** ms after spawn at which a line matching pattern appeared (waits for it). */
  lineAt(pattern: RegExp, timeoutMs: number): Promise<number>;
}

function startBroker(conf: string): Broker {
  const spawnedMs = performance.now();
  const child = spawn(process.execPath, [MQBROKER, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const seen: Array<{ pattern: RegExp; resolve: (ms: number) => void }> = [];
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const waiter of [...seen]) {
      if (waiter.pattern.test(out)) {
        seen.splice(seen.indexOf(waiter), 1);
        waiter.resolve(performance.now() - spawnedMs);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    child,
    spawnedMs,
    output: () => out,
    lineAt: (pattern, timeoutMs) => new Promise((resolve, reject) => {
      if (pattern.test(out)) {
        resolve(performance.now() - spawnedMs);
        return;
      }
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out.slice(-3000)}`)), timeoutMs);
      child.once('exit', (code, signal) => reject(new Error(`broker exited (${code ?? signal}) before ${pattern}:\n${out.slice(-3000)}`)));
      seen.push({ pattern, resolve: (ms) => { clearTimeout(timer); resolve(ms); } });
    }),
  };
}

async function kill(broker: Broker): Promise<void> {
  if (broker.child.exitCode !== null || broker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => broker.child.once('exit', resolve));
  broker.child.kill('SIGKILL');
  await exited;
}

function batchRecord(body: Buffer, properties: string): Buffer {
  const props = Buffer.from(properties);
  const size = 20 + body.length + 2 + props.length;
  const b = Buffer.alloc(size);
  b.writeInt32BE(size, 0);
  b.writeInt32BE(body.length, 16);
  body.copy(b, 20);
  b.writeInt16BE(props.length, 20 + body.length);
  props.copy(b, 22 + body.length);
  return b;
}

function sendFields(queueId: number, tags: string): Record<string, string | number | boolean> {
  return { a: 'PG_bench', b: TOPIC, c: 'TBW102', d: QUEUES, e: queueId, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', tags], ['WAIT', 'true']]), j: 0, k: false };
}

async function fill(client: RemotingClient, addr: string, messages: number, bodyBytes: number, deadlineMs: number): Promise<number> {
  let sent = 0;
  let batches = 0;
  const body = Buffer.alloc(bodyBytes, 'x');
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (sent < messages && performance.now() < deadlineMs) {
      const count = Math.min(BATCH, messages - sent);
      sent += count;
      const queueId = batches++ % QUEUES;
      const records = Buffer.concat(Array.from({ length: count }, (_, i) => batchRecord(body, formatMessageProperties([['TAGS', i % 2 === 0 ? 'TagA' : 'TagB'], ['KEYS', `k${sent - count + i}`]]))));
      const response = await client.invoke(addr, createRequest(RequestCode.SEND_BATCH_MESSAGE, { extFields: sendFields(queueId, ''), body: records }), 30_000);
      if (response.code !== ResponseCode.SUCCESS) throw new Error(`batch send: ${response.code} ${response.remark ?? ''}`);
    }
  }));
  return sent;
}

/** Polls `probe` every 10 ms until it answers true; ms since `fromMs`. */
async function firstSuccess(fromMs: number, probe: () => Promise<boolean>, what: string): Promise<number> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - fromMs;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Round {
  readonly messages: number;
  readonly mode: 'tail' | 'full';
  readonly bootMs: number;
  readonly sendMs: number;
  readonly pullMs: number;
  readonly replayedEntries: number;
  readonly replayMs: number;
  readonly rssMiB: number;
}

async function measure(conf: string, store: string, addr: string, messages: number, mode: 'tail' | 'full'): Promise<Round> {
  if (mode === 'full') fs.rmSync(path.join(store, 'config', 'dledgerState.json'), { force: true });
  const client = new RemotingClient({ connectTimeoutMs: 200 });
  const broker = startBroker(conf);
  try {
    const ok = (r: RemotingCommand): boolean => r.code === ResponseCode.SUCCESS;
    const sending = firstSuccess(broker.spawnedMs, async () => ok(await client.invoke(addr, createRequest(RequestCode.SEND_MESSAGE_V2, { extFields: sendFields(1, 'TagC'), body: Buffer.from('probe') }), 2000)), 'first send');
    const pulling = firstSuccess(broker.spawnedMs, async () => ok(await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: 'CG_bench', topic: TOPIC, queueId: 0, queueOffset: 0, maxMsgNums: 1, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 } }), 2000)), 'first pull');
    const bootMs = await broker.lineAt(/boot success/, START_TIMEOUT_MS);
    await broker.lineAt(/restart replay done: \d+ entries/, START_TIMEOUT_MS);
    const [sendMs, pullMs] = await Promise.all([sending, pulling]);
    const rssMiB = rssOf(broker.child.pid).totalMiB;
    const done = /restart replay done: (\d+) entries re-applied \(\d+ messages\) of the recovered log's \S+ in (\d+) ms/.exec(broker.output());
    // Long enough for the next durable point (flushIntervalConsumeQueue), so the next tail round starts from here.
    await new Promise((resolve) => setTimeout(resolve, 3 * FLUSH_INTERVAL_MS));
    return { messages, mode, bootMs, sendMs, pullMs, replayedEntries: Number(done?.[1]), replayMs: Number(done?.[2]), rssMiB };
  } finally {
    client.close();
    await kill(broker);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2 : (sorted[Math.floor(middle)] as number);
}

export async function run(args: readonly string[]): Promise<void> {
  const sizes = positiveInts(flag(args, 'messages', '100000,1000000'), 'messages');
  const bodyBytes = positiveInts(flag(args, 'body-bytes', '256'), 'body-bytes')[0] as number;
  const rounds = positiveInts(flag(args, 'rounds', '2'), 'rounds')[0] as number;
  const fillSeconds = positiveInts(flag(args, 'fill-seconds', '240'), 'fill-seconds')[0] as number;
  if (!fs.existsSync(MQBROKER)) throw new Error(`${MQBROKER} is missing: npm run bench builds it (tsc)`);
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: () => undefined });
  const namesrvAddr = `127.0.0.1:${await namesrv.start()}`;
  const results: Round[] = [];
  const sizesInfo: Array<{ messages: number; fillPerSecond: number; logMiB: number }> = [];
  try {
    for (const wanted of sizes) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-restart-'));
      try {
        const [clientPort, peerPort] = [await freePort(), await freePort()];
        const store = path.join(dir, 'store');
        const conf = path.join(dir, 'broker.conf');
        fs.writeFileSync(conf, [
          'brokerClusterName=BenchCluster', 'brokerName=BenchRestart', `listenPort=${clientPort}`, `namesrvAddr=${namesrvAddr}`,
          `storePathRootDir=${store}`, `storePathCommitLog=${store}/commitlog`, 'enableDLegerCommitLog=true', 'dLegerGroup=BenchRestart',
          `dLegerPeers=n0-127.0.0.1:${peerPort}`, 'dLegerSelfId=n0', `dLegerPeerSecretFile=${testSecretFile()}`, 'grpcServerPort=0',
          `flushIntervalConsumeQueue=${FLUSH_INTERVAL_MS}`, 'brokerIP1=127.0.0.1', `mappedFileSizeCommitLog=${64 * 2 ** 20}`, '',
        ].join('\n'));
        const addr = `127.0.0.1:${clientPort}`;
        const broker = startBroker(conf);
        const client = new RemotingClient();
        let messages = 0;
        try {
          await broker.lineAt(/boot success/, START_TIMEOUT_MS);
          // "boot success" comes before the member is master (it elects itself right after).
          await firstSuccess(performance.now(), async () => (await client.invoke(addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { extFields: { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false } }), 10_000)).code === ResponseCode.SUCCESS, 'create topic');
          const fillStarted = performance.now();
          messages = await fill(client, addr, wanted, bodyBytes, fillStarted + fillSeconds * 1000);
          const fillPerSecond = messages / ((performance.now() - fillStarted) / 1000);
          await new Promise((resolve) => setTimeout(resolve, 3 * FLUSH_INTERVAL_MS)); // a durable point past the fill
          // The DLedger log (data + index segments) as allocated on disk.
          const logDir = path.join(store, 'dledger-n0');
          const logBytes = fs.readdirSync(logDir, { recursive: true }).reduce((sum, name) => {
            const stat = fs.lstatSync(path.join(logDir, String(name)));
            return sum + (stat.isFile() ? stat.blocks * 512 : 0);
          }, 0);
          sizesInfo.push({ messages, fillPerSecond, logMiB: logBytes / 2 ** 20 });
          console.log(`filled ${grouped(messages)} messages of ${bodyBytes} B at ${grouped(fillPerSecond)}/s (${fixed(logBytes / 2 ** 20)} MiB on disk)${messages < wanted ? ` - stopped at --fill-seconds ${fillSeconds}` : ''}`);
        } finally {
          client.close();
          await kill(broker);
        }
        for (let round = 0; round < rounds; round++) {
          for (const mode of ['tail', 'full'] as const) {
            const result = await measure(conf, store, addr, messages, mode);
            results.push(result);
            console.log(`  ${mode.padEnd(4)} round ${round + 1}: boot ${fixed(result.bootMs)} ms, first send ${fixed(result.sendMs)} ms, first pull ${fixed(result.pullMs)} ms, re-applied ${grouped(result.replayedEntries)} entries in ${fixed(result.replayMs)} ms`);
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await namesrv.close();
  }
  const rows: string[][] = [];
  for (const info of sizesInfo) {
    const of = (mode: 'tail' | 'full'): Round[] => results.filter((r) => r.messages === info.messages && r.mode === mode);
    const tail = of('tail');
    const full = of('full');
    for (const [mode, list] of [['tail', tail], ['full', full]] as const) {
      rows.push([grouped(info.messages), fixed(info.logMiB), mode, fixed(median(list.map((r) => r.bootMs))), fixed(median(list.map((r) => r.sendMs))), fixed(median(list.map((r) => r.pullMs))), grouped(median(list.map((r) => r.replayedEntries))), fixed(median(list.map((r) => r.replayMs))), fixed(median(list.map((r) => r.rssMiB)))]);
    }
    rows.push(['', '', 'full/tail', fixed(median(full.map((r) => r.bootMs)) / median(tail.map((r) => r.bootMs)), 2), fixed(median(full.map((r) => r.sendMs)) / median(tail.map((r) => r.sendMs)), 2), fixed(median(full.map((r) => r.pullMs)) / median(tail.map((r) => r.pullMs)), 2), '', '', '']);
  }
  console.log(`\nrestart of a 1-member broker group after SIGKILL, medians of ${rounds} round(s), ms from spawn (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  console.log(formatTable(['messages', 'log MiB', 'restart', 'boot ms', 'send ms', 'pull ms', 're-applied', 'replay ms', 'RSS MiB'], rows));
  console.log(`\nresults: ${writeResults('restart', { bodyBytes, rounds, sizes: sizesInfo, results, loadavg: os.loadavg() })}`);
}
