// One simulated peer: a Raft core, its "disk" (a MemoryRaftStorage that holds exactly what has
// become durable) with a FIFO queue of writes in progress, and a state machine reduced to an
// applied index and a running digest. The node follows the Ready contract in src/raft/types.ts:
// messages go out when the Ready is taken; snapshot, entries and hard state become durable when
// the simulated write completes, then onPersisted, then messagesAfterPersist. Committed entries
// are applied (then onApplied) after the write, or, when the profile says applyBeforePersist,
// as soon as the Ready is taken, which the contract allows because they are durable on a quorum
// (and on a follower already locally: checked). A crash throws away the core, the write queue and the state machine; the
// storage survives.
import { MemoryRaftStorage } from '../../../src/raft/memory-storage.js';
import type { Entry, Message, NodeId, RaftConfig, ReadState, Ready, Role } from '../../../src/raft/types.js';
import { assert } from '../../../src/util/assert.js';
import type { Prng } from '../../../src/util/prng.js';
import type { ClusterCheckers } from './checkers.js';
import type { SimCore, SimCoreFactory } from './core-port.js';
import { EMPTY_DIGEST, entryPayloadKey, nextDigest } from './digest.js';
import { overlayLogView } from './log-view.js';
import { decodeSnapshotState, encodeSnapshotState } from './snapshot-state.js';
import type { EventTrace } from './trace.js';
import { CheckerName } from './violation.js';

/** Where a node reports what it did; implemented by the simulation. */
export interface NodeEnvironment {
  readonly checkers: ClusterCheckers;
  readonly trace: EventTrace;
  /** The run's Prng (disk delays). */
  readonly prng: Prng;
  readonly nowTick: () => number;
  readonly send: (message: Message) => void;
  readonly onReadState: (nodeId: NodeId, readState: ReadState) => void;
  /** Apply committed entries when a Ready is taken rather than after its writes (see SimProfile). */
  readonly applyBeforePersist: boolean;
  /** Bite test only: send messagesAfterPersist when the Ready is taken, breaking the contract. */
  readonly answerBeforePersist: boolean;
  /** Pending reads at this node die with its leadership (types.ts: ReadIndexResult). */
  readonly onSoftStateChange: (nodeId: NodeId) => void;
}

export interface PendingProposal {
  readonly value: string;
  readonly index: number;
  readonly term: number;
  readonly proposedAtTick: number;
}

interface DiskWrite {
  readonly ready: Ready;
  readonly completeAtTick: number;
  /** Its committed entries were applied when the Ready was taken (applyBeforePersist). */
  readonly appliedEarly: boolean;
}

/** Bound on the disk queue: the core must not hand out readies faster than a slow disk allows forever. */
export const DISK_QUEUE_MAX = 10_000;
/** Bound on proposals a client keeps outstanding at one node. */
export const PENDING_PROPOSALS_MAX = 200;
/** Bound on readies taken from one core without anything else happening in between. */
const READIES_IN_A_ROW_MAX = 100_000;

const encoder = new TextEncoder();

export class SimNode {
  core: SimCore | null = null;
  readonly storage = new MemoryRaftStorage();
  // Invariant: completeAtTick never decreases along the queue (the disk is FIFO).
  private diskQueue: DiskWrite[] = [];
  // Invariant: appliedIndex >= storage snapshot index once started; digest covers [0, appliedIndex].
  appliedIndex = -1;
  digest = EMPTY_DIGEST;
  role: Role = 'follower';
  /** The core's term as of the last Ready taken (a term change always comes with a hard state). */
  term = 0;
  leaderId: NodeId | null = null;
  readonly pendingProposals = new Map<number, PendingProposal>();
  restartAtTick = -1;
  slowDisk: boolean;
  private tickCredit = 0;
  startCount = 0;
  acknowledgedCount = 0;
  snapshotsInstalled = 0;

  constructor(
    readonly id: NodeId,
    private readonly tickRate: number,
    slowDisk: boolean,
    private readonly slowDiskDelayMaxTicks: number,
  ) {
    assert(tickRate > 0, `tick rate ${tickRate} must be positive`);
    this.slowDisk = slowDisk;
  }

  get isUp(): boolean {
    return this.core !== null;
  }

  liveCore(): SimCore {
    assert(this.core !== null, `${this.id} is down`);
    return this.core;
  }

  start(config: RaftConfig, factory: SimCoreFactory, prng: Prng, env: NodeEnvironment): void {
    assert(this.core === null, `${this.id} started twice`);
    const meta = this.storage.snapshotMeta();
    if (meta === null) {
      this.appliedIndex = -1;
      this.digest = EMPTY_DIGEST;
    } else {
      const state = decodeSnapshotState(meta, this.storage.snapshotChunk(0, meta.sizeBytes).data, this.id, env.nowTick());
      this.appliedIndex = state.index;
      this.digest = state.digest;
      env.checkers.observeStateFromSnapshot(this.id, state.index, state.digest);
    }
    const hardState = this.storage.initialHardState();
    this.term = hardState.term;
    this.role = 'follower';
    this.leaderId = null;
    this.core = factory(config, this.storage, prng, this.appliedIndex);
    this.startCount++;
    this.core.checkInvariants();
  }

  /**
   * The crash interrupts the oldest queued write: its snapshot and the first `entryCount` of its
   * entries reach the disk, its hard state does not. Returns a description for the trace.
   */
  tearOldestWrite(entryCount: number, env: NodeEnvironment): string {
    const write = this.diskQueue[0];
    assert(write !== undefined, `${this.id} has no queued write to tear`);
    const ready = write.ready;
    assert(entryCount >= 0 && entryCount <= ready.entriesToPersist.length, `bad torn prefix ${entryCount}`);
    const snapshot = ready.snapshotToInstall;
    if (snapshot !== null) this.storage.installSnapshot(snapshot.meta, snapshot.data);
    const prefix = ready.entriesToPersist.slice(0, entryCount);
    this.storage.append(prefix);
    for (const entry of prefix) env.checkers.observeDurableEntry(this.id, entry, this.storage.term(entry.index - 1));
    return `tore Ready ${ready.number}: snapshot ${snapshot === null ? 'none' : snapshot.meta.index}, ${entryCount}/${ready.entriesToPersist.length} entries, no hard state`;
  }

  crash(): void {
    assert(this.core !== null, `${this.id} crashed while down`);
    this.core = null;
    this.diskQueue = [];
    this.pendingProposals.clear();
    this.tickCredit = 0;
  }

  /** Advances the node's clock by one global tick at its own (possibly skewed) rate. */
  tick(): void {
    const core = this.liveCore();
    this.tickCredit += this.tickRate;
    while (this.tickCredit >= 1) {
      this.tickCredit -= 1;
      core.tick();
      core.checkInvariants();
    }
  }

  propose(values: readonly string[], nowTick: number): { ok: boolean; detail: string } {
    const core = this.liveCore();
    if (this.pendingProposals.size + values.length > PENDING_PROPOSALS_MAX) return { ok: false, detail: 'client queue full' };
    const result = core.propose(values.map((v) => encoder.encode(v)));
    core.checkInvariants();
    if (!result.ok) return { ok: false, detail: result.reason };
    assert(
      result.lastIndex - result.firstIndex + 1 === values.length,
      `propose of ${values.length} values returned [${result.firstIndex}, ${result.lastIndex}]`,
    );
    values.forEach((value, k) => {
      const index = result.firstIndex + k;
      const earlier = this.pendingProposals.get(index);
      // An earlier proposal at this index from a lower term was truncated from this log: it is
      // dead. One from the same term would mean the core issued one (index, term) twice.
      assert(earlier === undefined || earlier.term < result.term, `${this.id} proposed twice at ${index}/${result.term}`);
      this.pendingProposals.set(index, { value, index, term: result.term, proposedAtTick: nowTick });
    });
    return { ok: true, detail: `[${result.firstIndex}..${result.lastIndex}]@${result.term}` };
  }

  /** Takes every Ready the core has; returns how many were taken. */
  drainReadies(env: NodeEnvironment): number {
    let taken = 0;
    while (this.core !== null && this.core.hasReady()) {
      this.takeReady(this.core, this.core.ready(), env);
      taken++;
      // A restarted node with a long committed log and a 1-byte maxCommittedSizePerReadyBytes
      // legitimately hands out one Ready per entry; the bound only catches a core that never stops.
      assert(taken < READIES_IN_A_ROW_MAX, `${this.id} produced ${READIES_IN_A_ROW_MAX} readies in a row`);
    }
    return taken;
  }

  /** Completes the disk writes due by nowTick, in order; returns how many completed. */
  completeDiskWrites(env: NodeEnvironment): number {
    let completed = 0;
    while (this.core !== null && this.diskQueue.length > 0 && this.diskQueue[0]!.completeAtTick <= env.nowTick()) {
      const write = this.diskQueue.shift()!;
      this.completeWrite(this.core, write.ready, write.appliedEarly, env);
      completed++;
    }
    return completed;
  }

  oldestWriteEntryCount(): number {
    return this.diskQueue[0]?.ready.entriesToPersist.length ?? 0;
  }

  hasQueuedWrites(): boolean {
    return this.diskQueue.length > 0;
  }

  /** Compacts the durable log up to the applied index; false when there is nothing to do now. */
  compact(env: NodeEnvironment): boolean {
    if (this.core === null || this.diskQueue.length > 0) return false;
    const snapshotIndex = this.storage.snapshotMeta()?.index ?? -1;
    if (this.appliedIndex <= snapshotIndex || this.appliedIndex > this.storage.lastIndex()) return false;
    const term = this.storage.term(this.appliedIndex);
    const data = encodeSnapshotState({ index: this.appliedIndex, term, digest: this.digest });
    this.storage.compact(this.appliedIndex, data);
    env.trace.record(env.nowTick(), `${this.id} compacted through ${this.appliedIndex}/${term}`);
    return true;
  }

  logView(extra: readonly Ready[] = []): ReturnType<typeof overlayLogView> {
    return overlayLogView(this.storage, [...this.diskQueue.map((w) => w.ready), ...extra]);
  }

  private takeReady(core: SimCore, ready: Ready, env: NodeEnvironment): void {
    const now = env.nowTick();
    // Read states first: they were produced while the node still led, before any step-down that
    // this same Ready reports; only reads still unanswered die with the leadership.
    for (const readState of ready.readStates) env.onReadState(this.id, readState);
    // Soft state before hard state: the change test compares with the previous Ready's term.
    if (ready.softState !== null) this.observeSoftState(ready, env);
    if (ready.hardState !== null && ready.hardState.term > this.term) this.term = ready.hardState.term;
    if (ready.committedEntries.length > 0) env.checkers.observeCommitted(this.id, this.term, ready.committedEntries);
    for (const message of ready.messages) env.send(message);
    // A deliberately broken node layer (bite test): answers before its vote and entries are durable.
    if (env.answerBeforePersist) for (const message of ready.messagesAfterPersist) env.send(message);
    core.advance(ready);
    core.checkInvariants();
    this.checkCommittedAreDurable(ready, env);
    // Early apply must not overtake a snapshot install or entries still waiting behind a write.
    const appliedEarly =
      env.applyBeforePersist && ready.snapshotToInstall === null && this.diskQueue.every((w) => w.appliedEarly);
    if (appliedEarly) this.applyCommitted(core, ready.committedEntries, env);
    const persists = ready.entriesToPersist.length > 0 || ready.hardState !== null || ready.snapshotToInstall !== null;
    const delayTicks = persists ? this.diskDelayTicks(env) : 0;
    const last = this.diskQueue[this.diskQueue.length - 1];
    const completeAtTick = Math.max(now + delayTicks, last?.completeAtTick ?? now);
    assert(this.diskQueue.length < DISK_QUEUE_MAX, `${this.id} has ${DISK_QUEUE_MAX} disk writes queued`);
    this.diskQueue.push({ ready, completeAtTick, appliedEarly });
  }

  private observeSoftState(ready: Ready, env: NodeEnvironment): void {
    const soft = ready.softState!;
    const changed = soft.role !== this.role || soft.term !== this.term || soft.leaderId !== this.leaderId;
    if (soft.term > this.term) this.term = soft.term;
    this.role = soft.role;
    this.leaderId = soft.leaderId;
    if (!changed) return;
    env.onSoftStateChange(this.id);
    if (env.trace.enabled) env.trace.record(env.nowTick(), `${this.id} is ${soft.role} of term ${soft.term} (leader ${soft.leaderId ?? '-'})`);
    if (soft.role === 'leader') env.checkers.observeLeader(this.id, soft.term, this.logView([ready]));
  }

  private diskDelayTicks(env: NodeEnvironment): number {
    const prng = env.prng;
    return this.slowDisk ? prng.intBetween(2, this.slowDiskDelayMaxTicks + 1) : prng.intBetween(0, 2);
  }

  private completeWrite(core: SimCore, ready: Ready, appliedEarly: boolean, env: NodeEnvironment): void {
    const snapshot = ready.snapshotToInstall;
    if (snapshot !== null) this.installSnapshotState(snapshot.meta, snapshot.data, env);
    this.storage.persistReady(ready);
    for (const entry of ready.entriesToPersist) {
      env.checkers.observeDurableEntry(this.id, entry, this.storage.term(entry.index - 1));
    }
    core.onPersisted(ready.number);
    core.checkInvariants();
    if (!env.answerBeforePersist) for (const message of ready.messagesAfterPersist) env.send(message);
    if (!appliedEarly) this.applyCommitted(core, ready.committedEntries, env);
  }

  /**
   * The contract (types.ts, Ready step 4): committed entries a follower hands out are already
   * durable here. A leader's may not be (it commits what a quorum holds durably, its own copy
   * counting only once durable); the acknowledged-lost checker covers those across crashes.
   */
  private checkCommittedAreDurable(ready: Ready, env: NodeEnvironment): void {
    const first = ready.committedEntries[0];
    if (first === undefined || this.role === 'leader') return;
    const last = ready.committedEntries[ready.committedEntries.length - 1]!;
    const durableLast = this.storage.lastIndex();
    const stillPending = last.index > durableLast || (last.index >= this.storage.firstIndex() && this.storage.term(last.index) !== last.term);
    if (stillPending) {
      env.checkers.fail(
        CheckerName.CoreInvariant,
        `${this.id} handed out committed ${first.index}..${last.index}/${last.term} in Ready ${ready.number}, but its durable log does not hold ${last.index}/${last.term} (it ends at ${durableLast}): the Ready contract says committed entries are durable locally`,
      );
    }
  }

  private applyCommitted(core: SimCore, entries: readonly Entry[], env: NodeEnvironment): void {
    if (entries.length === 0) return;
    for (const entry of entries) this.apply(entry, env);
    core.onApplied(this.appliedIndex);
    core.checkInvariants();
  }

  private installSnapshotState(meta: { index: number; term: number; sizeBytes: number }, data: Uint8Array, env: NodeEnvironment): void {
    const state = decodeSnapshotState(meta, data, this.id, env.nowTick());
    if (state.index <= this.appliedIndex) {
      env.checkers.fail(
        CheckerName.StateMachineSafety,
        `${this.id} was handed snapshot ${state.index}/${state.term} but has already applied through ${this.appliedIndex}`,
      );
    }
    env.checkers.observeStateFromSnapshot(this.id, state.index, state.digest);
    this.appliedIndex = state.index;
    this.digest = state.digest;
    this.snapshotsInstalled++;
    if (env.trace.enabled) env.trace.record(env.nowTick(), `${this.id} installed snapshot ${state.index}/${state.term}`);
    for (const [index, proposal] of this.pendingProposals) {
      // The client cannot tell from a snapshot whether its entry made it; it gives up on it.
      if (index <= state.index) this.pendingProposals.delete(index);
      else if (proposal.term < state.term) this.pendingProposals.delete(index);
    }
  }

  private apply(entry: Entry, env: NodeEnvironment): void {
    if (entry.index !== this.appliedIndex + 1) {
      env.checkers.fail(
        CheckerName.StateMachineSafety,
        `${this.id} was handed committed entry ${entry.index}/${entry.term} to apply after ${this.appliedIndex}`,
      );
    }
    this.digest = nextDigest(this.digest, entry);
    this.appliedIndex = entry.index;
    env.checkers.observeApplied(this.id, entry, this.digest);
    this.resolveProposals(entry, env);
  }

  /** Acknowledges the proposal at entry.index if it is this entry; drops those it supersedes. */
  private resolveProposals(entry: Entry, env: NodeEnvironment): void {
    const proposal = this.pendingProposals.get(entry.index);
    if (proposal !== undefined && proposal.term === entry.term) {
      const payloadKey = entryPayloadKey(entry);
      if (payloadKey !== `1:${proposal.value}`) {
        env.checkers.fail(
          CheckerName.LogMatching,
          `${this.id} proposed ${JSON.stringify(proposal.value)} at ${entry.index}/${entry.term} but applied ${JSON.stringify(payloadKey)} there`,
        );
      }
      this.pendingProposals.delete(entry.index);
      this.acknowledgedCount++;
      env.checkers.observeAcknowledged({ value: proposal.value, index: entry.index, term: entry.term, ackTick: env.nowTick() });
      if (env.trace.enabled) env.trace.record(env.nowTick(), `${this.id} acknowledged ${proposal.value} at ${entry.index}/${entry.term}`);
    } else if (proposal !== undefined) {
      this.pendingProposals.delete(entry.index); // another term's entry won this index
    }
    // Terms never decrease along a log, so once (index, term) is applied, no proposal of a lower
    // term at this index or above can ever commit.
    for (const [index, pending] of this.pendingProposals) {
      if (index >= entry.index && pending.term < entry.term) this.pendingProposals.delete(index);
    }
  }
}
