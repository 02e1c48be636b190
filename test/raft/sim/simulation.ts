// The seeded cluster simulator: N cores on one thread, a global tick counter, the simulated
// network and disks, a client workload, and the checkers. A run has two phases, as in
// TigerBeetle's VOPR: a safety phase of `steps` ticks with the seed's faults, then a liveness
// phase in which every fault heals and the cluster must elect a leader, commit a fresh probe
// write and resolve every pending proposal within a bounded number of ticks.
//
// One tick: faults and workload; every live node ticks (at its skewed rate); messages due are
// delivered; then readies are taken and due disk writes completed until nothing moves. Every
// message takes at least one tick, so a tick always ends.
import { defaultRaftConfig } from '../../../src/raft/config.js';
import type { Message, NodeId, RaftConfig, ReadState } from '../../../src/raft/types.js';
import { assert } from '../../../src/util/assert.js';
import { Prng } from '../../../src/util/prng.js';
import { ClusterCheckers } from './checkers.js';
import type { SimCoreFactory } from './core-port.js';
import { pickPartitionMode, startPartition, type ActivePartition } from './faults.js';
import { SimNetwork } from './network.js';
import { PartitionMode, profileFromSeed, type SimProfile } from './options.js';
import { SimNode, type NodeEnvironment } from './sim-node.js';
import { EventTrace } from './trace.js';
import { CheckerName, SimViolation } from './violation.js';

export interface RunOptions {
  readonly seed: number;
  /** Ticks of the safety phase. */
  readonly steps: number;
  readonly coreFactory: SimCoreFactory;
  /** Recent events kept for a failure report; 0 turns tracing off (fast). */
  readonly traceCapacity?: number;
  /** Merged into every node's config (the bite test switches deliberate bugs on here). */
  readonly configOverrides?: Partial<RaftConfig>;
  /**
   * Bite test only: the simulated node layer sends votes and append acks before they are durable
   * (the "persist before you answer" rule of the Ready contract, broken on purpose).
   */
  readonly answerBeforePersist?: boolean;
  /** Replaces the seed's swarm profile with a variant (see WEATHERS in options.ts). */
  readonly adjustProfile?: (profile: SimProfile) => SimProfile;
  /** Liveness phase bound; the default scales with the election timeout. */
  readonly livenessTicksMax?: number;
}

export interface RunStats {
  ticks: number;
  livenessTicks: number;
  proposals: number;
  acknowledged: number;
  readsIssued: number;
  readsAnswered: number;
  leadersElected: number;
  crashes: number;
  partitions: number;
  transfers: number;
  compactions: number;
  snapshotsInstalled: number;
  messagesDelivered: number;
  messagesDropped: number;
}

export interface RunResult {
  readonly seed: number;
  readonly steps: number;
  readonly profile: SimProfile;
  readonly violation: SimViolation | null;
  readonly stats: RunStats;
  readonly trace: string[];
}

interface PendingRead {
  readonly nodeId: NodeId;
  readonly requiredIndex: number;
  readonly issuedAtTick: number;
}

/** Bound on reads in flight across the cluster. */
const PENDING_READS_MAX = 256;
/** Bound on the settle loop of one tick: readies and disk completions that keep feeding each other. */
const SETTLE_ROUNDS_MAX = 10_000;

export function runSeed(options: RunOptions): RunResult {
  const simulation = new Simulation(options);
  let violation: SimViolation | null = null;
  try {
    simulation.run();
  } catch (error) {
    violation = asViolation(error, simulation.now);
  }
  simulation.collectStats();
  return {
    seed: options.seed,
    steps: options.steps,
    profile: simulation.profile,
    violation,
    stats: simulation.stats,
    trace: simulation.trace.lines(),
  };
}

/** Anything the core throws (its assertions, checkInvariants) is a violation of its own invariants. */
function asViolation(error: unknown, tick: number): SimViolation {
  if (error instanceof SimViolation) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}\n${firstStackLines(error)}` : String(error);
  return new SimViolation(CheckerName.CoreInvariant, detail, tick);
}

function firstStackLines(error: Error): string {
  return (error.stack ?? '').split('\n').slice(1, 6).join('\n');
}

class Simulation {
  readonly profile: SimProfile;
  readonly trace: EventTrace;
  readonly stats: RunStats;
  now = 0;
  private readonly prng: Prng;
  private readonly network: SimNetwork;
  private readonly checkers: ClusterCheckers = new ClusterCheckers();
  private readonly nodes: SimNode[];
  private readonly nodesById = new Map<NodeId, SimNode>();
  private readonly ids: NodeId[];
  private readonly env: NodeEnvironment;
  private readonly pendingReads = new Map<string, PendingRead>();
  private partition: ActivePartition | null = null;
  /** Crashes scheduled for nodes that just became leader (safety phase only). */
  private readonly scheduledCrashTick = new Map<NodeId, number>();
  private inSafetyPhase = true;
  private valueCounter = 0;
  private readCounter = 0;

  constructor(private readonly options: RunOptions) {
    assert(Number.isSafeInteger(options.steps) && options.steps >= 0, `bad steps ${options.steps}`);
    const seeded = profileFromSeed(options.seed);
    this.profile = options.adjustProfile === undefined ? seeded : options.adjustProfile(seeded);
    this.prng = new Prng(options.seed);
    this.trace = new EventTrace(options.traceCapacity ?? 0);
    this.network = new SimNetwork(this.prng, this.profile.network);
    this.stats = emptyStats();
    this.ids = Array.from({ length: this.profile.nodeCount }, (_, k) => `n${k}`);
    const slowIds = new Set(this.ids.slice(0, this.profile.faults.slowDiskNodeCount));
    const spread = this.profile.faults.tickRateSpread;
    this.nodes = this.ids.map((id) => {
      const rate = spread === 0 ? 1 : 1 - spread + this.prng.nextFloat() * 2 * spread;
      return new SimNode(id, rate, slowIds.has(id), this.profile.faults.slowDiskDelayMaxTicks);
    });
    for (const node of this.nodes) this.nodesById.set(node.id, node);
    this.env = {
      checkers: this.checkers,
      trace: this.trace,
      prng: this.prng,
      answerBeforePersist: options.answerBeforePersist === true,
      applyBeforePersist: this.profile.applyBeforePersist,
      nowTick: () => this.now,
      send: (message) => this.send(message),
      onReadState: (nodeId, readState) => this.onReadState(nodeId, readState),
      onSoftStateChange: (nodeId) => this.onSoftStateChange(nodeId),
    };
  }

  run(): void {
    for (const node of this.nodes) this.startNode(node);
    for (let step = 0; step < this.options.steps; step++) {
      this.advanceTick();
      this.injectFaults();
      this.driveWorkload();
      this.tickNodesAndSettle();
    }
    this.runLivenessPhase();
  }

  collectStats(): void {
    this.stats.acknowledged = this.nodes.reduce((sum, n) => sum + n.acknowledgedCount, 0);
    this.stats.snapshotsInstalled = this.nodes.reduce((sum, n) => sum + n.snapshotsInstalled, 0);
    this.stats.leadersElected = this.checkers.leaderTermCount();
    this.stats.messagesDelivered = this.network.deliveredCount;
    this.stats.messagesDropped = this.network.droppedCount;
  }

  private advanceTick(): void {
    this.now++;
    this.checkers.tick = this.now;
    this.stats.ticks = this.now;
  }

  private nodeConfig(id: NodeId): RaftConfig {
    const c = this.profile.core;
    const base = defaultRaftConfig(id, this.ids);
    return {
      ...base,
      electionTimeoutTicks: c.electionTimeoutTicks,
      heartbeatTimeoutTicks: c.heartbeatTimeoutTicks,
      preVote: c.preVote,
      checkQuorum: c.checkQuorum,
      leaseReads: c.leaseReads,
      maxInflightMsgs: c.maxInflightMsgs,
      maxInflightBytes: c.maxInflightBytes,
      maxSizePerMsgBytes: c.maxSizePerMsgBytes,
      maxUncommittedEntriesBytes: c.maxUncommittedEntriesBytes,
      snapshotChunkBytes: c.snapshotChunkBytes,
      preferredLeaderIds: c.usePreferredLeader ? [this.ids[0]!] : [],
      transferTimeoutTicks: c.transferTimeoutTicks,
      maxCommittedSizePerReadyBytes: c.maxCommittedSizePerReadyBytes,
      ...this.options.configOverrides,
    };
  }

  private startNode(node: SimNode): void {
    // Each incarnation of a core gets its own stream, drawn from the run's Prng.
    const corePrng = new Prng(this.prng.nextUint32() * 0x20_0000 + this.prng.intBetween(0, 0x20_0000));
    node.start(this.nodeConfig(node.id), this.options.coreFactory, corePrng, this.env);
    node.restartAtTick = -1;
    if (this.trace.enabled) this.trace.record(this.now, `${node.id} started (incarnation ${node.startCount}, term ${node.term}, applied ${node.appliedIndex})`);
  }

  private send(message: Message): void {
    if (this.trace.enabled) this.trace.record(this.now, `send ${describeMessage(message)}`);
    switch (message.type) {
      case 'Append':
      case 'Heartbeat':
      case 'Snapshot':
      case 'TimeoutNow':
        this.checkers.observeLeaderMessage(message.from, message.term);
        break;
      case 'VoteResp':
        if (!message.reject) this.checkers.observeVoteGranted(message.from, message.term, message.to);
        break;
      default:
        break;
    }
    this.network.send(message, this.now);
  }

  private injectFaults(): void {
    const faults = this.profile.faults;
    if (this.partition !== null && this.now >= this.partition.endsAtTick) {
      this.network.clearCuts();
      this.trace.record(this.now, `partition healed: ${this.partition.description}`);
      this.partition = null;
    } else if (this.partition === null && faults.partitionModes.length > 0 && this.prng.chance(faults.partitionStartProbability)) {
      const mode = pickPartitionMode(faults, this.prng);
      const description = startPartition(mode, this.ids, this.currentLeaderId(), this.network, this.prng);
      const endsAtTick = this.now + this.prng.intBetween(5, faults.partitionDurationMaxTicks + 1);
      this.partition = { mode, endsAtTick, description };
      this.stats.partitions++;
      this.trace.record(this.now, `partition until t=${endsAtTick}: ${description}`);
    }
    for (const node of this.nodes) {
      if (!node.isUp && node.restartAtTick <= this.now) this.startNode(node);
    }
    for (const [nodeId, crashAtTick] of this.scheduledCrashTick) {
      if (crashAtTick > this.now) continue;
      this.scheduledCrashTick.delete(nodeId);
      const node = this.nodesById.get(nodeId)!;
      if (node.isUp) this.crash(node);
    }
    if (faults.crashProbability > 0 && this.prng.chance(faults.crashProbability)) {
      const live = this.nodes.filter((n) => n.isUp);
      if (live.length > 0) this.crash(this.prng.pick(live));
    }
  }

  private crash(node: SimNode): void {
    const tornProbability = this.profile.faults.tornWriteProbability;
    if (tornProbability > 0 && node.hasQueuedWrites() && this.prng.chance(tornProbability)) {
      const entryCount = this.prng.intBetween(0, node.oldestWriteEntryCount() + 1);
      this.trace.record(this.now, `${node.id} ${node.tearOldestWrite(entryCount, this.env)}`);
    }
    node.crash();
    this.network.dropAllOf(node.id);
    this.dropReadsOf(node.id);
    node.restartAtTick = this.now + this.prng.intBetween(1, this.profile.faults.restartDelayMaxTicks + 1);
    this.stats.crashes++;
    this.trace.record(this.now, `${node.id} crashed; restarts at t=${node.restartAtTick}`);
  }

  private driveWorkload(): void {
    const w = this.profile.workload;
    if (this.prng.chance(w.proposeProbability)) {
      const node = this.pickClientTarget();
      if (node !== null) {
        const count = this.prng.intBetween(1, w.proposeBatchMax + 1);
        this.propose(node, count);
      }
    }
    if (w.readProbability > 0 && this.prng.chance(w.readProbability)) {
      const node = this.pickClientTarget();
      if (node !== null) this.issueRead(node);
    }
    if (w.transferProbability > 0 && this.prng.chance(w.transferProbability)) this.transferLeadership();
    if (w.compactProbability > 0 && this.prng.chance(w.compactProbability)) {
      const live = this.nodes.filter((n) => n.isUp);
      if (live.length > 0 && this.prng.pick(live).compact(this.env)) this.stats.compactions++;
    }
  }

  /** Clients mostly find the leader, and sometimes ask a follower (which must refuse). */
  private pickClientTarget(): SimNode | null {
    const leaderId = this.currentLeaderId();
    if (leaderId !== null && this.prng.chance(0.8)) return this.nodesById.get(leaderId)!;
    const live = this.nodes.filter((n) => n.isUp);
    return live.length === 0 ? null : this.prng.pick(live);
  }

  private propose(node: SimNode, count: number): boolean {
    const values = Array.from({ length: count }, () => `v${this.valueCounter++}`);
    const result = node.propose(values, this.now);
    if (this.trace.enabled) this.trace.record(this.now, `propose ${values.join(',')} at ${node.id}: ${result.ok ? 'ok ' : 'refused '}${result.detail}`);
    if (result.ok) this.stats.proposals += count;
    return result.ok;
  }

  private issueRead(node: SimNode): void {
    if (this.pendingReads.size >= PENDING_READS_MAX) return;
    const ctx = `r${this.readCounter++}`;
    // Linearizability: the read must observe every write acknowledged before it began.
    const requiredIndex = this.checkers.maxAcknowledgedIndex;
    const core = node.liveCore();
    const result = core.readIndex(ctx);
    core.checkInvariants();
    if (this.trace.enabled) this.trace.record(this.now, `read ${ctx} at ${node.id} (needs >= ${requiredIndex}): ${result.ok ? 'accepted' : result.reason}`);
    if (!result.ok) return;
    this.pendingReads.set(ctx, { nodeId: node.id, requiredIndex, issuedAtTick: this.now });
    this.stats.readsIssued++;
  }

  private onReadState(nodeId: NodeId, readState: ReadState): void {
    const pending = this.pendingReads.get(readState.requestCtx);
    if (pending === undefined || pending.nodeId !== nodeId) {
      this.checkers.fail(CheckerName.LinearizableRead, `${nodeId} answered read ${readState.requestCtx}, which it was never asked (or already answered)`);
    }
    this.pendingReads.delete(readState.requestCtx);
    this.checkers.observeReadState(nodeId, readState.requestCtx, readState.index, pending.requiredIndex);
    this.stats.readsAnswered++;
    if (this.trace.enabled) this.trace.record(this.now, `${nodeId} answered read ${readState.requestCtx} at index ${readState.index}`);
  }

  private onSoftStateChange(nodeId: NodeId): void {
    this.dropReadsOf(nodeId);
    const node = this.nodesById.get(nodeId)!;
    const faults = this.profile.faults;
    if (!this.inSafetyPhase || node.role !== 'leader') return;
    if (this.partition === null && faults.newLeaderIsolateProbability > 0 && this.prng.chance(faults.newLeaderIsolateProbability)) {
      // A leader cut off at birth keeps its no-op and any proposals to itself: durable entries of
      // a term that a majority never sees, the raw material of Raft's figure 8.
      const description = startPartition(PartitionMode.IsolateLeader, this.ids, nodeId, this.network, this.prng);
      this.partition = { mode: PartitionMode.IsolateLeader, endsAtTick: this.now + this.prng.intBetween(5, faults.partitionDurationMaxTicks + 6), description };
      this.stats.partitions++;
      this.trace.record(this.now, `new leader isolated until t=${this.partition.endsAtTick}: ${description}`);
    }
    if (faults.newLeaderCrashProbability === 0) return;
    if (this.scheduledCrashTick.has(nodeId) || !this.prng.chance(faults.newLeaderCrashProbability)) return;
    const crashAtTick = this.now + this.prng.intBetween(0, faults.newLeaderCrashDelayMaxTicks + 1);
    this.scheduledCrashTick.set(nodeId, crashAtTick);
    this.trace.record(this.now, `${nodeId} will crash at t=${crashAtTick} (new leader)`);
  }

  private dropReadsOf(nodeId: NodeId): void {
    for (const [ctx, read] of this.pendingReads) if (read.nodeId === nodeId) this.pendingReads.delete(ctx);
  }

  private transferLeadership(): void {
    const leaderId = this.currentLeaderId();
    if (leaderId === null) return;
    const target = this.prng.pick(this.ids.filter((id) => id !== leaderId));
    const core = this.nodesById.get(leaderId)!.liveCore();
    const result = core.transferLeadership(target);
    core.checkInvariants();
    if (result.ok) this.stats.transfers++;
    this.trace.record(this.now, `transfer ${leaderId} -> ${target}: ${result.ok ? 'started' : result.reason}`);
  }

  /** The live node that last reported itself leader in the highest term, as the sim saw it. */
  private currentLeaderId(): NodeId | null {
    let best: SimNode | null = null;
    for (const node of this.nodes) {
      if (node.isUp && node.role === 'leader' && (best === null || node.term > best.term)) best = node;
    }
    return best?.id ?? null;
  }

  private tickNodesAndSettle(): void {
    for (const node of this.nodes) if (node.isUp) node.tick();
    for (const message of this.network.takeDue(this.now)) {
      const node = this.nodesById.get(message.to);
      assert(node !== undefined, `message to unknown node ${message.to}`);
      if (!node.isUp) continue;
      if (this.trace.enabled) this.trace.record(this.now, `deliver ${describeMessage(message)}`);
      const core = node.liveCore();
      core.step(message);
      core.checkInvariants();
      node.drainReadies(this.env);
    }
    this.settle();
  }

  private settle(): void {
    for (let round = 0; round < SETTLE_ROUNDS_MAX; round++) {
      let moved = 0;
      for (const node of this.nodes) {
        moved += node.drainReadies(this.env);
        moved += node.completeDiskWrites(this.env);
      }
      if (moved === 0) return;
    }
    assert(false, `tick ${this.now} did not settle in ${SETTLE_ROUNDS_MAX} rounds`);
  }

  private runLivenessPhase(): void {
    this.inSafetyPhase = false;
    this.scheduledCrashTick.clear();
    this.network.heal();
    this.partition = null;
    for (const node of this.nodes) {
      node.slowDisk = false;
      if (!node.isUp) this.startNode(node);
    }
    this.trace.record(this.now, 'liveness phase: all faults healed');
    const bound = this.options.livenessTicksMax ?? livenessBoundTicks(this.profile);
    let probe: { value: string; nodeId: NodeId; index: number } | null = null;
    const startTick = this.now;
    while (this.now - startTick < bound) {
      this.advanceTick();
      this.stats.livenessTicks++;
      this.tickNodesAndSettle();
      probe = this.maintainProbe(probe);
      if (probe !== null && this.converged(probe)) {
        this.checkConvergedState();
        return;
      }
    }
    this.checkers.fail(CheckerName.Liveness, `no convergence within ${bound} ticks after healing: ${this.livenessReport(probe)}`);
  }

  /** Keeps one probe write outstanding at the current leader until some node acknowledges it. */
  private maintainProbe(
    probe: { value: string; nodeId: NodeId; index: number } | null,
  ): { value: string; nodeId: NodeId; index: number } | null {
    if (probe !== null) {
      const proposer = this.nodesById.get(probe.nodeId)!;
      const stillPending = proposer.isUp && proposer.pendingProposals.has(probe.index);
      const acknowledged = this.isAcknowledged(probe.index, probe.value);
      if (stillPending || acknowledged) return probe;
    }
    const leaderId = this.currentLeaderId();
    if (leaderId === null) return null;
    const leader = this.nodesById.get(leaderId)!;
    const value = `probe${this.valueCounter++}`;
    const result = leader.propose([value], this.now);
    this.trace.record(this.now, `probe ${value} at ${leaderId}: ${result.ok ? 'ok ' : 'refused '}${result.detail}`);
    if (!result.ok) return null;
    this.stats.proposals++;
    const entry = [...leader.pendingProposals.values()].find((p) => p.value === value)!;
    return { value, nodeId: leaderId, index: entry.index };
  }

  private isAcknowledged(index: number, value: string): boolean {
    return this.checkers.acknowledgementAt(index)?.value === value;
  }

  private converged(probe: { value: string; index: number }): boolean {
    if (!this.isAcknowledged(probe.index, probe.value)) return false;
    const leaderId = this.currentLeaderId();
    if (leaderId === null) return false;
    for (const node of this.nodes) {
      if (!node.isUp || node.pendingProposals.size > 0 || node.appliedIndex < probe.index) return false;
      const status = node.liveCore().status();
      if (status.leaderId !== leaderId) return false;
    }
    return true;
  }

  private checkConvergedState(): void {
    for (const node of this.nodes) {
      this.checkers.checkStateHoldsAcknowledged(node.id, node.appliedIndex, node.digest);
      this.checkers.checkLogHoldsAcknowledged(node.id, node.logView());
    }
  }

  private livenessReport(probe: { value: string; nodeId: NodeId; index: number } | null): string {
    const parts = [`leader=${this.currentLeaderId() ?? 'none'}`, `probe=${probe === null ? 'none' : `${probe.value}@${probe.index} via ${probe.nodeId}`}`];
    for (const node of this.nodes) {
      if (!node.isUp) {
        parts.push(`${node.id}: down`);
        continue;
      }
      const s = node.liveCore().status();
      parts.push(
        `${node.id}: ${s.role} term=${s.term} leader=${s.leaderId ?? '-'} commit=${s.commitIndex} applied=${node.appliedIndex} first=${s.firstIndex} last=${s.lastIndex} pending=${node.pendingProposals.size} queuedWrites=${node.hasQueuedWrites()}`,
      );
      for (const [peer, p] of s.progress) {
        parts.push(`  ${node.id}->${peer}: ${p.state} match=${p.match} next=${p.next} inflight=${p.inflightMsgs}/${p.inflightBytes}B active=${p.recentActive}`);
      }
    }
    return parts.join('; ');
  }
}

/** Generous but finite: several election rounds plus the time to catch a lagging node up. */
export function livenessBoundTicks(profile: SimProfile): number {
  return 30 * profile.core.electionTimeoutTicks + 300;
}

function emptyStats(): RunStats {
  return {
    ticks: 0,
    livenessTicks: 0,
    proposals: 0,
    acknowledged: 0,
    readsIssued: 0,
    readsAnswered: 0,
    leadersElected: 0,
    crashes: 0,
    partitions: 0,
    transfers: 0,
    compactions: 0,
    snapshotsInstalled: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
  };
}

export function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case 'PreVote':
    case 'Vote':
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'PreVoteResp':
    case 'VoteResp':
      return `${head}${m.reject ? ' reject' : ' grant'}`;
    case 'Append':
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} n=${m.entries.length}${m.entries.length > 0 ? ` [${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]` : ''} commit=${m.commitIndex}`;
    case 'AppendResp':
      return `${head}${m.reject ? ` reject idx=${m.index} conflict=${m.conflictIndex}/${m.conflictTerm}` : ` ok idx=${m.index}`}`;
    case 'Heartbeat':
      return `${head} commit=${m.commitIndex}${m.readCtx ? ` read=${m.readCtx}` : ''}`;
    case 'HeartbeatResp':
      return `${head}${m.readCtx ? ` read=${m.readCtx}` : ''}`;
    case 'TimeoutNow':
      return head;
    case 'Snapshot':
      return `${head} snap=${m.snapshot.index}/${m.snapshot.term} off=${m.offset} len=${m.data.byteLength}${m.done ? ' done' : ''}`;
    case 'SnapshotResp':
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.reject ? ' reject' : ''}${m.done ? ' done' : ''}`;
  }
}
