// The contract of the pure Raft core: what goes in (ticks, messages, proposals) and what comes
// out (a Ready). Nothing here does I/O; the node layer (src/node/) and the simulator
// (test/raft/sim/) drive the core through exactly these types.
//
// Indexes follow DLedger: the first entry of a log has index 0. An empty log has lastIndex -1
// and the sentinel "entry before the first" is (index -1, term 0). Terms start at 0 and the
// first election makes term 1.

export type NodeId = string;

/** Entry types share their numbers with the store's magic field (DLedger: 1 NORMAL, 2 NOOP). */
export const EntryType = {
  Normal: 1,
  Noop: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before the node acts on it (term, vote) plus the commit index. */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  /** Persisting commitIndex is optional for safety; it lets a restarted node apply sooner. */
  readonly commitIndex: number;
}

export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId | null;
  readonly term: number;
}

export interface SnapshotMeta {
  /** Last index covered by the snapshot; entries <= index are compacted away. */
  readonly index: number;
  readonly term: number;
  readonly sizeBytes: number;
}

/** A linearizable read that is now safe to serve once appliedIndex >= index. */
export interface ReadState {
  readonly requestCtx: string;
  readonly index: number;
}

export type Message =
  | {
      readonly type: 'PreVote' | 'Vote';
      readonly from: NodeId;
      readonly to: NodeId;
      /** For PreVote: the term the sender would campaign in (its term + 1), its own term unchanged. */
      readonly term: number;
      readonly lastLogIndex: number;
      readonly lastLogTerm: number;
      /** Set when the campaign follows a TimeoutNow: voters ignore their leader lease for it. */
      readonly transfer: boolean;
    }
  | {
      readonly type: 'PreVoteResp' | 'VoteResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly reject: boolean;
    }
  | {
      readonly type: 'Append';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly prevLogIndex: number;
      readonly prevLogTerm: number;
      readonly entries: readonly Entry[];
      readonly commitIndex: number;
    }
  | {
      readonly type: 'AppendResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly reject: boolean;
      /** On success: the last index the follower now matches. On reject: the prevLogIndex rejected. */
      readonly index: number;
      /** Fast backup on reject: the follower's term at prevLogIndex (0 if it has no entry there). */
      readonly conflictTerm: number;
      /** Fast backup on reject: the first index of conflictTerm, or the follower's lastIndex + 1. */
      readonly conflictIndex: number;
    }
  | {
      readonly type: 'Heartbeat';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      /** min(leader commit, follower match) as in etcd, so a follower never commits past what it has. */
      readonly commitIndex: number;
      /** ReadIndex round this heartbeat confirms, echoed back in the response; '' for none. */
      readonly readCtx: string;
      /**
       * The leader's own tick count when it sent this heartbeat, echoed back in the response, so
       * that a lease is measured from when the confirming heartbeat left the leader (lease reads).
       */
      readonly sentAtTick: number;
    }
  | {
      readonly type: 'HeartbeatResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly readCtx: string;
      /** Echo of the heartbeat's sentAtTick. */
      readonly sentAtTick: number;
    }
  | {
      readonly type: 'TimeoutNow';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
    }
  | {
      readonly type: 'Snapshot';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly snapshot: SnapshotMeta;
      /** Byte offset of this chunk within the snapshot; chunks resume from the follower's reported offset. */
      readonly offset: number;
      readonly data: Uint8Array;
      readonly done: boolean;
    }
  | {
      readonly type: 'SnapshotResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly term: number;
      readonly snapshotIndex: number;
      /** Bytes of this snapshot the follower holds so far; the leader sends the next chunk from here. */
      readonly nextOffset: number;
      readonly reject: boolean;
      /** True once the follower has installed the whole snapshot. */
      readonly done: boolean;
    };

export type MessageType = Message['type'];

/**
 * Read-only view of the durable log that the core queries (etcd's Storage). Every write reaches
 * storage through a Ready; the node applies it, and from then on this view must reflect it.
 */
export interface RaftStorage {
  /** The persisted hard state and snapshot at start-up. */
  initialHardState(): HardState;
  /** Index of the first entry still available (snapshot.index + 1, or 0). */
  firstIndex(): number;
  /** Index of the last persisted entry, or snapshot.index (or -1) when there is none after it. */
  lastIndex(): number;
  /** Term of entry `index`; -1 <= index must be >= snapshot.index (which returns snapshot.term). */
  term(index: number): number;
  /** Entries [lo, hiExclusive), at least one if any, stopping before maxBytes would be exceeded. */
  entries(lo: number, hiExclusive: number, maxBytes: number): Entry[];
  /** The latest snapshot, if any. */
  snapshotMeta(): SnapshotMeta | null;
  /** Bytes [offset, offset + maxBytes) of the latest snapshot; done when it reaches the end. */
  snapshotChunk(offset: number, maxBytes: number): { data: Uint8Array; done: boolean };
}

/** Why a proposal (or a transfer, a read) was refused; the node maps these to client codes. */
export type RefusalReason =
  | 'not-leader'
  | 'transfer-in-progress'
  | 'too-many-uncommitted-bytes'
  | 'entry-too-large'
  | 'unknown-peer'
  | 'target-not-eligible'
  | 'read-queue-full';

export type ProposeResult =
  | { readonly ok: true; readonly firstIndex: number; readonly lastIndex: number; readonly term: number }
  | { readonly ok: false; readonly reason: RefusalReason; readonly leaderId: NodeId | null };

/** Outcome of readIndex(): accepted means a ReadState with this ctx will appear in a later Ready
 * (or never, if leadership is lost first: the node fails pending reads on a softState change). */
export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: RefusalReason; readonly leaderId: NodeId | null };

/** Outcome of transferLeadership(): accepted means the transfer started (or the target already leads). */
export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: RefusalReason; readonly leaderId: NodeId | null };

export const ProgressState = {
  Probe: 'probe',
  Replicate: 'replicate',
  Snapshot: 'snapshot',
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** The leader's view of one peer (itself included), as status() reports it. */
export interface PeerProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly inflightMsgs: number;
  readonly inflightBytes: number;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly firstIndex: number;
  readonly leadTransferee: NodeId | null;
  /** Ticks since the last leader contact (follower, candidate) or the last check-quorum (leader). */
  readonly electionElapsedTicks: number;
  /** When electionElapsedTicks fires: the randomized timeout, or electionTimeoutTicks on a leader. */
  readonly electionDueTicks: number;
  /** Only on the leader; empty otherwise. */
  readonly progress: ReadonlyMap<NodeId, PeerProgressStatus>;
}

/**
 * One batch of work for the node, numbered. Ordering contract:
 *  1. `messages` may be sent at once (they do not depend on anything in this Ready being durable).
 *  2. Persist `snapshotToInstall` (if any), then `entriesToPersist` (truncating the stored log
 *     at entriesToPersist[0].index first), then `hardState` (if any). Then call
 *     `onPersisted(number)`.
 *  3. Only after that, send `messagesAfterPersist` (votes, append acks: Raft's "persist before
 *     you answer").
 *  4. Apply `committedEntries` in order (they are durable on a quorum, so they may be applied
 *     before this Ready's own writes finish; on a follower they are also durable locally, on a
 *     leader not necessarily: it counts its own copy only once durable), then call
 *     `onApplied(lastAppliedIndex)` when done. Serve each ReadState once applied >= its index.
 *  `advance(ready)` is called once the node has taken the Ready, before or after persistence;
 *  hasReady() is false and ready() refuses until then. Readies persist in number order, so
 *  onPersisted(n) also covers every earlier Ready. Installing `snapshotToInstall` also restores
 *  the state machine to it (the core counts it as applied once persisted).
 */
export interface Ready {
  readonly number: number;
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entriesToPersist: readonly Entry[];
  readonly snapshotToInstall: { readonly meta: SnapshotMeta; readonly data: Uint8Array } | null;
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /**
   * True when entries, a snapshot, or a term/vote change must reach stable storage (fsync)
   * before messagesAfterPersist go out. A commit-index-only hard state change may be written
   * lazily.
   */
  readonly mustSync: boolean;
}

export interface RaftConfig {
  readonly selfId: NodeId;
  /** All voters, including selfId. */
  readonly peerIds: readonly NodeId[];
  readonly electionTimeoutTicks: number;
  readonly heartbeatTimeoutTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Lease reads need checkQuorum; validated up front. */
  readonly leaseReads: boolean;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly snapshotChunkBytes: number;
  /** Peers the leader hands leadership to when one is caught up and live; empty = none. */
  readonly preferredLeaderIds: readonly NodeId[];
  /** A transfer is abandoned if it has not completed after this many ticks. */
  readonly transferTimeoutTicks: number;
  /** Entries committed but not yet applied that one Ready may hand out (bytes). */
  readonly maxCommittedSizePerReadyBytes: number;
  /** ReadIndex requests waiting for their confirmation round; more are refused with 'read-queue-full'. */
  readonly maxPendingReadIndexRequests: number;
  /**
   * On a commit advance the leader sends every follower an Append, empty if nothing is new, so it
   * learns the commit index at once (etcd's behaviour; default, undefined = true). false: only
   * followers with entries waiting get one; the others learn it from their next Append or
   * heartbeat. (The DLedger node sets false: fewer messages per append, see leader-replication.ts.)
   */
  readonly commitOnlyAppends?: boolean;
  /**
   * Restart only (etcd's Config.Applied): the state machine already holds every entry up to this
   * index (it saved them durably before the restart). Such entries were committed, so the core
   * starts with commitIndex and appliedIndex at least this and never hands them out again. Must
   * be <= the stored log's last index. Default: the snapshot index (re-apply everything after it).
   */
  readonly appliedIndex?: number;
  /**
   * Deliberate bugs, for tests that prove the simulator's checkers bite. Never set in production;
   * the config validator refuses them unless `allowTestingBugs` is also true.
   */
  readonly testingBugs?: {
    readonly commitPreviousTermEntries?: boolean;
    readonly grantVoteWithoutLogCheck?: boolean;
  };
  readonly allowTestingBugs?: boolean;
}
