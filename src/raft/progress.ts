// The leader's view of one follower's log (etcd's tracker.Progress): how far it matches, what to
// send next, and in which flow-control state.
//  - probe: one Append at a time until the follower's match point is known;
//  - replicate: pipelined Appends, bounded by the inflight window;
//  - snapshot: the follower is behind the compacted prefix and receives snapshot chunks.
import { assert } from '../util/assert.js';
import { Inflights } from './inflights.js';
import { ProgressState } from './types.js';

export class Progress {
  // Invariant: -1 <= match < next.
  match = -1;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In probe state: an Append is outstanding; no other is sent until a response or heartbeat. */
  probeSent = false;
  /** Set by any message from the follower; reset by the leader every election timeout (check-quorum). */
  recentActive = false;
  readonly inflights: Inflights;
  // Invariant: in snapshot state, the index of the snapshot being sent; otherwise -1.
  pendingSnapshotIndex = -1;
  /** In snapshot state: the byte offset the follower last confirmed holding (where sending resumes). */
  snapshotAckedOffset = 0;
  /** In snapshot state: end offset of the chunk last sent (its answer should report this). */
  snapshotInflightEnd = -1;
  /** In snapshot state: a chunk was answered since the last heartbeat response. */
  snapshotProgressed = false;
  /** Highest commit index carried to this follower in an Append (saves empty Appends). */
  commitSent = -1;
  /** An Append answer moved match since the last heartbeat response (lost-Append detection). */
  appendProgressed = false;
  /** Leader tick count of the newest heartbeat this follower has answered (lease reads); -1 if none. */
  lastHeartbeatAckSentAtTick = -1;

  constructor(next: number, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshotIndex = -1;
    this.snapshotAckedOffset = 0;
    this.snapshotInflightEnd = -1;
    this.snapshotProgressed = false;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot: probe right after it.
    if (this.state === ProgressState.Snapshot) {
      const snapshotIndex = this.pendingSnapshotIndex;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, snapshotIndex + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshotIndex = snapshotIndex;
  }

  /**
   * The follower answered that its log ends at `followerLastIndex`, below what it acknowledged:
   * it lost entries (its store was deleted or cut and it restarted). Outside Raft's model, but
   * DLedger re-syncs such a member, so match goes back to what it holds and probing restarts there.
   */
  lostEntries(followerLastIndex: number): void {
    assert(followerLastIndex < this.match, `lostEntries(${followerLastIndex}) with match ${this.match}`);
    this.resetState(ProgressState.Probe);
    this.match = followerLastIndex;
    this.next = followerLastIndex + 1;
    this.commitSent = Math.min(this.commitSent, followerLastIndex);
  }

  /** An acknowledgement that the follower matches up to index; false if it was stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the Append whose prevLogIndex was `rejected`; `nextHint` is the leader's fast
   * backup guess (where the logs may start to differ). False when the rejection is stale.
   */
  maybeDecreaseTo(rejected: number, nextHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // Stale: the follower has since acknowledged past this point.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe (or snapshot): only the rejection of the Append we last sent counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, nextHint), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Bookkeeping after sending an Append with `count` entries ending at lastIndex. */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    } else {
      assert(false, 'sent entries to a follower in snapshot state');
    }
  }

  /** True when no Append may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  checkInvariants(who: string, lastIndex: number): void {
    assert(this.match >= -1, `${who}: match ${this.match} < -1`);
    assert(this.match < this.next, `${who}: match ${this.match} >= next ${this.next}`);
    assert(this.next <= lastIndex + 1, `${who}: next ${this.next} > lastIndex + 1 = ${lastIndex + 1}`);
    assert(
      (this.state === ProgressState.Snapshot) === (this.pendingSnapshotIndex >= 0),
      `${who}: pendingSnapshotIndex ${this.pendingSnapshotIndex} in state ${this.state}`,
    );
  }
}
