// `npm run bench -- restart`: issue 12's restart target. A DLedger group of real `bin/mqbroker`
// processes (3 by default, one group) with an in-process name server; the bench fills it at full
// speed with SEND_BATCH_MESSAGE (1 KiB bodies, 1,024 a batch, 4 queues, 4 batches in flight) until
// the leader's commit log (dledger_store_bytes) reaches each --log-gib size in turn (the same group
// grows: 1 GiB, then on to 4, then 10), and at each size, per round and per stop x cache:
//   stop   term: SIGTERM of every member (a clean close writes the durable point);
//          kill: SIGKILL of every member (recovery from the last durable point / checkpoint);
//          full: SIGKILL and config/dledgerState.json deleted on every member (the old behaviour:
//                the whole log re-applied; the comparison the 1-member bench used to make)
//   cache  warm: start again at once; cold: `sync; echo 3 > /proc/sys/vm/drop_caches` first
// then spawn every member at once and time, in ms from the spawn of the first:
//   boot     the last member's "boot success" line,
//   send     the first acknowledged SEND_MESSAGE_V2 on any member (each polled every 10 ms),
//   pull     the first PULL_MESSAGE on any member answering a message (queue 0, offset 0),
// and per member: entries re-applied ("restart replay done: N entries"), when it had recovered its
// store ("restored ..." / "no durable point"), became leader, finished the replay; heap used
// (its /metrics nodejs_heap_size_used_bytes) and RSS (/proc) once every member finished its replay.
// Ratios against the smallest size of the run (flat in log size = near 1). Before each size the
// free space of the store's file system is checked (a size that would leave < --min-free-gib is
// skipped, with the larger ones); --deadline HH:MM (UTC) skips a size whose fill, estimated from
// the fill rate so far, would not end before it. Every wait has a deadline, every process is
// stopped by its pid, the data directory is deleted at the end (and on failure).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatMessageProperties } from '../src/broker/message-codec.js';
import { DEFAULT_NAMESRV_CONFIG } from '../src/namesrv/config.js';
import { NameServer } from '../src/namesrv/namesrv.js';
import { RemotingClient } from '../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../src/remoting/codes.js';
import { createRequest, type RemotingCommand } from '../src/remoting/command.js';
import { freePorts } from '../test/util/free-ports.js';
import { testSecretFile } from '../test/util/peer-secret.js';
import { MQBROKER, running, scrapeMetric, spawnBroker, stopBroker, type BrokerProcess } from './lib/broker-process.js';
import { rssOf } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const TOPIC = 'BenchRestart';
const QUEUES = 4;
const BATCH = 1024;
const FILL_CONCURRENCY = 4;
const FLUSH_INTERVAL_MS = 500;
const START_TIMEOUT_MS = 300_000;
const GIB = 2 ** 30;
const MIB = 2 ** 20;
const STOPS = ['term', 'kill', 'full'] as const;
const CACHES = ['warm', 'cold'] as const;
type Stop = (typeof STOPS)[number];
type Cache = (typeof CACHES)[number];

function flag(args: readonly string[], name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? (args[at + 1] ?? fallback) : fallback;
}

function positives(text: string, what: string, integer: boolean): number[] {
  const values = text.split(',').map(Number);
  if (!values.every((v) => Number.isFinite(v) && v > 0 && (!integer || Number.isSafeInteger(v)))) throw new Error(`--${what} wants positive ${integer ? 'integers' : 'numbers'}, got "${text}"`);
  return values;
}

function oneOf<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const values = text.split(',');
  for (const v of values) if (!(allowed as readonly string[]).includes(v)) throw new Error(`--${what}: "${v}" is not one of ${allowed.join(', ')}`);
  return values as T[];
}

interface Options {
  readonly members: number;
  readonly logGib: readonly number[];
  readonly stops: readonly Stop[];
  readonly caches: readonly Cache[];
  readonly rounds: number;
  readonly bodyBytes: number;
  readonly segmentMiB: number | null;
  readonly minFreeGib: number;
  readonly deadlineMs: number | null;
  readonly fillSeconds: number;
}

function parseOptions(args: readonly string[]): Options {
  const deadline = flag(args, 'deadline', '');
  let deadlineMs: number | null = null;
  if (deadline !== '') {
    const match = /^(\d\d):(\d\d)$/.exec(deadline);
    if (match === null) throw new Error(`--deadline wants HH:MM (UTC), got "${deadline}"`);
    const at = new Date();
    at.setUTCHours(Number(match[1]), Number(match[2]), 0, 0);
    deadlineMs = at.getTime();
  }
  const segment = flag(args, 'segment-mib', '');
  const options: Options = {
    members: positives(flag(args, 'members', '3'), 'members', true)[0] as number,
    logGib: [...positives(flag(args, 'log-gib', '1,4,10'), 'log-gib', false)].sort((a, b) => a - b),
    stops: oneOf(flag(args, 'stop', 'term,kill'), STOPS, 'stop'),
    caches: oneOf(flag(args, 'cache', 'warm,cold'), CACHES, 'cache'),
    rounds: positives(flag(args, 'rounds', '1'), 'rounds', true)[0] as number,
    bodyBytes: positives(flag(args, 'body-bytes', '1024'), 'body-bytes', true)[0] as number,
    segmentMiB: segment === '' ? null : positives(segment, 'segment-mib', true)[0] as number,
    minFreeGib: Number(flag(args, 'min-free-gib', '10')),
    deadlineMs,
    fillSeconds: positives(flag(args, 'fill-seconds', '3600'), 'fill-seconds', true)[0] as number,
  };
  if (options.members !== 1 && options.members !== 3 && options.members !== 5) throw new Error(`--members wants 1, 3 or 5, got ${options.members}`);
  if (!(options.minFreeGib >= 0)) throw new Error('--min-free-gib wants a number >= 0');
  return options;
}

interface Member {
  readonly selfId: string;
  readonly conf: string;
  readonly store: string;
  readonly addr: string;
  readonly metricsPort: number;
}

async function writeConfs(dir: string, namesrvAddr: string, options: Options): Promise<Member[]> {
  const n = options.members;
  const ports = await freePorts(3 * n);
  const peers = Array.from({ length: n }, (_, i) => `n${i}-127.0.0.1:${ports[n + i]}`).join(';');
  return Array.from({ length: n }, (_, i) => {
    const store = path.join(dir, `store-n${i}`);
    const conf = path.join(dir, `broker-n${i}.conf`);
    const clientPort = ports[i] as number;
    const metricsPort = ports[2 * n + i] as number;
    fs.writeFileSync(conf, [
      'brokerClusterName=BenchCluster', 'brokerName=BenchRestart', `listenPort=${clientPort}`, `namesrvAddr=${namesrvAddr}`,
      `storePathRootDir=${store}`, `storePathCommitLog=${store}/commitlog`, 'enableDLegerCommitLog=true', 'dLegerGroup=BenchRestart',
      `dLegerPeers=${peers}`, `dLegerSelfId=n${i}`, `dLegerPeerSecretFile=${testSecretFile()}`, 'grpcServerPort=0',
      `flushIntervalConsumeQueue=${FLUSH_INTERVAL_MS}`, 'brokerIP1=127.0.0.1', 'sendMessageThreadPoolNums=16',
      'metricsExporterType=PROM', 'metricsPromExporterHost=127.0.0.1', `metricsPromExporterPort=${metricsPort}`,
      ...(options.segmentMiB === null ? [] : [`mappedFileSizeCommitLog=${options.segmentMiB * MIB}`]), '',
    ].join('\n'));
    return { selfId: `n${i}`, conf, store, addr: `127.0.0.1:${clientPort}`, metricsPort };
  });
}

/** Spawns every member at once; `originMs` is taken just before the first spawn. */
function startAll(members: readonly Member[]): { brokers: BrokerProcess[]; originMs: number } {
  const originMs = performance.now();
  return { brokers: members.map((m) => spawnBroker(m.conf, m, originMs)), originMs };
}

async function stopAll(brokers: readonly BrokerProcess[], signal: 'SIGTERM' | 'SIGKILL'): Promise<{ ms: number; forced: number }> {
  const started = performance.now();
  const results = await Promise.all(brokers.map((b) => stopBroker(b, signal)));
  return { ms: performance.now() - started, forced: results.filter((r) => r.forced).length };
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

/**
 * Sends `messages` more at full speed (FILL_CONCURRENCY batches in flight) to the master; a batch a
 * slave refuses ("nX is slave, leader nY": leadership moved, e.g. a re-election under load) goes
 * again to the leader it names (at most MAX_FILL_RETRIES in all). Returns how many were sent.
 */
async function fill(client: RemotingClient, brokers: readonly BrokerProcess[], messages: number, firstKey: number, bodyBytes: number, deadlineMs: number): Promise<number> {
  const MAX_FILL_RETRIES = 200;
  let master = brokers[0] as BrokerProcess;
  let sent = 0;
  let batches = 0;
  let retries = 0;
  const body = Buffer.alloc(bodyBytes, 'x');
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, async () => {
    while (sent < messages && performance.now() < deadlineMs) {
      const count = Math.min(BATCH, messages - sent);
      const from = firstKey + sent;
      sent += count;
      const queueId = batches++ % QUEUES;
      const records = Buffer.concat(Array.from({ length: count }, (_, i) => batchRecord(body, formatMessageProperties([['TAGS', i % 2 === 0 ? 'TagA' : 'TagB'], ['KEYS', `k${from + i}`]]))));
      for (;;) {
        const to = master;
        const response = await client.invoke(to.addr, createRequest(RequestCode.SEND_BATCH_MESSAGE, { extFields: sendFields(queueId, ''), body: records }), 60_000)
          .catch((error: Error) => ({ code: -1, remark: error.message }) as RemotingCommand);
        if (response.code === ResponseCode.SUCCESS) break;
        if (++retries > MAX_FILL_RETRIES) throw new Error(`batch send to ${to.selfId}: ${response.code} ${response.remark ?? ''} (${MAX_FILL_RETRIES} retries spent)`);
        const leader = /leader (n\d+)/.exec(response.remark ?? '')?.[1];
        const named = brokers.find((b) => b.selfId === leader);
        if (master === to) master = named ?? brokers[(brokers.indexOf(to) + 1) % brokers.length] as BrokerProcess;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }));
  return sent;
}

/** Polls `probe` (each call bounded by the caller) until it answers true; ms since `fromMs`; NaN once `givenUp()`. */
async function firstSuccess(fromMs: number, probe: () => Promise<boolean>, what: string, givenUp: () => boolean = () => false): Promise<number> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (;;) {
    if (givenUp()) return Number.NaN;
    if (await probe().catch(() => false)) return performance.now() - fromMs;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The first of every member's own poll loop to succeed (each loop polls one member; the others stop then). */
async function firstOnAny(brokers: readonly BrokerProcess[], fromMs: number, probe: (b: BrokerProcess) => Promise<boolean>, what: string): Promise<{ ms: number; selfId: string }> {
  let first: { ms: number; selfId: string } | null = null;
  const loops = brokers.map(async (b) => {
    const ms = await firstSuccess(fromMs, async () => running(b) && await probe(b), `${what} on ${b.selfId}`, () => first !== null);
    if (first === null && !Number.isNaN(ms)) first = { ms, selfId: b.selfId };
  });
  const settled = await Promise.allSettled(loops);
  if (first === null) throw new Error(`${what}: ${settled.map((s) => (s.status === 'rejected' ? String((s.reason as Error).message) : '')).join('; ')}`);
  return first;
}

const ok = (r: RemotingCommand): boolean => r.code === ResponseCode.SUCCESS;
const sendProbe = (client: RemotingClient, addr: string): Promise<boolean> =>
  client.invoke(addr, createRequest(RequestCode.SEND_MESSAGE_V2, { extFields: sendFields(1, 'TagC'), body: Buffer.from('probe') }), 2000).then(ok);
const pullProbe = (client: RemotingClient, addr: string): Promise<boolean> =>
  client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: 'CG_bench', topic: TOPIC, queueId: 0, queueOffset: 0, maxMsgNums: 1, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 } }), 2000).then(ok);

/** Creates the topic, then finds the master: the member that acknowledges a send (a slave answers SERVICE_NOT_AVAILABLE). */
async function createTopicOnMaster(client: RemotingClient, brokers: readonly BrokerProcess[]): Promise<BrokerProcess> {
  const request = (): RemotingCommand => createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { extFields: { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false } });
  let master: BrokerProcess | undefined;
  await firstSuccess(performance.now(), async () => {
    for (const b of brokers) {
      if (!ok(await client.invoke(b.addr, request(), 10_000).catch(() => ({ code: -1 }) as RemotingCommand))) continue;
      if (await sendProbe(client, b.addr).catch(() => false)) {
        master = b;
        return true;
      }
    }
    return false;
  }, 'create the topic and find the master');
  return master as BrokerProcess;
}

interface MemberRound {
  readonly selfId: string;
  /** Its first output line: Node started and the broker's modules loaded. */
  readonly firstLineMs: number;
  readonly recoveredMs: number;
  readonly bootMs: number;
  readonly leaderMs: number;
  readonly replayDoneMs: number;
  readonly replayedEntries: number;
  readonly replayMs: number;
  readonly heapUsedMiB: number;
  readonly rssMiB: number;
}

interface Round {
  readonly gib: number;
  readonly logGiB: number;
  readonly stop: Stop;
  readonly cache: Cache;
  readonly round: number;
  readonly stopMs: number;
  readonly forcedStops: number;
  readonly dropCachesMs: number;
  readonly bootMs: number;
  readonly sendMs: number;
  readonly sendOn: string;
  readonly pullMs: number;
  readonly pullOn: string;
  readonly members: readonly MemberRound[];
}

function dropCaches(): number {
  const started = performance.now();
  execFileSync('sync');
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch (error) {
    throw new Error(`--cache cold needs write access to /proc/sys/vm/drop_caches (root): ${(error as Error).message}`);
  }
  return performance.now() - started;
}

/** Stops the running group, (cold) drops the page cache, starts it again and measures. Returns the new processes. */
async function measure(members: readonly Member[], brokers: BrokerProcess[], stop: Stop, cache: Cache, meta: { gib: number; logGiB: number; round: number }): Promise<{ round: Round; brokers: BrokerProcess[] }> {
  const stopped = await stopAll(brokers, stop === 'term' ? 'SIGTERM' : 'SIGKILL');
  if (stop === 'full') for (const m of members) fs.rmSync(path.join(m.store, 'config', 'dledgerState.json'), { force: true });
  const dropCachesMs = cache === 'cold' ? dropCaches() : 0;
  const client = new RemotingClient({ connectTimeoutMs: 200 });
  const { brokers: next, originMs } = startAll(members);
  try {
    const sending = firstOnAny(next, originMs, (b) => sendProbe(client, b.addr), 'first send');
    const pulling = firstOnAny(next, originMs, (b) => pullProbe(client, b.addr), 'first pull');
    const boots = await Promise.all(next.map((b) => b.lineAt(/boot success/, START_TIMEOUT_MS)));
    const [send, pull] = await Promise.all([sending, pulling]);
    const replays = await Promise.all(next.map((b) => b.lineAt(/restart replay done: \d+ entries/, START_TIMEOUT_MS)));
    const perMember: MemberRound[] = [];
    for (const [i, b] of next.entries()) {
      const done = /restart replay done: (\d+) entries re-applied \(\d+ messages\) of the recovered log's \S+ in (\d+) ms/.exec(b.output());
      const metrics = await scrapeMetric(b, ['nodejs_heap_size_used_bytes']).catch(() => ({ nodejs_heap_size_used_bytes: Number.NaN }));
      perMember.push({
        selfId: b.selfId,
        firstLineMs: b.seenAt(/./),
        recoveredMs: b.seenAt(/restored the broker state and consume queues at entry|no durable point: the log/),
        bootMs: boots[i] as number,
        leaderMs: b.seenAt(/broker role master/),
        replayDoneMs: replays[i] as number,
        replayedEntries: Number(done?.[1]),
        replayMs: Number(done?.[2]),
        heapUsedMiB: (metrics['nodejs_heap_size_used_bytes'] ?? Number.NaN) / MIB,
        rssMiB: rssOf(b.child.pid).totalMiB,
      });
    }
    // Long enough for the next durable point (flushIntervalConsumeQueue) past the probes.
    await new Promise((resolve) => setTimeout(resolve, 3 * FLUSH_INTERVAL_MS));
    const round: Round = {
      ...meta, stop, cache, stopMs: stopped.ms, forcedStops: stopped.forced, dropCachesMs,
      bootMs: Math.max(...boots), sendMs: send.ms, sendOn: send.selfId, pullMs: pull.ms, pullOn: pull.selfId, members: perMember,
    };
    return { round, brokers: next };
  } catch (error) {
    await stopAll(next, 'SIGKILL');
    throw error;
  } finally {
    client.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2 : (sorted[Math.floor(middle)] as number);
}

const load = (): string => os.loadavg().map((l) => l.toFixed(1)).join(' ');
const freeBytes = (dir: string): number => {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
};

export async function run(args: readonly string[]): Promise<void> {
  const options = parseOptions(args);
  if (!fs.existsSync(MQBROKER)) throw new Error(`${MQBROKER} is missing: npm run bench builds it (tsc)`);
  if (options.caches.includes('cold')) dropCaches(); // fail before filling when it cannot work
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: () => undefined });
  const namesrvAddr = `127.0.0.1:${await namesrv.start()}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-restart-'));
  const results: Round[] = [];
  const fills: Array<{ gib: number; messages: number; logGiB: number; seconds: number; messagesPerSecond: number; mibPerSecond: number }> = [];
  const skipped: string[] = [];
  let brokers: BrokerProcess[] = [];
  console.log(`restart bench: ${options.members} member(s), log ${options.logGib.join(', ')} GiB, ${options.bodyBytes} B bodies, stop ${options.stops.join(',')}, cache ${options.caches.join(',')}, ${options.rounds} round(s); data in ${dir}; load ${load()}`);
  try {
    const members = await writeConfs(dir, namesrvAddr, options);
    brokers = startAll(members).brokers;
    for (const b of brokers) await b.lineAt(/boot success/, START_TIMEOUT_MS);
    let sentTotal = 0;
    let perMessageBytes = options.bodyBytes + 200; // first guess, measured after the first size
    let bytesPerSecond = Number.NaN;
    let lastMeasureMs = 0;
    for (const gib of options.logGib) {
      const client = new RemotingClient();
      let master: BrokerProcess;
      let storeBytes: number;
      try {
        master = await createTopicOnMaster(client, brokers);
        storeBytes = (await scrapeMetric(master, ['dledger_store_bytes']))['dledger_store_bytes'] ?? Number.NaN;
        const toFillBytes = Math.max(0, gib * GIB - storeBytes);
        const messages = Math.ceil(toFillBytes / perMessageBytes);
        // Disk: every member stores the log, plus consume queue (20 B) and index entries per message.
        const needBytes = options.members * messages * (perMessageBytes + 64);
        const free = freeBytes(dir);
        if (free - needBytes < options.minFreeGib * GIB) {
          skipped.push(`${gib} GiB: skipped, it needs ~${fixed(needBytes / GIB, 1)} GiB more on ${dir}'s file system, ${fixed(free / GIB, 1)} GiB free, and would leave < ${options.minFreeGib} GiB`);
          console.log(skipped.at(-1));
          break;
        }
        if (options.deadlineMs !== null && Number.isFinite(bytesPerSecond)) {
          const endMs = Date.now() + (toFillBytes / bytesPerSecond) * 1000 + 1.5 * lastMeasureMs;
          if (endMs > options.deadlineMs) {
            skipped.push(`${gib} GiB: skipped, filling ${fixed(toFillBytes / GIB, 2)} GiB more at ${fixed(bytesPerSecond / MIB, 1)} MiB/s and measuring would end ~${new Date(endMs).toISOString().slice(11, 16)} UTC, after --deadline ${new Date(options.deadlineMs).toISOString().slice(11, 16)}`);
            console.log(skipped.at(-1));
            break;
          }
        }
        const fillStarted = performance.now();
        const sent = await fill(client, [master, ...brokers.filter((b) => b !== master)], messages, sentTotal, options.bodyBytes, fillStarted + options.fillSeconds * 1000);
        const seconds = (performance.now() - fillStarted) / 1000;
        await new Promise((resolve) => setTimeout(resolve, 3 * FLUSH_INTERVAL_MS)); // a durable point past the fill
        const before = storeBytes;
        storeBytes = (await scrapeMetric(master, ['dledger_store_bytes']))['dledger_store_bytes'] ?? Number.NaN;
        sentTotal += sent;
        if (sent > 0 && storeBytes > before) perMessageBytes = (storeBytes - before) / sent;
        if (sent > 0) bytesPerSecond = (storeBytes - before) / seconds;
        fills.push({ gib, messages: sentTotal, logGiB: storeBytes / GIB, seconds, messagesPerSecond: sent / seconds, mibPerSecond: (storeBytes - before) / MIB / seconds });
        console.log(`${gib} GiB: filled ${grouped(sent)} more messages (${grouped(sentTotal)} in all) in ${fixed(seconds, 1)} s: ${grouped(sent / seconds)} messages/s, ${fixed((storeBytes - before) / MIB / seconds, 1)} MiB/s of log; leader's log ${fixed(storeBytes / GIB, 3)} GiB (${fixed(perMessageBytes)} B a message); load ${load()}${sent < messages ? ` - stopped at --fill-seconds ${options.fillSeconds}` : ''}`);
      } finally {
        client.close();
      }
      const measureStarted = performance.now();
      for (let round = 1; round <= options.rounds; round++) {
        for (const stop of options.stops) {
          for (const cache of options.caches) {
            const measured = await measure(members, brokers, stop, cache, { gib, logGiB: storeBytes / GIB, round });
            brokers = measured.brokers;
            const r = measured.round;
            results.push(r);
            const each = r.members.map((m) => `${m.selfId}: first line ${fixed(m.firstLineMs)} recovered ${fixed(m.recoveredMs)} boot ${fixed(m.bootMs)} leader ${fixed(m.leaderMs)} replay done ${fixed(m.replayDoneMs)} (${grouped(m.replayedEntries)} entries, ${fixed(m.replayMs)} ms) heap ${fixed(m.heapUsedMiB)} MiB RSS ${fixed(m.rssMiB)} MiB`).join('; ');
            console.log(`  ${gib} GiB ${stop} ${cache} round ${round}: stop ${fixed(r.stopMs)} ms${r.forcedStops > 0 ? ` (${r.forcedStops} SIGKILLed after the grace)` : ''}${cache === 'cold' ? `, sync+drop_caches ${fixed(r.dropCachesMs)} ms` : ''}; boot ${fixed(r.bootMs)}, first send ${fixed(r.sendMs)} (${r.sendOn}), first pull ${fixed(r.pullMs)} (${r.pullOn}) ms; ${each}; load ${load()}`);
          }
        }
      }
      lastMeasureMs = performance.now() - measureStarted;
    }
  } finally {
    await stopAll(brokers, 'SIGKILL');
    await namesrv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  report(options, results, fills, skipped);
}

function report(options: Options, results: readonly Round[], fills: readonly unknown[], skipped: readonly string[]): void {
  const rows: string[][] = [];
  const smallest = results[0]?.gib;
  const cell = (list: readonly Round[], pick: (r: Round) => number): number => median(list.map(pick));
  for (const stop of options.stops) {
    for (const cache of options.caches) {
      const base = results.filter((r) => r.gib === smallest && r.stop === stop && r.cache === cache);
      for (const gib of [...new Set(results.map((r) => r.gib))]) {
        const list = results.filter((r) => r.gib === gib && r.stop === stop && r.cache === cache);
        if (list.length === 0) continue;
        const send = cell(list, (r) => r.sendMs);
        const pull = cell(list, (r) => r.pullMs);
        const maxOf = (pick: (m: MemberRound) => number): number => cell(list, (r) => Math.max(...r.members.map(pick)));
        const reapplied = (list[0] as Round).members.map((_, i) => grouped(median(list.map((r) => r.members[i]?.replayedEntries ?? Number.NaN)))).join('/');
        rows.push([
          String(gib), fixed(cell(list, (r) => r.logGiB), 2), stop, cache,
          fixed(cell(list, (r) => r.bootMs)), fixed(send), fixed(pull),
          fixed(maxOf((m) => m.firstLineMs)), fixed(maxOf((m) => m.recoveredMs)), fixed(cell(list, (r) => Math.min(...r.members.map((m) => (Number.isNaN(m.leaderMs) ? Infinity : m.leaderMs))))), fixed(maxOf((m) => m.replayDoneMs)),
          reapplied, fixed(maxOf((m) => m.heapUsedMiB)), fixed(maxOf((m) => m.rssMiB)),
          fixed(send / cell(base, (r) => r.sendMs), 2), fixed(pull / cell(base, (r) => r.pullMs), 2), fixed(maxOf((m) => m.heapUsedMiB) / cell(base, (r) => Math.max(...r.members.map((m) => m.heapUsedMiB))), 2),
        ]);
      }
    }
  }
  console.log(`\nrestart of a ${options.members}-member broker group, medians of ${options.rounds} round(s), ms from the spawn of the first member (load ${load()})`);
  console.log('1st line: last member\'s first output line (Node up, modules loaded); recovered: last member done recovering its store; leader: first "broker role master"; replay: last member\'s "restart replay done"; heap/RSS: max over members after the replay; x smallest: ratio to the smallest size');
  console.log(formatTable(['GiB', 'log GiB', 'stop', 'cache', 'boot', 'send', 'pull', '1st line', 'recovered', 'leader', 'replay', 're-applied', 'heap MiB', 'RSS MiB', 'send x smallest', 'pull x smallest', 'heap x smallest'], rows));
  for (const line of skipped) console.log(line);
  console.log(`\nresults: ${writeResults('restart', { options: { ...options, deadlineMs: options.deadlineMs }, fills, skipped, results, loadavg: os.loadavg() })}`);
}
