// The leader's side of replication: per-follower progress and flow control (probe, replicate,
// snapshot), Appends and heartbeats, fast backup on rejection, chunked snapshot sending, and
// the commit rule. Created when a node becomes leader and dropped when it stops leading; the
// core keeps elections, transfers and reads, and hears back through LeaderHooks.
import { assert } from '../util/assert.js';
import type { RaftLog } from './log.js';
import type { RaftLogger } from './logger.js';
import { Progress } from './progress.js';
import { committedIndex, quorumSize } from './quorum.js';
import { ProgressState, type Entry, type Message, type NodeId, type RaftConfig } from './types.js';

type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

/** What the leader side reports back to the core. */
export interface LeaderHooks {
  /** A follower's match advanced (a transfer waits for its target to reach the last index). */
  onMatchAdvanced(id: NodeId, match: number): void;
  /** The commit index advanced (deferred reads may now be served). */
  onCommitted(): void;
  /** A follower answered a heartbeat carrying a ReadIndex ctx. */
  onReadCtxAnswered(id: NodeId, readCtx: string): void;
}

export class LeaderReplication {
  // Invariant: one entry per voter, self included; the self entry's match is what is durable locally.
  readonly progress = new Map<NodeId, Progress>();

  constructor(
    private readonly id: NodeId,
    private readonly term: number,
    private readonly voters: readonly NodeId[],
    private readonly log: RaftLog,
    private readonly config: RaftConfig,
    private readonly logger: RaftLogger,
    private readonly send: (message: Message) => void,
    private readonly clock: () => number,
    private readonly hooks: LeaderHooks,
  ) {
    const lastIndex = log.lastIndex();
    for (const voterId of voters) {
      const pr = new Progress(lastIndex + 1, config.maxInflightMsgs, config.maxInflightBytes);
      if (voterId === id) {
        pr.match = log.persistedIndex();
        pr.becomeReplicate();
        pr.recentActive = true;
      }
      this.progress.set(voterId, pr);
    }
  }

  progressOf(id: NodeId): Progress {
    const pr = this.progress.get(id);
    assert(pr !== undefined, `no progress for ${id}`);
    return pr;
  }

  /** Our own writes became durable up to the log's persisted index; may commit. */
  onSelfPersisted(): void {
    if (this.progressOf(this.id).maybeUpdate(this.log.persistedIndex()) && this.maybeCommit()) this.afterCommit();
  }

  /** Check-quorum: a majority (self included) was heard from since the last reset. */
  quorumActive(): boolean {
    let active = 0;
    for (const pr of this.progress.values()) if (pr.recentActive) active++;
    return active >= quorumSize(this.voters.length);
  }

  resetRecentActive(): void {
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
  }

  appendEntries(entries: readonly Entry[]): void {
    this.log.append(entries);
    this.progressOf(this.id).next = this.log.lastIndex() + 1;
  }

  /** Sends what each follower's flow control allows: one Append at least, then fills its window. */
  broadcastAppend(): void {
    for (const id of this.voters) {
      if (id === this.id || !this.sendAppend(id, true)) continue;
      while (this.sendAppend(id, false)) {
        /* pipeline further Appends while the window has room and entries remain */
      }
    }
  }

  /**
   * The commit index advanced: tell the followers. With commitOnlyAppends=false only followers
   * with entries waiting get an Append (carrying the new commit index); the others learn it from
   * their next Append or heartbeat (heartbeatTimeoutTicks later at most). At one append in flight
   * the commit-only Appends were 2 of the leader's 5 socket writes per append, and each cost a
   * follower a wake-up, a Ready and an answer; followers then apply (and serve get) up to a
   * heartbeat later, and DLedgerClient.get asks the leader when a follower has not applied yet.
   */
  private afterCommit(): void {
    if (this.config.commitOnlyAppends !== false) return this.broadcastAppend();
    for (const id of this.voters) {
      if (id === this.id) continue;
      while (this.sendAppend(id, false)) {
        /* fill the window while it has room and entries remain */
      }
    }
  }

  /** Sends the next Append (or snapshot) to `to` if its flow control allows; true if sent. */
  sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to) as Progress;
    if (pr.isPaused()) return false;
    // Nothing new and nothing to say: skip the log lookups (the common case when pipelining).
    if (!sendIfEmpty && pr.next > this.log.lastIndex()) return false;
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    const lastIndex = this.log.lastIndex();
    const entries = this.log.entries(pr.next, lastIndex + 1, this.config.maxSizePerMsgBytes);
    if (prevLogTerm === null || entries === null) return this.startSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const bytes = entries.reduce((sum, e) => sum + e.data.byteLength, 0);
    this.send({ type: 'Append', from: this.id, to, term: this.term, prevLogIndex, prevLogTerm, entries, commitIndex: this.log.commitIndex });
    pr.commitSent = Math.max(pr.commitSent, this.log.commitIndex);
    pr.sentEntries(entries.length, prevLogIndex + entries.length, bytes);
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.info(`${this.id} postponed snapshot to ${to}: not recently active`);
      return false;
    }
    const meta = this.log.storage.snapshotMeta();
    assert(meta !== null, `${to} needs compacted entries but storage has no snapshot`);
    pr.becomeSnapshot(meta.index);
    this.logger.info(`${this.id} sends snapshot (${meta.index},${meta.term}) of ${meta.sizeBytes} bytes to ${to}`);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const meta = this.log.storage.snapshotMeta();
    assert(meta !== null, 'snapshot vanished from storage');
    if (meta.index !== pr.pendingSnapshotIndex) {
      // Compacted again meanwhile: the newer snapshot replaces the one being sent.
      pr.becomeSnapshot(meta.index);
    }
    const offset = pr.snapshotAckedOffset;
    const chunk = this.log.storage.snapshotChunk(offset, this.config.snapshotChunkBytes);
    this.send({ type: 'Snapshot', from: this.id, to, term: this.term, snapshot: meta, offset, data: chunk.data, done: chunk.done });
    pr.snapshotInflightEnd = offset + chunk.data.byteLength;
  }

  handleAppendResponse(m: MessageOf<'AppendResp'>): void {
    const pr = this.progress.get(m.from) as Progress;
    pr.recentActive = true;
    if (m.reject) {
      this.handleAppendRejection(m, pr);
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === ProgressState.Probe)) return;
    pr.appendProgressed = true;
    if (pr.state === ProgressState.Probe) pr.becomeReplicate();
    else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshotIndex) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.afterCommit();
    // It was waiting on this answer and may have missed a commit index advance meanwhile.
    else if (wasPaused) this.sendAppend(m.from, this.log.commitIndex > pr.commitSent);
    // Fill the window.
    while (this.sendAppend(m.from, false)) {
      /* keep sending while the window has room and entries remain */
    }
    this.hooks.onMatchAdvanced(m.from, pr.match);
  }

  private handleAppendRejection(m: MessageOf<'AppendResp'>, pr: Progress): void {
    if (m.conflictTerm === 0 && m.index >= pr.match && m.conflictIndex <= pr.match) {
      // It lacks an entry it acknowledged (an Append at or after match was refused because its
      // log ends before match): its store was lost. Without this the rejection looks stale forever.
      this.logger.info(`${this.id}: ${m.from} no longer holds entries it acknowledged (match ${pr.match}, its log ends at ${m.conflictIndex - 1}); replicating again from there`);
      pr.lostEntries(m.conflictIndex - 1);
      this.sendAppend(m.from, true);
      return;
    }
    const nextHint = this.fastBackupNext(m, pr);
    if (!pr.maybeDecreaseTo(m.index, nextHint)) return;
    this.logger.info(
      `${this.id} got rejection of prev ${m.index} from ${m.from} (conflict term ${m.conflictTerm} index ${m.conflictIndex}): next=${pr.next}`,
    );
    if (pr.state === ProgressState.Replicate) pr.becomeProbe();
    this.sendAppend(m.from, true);
  }

  /**
   * Fast backup (Raft thesis §5.3 optimisation): if the follower has no entry at prev, resume at
   * its end; if we hold entries of its conflicting term, resume after our last one of that term;
   * otherwise skip its whole conflicting term.
   */
  private fastBackupNext(m: MessageOf<'AppendResp'>, pr: Progress): number {
    if (m.conflictTerm === 0) return m.conflictIndex;
    const ours = this.log.lastIndexOfTerm(m.conflictTerm, m.index, pr.match);
    return ours === null ? m.conflictIndex : ours + 1;
  }

  handleHeartbeatResponse(m: MessageOf<'HeartbeatResp'>): void {
    const pr = this.progress.get(m.from) as Progress;
    pr.recentActive = true;
    pr.lastHeartbeatAckSentAtTick = Math.max(pr.lastHeartbeatAckSentAtTick, m.sentAtTick);
    if (pr.state === ProgressState.Snapshot) {
      // No chunk was answered since the last heartbeat: it (or its answer) was lost, or the
      // follower asked to resume elsewhere. Resend from the offset it last reported.
      if (!pr.snapshotProgressed) this.sendSnapshotChunk(m.from, pr);
      pr.snapshotProgressed = false;
    } else {
      if (pr.state === ProgressState.Replicate && pr.match < this.log.lastIndex() && !pr.appendProgressed) {
        // Nothing was acknowledged for a whole heartbeat round while entries are outstanding:
        // an Append (or its answer) was lost. The core hears of no unreachable peers, so it
        // recovers by itself: resend from the last known match.
        this.logger.info(`${this.id} saw no progress from ${m.from} since the last heartbeat; probing from ${pr.match + 1}`);
        pr.becomeProbe();
      }
      pr.appendProgressed = false;
      pr.probeSent = false;
      if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    }
    if (m.readCtx !== '') this.hooks.onReadCtxAnswered(m.from, m.readCtx);
  }

  handleSnapshotResponse(m: MessageOf<'SnapshotResp'>): void {
    const pr = this.progress.get(m.from) as Progress;
    pr.recentActive = true;
    if (pr.state !== ProgressState.Snapshot || m.snapshotIndex !== pr.pendingSnapshotIndex) return; // stale
    if (m.reject) {
      this.logger.info(`${this.id} snapshot to ${m.from} rejected; probing again`);
      pr.becomeProbe();
      this.sendAppend(m.from, true);
      return;
    }
    if (m.done) {
      this.logger.info(`${this.id} snapshot ${m.snapshotIndex} installed on ${m.from}; probing after it`);
      pr.becomeProbe();
      this.sendAppend(m.from, true);
      return;
    }
    pr.snapshotAckedOffset = m.nextOffset;
    // Only the answer to the outstanding chunk drives the next one; other answers (duplicates,
    // or a request to resume elsewhere) wait for the heartbeat-driven resend, so at most one
    // chunk stream is ever in flight.
    if (m.nextOffset === pr.snapshotInflightEnd) {
      pr.snapshotProgressed = true;
      this.sendSnapshotChunk(m.from, pr);
    }
  }

  /** Commits the highest index a quorum holds, if it is of the current term (§5.4.2). */
  maybeCommit(): boolean {
    const index = committedIndex(this.voters, (id) => this.progress.get(id)?.match);
    if (index <= this.log.commitIndex) return false;
    if (this.log.term(index) !== this.term && this.config.testingBugs?.commitPreviousTermEntries !== true) return false;
    this.log.commitTo(index);
    this.logger.info(`${this.id} committed up to ${index} at term ${this.term}`);
    this.hooks.onCommitted();
    return true;
  }

  broadcastHeartbeat(readCtx: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({
        type: 'Heartbeat',
        from: this.id,
        to: id,
        term: this.term,
        // Never more than the follower is known to hold, so it cannot commit past its log.
        commitIndex: Math.min(pr.match, this.log.commitIndex),
        readCtx,
        sentAtTick: this.clock(),
      });
    }
  }
}
