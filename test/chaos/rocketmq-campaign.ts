// Goal: one seeded fault campaign against RocketMQ-on-DLedger (issue 6: "every message
// acknowledged to ali-ons is consumable after the faults heal").
// Method: start a name server and 3 broker processes whose DLedger peer links are proxied
// (rocketmq-cluster.ts); create the topic; start ali-ons producers (unique bodies, every attempt
// recorded: rocketmq-clients.ts) and a "live" CLUSTERING consumer; until the deadline repeat (pick
// kill -9 / SIGSTOP / a partition with a seeded PRNG, hold it, heal, let the group recover); then
// heal, stop the producers, wait until the group agrees on one commit index, drain every queue with
// a fresh consumer group from the first offset, let the live group catch up, stop the brokers
// cleanly, read the three DLedger data dirs in lockstep (replicas must be identical up to the
// committed end) and decode the reference log into messages and offset commits for the checker
// (rocketmq-checker.ts). Every process is stopped by pid in a finally block.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AdminClient, masterAddr } from '../../src/admin/admin-client.js';
import { decodeMessage } from '../../src/broker/message-codec.js';
import { BROKER_STATE_TOPIC, decodeCommand } from '../../src/broker/state/commands.js';
import { EntryMagic, openLogReader, type LogReader } from '../../src/store/index.js';
import { until } from '../cluster/helpers.js';
import { closeAll, unexpectedErrors, type AliClient, type AliConsumer } from '../quickstart/ali-ons-client.js';
import { prng } from './campaign.js';
import { describePowerLoss } from './power-loss-disk.js';
import type { ChaosCluster } from './cluster.js';
import { OffsetCoverage, waitForCoverage } from './offset-coverage.js';
import { checkRocketMQ, type LogMessage, type LogOffsetCommit, type RocketMQCheckResult } from './rocketmq-checker.js';
import { ProducerLoops, recordingConsumer, type Delivery } from './rocketmq-clients.js';
import type { QueueResume } from './rocketmq-offset-rules.js';
import { ROCKETMQ_BROKER_NAME, ROCKETMQ_CLUSTER_NAME, ROCKETMQ_DATA_SEGMENT_BYTES, ROCKETMQ_INDEX_SEGMENT_BYTES, RocketMQChaosCluster } from './rocketmq-cluster.js';
import { formatRetentionStats, retentionStatsOf, type RetentionStats } from './retention-stats.js';
import { CLIENT_KINDS, formatGrpcPart, GRPC_GROUP, GrpcPart, type ClientKind, type GrpcPartReport } from './rocketmq-grpc-part.js';

export type RocketMQFaultFamily = 'kill' | 'pause' | 'partition' | 'power';
/** Every family, the default mix (as the plain campaign's, power included). */
export const ROCKETMQ_FAULT_FAMILIES: readonly RocketMQFaultFamily[] = ['kill', 'pause', 'partition', 'power'];

/**
 * SYNC_FLUSH unless told otherwise when power losses are in the mix: under ASYNC_FLUSH a broker
 * acknowledges from the page cache and a power loss of the members holding a message loses it
 * (test/chaos/README.md "What a power loss costs"), which the checker would report as lost.
 */
export function defaultFlushDiskType(families: readonly RocketMQFaultFamily[]): 'ASYNC_FLUSH' | 'SYNC_FLUSH' {
  return families.includes('power') ? 'SYNC_FLUSH' : 'ASYNC_FLUSH';
}

export interface RocketMQCampaignOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly faults?: readonly RocketMQFaultFamily[];
  readonly producers?: number;
  /** Concurrent sends per producer. */
  readonly inFlight?: number;
  /** Default: defaultFlushDiskType(faults). */
  readonly flushDiskType?: 'ASYNC_FLUSH' | 'SYNC_FLUSH';
  readonly baseDir?: string;
  readonly keepData?: boolean;
  /** The drain after healing gives up when no new queue offset arrived for this long (default 60 s). */
  readonly drainIdleTimeoutMs?: number;
  /**
   * Retention on (rocketmq-cluster.ts: fileReservedTime = this many seconds, deleteWhen=*,
   * commit-log segments of 64 KiB); every LAG_EVERY_FAULTS-th fault (the first included) kills a follower
   * broker for the reserved time + LAG_EXTRA_MS, so the master deletes what it needs and it comes back by
   * snapshot install. The checker then treats messages below the retained queue minimum as expired.
   */
  readonly retentionSeconds?: number;
  /** Which clients send and consume (default both): ali-ons (remoting) and rocketmq-client-nodejs (gRPC: rocketmq-grpc-part.ts). */
  readonly clients?: readonly ClientKind[];
  readonly log?: (line: string) => void;
}

const LAG_EVERY_FAULTS = 8;
/**
 * How much longer than the reserved time a lagging follower stays down: the master must fill the
 * segment the follower stopped in (64 KiB, ~300 messages), let it expire, and pass its next state
 * checkpoint before it may delete it.
 */
const LAG_EXTRA_MS = 12_000;
/** With retention: acknowledged sends wanted after the last heal before the producers stop, and the cap on that wait. */
const HEALED_TAIL_ACKS = 100;
const HEALED_TAIL_CAP_MS = 20_000;
/** Slack of the retention bound (rocketmq-checker.ts): mtime granularity of a shared mapping. */
const RETENTION_SLACK_MS = 500;

export interface RocketMQFaultRecord {
  readonly atMs: number;
  readonly family: RocketMQFaultFamily;
  readonly description: string;
  readonly holdMs: number;
}

export interface RocketMQCampaignReport {
  readonly seed: number;
  readonly durationMs: number;
  readonly faults: RocketMQFaultRecord[];
  readonly check: RocketMQCheckResult;
  readonly converged: boolean;
  readonly finalCommitIndexes: Record<string, number>;
  readonly lastIndexes: Record<string, number>;
  readonly replicaEntriesCompared: number;
  readonly brokerExitCodes: Record<string, number | null>;
  readonly clientErrors: string[];
  /** Up to 100 sends that were not acknowledged, with their attempts (for reading a run). */
  readonly unacknowledgedSample: { body: string; outcome: unknown; attempts: string[] }[];
  readonly violations: string[];
  readonly proxyStats: Record<string, unknown>;
  readonly unexpectedExits: ChaosCluster['unexpectedExits'];
  /** Each broker's first retained DLedger index in its final files. */
  readonly firstIndexes: Record<string, number>;
  /** The master's GET_MIN_OFFSET of each queue when the drain started (> 0: retention moved it). */
  readonly minOffsetsAtDrain: number[];
  /** The lowest queue offset the drain group received per queue (it started at 0: PULL_OFFSET_MOVED moved it). */
  readonly drainFirstOffsets: (number | null)[];
  readonly retention: (RetentionStats & { readonly reservedSeconds: number }) | null;
  readonly clients: readonly ClientKind[];
  /** The gRPC client mix's checks (null without `grpc` in clients). */
  readonly grpc: GrpcPartReport | null;
  readonly baseDir: string;
}

const TOPIC = 'TopicChaos';
const QUEUES = 4;
const LIVE_GROUP = 'CG_chaos_live';
/** A drain that keeps receiving may take this long in all (a 10-minute run stores ~260k messages). */
const DRAIN_CAP_MS = 15 * 60_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The offsets the consumer reads from brokers when it (re)takes a queue of TOPIC (ali-ons'
 * READ_FROM_STORE), for the offset step-back rules (rocketmq-offset-rules.ts). Observes only:
 * the real readOffset runs and its answer is returned unchanged.
 */
function recordResumes(consumer: AliConsumer): QueueResume[] {
  type OffsetStore = { readOffset(mq: { topic: string; queueId: number }, type: string): Promise<number> };
  const resumes: QueueResume[] = [];
  const store = (consumer as unknown as { _offsetStore: OffsetStore })._offsetStore;
  const read = store.readOffset.bind(store);
  store.readOffset = async (mq, type) => {
    const offset = await read(mq, type);
    if (type === 'READ_FROM_STORE' && mq.topic === TOPIC && offset >= 0) resumes.push({ queueId: mq.queueId, offset });
    return offset;
  };
  return resumes;
}

interface ReplicaRead {
  readonly lastIndexes: Record<string, number>;
  readonly firstIndexes: Record<string, number>;
  readonly retainedFromIndex: number;
  readonly retainedFromPhysicalOffset: number;
  readonly compared: number;
  readonly divergences: string[];
  readonly messages: LogMessage[];
  readonly commits: LogOffsetCommit[];
}

/**
 * Read every member's DLedger files side by side: at each index up to committedEnd all members
 * must hold the same (term, pos, magic, body bytes); the first member's entries are decoded as
 * stored messages (topic messages and broker commands).
 */
export function readReplicas(nodeDirs: ReadonlyMap<string, string>, committedEnd: number, dataSegmentSizeBytes = ROCKETMQ_DATA_SEGMENT_BYTES): ReplicaRead {
  const readers = new Map<string, LogReader>();
  const divergences: string[] = [];
  const messages: LogMessage[] = [];
  const commits: LogOffsetCommit[] = [];
  let compared = 0;
  try {
    for (const [id, nodeDir] of nodeDirs) readers.set(id, openLogReader({ nodeDir, dataSegmentSizeBytes, indexSegmentSizeBytes: ROCKETMQ_INDEX_SEGMENT_BYTES }));
    const lastIndexes = Object.fromEntries([...readers].map(([id, r]) => [id, r.lastIndex()]));
    const end = Math.max(...Object.values(lastIndexes));
    // Each member's first retained index (below it its retention deleted the entries, or a
    // snapshot install skipped them): a member is compared only from there on.
    const firstIndexes: Record<string, number> = {};
    for (const [id, r] of readers) {
      let first = 0;
      while (first <= lastIndexes[id]! && r.get(first) === null) first++;
      firstIndexes[id] = first;
    }
    for (let index = 0; index <= end; index++) {
      const entries = [...readers].map(([id, r]) => [id, r.get(index)] as const);
      const [refId, ref] = entries.find(([, e]) => e !== null) ?? [null, null];
      if (ref === null || refId === null) continue; // below every member's floor
      if (index <= committedEnd) {
        compared++;
        for (const [id, e] of entries) {
          if (id === refId) continue;
          if (e === null && index < firstIndexes[id]!) continue;
          if (e === null) divergences.push(`index ${index} (at or below the committed end ${committedEnd}) is on ${refId} but missing on ${id}`);
          else if (e.term !== ref.term || e.pos !== ref.pos || e.magic !== ref.magic || Buffer.compare(e.body, ref.body) !== 0) {
            divergences.push(`index ${index}: ${refId} has term ${ref.term} pos ${ref.pos} (${ref.body.length} bytes), ${id} has term ${e.term} pos ${e.pos} (${e.body.length} bytes)`);
          }
        }
      }
      if (ref.magic !== EntryMagic.Normal || index > committedEnd) continue;
      let stored;
      try {
        stored = decodeMessage(ref.body, 0);
      } catch (error) {
        divergences.push(`index ${index} on ${refId}: not a stored message: ${(error as Error).message}`);
        continue;
      }
      if (stored.topic === BROKER_STATE_TOPIC) {
        const command = decodeCommand(stored.body);
        if (command.type === 'commitOffsets') for (const o of command.offsets) commits.push({ index, group: command.group, topic: o.topic, queueId: o.queueId, offset: o.offset });
        continue;
      }
      messages.push({ index, physicalOffset: stored.physicalOffset, topic: stored.topic, queueId: stored.queueId, queueOffset: stored.queueOffset, body: Buffer.from(stored.body).toString() });
    }
    // From the largest first index on every replica holds the log; its entry's PHYSICALOFFSET.
    const retainedFromIndex = Math.max(...Object.values(firstIndexes));
    let retainedFromPhysicalOffset = Number.MAX_SAFE_INTEGER;
    for (const r of readers.values()) {
      const entry = r.get(retainedFromIndex);
      if (entry !== null) {
        retainedFromPhysicalOffset = entry.pos + 48;
        break;
      }
    }
    return { lastIndexes, firstIndexes, retainedFromIndex, retainedFromPhysicalOffset, compared, divergences, messages, commits };
  } finally {
    for (const reader of readers.values()) reader.close();
  }
}

export async function runRocketMQCampaign(options: RocketMQCampaignOptions): Promise<RocketMQCampaignReport> {
  const log = options.log ?? (() => undefined);
  const families = options.faults ?? ROCKETMQ_FAULT_FAMILIES;
  const schedule = prng(options.seed);
  const random = prng(options.seed ^ 0x9e3779b9);
  const pick = <T>(items: readonly T[], from: () => number = random): T => items[Math.floor(from() * items.length)]!;
  const between = (lo: number, hi: number): number => Math.round(lo + schedule() * (hi - lo));
  const baseDir = options.baseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `rocketmq-chaos-${options.seed}-`));
  const startedAt = Date.now();
  const stamp = (line: string): void => log(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`);
  const retentionMs = options.retentionSeconds === undefined ? null : options.retentionSeconds * 1000;
  const cluster = await RocketMQChaosCluster.start({ baseDir, flushDiskType: options.flushDiskType ?? defaultFlushDiskType(families), faultJournal: families.includes('power'), ...(options.retentionSeconds === undefined ? {} : { retentionSeconds: options.retentionSeconds }), log: stamp });
  const chaos = cluster.chaos;
  const admin = new AdminClient([cluster.namesrvAddr], 2000);
  const clients: AliClient[] = [];
  let producers: ProducerLoops | null = null;
  const consumerErrors: Error[] = [];
  const faults: RocketMQFaultRecord[] = [];
  const faultTimesMs: number[] = [];
  const clientKinds = options.clients ?? CLIENT_KINDS;
  const remotingOn = clientKinds.includes('remoting');
  let grpc: GrpcPart | null = null;
  try {
    const master = async (): Promise<string | null> => {
      const data = (await admin.clusterInfo()).brokerAddrTable[ROCKETMQ_BROKER_NAME];
      return data === undefined ? null : masterAddr(data);
    };
    await until(async () => {
      const addr = await master();
      if (addr === null) return null;
      await admin.updateTopic(addr, { topic: TOPIC, readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, order: false });
      return true;
    }, 30_000, `a master (BID 0) of ${ROCKETMQ_BROKER_NAME} that creates ${TOPIC}`);
    await until(() => admin.topicRoute(TOPIC), 10_000, `the route of ${TOPIC}`);
    stamp(`cluster ${ROCKETMQ_CLUSTER_NAME} up, ${TOPIC} created with ${QUEUES} queues`);

    let live: Delivery[] = [];
    const liveConsumer = remotingOn ? recordingConsumer(cluster.namesrvAddr, LIVE_GROUP, TOPIC, live, consumerErrors) : null;
    const liveResumes = liveConsumer === null ? [] : recordResumes(liveConsumer);
    if (liveConsumer !== null) clients.push(liveConsumer);
    await liveConsumer?.ready();
    if (clientKinds.includes('grpc')) grpc = await GrpcPart.start({ masterAddr: (await master())!, endpoints: [...cluster.grpcAddrs.values()], topic: TOPIC, queues: QUEUES, producers: 1, inFlight: options.inFlight ?? 4 });
    producers = new ProducerLoops({ namesrvAddr: cluster.namesrvAddr, topic: TOPIC, producers: remotingOn ? (options.producers ?? 2) : 0, inFlight: options.inFlight ?? 4, thinkMs: 5, maxSendsPerProducer: 10_000_000 });
    await producers.start();
    clients.push(...producers.clients);

    const deadline = Date.now() + options.durationMs;
    const ids = chaos.ids;
    while (Date.now() < deadline) {
      let family = pick(families, schedule);
      let holdMs = between(2000, 3500);
      const leader = await chaos.leader();
      let description: string;
      if (retentionMs !== null && faults.length % LAG_EVERY_FAULTS === 0 && leader !== null) {
        // A follower down while the master deletes what it needs: it must come back by snapshot.
        const target = pick(ids.filter((id) => id !== leader));
        family = 'kill';
        holdMs = retentionMs + LAG_EXTRA_MS;
        description = `kill -9 broker ${target} (follower, held past the reserved time: lagging behind retention)`;
        await chaos.kill(target);
      } else if (family === 'kill') {
        const target = random() < 0.5 && leader !== null ? leader : pick(ids);
        description = `kill -9 broker ${target}${target === leader ? ' (leader)' : ''}`;
        await chaos.kill(target);
      } else if (family === 'pause') {
        const target = random() < 0.5 && leader !== null ? leader : pick(ids);
        description = `SIGSTOP broker ${target}${target === leader ? ' (leader)' : ''} for ${holdMs} ms`;
        chaos.pause(target);
      } else if (family === 'power') {
        // As the plain campaign: one broker (often the master), a majority at once, sometimes all
        // three: SIGKILL, then each one's DLedger files lose what was never flushed
        // (ChaosCluster.powerLoss, power-loss-disk.ts); restarted at the heal.
        const shuffled = [...ids].sort(() => random() - 0.5);
        const roll = random();
        const majority = Math.floor(ids.length / 2) + 1;
        const targets = roll < 0.4 ? [random() < 0.5 && leader !== null ? leader : shuffled[0]!] : roll < 0.85 ? shuffled.slice(0, majority) : shuffled;
        const reports = await chaos.powerLoss(targets, random);
        description = `power loss of broker${targets.length > 1 ? 's' : ''} ${targets.join(',')}${targets.includes(leader ?? '') ? ` (leader ${leader})` : ''}: ${reports.map(describePowerLoss).join(' | ')}`;
      } else {
        const kinds = ['isolate', 'isolate-leader', 'halves', 'asymmetric'] as const;
        const kind = pick<(typeof kinds)[number]>(kinds);
        if (kind === 'isolate' || (kind === 'isolate-leader' && leader === null)) {
          const target = pick(ids);
          const fault = random() < 0.5 ? ({ kind: 'cut' } as const) : ({ kind: 'drop' } as const);
          description = `isolate ${target} from the Raft peers (${fault.kind})`;
          chaos.isolate(target, fault);
        } else if (kind === 'isolate-leader') {
          description = `isolate leader ${leader} from the Raft peers`;
          chaos.isolate(leader!);
        } else if (kind === 'halves') {
          const shuffled = [...ids].sort(() => random() - 0.5);
          description = `halves [${shuffled[0]}] | [${shuffled.slice(1).join(',')}] with 50 ms delay inside the majority`;
          chaos.partition(shuffled.slice(0, 1), shuffled.slice(1));
          chaos.setLink(shuffled[1]!, shuffled[2]!, { kind: 'delay', ms: 50 });
          chaos.setLink(shuffled[2]!, shuffled[1]!, { kind: 'delay', ms: 50 });
        } else {
          const from = pick(ids);
          const to = pick(ids.filter((id) => id !== from));
          description = `asymmetric ${from} -> ${to} cut`;
          chaos.setLink(from, to, { kind: 'cut' });
        }
      }
      faultTimesMs.push(performance.now());
      faults.push({ atMs: Date.now() - startedAt, family, description, holdMs });
      stamp(`fault ${faults.length}: ${description}, hold ${holdMs} ms`);
      await sleep(Math.min(holdMs, Math.max(0, deadline - Date.now()) + 500));
      chaos.healAll();
      await sleep(between(1500, 3000));
    }

    chaos.healAll();
    if (retentionMs !== null) {
      // Retention deletes what is older than the reserved time (all but the newest segment): so
      // that acknowledged messages remain to check, the producers go on, healed, until
      // HEALED_TAIL_ACKS sends started after the heal were acknowledged (a power loss or kill of
      // the last fault leaves brokers recovering), at most HEALED_TAIL_CAP_MS.
      const healedAt = performance.now();
      const tailAcks = (): number => producers!.ops.filter((op) => op.invokeMs >= healedAt && op.outcome?.type === 'ok').length;
      await until(() => tailAcks() >= HEALED_TAIL_ACKS || null, HEALED_TAIL_CAP_MS, `${HEALED_TAIL_ACKS} acknowledged sends after the last heal`).catch((error: Error) => stamp(error.message));
      stamp(`healed tail: ${tailAcks()} sends acknowledged in ${Math.round(performance.now() - healedAt)} ms after the last heal`);
    }
    const ops = await producers.stop();
    producers = null;
    const grpcOps = (await grpc?.stopSending()) ?? [];
    stamp(`producers stopped: ${ops.length} sends${grpc === null ? '' : ` (+ ${grpcOps.length} gRPC)`}`);
    const converge = async (what: string): Promise<Record<string, number> | null> => {
      let commits: Record<string, number> = {};
      try {
        await until(async () => {
          const statuses = await chaos.statuses();
          if (statuses.length !== ids.length || statuses.filter((s) => s.leaderId === s.id).length !== 1) return false;
          if (new Set(statuses.map((s) => s.commitIndex)).size !== 1) return false;
          commits = Object.fromEntries(statuses.map((s) => [s.id, s.commitIndex]));
          return true;
        }, 30_000, what);
        return commits;
      } catch {
        stamp(`not converged: ${what}`);
        return null;
      }
    };
    let converged = (await converge('one commit index under one leader after healing')) !== null;
    const masterNow = await until(() => master(), 20_000, 'a master after healing');

    // Drain every queue with a fresh group; the live group catches up meanwhile.
    const maxOffsets = await Promise.all(Array.from({ length: QUEUES }, (_, q) => admin.maxOffset(masterNow, TOPIC, q)));
    // Below the minimum retention deleted: the drain group (from offset 0) gets PULL_OFFSET_MOVED to it.
    const minOffsetsAtDrain = await Promise.all(Array.from({ length: QUEUES }, (_, q) => admin.minOffset(masterNow, TOPIC, q)));
    if (retentionMs !== null) stamp(`queue min offsets at drain: ${minOffsetsAtDrain.join('/')}`);
    const drain: Delivery[] = [];
    const drainConsumer = recordingConsumer(cluster.namesrvAddr, `CG_chaos_drain_${options.seed >>> 0}`, TOPIC, drain, consumerErrors);
    clients.push(drainConsumer);
    await drainConsumer.ready();
    const idleTimeoutMs = options.drainIdleTimeoutMs ?? 60_000;
    await waitForCoverage(new OffsetCoverage(maxOffsets, drain, minOffsetsAtDrain), { idleTimeoutMs, capMs: DRAIN_CAP_MS, what: `the drain consumer to receive queue offsets up to ${maxOffsets.join('/')}` }).catch((error: Error) => stamp(error.message));
    await waitForCoverage(new OffsetCoverage(maxOffsets, live, minOffsetsAtDrain), { idleTimeoutMs: 20_000, capMs: DRAIN_CAP_MS, what: 'the live consumer to catch up' }).catch((error: Error) => stamp(error.message));
    stamp(`drained: ${drain.length} deliveries (queue max offsets ${maxOffsets.join('/')}), live ${live.length}`);
    if (grpc !== null) {
      const fifoMax = await Promise.all(Array.from({ length: QUEUES }, (_, q) => admin.maxOffset(masterNow, grpc!.fifoTopic, q)));
      const fifoMin = await Promise.all(Array.from({ length: QUEUES }, (_, q) => admin.minOffset(masterNow, grpc!.fifoTopic, q)));
      await grpc.drainFifo(cluster.namesrvAddr, `CG_chaos_drain_fifo_${options.seed >>> 0}`, fifoMax, fifoMin, clients, consumerErrors, idleTimeoutMs, stamp);
      stamp(`FIFO topic drained: ${grpc.fifoDrain.length} deliveries (queue max offsets ${fifoMax.join('/')})`);
      const missing = await grpc.catchUp(ops, 20_000, DRAIN_CAP_MS);
      stamp(`gRPC group: ${grpc.mix.receives.length} receives, ${missing} acknowledged sends not received by it; FIFO drain ${grpc.fifoDrain.length}`);
      await grpc.close();
      if (!remotingOn) live = grpc.liveDeliveries(TOPIC);
    }
    await closeAll(clients);
    clients.length = 0;

    const commitIndexes = (await converge('one commit index before stopping')) ?? Object.fromEntries((await chaos.statuses()).map((s) => [s.id, s.commitIndex]));
    converged &&= Object.keys(commitIndexes).length === ids.length;
    await sleep(500); // quiet period: the last commit index reaches followers with the next heartbeat
    const exitCodes = Object.fromEntries(await cluster.stopBrokers());
    const known = Object.values(commitIndexes);
    const committedEnd = known.length > 0 ? Math.min(...known) : -1;
    const replicas = readReplicas(new Map(ids.map((id) => [id, chaos.nodeDir(id)])), committedEnd, cluster.dataSegmentBytes);
    const retention = retentionMs === null ? null : { reservedSeconds: retentionMs / 1000, ...retentionStatsOf(new Map([...cluster.notableLines].map(([id, lines]) => [id, [lines.join('\n')]]))) };
    const forcedOn = new Set(Object.entries(retention?.forcedRuns ?? {}).filter(([, n]) => n > 0).map(([id]) => id));
    const retentionInput = retentionMs === null ? undefined : { reservedMs: retentionMs, checkedAtMs: performance.now(), slackMs: RETENTION_SLACK_MS, forced: forcedOn.size > 0, retainedFromIndex: replicas.retainedFromIndex, retainedFromPhysicalOffset: replicas.retainedFromPhysicalOffset };
    const grpcReport = grpc?.check({ topic: TOPIC, remotingOps: ops, logMessages: replicas.messages, faultTimesMs, ...(retentionInput === undefined ? {} : { retention: retentionInput }) }) ?? null;
    const check = checkRocketMQ({
      topic: TOPIC, ops: [...ops, ...(grpc?.normalOps ?? [])], drain, live, liveGroup: remotingOn ? LIVE_GROUP : GRPC_GROUP, logMessages: replicas.messages, offsetCommits: replicas.commits, liveResumes, faultTimesMs,
      ...(retentionMs === null ? {} : { retention: { reservedMs: retentionMs, checkedAtMs: performance.now(), slackMs: RETENTION_SLACK_MS, forced: forcedOn.size > 0, retainedFromIndex: replicas.retainedFromIndex, retainedFromPhysicalOffset: replicas.retainedFromPhysicalOffset } }),
    });
    const drainFirstOffsets = Array.from({ length: QUEUES }, (_, q) => drain.filter((d) => d.queueId === q).reduce<number | null>((min, d) => (min === null || d.queueOffset < min ? d.queueOffset : min), null));
    const violations = [...check.violations, ...(grpcReport === null ? [] : [...grpcReport.fifo.violations.map((v) => `fifo topic ${v}`), ...grpcReport.check.violations.map((v) => `grpc ${v}`)]), ...replicas.divergences.slice(0, 20).map((d) => `divergence: ${d}`)];
    if (replicas.divergences.length > 20) violations.push(`divergence: ... ${replicas.divergences.length - 20} more`);
    for (const exit of chaos.unexpectedExits) violations.push(`crash: ${exit.id} (pid ${exit.pid}) exited by itself with code ${exit.code} signal ${exit.signal}; output tail: ${JSON.stringify(exit.outputTail.slice(-1500))}`);
    for (const exit of cluster.namesrvExits) violations.push(`crash: the name server exited by itself with code ${exit.code} signal ${exit.signal}; output tail: ${JSON.stringify(exit.outputTail.slice(-1500))}`);
    for (const [id, code] of Object.entries(exitCodes)) if (code !== 0) violations.push(`shutdown: broker ${id} exited with ${code} on SIGTERM`);
    if (!converged) violations.push(`convergence: brokers did not agree on one commit index within 30 s after healing (${JSON.stringify(commitIndexes)})`);
    return {
      seed: options.seed,
      durationMs: Date.now() - startedAt,
      faults,
      check,
      converged,
      finalCommitIndexes: commitIndexes,
      lastIndexes: replicas.lastIndexes,
      replicaEntriesCompared: replicas.compared,
      brokerExitCodes: exitCodes,
      clientErrors: unexpectedErrors([...consumerErrors]).slice(0, 50),
      unacknowledgedSample: ops.filter((op) => op.outcome?.type !== 'ok').slice(0, 100).map((op) => ({ body: op.body, outcome: op.outcome, attempts: op.attempts })),
      violations,
      proxyStats: chaos.proxyStats(),
      unexpectedExits: chaos.unexpectedExits,
      firstIndexes: replicas.firstIndexes,
      minOffsetsAtDrain,
      drainFirstOffsets,
      retention,
      clients: clientKinds,
      grpc: grpcReport,
      baseDir,
    };
  } finally {
    if (producers !== null) await producers.stop().catch(() => undefined);
    await grpc?.close().catch(() => undefined);
    await closeAll(clients);
    admin.close();
    await cluster.close();
    const left = cluster.runningPids();
    if (left.length > 0) throw new Error(`rocketmq chaos cluster left processes running: ${left.join(', ')}`);
    if (options.keepData !== true) chaos.removeData();
  }
}

export function formatRocketMQSummary(report: RocketMQCampaignReport): string {
  const byFamily = new Map<string, number>();
  for (const f of report.faults) byFamily.set(f.family, (byFamily.get(f.family) ?? 0) + 1);
  const c = report.check;
  return [
    `rocketmq seed ${report.seed}, ${(report.durationMs / 1000).toFixed(1)} s`,
    `faults injected: ${report.faults.length} (${[...byFamily].map(([k, v]) => `${k} ${v}`).join(', ')})`,
    `sends: ${c.sent} (acknowledged ${c.acknowledged}, failed ${c.failed}, unknown ${c.unknown}; retried inside ali-ons ${c.retriedInternally})`,
    `drain: ${c.drainDeliveries} deliveries, ${c.consumedDistinct} distinct bodies; lost ${c.lost}, moved ${c.moved}, phantoms ${c.phantoms}, drain gaps ${c.drainGaps}, queue violations ${c.queueViolations}`,
    `duplicates stored: ${c.duplicatesAckedAfterRetry} acknowledged after an ali-ons retry, ${c.duplicatesUnknownOutcome} of unknown outcome, ${c.duplicatesUnexplained} unexplained; unacknowledged sends stored anyway: ${c.unacknowledgedStored}`,
    `live consumer: ${c.liveDeliveries} deliveries, ${c.liveRedeliveries} redeliveries (${c.liveRedeliveriesAcrossFaults} across a fault), skipped ${c.liveSkipped}; offset commits ${c.offsetCommits}, regressions ${c.offsetRegressions} (+ ${c.offsetRegressionsAllowed} allowed: a queue resumed from a read offset)`,
    ...(report.retention !== null ? [`${formatRetentionStats(report.retention, report.firstIndexes)}; acknowledged messages expired (before the retained log start) ${c.expired}, of them never consumed by the live group ${c.expiredNotLive}; queue min offsets at drain ${report.minOffsetsAtDrain.join('/')}, drain's first offsets ${report.drainFirstOffsets.join('/')}, retained log's first offsets ${c.retainedFirstOffsets.join('/')} (reserved ${report.retention.reservedSeconds} s)`] : []),
    ...(report.grpc === null ? [] : formatGrpcPart(report.grpc)),
    `replicas: ${report.replicaEntriesCompared} entries compared, last indexes ${JSON.stringify(report.lastIndexes)}, converged ${report.converged}`,
    `violations: ${report.violations.length}`,
    ...report.violations.map((v) => `  ${v}`),
  ].join('\n');
}
