// The one fatal condition the core detects rather than asserts: a message from the current leader
// proves that an entry this member committed is not in the leader's log. Raft rules that out
// (Leader Completeness), so the cause lies outside the algorithm's assumptions: a member forgot
// entries it had acknowledged (a power loss under flush async, a restored or copied disk; chaos
// finding F5). Answering "match" would keep a history the group does not have, silently. As etcd
// raft does (`entry %d conflict with committed entry [committed(%d)]`, a panic), the core stops:
// it throws this error from step() and throws it again on every later step() or tick(); the
// node logs it as FATAL and exits. Only rebuilding this replica from a peer repairs it.
import type { NodeId } from './types.js';

export interface CommittedConflict {
  /** The index at which the two logs differ; at or below commitIndex. */
  readonly index: number;
  /** Our entry's term at index. */
  readonly localTerm: number;
  /** The leader's entry's term at index (from the Append's entries, its prev or a snapshot). */
  readonly leaderTerm: number;
  /** Our commit index when the message arrived. */
  readonly commitIndex: number;
  readonly leaderId: NodeId;
  /** The leader's (and our) current term. */
  readonly term: number;
  /** Which part of which message showed it. */
  readonly source: 'append-prev' | 'append-entry' | 'snapshot';
}

export class CommittedEntryConflictError extends Error {
  override name = 'CommittedEntryConflictError';

  constructor(
    readonly selfId: NodeId,
    readonly conflict: CommittedConflict,
  ) {
    const c = conflict;
    super(
      `${selfId}: entry ${c.index} conflicts with committed entry [committed(${c.commitIndex})]: ` +
        `this member holds term ${c.localTerm} at index ${c.index}, leader ${c.leaderId} of term ${c.term} holds term ${c.leaderTerm} (${c.source}). ` +
        'Its committed log differs from the group\'s: some member lost entries it had acknowledged (e.g. a power loss under flush async). ' +
        'This replica must be rebuilt from a peer (its data directory replaced) before it rejoins',
    );
  }
}
