// The follower's side of replication: AppendEntries with the consistency check and fast-backup
// hints, heartbeats carrying the commit index, and chunked snapshot reception. Each handler
// updates the log and returns the answer, which the core sends only after the Ready that holds
// what it acknowledges is persisted.
import { unreachable } from '../util/assert.js';
import { CommittedEntryConflictError, type CommittedConflict } from './committed-conflict.js';
import type { RaftLogger } from './logger.js';
import type { RaftLog } from './log.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import type { Message, NodeId } from './types.js';

type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

export class FollowerReplication {
  /** The snapshot being received in chunks, if any. */
  private snapshotReceiver: SnapshotReceiver | null = null;

  constructor(
    private readonly id: NodeId,
    private readonly log: RaftLog,
    private readonly logger: RaftLogger,
  ) {}

  handleAppend(m: MessageOf<'Append'>, term: number): MessageOf<'AppendResp'> {
    const reply = (fields: { reject: boolean; index: number; conflictTerm: number; conflictIndex: number }): MessageOf<'AppendResp'> => ({
      type: 'AppendResp',
      from: this.id,
      to: m.from,
      term,
      ...fields,
    });
    // Only an Append reaching back to our commit index can contradict a committed entry; the
    // common one starts past it and skips the check.
    if (m.prevLogIndex <= this.log.commitIndex) this.checkCommittedOverlap(m, term);
    if (m.prevLogIndex < this.log.commitIndex) {
      // Everything up to our commit index matches the leader's log (Leader Completeness; the part
      // this Append shows was just checked).
      return reply({ reject: false, index: this.log.commitIndex, conflictTerm: 0, conflictIndex: 0 });
    }
    const lastNewIndex = this.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commitIndex, m.entries);
    if (lastNewIndex !== null) return reply({ reject: false, index: lastNewIndex, conflictTerm: 0, conflictIndex: 0 });

    const lastIndex = this.log.lastIndex();
    this.logger.info(
      `${this.id} rejected Append from ${m.from}: no entry (${m.prevLogIndex},${m.prevLogTerm}) [last log (${lastIndex},${this.log.lastTerm()})]`,
    );
    if (m.prevLogIndex > lastIndex) {
      return reply({ reject: true, index: m.prevLogIndex, conflictTerm: 0, conflictIndex: lastIndex + 1 });
    }
    const conflictTerm = this.log.term(m.prevLogIndex) as number;
    // Entries up to commit match the leader, so the scan never needs to go below commit + 1.
    const conflictIndex = this.log.firstIndexOfTermAt(m.prevLogIndex, this.log.commitIndex + 1);
    return reply({ reject: true, index: m.prevLogIndex, conflictTerm, conflictIndex });
  }

  /**
   * Our committed entries are in every later leader's log (Leader Completeness), so where the
   * Append overlaps our committed prefix (its prev and the entries at or below our commit index)
   * the terms must be ours. A difference proves that a member forgot entries it acknowledged
   * (chaos F5): throw instead of answering "match". Only what the message carries is compared
   * (at most entries.length + 1 term lookups), and only indexes still in our log.
   */
  private checkCommittedOverlap(m: MessageOf<'Append'>, term: number): void {
    const commitIndex = this.log.commitIndex;
    const check = (index: number, leaderTerm: number, source: CommittedConflict['source']): void => {
      const localTerm = this.log.term(index);
      if (localTerm !== null && localTerm !== leaderTerm) this.fail({ index, localTerm, leaderTerm, leaderId: m.from, term, source });
    };
    check(m.prevLogIndex, m.prevLogTerm, 'append-prev');
    for (const entry of m.entries) {
      if (entry.index > commitIndex) break;
      check(entry.index, entry.term, 'append-entry');
    }
  }

  private fail(conflict: Omit<CommittedConflict, 'commitIndex'>): never {
    throw new CommittedEntryConflictError(this.id, { ...conflict, commitIndex: this.log.commitIndex });
  }

  handleHeartbeat(m: MessageOf<'Heartbeat'>, term: number): MessageOf<'HeartbeatResp'> {
    // The leader sends at most what we acknowledged; more than we hold means we lost entries (a
    // deleted store): commit nothing, the leader re-sends them after our next rejection.
    if (m.commitIndex > this.log.lastIndex()) {
      this.logger.info(`${this.id} holds up to ${this.log.lastIndex()}, below the leader's commit hint ${m.commitIndex}: it lost entries it acknowledged`);
    } else {
      this.log.commitTo(m.commitIndex);
    }
    return { type: 'HeartbeatResp', from: this.id, to: m.from, term, readCtx: m.readCtx, sentAtTick: m.sentAtTick };
  }

  handleSnapshot(m: MessageOf<'Snapshot'>, term: number): MessageOf<'SnapshotResp'> {
    const meta = m.snapshot;
    const reply = (fields: { nextOffset: number; reject: boolean; done: boolean }): MessageOf<'SnapshotResp'> => ({
      type: 'SnapshotResp',
      from: this.id,
      to: m.from,
      term,
      snapshotIndex: meta.index,
      ...fields,
    });
    if (meta.index <= this.log.commitIndex) {
      const localTerm = this.log.term(meta.index);
      if (localTerm !== null && localTerm !== meta.term) {
        this.fail({ index: meta.index, localTerm, leaderTerm: meta.term, leaderId: m.from, term, source: 'snapshot' });
      }
      // We already hold everything it covers; let the leader probe after it.
      this.snapshotReceiver = null;
      return reply({ nextOffset: meta.sizeBytes, reject: false, done: true });
    }
    if (this.snapshotReceiver === null || !this.snapshotReceiver.matches(meta)) {
      // Another snapshot (or none) was being received: this one must start from byte 0.
      if (m.offset !== 0) return reply({ nextOffset: 0, reject: false, done: false });
      this.snapshotReceiver = new SnapshotReceiver(meta);
    }
    const outcome = this.snapshotReceiver.receive(m.offset, m.data, m.done);
    switch (outcome.kind) {
      case 'need':
        return reply({ nextOffset: outcome.nextOffset, reject: false, done: false });
      case 'invalid':
        this.logger.info(`${this.id} rejected snapshot (${meta.index},${meta.term}) from ${m.from}: ${outcome.reason}`);
        this.snapshotReceiver = null;
        return reply({ nextOffset: 0, reject: true, done: false });
      case 'complete':
        this.snapshotReceiver = null;
        if (this.log.matchTerm(meta.index, meta.term)) {
          // Our log already has the snapshot's last entry: keep the log, just commit.
          this.logger.info(`${this.id} fast-forwarded commit to ${meta.index} instead of installing snapshot`);
          this.log.commitTo(meta.index);
        } else {
          this.logger.info(`${this.id} restored snapshot (${meta.index},${meta.term}) of ${meta.sizeBytes} bytes`);
          this.log.restore({ meta, data: outcome.data });
        }
        return reply({ nextOffset: meta.sizeBytes, reject: false, done: true });
      default:
        return unreachable(outcome);
    }
  }
}
