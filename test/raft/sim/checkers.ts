// Cluster-wide safety checkers that look at the nodes from outside: they see only what a node
// hands out (readies, durable storage, applied entries, acknowledgements) and never trust the
// core's own account of itself. Each throws a SimViolation naming the property it checks.
//
// Properties (Raft paper, figure 3):
//  - election safety: at most one leader per term, over the whole history (a node counts as
//    leader of a term when it says so in a Ready or sends a leader-only message in that term);
//  - vote safety: a voter grants at most one candidate per term, across crashes and restarts
//    (Raft's "persist before you answer" seen from the wire);
//  - log matching: an (index, term) pair identifies one payload and one predecessor term, in
//    every durable log, for all time (which by induction makes the prefixes identical);
//  - leader completeness: a node that becomes leader of term T holds every entry known to have
//    been committed in a term lower than T;
//  - state machine safety: no two nodes apply different entries at one index (checked through a
//    running digest, which also covers state installed from snapshots);
//  - no acknowledged append lost: an acknowledged value stays at its index everywhere;
//  - linearizable reads: a ReadIndex answer is at or past every write acknowledged before the
//    read was issued.
import type { Entry, NodeId } from '../../../src/raft/types.js';
import { assert } from '../../../src/util/assert.js';
import { entryPayloadKey } from './digest.js';
import { CheckerName, SimViolation } from './violation.js';

/** What a checker needs of a node's log: the durable log overlaid with writes still in flight. */
export interface LogView {
  /** The snapshot index, or -1; entries at or below it are compacted into the state machine. */
  readonly compactedThroughIndex: number;
  /** Term of the entry at index, or undefined when the log has no entry there. */
  termAt(index: number): number | undefined;
}

interface RegisteredEntry {
  readonly payloadKey: string;
  readonly previousTerm: number;
  readonly firstNodeId: NodeId;
}

interface CommittedRecord {
  readonly term: number;
  readonly payloadKey: string;
  /** Upper bound on the term in which the index was first committed (see observeCommitted). */
  commitTermUpperBound: number;
  readonly firstNodeId: NodeId;
}

interface AppliedRecord {
  readonly term: number;
  readonly payloadKey: string;
  readonly digest: string;
  readonly firstNodeId: NodeId;
}

export interface Acknowledgement {
  readonly value: string;
  readonly index: number;
  readonly term: number;
  readonly ackTick: number;
}

export class ClusterCheckers {
  private readonly leaderByTerm = new Map<number, NodeId>();
  // Key `${voter}/${term}` -> the candidate granted; only granted VoteResps that left the voter.
  private readonly voteGrantedTo = new Map<string, NodeId>();
  // Key `${index}/${term}`; grows by one record per distinct entry ever made durable.
  private readonly entryRegistry = new Map<string, RegisteredEntry>();
  private readonly appliedByIndex = new Map<number, AppliedRecord>();
  private readonly committedByIndex = new Map<number, CommittedRecord>();
  private readonly acknowledgedByIndex = new Map<number, Acknowledgement>();
  // Invariant: maxAcknowledgedIndex is the largest key of acknowledgedByIndex, or -1.
  maxAcknowledgedIndex = -1;
  tick = 0;

  leaderTermCount(): number {
    return this.leaderByTerm.size;
  }

  acknowledgementAt(index: number): Acknowledgement | undefined {
    return this.acknowledgedByIndex.get(index);
  }

  acknowledgements(): IterableIterator<Acknowledgement> {
    return this.acknowledgedByIndex.values();
  }

  appliedRecord(index: number): AppliedRecord | undefined {
    return this.appliedByIndex.get(index);
  }

  /** A node reported itself leader of `term`; `log` is its log as it stands at that moment. */
  observeLeader(nodeId: NodeId, term: number, log: LogView): void {
    const previous = this.leaderByTerm.get(term);
    if (previous !== undefined && previous !== nodeId) {
      this.fail(CheckerName.ElectionSafety, `two leaders in term ${term}: ${previous} and ${nodeId}`);
    }
    if (previous !== undefined) return;
    this.leaderByTerm.set(term, nodeId);
    this.checkLeaderCompleteness(nodeId, term, log);
  }

  /** A node sent a message only a leader sends (Append, Heartbeat, Snapshot, TimeoutNow). */
  observeLeaderMessage(nodeId: NodeId, term: number): void {
    const previous = this.leaderByTerm.get(term);
    // A leader reports itself in the softState of the Ready that first carries its messages, so
    // a leader-only message from a node not on record as that term's leader is an impostor.
    if (previous !== nodeId) {
      this.fail(CheckerName.ElectionSafety, `${nodeId} sends as leader of term ${term}, whose leader is ${previous ?? 'nobody on record'}`);
    }
  }

  /** A voter's granted VoteResp left it (after its term and vote were durable, if the core is right). */
  observeVoteGranted(voterId: NodeId, term: number, candidateId: NodeId): void {
    const key = `${voterId}/${term}`;
    const previous = this.voteGrantedTo.get(key);
    if (previous === undefined) {
      this.voteGrantedTo.set(key, candidateId);
      return;
    }
    if (previous !== candidateId) {
      this.fail(CheckerName.VoteSafety, `${voterId} granted its term-${term} vote to ${previous} and then to ${candidateId}`);
    }
  }

  /**
   * A node handed out committed entries while its term was `nodeTerm`. The commit happened in a
   * term no higher than nodeTerm (a leader commits in its own term; a follower learns of a
   * commit from a leader whose term is at most its own), so nodeTerm is a safe upper bound:
   * leader completeness then checks only entries whose commit term is certainly lower.
   */
  observeCommitted(nodeId: NodeId, nodeTerm: number, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const payloadKey = entryPayloadKey(entry);
      const known = this.committedByIndex.get(entry.index);
      if (known === undefined) {
        this.committedByIndex.set(entry.index, {
          term: entry.term,
          payloadKey,
          commitTermUpperBound: nodeTerm,
          firstNodeId: nodeId,
        });
        continue;
      }
      if (known.term !== entry.term || known.payloadKey !== payloadKey) {
        this.fail(
          CheckerName.StateMachineSafety,
          `${nodeId} handed out ${entry.index}/${entry.term} ${JSON.stringify(payloadKey)} as committed, but ${known.firstNodeId} had committed ${entry.index}/${known.term} ${JSON.stringify(known.payloadKey)}`,
        );
      }
      if (nodeTerm < known.commitTermUpperBound) known.commitTermUpperBound = nodeTerm;
    }
  }

  /** An entry became durable on a node whose log holds previousTerm at entry.index - 1. */
  observeDurableEntry(nodeId: NodeId, entry: Entry, previousTerm: number): void {
    const key = `${entry.index}/${entry.term}`;
    const payloadKey = entryPayloadKey(entry);
    const known = this.entryRegistry.get(key);
    if (known === undefined) {
      this.entryRegistry.set(key, { payloadKey, previousTerm, firstNodeId: nodeId });
      return;
    }
    if (known.payloadKey !== payloadKey) {
      this.fail(
        CheckerName.LogMatching,
        `entry ${key} holds ${JSON.stringify(payloadKey)} on ${nodeId} but ${JSON.stringify(known.payloadKey)} on ${known.firstNodeId}`,
      );
    }
    if (known.previousTerm !== previousTerm) {
      this.fail(
        CheckerName.LogMatching,
        `entry ${key} follows term ${previousTerm} on ${nodeId} but term ${known.previousTerm} on ${known.firstNodeId}: prefixes differ`,
      );
    }
  }

  /** A node applied `entry`, and its state digest is now `digest`. */
  observeApplied(nodeId: NodeId, entry: Entry, digest: string): void {
    const payloadKey = entryPayloadKey(entry);
    const ack = this.acknowledgedByIndex.get(entry.index);
    if (ack !== undefined && (ack.term !== entry.term || payloadKey !== `1:${ack.value}`)) {
      this.fail(
        CheckerName.AcknowledgedLost,
        `${nodeId} applied ${entry.index}/${entry.term} ${JSON.stringify(payloadKey)}, but value ${JSON.stringify(ack.value)} was acknowledged at ${ack.index}/${ack.term} (tick ${ack.ackTick})`,
      );
    }
    const known = this.appliedByIndex.get(entry.index);
    if (known === undefined) {
      this.appliedByIndex.set(entry.index, { term: entry.term, payloadKey, digest, firstNodeId: nodeId });
      return;
    }
    if (known.term !== entry.term || known.payloadKey !== payloadKey || known.digest !== digest) {
      this.fail(
        CheckerName.StateMachineSafety,
        `${nodeId} applied ${entry.index}/${entry.term} ${JSON.stringify(payloadKey)} (digest ${digest}), but ${known.firstNodeId} applied ${entry.index}/${known.term} ${JSON.stringify(known.payloadKey)} (digest ${known.digest})`,
      );
    }
  }

  /** A node's state machine was replaced by a snapshot's state (index, digest). */
  observeStateFromSnapshot(nodeId: NodeId, index: number, digest: string): void {
    const known = this.appliedByIndex.get(index);
    if (known === undefined) {
      // Snapshots are built from applied state only, so the index was applied somewhere before.
      this.fail(CheckerName.StateMachineSafety, `${nodeId} installed a snapshot at ${index}, which nobody applied`);
    }
    if (known.digest !== digest) {
      this.fail(
        CheckerName.StateMachineSafety,
        `${nodeId} installed a snapshot at ${index} with digest ${digest}, but ${known.firstNodeId} applied digest ${known.digest} there`,
      );
    }
  }

  /** The proposer applied its own entry: the client now counts the value as durable. */
  observeAcknowledged(ack: Acknowledgement): void {
    assert(!this.acknowledgedByIndex.has(ack.index), `two acknowledgements at index ${ack.index}`);
    const applied = this.appliedByIndex.get(ack.index);
    assert(applied !== undefined && applied.payloadKey === `1:${ack.value}`, `ack of ${ack.value} before it was applied`);
    this.acknowledgedByIndex.set(ack.index, ack);
    if (ack.index > this.maxAcknowledgedIndex) this.maxAcknowledgedIndex = ack.index;
  }

  /** A ReadIndex answer must cover every write acknowledged before the read was issued. */
  observeReadState(nodeId: NodeId, requestCtx: string, readIndex: number, requiredIndex: number): void {
    if (readIndex < requiredIndex) {
      this.fail(
        CheckerName.LinearizableRead,
        `${nodeId} answered read ${requestCtx} at index ${readIndex}, but index ${requiredIndex} was acknowledged before the read began`,
      );
    }
  }

  /** At the end of a run: a converged node's state must contain every acknowledged value. */
  checkStateHoldsAcknowledged(nodeId: NodeId, appliedIndex: number, digest: string): void {
    if (appliedIndex < this.maxAcknowledgedIndex) {
      this.fail(
        CheckerName.AcknowledgedLost,
        `${nodeId} converged at applied index ${appliedIndex}, below acknowledged index ${this.maxAcknowledgedIndex}`,
      );
    }
    if (appliedIndex < 0) return;
    const known = this.appliedByIndex.get(appliedIndex);
    assert(known !== undefined, `${nodeId} applied ${appliedIndex} without the checker seeing it`);
    if (known.digest !== digest) {
      this.fail(
        CheckerName.StateMachineSafety,
        `${nodeId} ends with digest ${digest} at ${appliedIndex}, but ${known.firstNodeId} had ${known.digest}`,
      );
    }
  }

  /** At the end of a run: an acknowledged entry must still be in a converged node's log (or compacted). */
  checkLogHoldsAcknowledged(nodeId: NodeId, log: LogView): void {
    for (const ack of this.acknowledgedByIndex.values()) {
      if (ack.index <= log.compactedThroughIndex) continue;
      const term = log.termAt(ack.index);
      if (term !== ack.term) {
        this.fail(
          CheckerName.AcknowledgedLost,
          `${nodeId}'s log has ${term === undefined ? 'no entry' : `term ${term}`} at ${ack.index}, where ${JSON.stringify(ack.value)} was acknowledged in term ${ack.term}`,
        );
      }
    }
  }

  fail(checker: CheckerName, message: string): never {
    throw new SimViolation(checker, message, this.tick);
  }

  private checkLeaderCompleteness(nodeId: NodeId, term: number, log: LogView): void {
    for (const [index, committed] of this.committedByIndex) {
      if (committed.commitTermUpperBound >= term) continue;
      if (index <= log.compactedThroughIndex) continue;
      const held = log.termAt(index);
      if (held !== committed.term) {
        this.fail(
          CheckerName.LeaderCompleteness,
          `${nodeId} became leader of term ${term} with ${held === undefined ? 'no entry' : `term ${held}`} at index ${index}, which was committed as term ${committed.term} (by ${committed.firstNodeId}) in a term <= ${committed.commitTermUpperBound}`,
        );
      }
    }
  }
}
