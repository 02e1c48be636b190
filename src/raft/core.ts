// The pure Raft core (etcd/raft shape, raft-rs numbered readies). Input: tick(), step(message),
// propose(), readIndex(), transferLeadership(); output: numbered Readies (see types.ts for the
// ordering contract). No I/O, timers, clocks or Math.random: time is ticks and randomness comes
// from the Prng passed in, so a run is reproducible from its inputs and seed.
//
// Persistence is asynchronous: the leader sends entries to followers while writing them itself,
// and counts its own copy toward a quorum only once onPersisted() says it is durable; a
// candidate likewise counts its own vote only once its term and vote are durable.
//
// This file holds roles, elections, leadership transfer, reads and the Ready cycle; replication
// lives in leader-replication.ts (created on becoming leader) and follower-replication.ts.
import { assert, unreachable } from '../util/assert.js';
import type { Prng } from '../util/prng.js';
import { validateRaftConfig } from './config.js';
import { RaftLog } from './log.js';
import { LeaderReplication } from './leader-replication.js';
import { invalidMessageReason } from './message-validation.js';
import { CommittedEntryConflictError } from './committed-conflict.js';
import { quorumSize, voteOutcome } from './quorum.js';
import { ReadOnlyQueue } from './read-only.js';
import { FollowerReplication } from './follower-replication.js';
import { leaseDurationTicks, leaseStartTick } from './lease.js';
import { SILENT_LOGGER, type RaftLogger } from './logger.js';
import {
  EntryType,
  ProgressState,
  Role,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type PeerProgressStatus,
  type ProposeResult,
  type RaftConfig,
  type RaftStatus,
  type RaftStorage,
  type ReadIndexResult,
  type ReadState,
  type Ready,
  type SoftState,
  type TransferResult,
} from './types.js';

type CampaignKind = 'pre-election' | 'election' | 'transfer';

type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

/** What one Ready asked to persist, kept until onPersisted() covers its number. */
interface PersistRecord {
  readonly readyNumber: number;
  readonly lastEntry: { readonly index: number; readonly term: number } | null;
  readonly snapshotIndex: number | null;
}

export class RaftCore {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly voters: readonly NodeId[];
  private readonly log: RaftLog;
  private readonly logger: RaftLogger;
  private readonly prng: Prng;

  // Invariant: term >= the term of every entry in the log.
  private term: number;
  // Invariant: a candidate or leader has votedFor === id.
  private votedFor: NodeId | null;
  private leaderId: NodeId | null = null;
  private role: Role = Role.Follower;

  /** Ticks since the last valid leader contact (follower) or since the last check-quorum (leader). */
  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  // Invariant: in [electionTimeoutTicks, 2 * electionTimeoutTicks).
  private randomizedElectionTimeoutTicks: number;
  /** Ticks since this core was created: the leader's clock for leases. */
  private localTick = 0;
  /** With lease reads, a restarted node keeps the lease it may have promised before the crash. */
  private startupLeaseTicksLeft: number;

  // Invariant: non-null exactly when role is leader.
  private leader: LeaderReplication | null = null;
  private votes = new Map<NodeId, boolean>();
  /** Set while a candidate waits for its own term/vote to become durable before counting itself. */
  private selfVoteReadyNumber: number | null = null;
  private selfVoteAwaitingReady = false;

  // Invariant: non-null only on a leader.
  private leadTransferee: NodeId | null = null;
  private transferElapsedTicks = 0;
  /** A TimeoutNow went out this term: its campaign ignores leases, so we hold none until the term ends. */
  private timeoutNowSentThisTerm = false;

  private readonly readOnly = new ReadOnlyQueue();
  /** Reads asked before this leader committed an entry of its term: served once it has. */
  private deferredReadCtxs: string[] = [];
  private readStates: ReadState[] = [];
  // Invariant: >= 0; bytes of Normal entries proposed by this leader and not yet handed to apply.
  private uncommittedSizeBytes = 0;

  private messages: Message[] = [];
  private messagesAfterPersist: Message[] = [];
  private readonly follower: FollowerReplication;
  /** Set once a leader's message proved our committed log wrong: every later input rethrows it. */
  private halted: CommittedEntryConflictError | null = null;
  /** Members whose impossible acknowledgement (past our last index) this leadership already reported. */
  private impossibleAckReported = new Set<NodeId>();

  private lastReadyNumber = 0;
  /** The Ready handed out and not yet advance()d, if any. */
  private awaitingAdvance: number | null = null;
  private persistedReadyNumber = 0;
  private persistRecords: PersistRecord[] = [];
  private lastHandedHardState: HardState;
  private lastHandedSoftState: SoftState;

  constructor(config: RaftConfig, storage: RaftStorage, prng: Prng, logger: RaftLogger = SILENT_LOGGER) {
    validateRaftConfig(config);
    this.config = config;
    this.prng = prng;
    this.id = config.selfId;
    this.voters = [...config.peerIds];
    this.logger = logger;
    const hardState = storage.initialHardState();
    this.log = new RaftLog(storage, hardState.commitIndex, config.appliedIndex ?? -1);
    this.follower = new FollowerReplication(this.id, this.log, logger);
    this.term = hardState.term;
    this.votedFor = hardState.votedFor;
    // Entries are persisted before the hard state of the same Ready: a crash in between leaves a
    // log entry newer than the stored term. That term's vote was never sent (votes go out after
    // persistence), so adopting the term with no vote is safe.
    const lastTerm = this.log.lastTerm();
    if (lastTerm > this.term) {
      this.term = lastTerm;
      this.votedFor = null;
    }
    this.randomizedElectionTimeoutTicks = this.randomElectionTimeout();
    this.startupLeaseTicksLeft = config.leaseReads ? config.electionTimeoutTicks : 0;
    this.lastHandedHardState = hardState;
    this.lastHandedSoftState = this.softState();
  }

  // ------------------------------------------------------------------ inputs

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.halted !== null) throw this.halted;
    this.localTick++;
    if (this.startupLeaseTicksLeft > 0) this.startupLeaseTicksLeft--;
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
  }

  /** Starts an election now (as if the election timeout fired). */
  campaign(): void {
    if (this.role === Role.Leader) return;
    this.campaignFor(this.config.preVote ? 'pre-election' : 'election');
  }

  /**
   * Throws CommittedEntryConflictError (and from then on on every step() and tick()) when a
   * leader's message shows an entry we committed is not in its log; see committed-conflict.ts.
   */
  step(m: Message): void {
    if (this.halted !== null) throw this.halted;
    try {
      this.stepUnchecked(m);
    } catch (error) {
      if (error instanceof CommittedEntryConflictError) this.halted = error;
      throw error;
    }
  }

  private stepUnchecked(m: Message): void {
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    if (m.from === this.id || !this.voters.includes(m.from)) {
      this.logger.info(`${this.id} ignored ${m.type} from unknown peer ${m.from}`);
      return;
    }
    const invalid = invalidMessageReason(m);
    if (invalid !== null) {
      this.logger.info(`${this.id} dropped malformed ${m.type} from ${m.from}: ${invalid}`);
      return;
    }
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    switch (m.type) {
      case 'PreVote':
      case 'Vote':
        this.handleVoteRequest(m);
        return;
      default:
        break;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        return;
      case Role.PreCandidate:
      case Role.Candidate:
        this.stepCandidate(m);
        return;
      case Role.Follower:
        this.stepFollower(m);
        return;
      default:
        unreachable(this.role);
    }
  }

  /** Appends bodies as Normal entries if this node leads and may accept them. */
  propose(bodies: readonly Uint8Array[]): ProposeResult {
    assert(bodies.length > 0, 'propose() with no bodies');
    if (this.role !== Role.Leader) return { ok: false, reason: 'not-leader', leaderId: this.leaderId };
    if (this.leadTransferee !== null) {
      return { ok: false, reason: 'transfer-in-progress', leaderId: this.leaderId };
    }
    let sizeBytes = 0;
    for (const body of bodies) {
      if (body.byteLength > this.config.maxSizePerMsgBytes) {
        return { ok: false, reason: 'entry-too-large', leaderId: this.leaderId };
      }
      sizeBytes += body.byteLength;
    }
    // One batch may always go in when nothing is uncommitted, however large (as etcd).
    if (this.uncommittedSizeBytes > 0 && this.uncommittedSizeBytes + sizeBytes > this.config.maxUncommittedEntriesBytes) {
      return { ok: false, reason: 'too-many-uncommitted-bytes', leaderId: this.leaderId };
    }
    const firstIndex = this.log.lastIndex() + 1;
    const entries: Entry[] = bodies.map((data, i) => ({ index: firstIndex + i, term: this.term, type: EntryType.Normal, data }));
    const leader = this.leaderSide();
    leader.appendEntries(entries);
    this.uncommittedSizeBytes += sizeBytes;
    leader.broadcastAppend();
    return { ok: true, firstIndex, lastIndex: firstIndex + entries.length - 1, term: this.term };
  }

  /**
   * Asks for a linearizable read point. Only the leader serves them: a follower answers
   * 'not-leader' with the leader it knows, and the node forwards the request there.
   */
  readIndex(requestCtx: string): ReadIndexResult {
    assert(requestCtx !== '', "read ctx '' is reserved for heartbeats without a read");
    if (this.role !== Role.Leader) return { ok: false, reason: 'not-leader', leaderId: this.leaderId };
    if (this.readOnly.size() + this.deferredReadCtxs.length >= this.config.maxPendingReadIndexRequests) {
      return { ok: false, reason: 'read-queue-full', leaderId: this.id };
    }
    assert(!this.readOnly.has(requestCtx) && !this.deferredReadCtxs.includes(requestCtx), `read ctx ${requestCtx} already pending`);
    if (!this.committedInCurrentTerm()) {
      // Our commit index may lag the previous leader's until our no-op commits (Raft §8).
      this.deferredReadCtxs.push(requestCtx);
      return { ok: true };
    }
    this.serveRead(requestCtx);
    return { ok: true };
  }

  /** Hands leadership to `to` once it is caught up (TimeoutNow); proposals wait meanwhile. */
  transferLeadership(to: NodeId): TransferResult {
    if (this.role !== Role.Leader) return { ok: false, reason: 'not-leader', leaderId: this.leaderId };
    if (!this.voters.includes(to)) return { ok: false, reason: 'unknown-peer', leaderId: this.id };
    if (to === this.id) return { ok: true };
    if (this.leadTransferee === to) return { ok: true };
    const leader = this.leaderSide();
    const pr = leader.progressOf(to);
    if (pr.state === ProgressState.Snapshot) {
      // Needs a whole snapshot first; it could not catch up within the transfer timeout.
      return { ok: false, reason: 'target-not-eligible', leaderId: this.id };
    }
    if (this.leadTransferee !== null) this.abortTransfer(`superseded by transfer to ${to}`);
    this.leadTransferee = to;
    this.transferElapsedTicks = 0;
    this.logger.info(`${this.id} starts leadership transfer to ${to} at term ${this.term}`);
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else leader.sendAppend(to, true);
    return { ok: true };
  }

  // ------------------------------------------------------------------ Ready cycle

  /** True when ready() has something to hand out; false while the last Ready awaits advance(). */
  hasReady(): boolean {
    if (this.awaitingAdvance !== null) return false;
    if (!softStateEqual(this.softState(), this.lastHandedSoftState)) return true;
    if (!hardStateEqual(this.hardState(), this.lastHandedHardState)) return true;
    if (this.log.unstable.nextSnapshot() !== null) return true;
    if (this.log.unstable.offsetInProgress < this.log.unstable.offset + this.log.unstable.entries.length) return true;
    if (this.messages.length > 0 || this.messagesAfterPersist.length > 0 || this.readStates.length > 0) return true;
    return this.applyableIndex() > this.log.applyingIndex;
  }

  /** Takes everything pending into a numbered Ready; call advance(ready) before the next one. */
  ready(): Ready {
    assert(this.awaitingAdvance === null, `ready() before advance() of Ready ${String(this.awaitingAdvance)}`);
    const number = ++this.lastReadyNumber;
    const softState = this.softState();
    const hardState = this.hardState();
    const softChanged = !softStateEqual(softState, this.lastHandedSoftState);
    const hardChanged = !hardStateEqual(hardState, this.lastHandedHardState);
    const termOrVoteChanged =
      hardState.term !== this.lastHandedHardState.term || hardState.votedFor !== this.lastHandedHardState.votedFor;
    const unstable = this.log.unstable;
    const snapshot = unstable.nextSnapshot();
    const entriesToPersist = unstable.nextEntries();
    const committedEntries = this.takeCommittedEntries();
    if (snapshot !== null) this.log.applyingIndex = Math.max(this.log.applyingIndex, snapshot.meta.index);

    const lastEntry = entriesToPersist[entriesToPersist.length - 1];
    if (lastEntry !== undefined || snapshot !== null) {
      this.persistRecords.push({
        readyNumber: number,
        lastEntry: lastEntry === undefined ? null : { index: lastEntry.index, term: lastEntry.term },
        snapshotIndex: snapshot?.meta.index ?? null,
      });
    }
    if (this.selfVoteAwaitingReady && hardChanged) {
      this.selfVoteReadyNumber = number;
      this.selfVoteAwaitingReady = false;
    }
    unstable.acceptInProgress();
    const ready: Ready = {
      number,
      softState: softChanged ? softState : null,
      hardState: hardChanged ? hardState : null,
      entriesToPersist,
      snapshotToInstall: snapshot === null ? null : { meta: snapshot.meta, data: snapshot.data },
      messages: this.messages,
      messagesAfterPersist: this.messagesAfterPersist,
      committedEntries,
      readStates: this.readStates,
      mustSync: entriesToPersist.length > 0 || snapshot !== null || termOrVoteChanged,
    };
    this.messages = [];
    this.messagesAfterPersist = [];
    this.readStates = [];
    this.lastHandedSoftState = softState;
    this.lastHandedHardState = hardState;
    this.awaitingAdvance = number;
    return ready;
  }

  /** The node has taken `ready` (persisting it may still be under way). */
  advance(ready: Ready): void {
    assert(this.awaitingAdvance === ready.number, `advance(${ready.number}) but Ready ${String(this.awaitingAdvance)} is out`);
    this.awaitingAdvance = null;
  }

  /** Readies up to and including `readyNumber` are durable (readies persist in order). */
  onPersisted(readyNumber: number): void {
    assert(readyNumber <= this.lastReadyNumber, `onPersisted(${readyNumber}) but only ${this.lastReadyNumber} readies exist`);
    if (readyNumber <= this.persistedReadyNumber) return;
    this.persistedReadyNumber = readyNumber;
    while (this.persistRecords.length > 0 && (this.persistRecords[0] as PersistRecord).readyNumber <= readyNumber) {
      const record = this.persistRecords.shift() as PersistRecord;
      if (record.snapshotIndex !== null) {
        this.log.unstable.stableSnapshotTo(record.snapshotIndex);
        // Installing the snapshot restored the state machine to it.
        this.log.appliedIndex = Math.max(this.log.appliedIndex, Math.min(record.snapshotIndex, this.log.applyingIndex));
      }
      if (record.lastEntry !== null) this.log.unstable.stableTo(record.lastEntry.index, record.lastEntry.term);
    }
    if (this.selfVoteReadyNumber !== null && readyNumber >= this.selfVoteReadyNumber) {
      this.selfVoteReadyNumber = null;
      if (this.role === Role.Candidate) this.recordVote(this.id, true);
    }
    this.leader?.onSelfPersisted();
  }

  /** The node applied committed entries up to `index`. */
  onApplied(index: number): void {
    assert(index <= this.log.applyingIndex, `onApplied(${index}) past what was handed out (${this.log.applyingIndex})`);
    this.log.appliedIndex = Math.max(this.log.appliedIndex, index);
  }

  // ------------------------------------------------------------------ inspection

  status(): RaftStatus {
    const progress = new Map<NodeId, PeerProgressStatus>();
    for (const [id, pr] of this.leader?.progress ?? []) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        inflightMsgs: pr.inflights.count(),
        inflightBytes: pr.inflights.bytes(),
        recentActive: pr.recentActive,
      });
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      votedFor: this.votedFor,
      leaderId: this.leaderId,
      commitIndex: this.log.commitIndex,
      appliedIndex: this.log.appliedIndex,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      firstIndex: this.log.firstIndex(),
      leadTransferee: this.leadTransferee,
      electionElapsedTicks: this.electionElapsedTicks,
      electionDueTicks: this.role === Role.Leader ? this.config.electionTimeoutTicks : this.randomizedElectionTimeoutTicks,
      progress,
    };
  }

  /**
   * The highest index the node may compact into a snapshot now: what it has applied, and on a
   * leader no further than the slowest recently active follower's match, so that followers which
   * are merely a little behind catch up from the log rather than by a whole snapshot. (A
   * follower that is down does not hold compaction back; it gets a snapshot when it returns.)
   */
  compactableIndex(): number {
    let index = this.log.appliedIndex;
    if (this.role === Role.Leader) {
      for (const [id, pr] of this.leaderSide().progress) {
        if (id !== this.id && pr.recentActive) index = Math.min(index, pr.match);
      }
    }
    return Math.max(index, this.log.firstIndex() - 1);
  }

  /** Entries [lo, hiExclusive) of this node's log (persisted or not); for tests and the node. */
  logEntries(lo: number, hiExclusive: number): Entry[] {
    return this.log.entries(lo, hiExclusive, Number.MAX_SAFE_INTEGER) ?? [];
  }

  /** Throws AssertionError if a local invariant is broken; tests call it after every input. */
  checkInvariants(): void {
    this.log.checkInvariants();
    const lastIndex = this.log.lastIndex();
    assert(this.term >= this.log.lastTerm(), `${this.id}: term ${this.term} < last log term ${this.log.lastTerm()}`);
    assert(this.uncommittedSizeBytes >= 0, `${this.id}: negative uncommitted size`);
    assert(
      this.electionElapsedTicks >= 0 && this.randomizedElectionTimeoutTicks >= this.config.electionTimeoutTicks,
      `${this.id}: bad election timer`,
    );
    assert(this.randomizedElectionTimeoutTicks < 2 * this.config.electionTimeoutTicks, `${this.id}: timeout too long`);
    if (this.role === Role.Leader) {
      assert(this.leaderId === this.id, `${this.id}: leader with leaderId ${String(this.leaderId)}`);
      assert(this.votedFor === this.id, `${this.id}: leader voted for ${String(this.votedFor)}`);
      const progress = this.leaderSide().progress;
      assert(progress.size === this.voters.length, `${this.id}: progress for ${progress.size} voters`);
      for (const [id, pr] of progress) pr.checkInvariants(`${this.id}->${id}`, lastIndex);
      const self = this.leaderSide().progressOf(this.id);
      assert(self.match <= this.log.persistedIndex(), `${this.id}: self match ${self.match} > persisted ${this.log.persistedIndex()}`);
    } else {
      assert(this.leader === null, `${this.id}: ${this.role} keeps leader progress`);
      assert(this.leadTransferee === null, `${this.id}: ${this.role} with a transfer`);
      assert(this.readOnly.size() === 0 && this.deferredReadCtxs.length === 0, `${this.id}: ${this.role} with pending reads`);
    }
    if (this.role === Role.Candidate) assert(this.votedFor === this.id, `${this.id}: candidate voted for ${String(this.votedFor)}`);
    assert(
      this.readOnly.size() + this.deferredReadCtxs.length <= this.config.maxPendingReadIndexRequests,
      `${this.id}: read queue over its bound`,
    );
  }

  // ------------------------------------------------------------------ timers

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      this.campaign();
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.config.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      if (this.config.checkQuorum) {
        if (!this.leaderSide().quorumActive()) {
          this.logger.info(`${this.id} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, null);
          return;
        }
        this.leaderSide().resetRecentActive();
      }
    }
    if (this.leadTransferee !== null) {
      this.transferElapsedTicks++;
      if (this.transferElapsedTicks >= this.config.transferTimeoutTicks) this.abortTransfer('timed out');
    }
    if (this.heartbeatElapsedTicks >= this.config.heartbeatTimeoutTicks) {
      this.heartbeatElapsedTicks = 0;
      this.leaderSide().broadcastHeartbeat(this.readOnly.lastCtx());
      this.maybeTransferToPreferred();
    }
  }

  // ------------------------------------------------------------------ role changes

  private resetForTerm(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.votedFor = null;
    }
    this.leaderId = null;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.randomizedElectionTimeoutTicks = this.randomElectionTimeout();
    this.votes.clear();
    this.leader = null;
    this.impossibleAckReported.clear();
    this.leadTransferee = null;
    this.transferElapsedTicks = 0;
    this.timeoutNowSentThisTerm = false;
    this.readOnly.clear();
    this.deferredReadCtxs = [];
    this.uncommittedSizeBytes = 0;
    this.selfVoteAwaitingReady = false;
    this.selfVoteReadyNumber = null;
  }

  private becomeFollower(term: number, leaderId: NodeId | null): void {
    this.resetForTerm(term);
    this.role = Role.Follower;
    this.leaderId = leaderId;
    this.logger.info(`${this.id} became follower at term ${this.term}${leaderId === null ? '' : ` (leader ${leaderId})`}`);
  }

  private becomePreCandidate(): void {
    assert(this.role !== Role.Leader, 'leader cannot become pre-candidate');
    // The term does not change: a pre-election that fails disturbs nobody.
    this.role = Role.PreCandidate;
    this.leaderId = null;
    this.votes.clear();
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`);
  }

  private becomeCandidate(): void {
    assert(this.role !== Role.Leader, 'leader cannot become candidate');
    this.resetForTerm(this.term + 1);
    this.role = Role.Candidate;
    this.votedFor = this.id;
    // Our own vote counts once the Ready carrying it is durable (onPersisted).
    this.selfVoteAwaitingReady = true;
    this.logger.info(`${this.id} became candidate at term ${this.term}`);
  }

  private becomeLeader(): void {
    assert(this.role === Role.Candidate, `${this.role} cannot become leader`);
    const term = this.term;
    const votedFor = this.votedFor;
    this.resetForTerm(term);
    this.votedFor = votedFor;
    this.role = Role.Leader;
    this.leaderId = this.id;
    const leader = new LeaderReplication(
      this.id,
      this.term,
      this.voters,
      this.log,
      this.config,
      this.logger,
      (message) => this.messages.push(message),
      () => this.localTick,
      {
        onMatchAdvanced: (id, match) => this.onMatchAdvanced(id, match),
        onCommitted: () => this.onCommitted(),
        onReadCtxAnswered: (id, readCtx) => this.onReadCtxAnswered(id, readCtx),
      },
    );
    this.leader = leader;
    this.logger.info(`${this.id} became leader at term ${this.term}`);
    // A no-op of our term lets earlier entries commit without waiting for a client write (§5.4.2).
    const lastIndex = this.log.lastIndex();
    leader.appendEntries([{ index: lastIndex + 1, term: this.term, type: EntryType.Noop, data: new Uint8Array(0) }]);
    leader.broadcastAppend();
  }

  private campaignFor(kind: CampaignKind): void {
    let voteTerm: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      this.votes.set(this.id, true);
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    const type = kind === 'pre-election' ? 'PreVote' : 'Vote';
    for (const to of this.voters) {
      if (to === this.id) continue;
      this.messages.push({
        type,
        from: this.id,
        to,
        term: voteTerm,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer: kind === 'transfer',
      });
    }
    this.logger.info(
      `${this.id} sent ${type} requests at term ${voteTerm} [last log (${this.log.lastIndex()},${this.log.lastTerm()})]${kind === 'transfer' ? ' (transfer)' : ''}`,
    );
    if (kind === 'pre-election') this.tallyVotes();
  }

  private recordVote(from: NodeId, granted: boolean): void {
    if (this.votes.has(from)) return;
    this.votes.set(from, granted);
    this.tallyVotes();
  }

  private tallyVotes(): void {
    const outcome = voteOutcome(this.voters, this.votes);
    if (outcome === 'won') {
      if (this.role === Role.PreCandidate) this.campaignFor('election');
      else if (this.role === Role.Candidate) this.becomeLeader();
    } else if (outcome === 'lost') {
      this.logger.info(`${this.id} lost the ${this.role === Role.PreCandidate ? 'pre-election' : 'election'} at term ${this.term}`);
      this.becomeFollower(this.term, null);
    }
  }

  // ------------------------------------------------------------------ message handling

  /** Returns false when the message is to be dropped. */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === 'PreVote' || m.type === 'Vote') {
      // A follower that hears from a live leader does not help depose it (Raft thesis §4.2.3),
      // unless the leader itself asked for the election (TimeoutNow).
      const inLease =
        this.config.checkQuorum && this.leaderId !== null && this.electionElapsedTicks < this.config.electionTimeoutTicks;
      if (!m.transfer && (inLease || this.startupLeaseTicksLeft > 0)) {
        const why = inLease
          ? `leader ${String(this.leaderId)} lease not expired`
          : 'startup lease (this node may have promised one before it restarted)';
        this.logger.info(`${this.id} ignored ${m.type} from ${m.from} at term ${m.term}: ${why}`);
        return false;
      }
    }
    if (m.type === 'PreVote') return true; // a pre-vote does not change our term
    if (m.type === 'PreVoteResp' && !m.reject) return true; // granted for the term we would campaign in
    const fromLeader = m.type === 'Append' || m.type === 'Heartbeat' || m.type === 'Snapshot';
    this.logger.info(`${this.id} received ${m.type} from ${m.from} with higher term ${m.term} (ours ${this.term})`);
    this.becomeFollower(m.term, fromLeader ? m.from : null);
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'Append' || m.type === 'Heartbeat')) {
      // A leader of an older term may be cut off from the newer one; tell it our term so it
      // steps down (with pre-vote/check-quorum nothing else would).
      this.messages.push({
        type: 'AppendResp',
        from: this.id,
        to: m.from,
        term: this.term,
        reject: true,
        index: m.type === 'Append' ? m.prevLogIndex : -1,
        conflictTerm: 0,
        conflictIndex: 0,
      });
    } else if (m.type === 'PreVote') {
      this.messages.push({ type: 'PreVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private handleVoteRequest(m: MessageOf<'PreVote' | 'Vote'>): void {
    const canVote =
      this.votedFor === m.from ||
      (this.votedFor === null && this.leaderId === null) ||
      (m.type === 'PreVote' && m.term > this.term);
    const logOk =
      this.config.testingBugs?.grantVoteWithoutLogCheck === true || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    const respType = m.type === 'PreVote' ? 'PreVoteResp' : 'VoteResp';
    const ours = `[last log (${this.log.lastIndex()},${this.log.lastTerm()})]`;
    const theirs = `[last log (${m.lastLogIndex},${m.lastLogTerm})]`;
    if (canVote && logOk) {
      this.logger.info(`${this.id} ${ours} granted ${m.type} to ${m.from} ${theirs} at term ${m.term}`);
      // Persist-before-answer: the grant (and for Vote, the recorded vote) go out after the Ready.
      this.messagesAfterPersist.push({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'Vote') {
        this.electionElapsedTicks = 0;
        this.votedFor = m.from;
      }
    } else {
      const why = canVote ? 'log not up to date' : `already voted for ${String(this.votedFor)} / leader ${String(this.leaderId)}`;
      this.logger.info(`${this.id} ${ours} rejected ${m.type} from ${m.from} ${theirs} at term ${this.term}: ${why}`);
      this.messagesAfterPersist.push({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      // Answers wait for persistence: they acknowledge what this Ready writes.
      case 'Append':
        this.hearFromLeader(m.from);
        this.messagesAfterPersist.push(this.follower.handleAppend(m, this.term));
        return;
      case 'Heartbeat':
        this.hearFromLeader(m.from);
        this.messagesAfterPersist.push(this.follower.handleHeartbeat(m, this.term));
        return;
      case 'Snapshot':
        this.hearFromLeader(m.from);
        this.messagesAfterPersist.push(this.follower.handleSnapshot(m, this.term));
        return;
      case 'TimeoutNow':
        this.logger.info(`${this.id} received TimeoutNow from ${m.from}: campaigning for leadership transfer`);
        this.campaignFor('transfer');
        return;
      default:
        // Stale responses from when we led or campaigned: nothing to do.
        return;
    }
  }

  private hearFromLeader(from: NodeId): void {
    this.electionElapsedTicks = 0;
    this.leaderId = from;
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'Append':
      case 'Heartbeat':
      case 'Snapshot':
        // A leader exists at our term (a candidate's term is never a leader's unless it won).
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case 'PreVoteResp':
        if (this.role === Role.PreCandidate) this.recordVoteResponse(m);
        return;
      case 'VoteResp':
        if (this.role === Role.Candidate) this.recordVoteResponse(m);
        return;
      default:
        return;
    }
  }

  private recordVoteResponse(m: MessageOf<'PreVoteResp' | 'VoteResp'>): void {
    this.logger.info(`${this.id} received ${m.type} from ${m.from} at term ${m.term}: ${m.reject ? 'rejected' : 'granted'}`);
    this.recordVote(m.from, !m.reject);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'AppendResp':
        if (!m.reject && m.index > this.log.lastIndex()) {
          this.reportImpossibleAck(m);
          return;
        }
        this.leaderSide().handleAppendResponse(m);
        return;
      case 'HeartbeatResp':
        this.leaderSide().handleHeartbeatResponse(m);
        return;
      case 'SnapshotResp':
        this.leaderSide().handleSnapshotResponse(m);
        return;
      case 'Append':
      case 'Heartbeat':
      case 'Snapshot':
        // Two leaders in one term would break election safety.
        assert(false, `${this.id} leads term ${this.term} but got ${m.type} from ${m.from} at the same term`);
        return;
      default:
        return;
    }
  }

  /**
   * A member of our term acknowledged an index past our last one. Its answers only echo our own
   * Appends or its commit index, which Leader Completeness keeps within our log: it holds
   * committed entries we lack (acknowledged entries were lost somewhere; chaos F5). Dropped, so
   * its progress stays within our log; reported once per member and leadership, since the node
   * keeps serving the majority (the member itself stops once our Appends reach its conflict).
   */
  private reportImpossibleAck(m: MessageOf<'AppendResp'>): void {
    if (this.impossibleAckReported.has(m.from)) return;
    this.impossibleAckReported.add(m.from);
    this.logger.info(
      `ERROR: ${this.id} leads term ${this.term} with last index ${this.log.lastIndex()} but ${m.from} acknowledged index ${m.index}: ` +
        `${m.from} holds entries this log lacks (a member lost acknowledged entries, e.g. a power loss under flush async); ${m.from} must be rebuilt from a peer`,
    );
  }

  private leaderSide(): LeaderReplication {
    assert(this.leader !== null, `${this.id} is ${this.role}, not leader`);
    return this.leader;
  }

  private onMatchAdvanced(id: NodeId, match: number): void {
    if (id === this.leadTransferee && match === this.log.lastIndex()) {
      this.logger.info(`${this.id} sends TimeoutNow to ${id}: it has caught up to ${match}`);
      this.sendTimeoutNow(id);
    }
  }

  private onCommitted(): void {
    if (this.committedInCurrentTerm() && this.deferredReadCtxs.length > 0) {
      const deferred = this.deferredReadCtxs;
      this.deferredReadCtxs = [];
      for (const ctx of deferred) this.serveRead(ctx);
    }
  }

  private onReadCtxAnswered(id: NodeId, readCtx: string): void {
    const acks = this.readOnly.recordAck(id, readCtx);
    if (acks >= quorumSize(this.voters.length)) this.readStates.push(...this.readOnly.releaseThrough(readCtx));
  }

  private sendTimeoutNow(to: NodeId): void {
    this.messages.push({ type: 'TimeoutNow', from: this.id, to, term: this.term });
    this.timeoutNowSentThisTerm = true;
  }

  private abortTransfer(why: string): void {
    this.logger.info(`${this.id} aborted leadership transfer to ${String(this.leadTransferee)}: ${why}`);
    this.leadTransferee = null;
    this.transferElapsedTicks = 0;
  }

  private maybeTransferToPreferred(): void {
    const preferred = this.config.preferredLeaderIds;
    if (preferred.length === 0 || preferred.includes(this.id) || this.leadTransferee !== null) return;
    const lastIndex = this.log.lastIndex();
    for (const id of preferred) {
      const pr = this.leaderSide().progressOf(id);
      if (pr.recentActive && pr.match === lastIndex) {
        this.logger.info(`${this.id} is not a preferred leader; handing over to caught-up preferred ${id}`);
        this.transferLeadership(id);
        return;
      }
    }
  }

  // ------------------------------------------------------------------ reads

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.commitIndex) === this.term;
  }

  private serveRead(ctx: string): void {
    if (this.voters.length === 1 || this.holdsLease()) {
      this.readStates.push({ requestCtx: ctx, index: this.log.commitIndex });
      return;
    }
    this.readOnly.add(ctx, this.log.commitIndex, this.id);
    this.leaderSide().broadcastHeartbeat(ctx);
  }

  /**
   * Lease reads (see lease.ts for the clock-drift assumption). A transfer deliberately breaks
   * the followers' promise (TimeoutNow campaigns ignore leases, and a delayed one may still win
   * after the transfer was abandoned), so no lease is held during one, nor for the rest of a
   * term in which a TimeoutNow was sent.
   */
  private holdsLease(): boolean {
    if (!this.config.leaseReads || this.leadTransferee !== null || this.timeoutNowSentThisTerm) return false;
    const answered = this.voters.map((id) =>
      id === this.id ? this.localTick : this.leaderSide().progressOf(id).lastHeartbeatAckSentAtTick,
    );
    const leaseStart = leaseStartTick(answered, quorumSize(this.voters.length));
    return leaseStart >= 0 && this.localTick < leaseStart + leaseDurationTicks(this.config.electionTimeoutTicks);
  }

  // ------------------------------------------------------------------ helpers

  /** Hands out committed, locally persisted entries not yet given to apply, within the byte budget. */
  private takeCommittedEntries(): Entry[] {
    const hi = this.applyableIndex();
    if (hi <= this.log.applyingIndex) return [];
    const entries = this.log.entries(this.log.applyingIndex + 1, hi + 1, this.config.maxCommittedSizePerReadyBytes);
    assert(entries !== null && entries.length > 0, `committed entries from ${this.log.applyingIndex + 1} unavailable`);
    this.log.applyingIndex = (entries[entries.length - 1] as Entry).index;
    if (this.role === Role.Leader) {
      let bytes = 0;
      for (const entry of entries) if (entry.type === EntryType.Normal && entry.term === this.term) bytes += entry.data.byteLength;
      this.uncommittedSizeBytes = Math.max(0, this.uncommittedSizeBytes - bytes);
    }
    return entries;
  }

  private applyableIndex(): number {
    if (this.log.unstable.snapshot !== null) return this.log.applyingIndex;
    // A leader's commit index counts its own copy only once durable, so what it commits is durable
    // on a quorum even when its own write is still in flight: it applies (and acknowledges) then
    // (Raft thesis §10.2.1). A crash that loses its unflushed tail loses nothing acknowledged.
    if (this.role === Role.Leader) return this.log.commitIndex;
    return Math.min(this.log.commitIndex, this.log.persistedIndex());
  }

  private randomElectionTimeout(): number {
    const base = this.config.electionTimeoutTicks;
    return this.prng.intBetween(base, 2 * base);
  }

  private softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId, term: this.term };
  }

  private hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leaderId === b.leaderId && a.term === b.term;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}
