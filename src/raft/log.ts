// The node's view of its log: the persisted part (RaftStorage) followed by the unstable part,
// plus the commit and apply cursors. Pure bookkeeping; all writes leave through Ready.
import { assert } from '../util/assert.js';
import type { Entry, RaftStorage } from './types.js';
import { Unstable, type PendingSnapshot } from './unstable.js';

export class RaftLog {
  readonly unstable: Unstable;
  // Invariant: appliedIndex <= applyingIndex <= commitIndex <= lastIndex().
  commitIndex: number;
  /** Highest index handed to the node for applying (in a Ready's committedEntries or snapshot). */
  applyingIndex: number;
  /** Highest index the node reported applied (onApplied). */
  appliedIndex: number;

  constructor(
    readonly storage: RaftStorage,
    commitIndex: number,
    /** What the state machine already holds (RaftConfig.appliedIndex); -1: nothing beyond the snapshot. */
    restartAppliedIndex = -1,
  ) {
    this.unstable = new Unstable(storage.lastIndex() + 1);
    const snapshotIndex = storage.firstIndex() - 1;
    assert(commitIndex <= storage.lastIndex(), `stored commit ${commitIndex} past stored lastIndex ${storage.lastIndex()}`);
    assert(restartAppliedIndex <= storage.lastIndex(), `applied ${restartAppliedIndex} past stored lastIndex ${storage.lastIndex()}`);
    // The state machine restarts from the snapshot (if any) or from what it saved itself (an
    // applied entry was committed), and is handed the committed entries after it.
    const applied = Math.max(snapshotIndex, restartAppliedIndex);
    this.commitIndex = Math.max(commitIndex, applied);
    this.applyingIndex = applied;
    this.appliedIndex = applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of index, or null when it is compacted away or past the end. */
  term(index: number): number | null {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return null;
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== null) return unstableTerm;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== null, `no term for lastIndex ${this.lastIndex()}`);
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The highest index known persisted locally and part of our log: everything before the
   * unstable part. The leader counts itself toward a quorum only up to here. While a received
   * snapshot awaits persistence nothing of the new log is durable: -1.
   */
  persistedIndex(): number {
    if (this.unstable.snapshot !== null) return -1;
    return Math.min(this.unstable.offset - 1, this.lastIndex());
  }

  /**
   * Entries [lo, hiExclusive), at least one if any, at most maxBytes of data otherwise. Null if lo
   * is compacted (the caller must send a snapshot instead).
   */
  entries(lo: number, hiExclusive: number, maxBytes: number): Entry[] | null {
    if (lo < this.firstIndex()) return null;
    hiExclusive = Math.min(hiExclusive, this.lastIndex() + 1);
    if (lo >= hiExclusive) return [];
    const out: Entry[] = [];
    const unstableFrom = Math.max(lo, this.unstable.offset);
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hiExclusive, this.unstable.offset), maxBytes);
      // Not push(...stored): a restarted member re-applying ~120k stored entries overflowed the
      // call stack with spread arguments (chaos F6, RangeError: Maximum call stack size exceeded).
      for (const entry of stored) out.push(entry);
      const storedEnd = lo + stored.length;
      if (storedEnd < Math.min(hiExclusive, this.unstable.offset)) return out;
    }
    if (unstableFrom < hiExclusive) {
      let bytes = out.reduce((sum, e) => sum + e.data.byteLength, 0);
      for (const entry of this.unstable.slice(unstableFrom, hiExclusive)) {
        if (out.length > 0 && bytes + entry.data.byteLength > maxBytes) break;
        bytes += entry.data.byteLength;
        out.push(entry);
      }
    }
    return out;
  }

  /** Appends leader-made entries (or accepted ones); returns the new last index. */
  append(newEntries: readonly Entry[]): number {
    const first = newEntries[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index > this.commitIndex, `append at ${first.index} would overwrite committed ${this.commitIndex}`);
    this.unstable.truncateAndAppend(newEntries);
    return this.lastIndex();
  }

  /**
   * The first of newEntries whose index is past our end or whose term differs from ours at that
   * index; null when every entry is already present.
   */
  findConflict(newEntries: readonly Entry[]): Entry | null {
    for (const entry of newEntries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry;
    }
    return null;
  }

  /**
   * Follower side of AppendEntries: if our log has (prevIndex, prevTerm), append what is new
   * (truncating a conflicting suffix) and commit up to min(leaderCommit, last new index).
   * Returns the last index known to match the leader, or null when prev does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, newEntries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = prevIndex + newEntries.length;
    const conflict = this.findConflict(newEntries);
    if (conflict !== null) {
      assert(conflict.index > this.commitIndex, `entry ${conflict.index} conflicts with committed entry (commit ${this.commitIndex})`);
      this.append(newEntries.slice(conflict.index - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  commitTo(index: number): void {
    if (index <= this.commitIndex) return;
    assert(index <= this.lastIndex(), `commit ${index} out of range (lastIndex ${this.lastIndex()}): log corrupted, truncated or lost?`);
    this.commitIndex = index;
  }

  /** First index of the term of entry `index`, not scanning below `floor` (nor the compacted prefix). */
  firstIndexOfTermAt(index: number, floor: number): number {
    const term = this.term(index);
    assert(term !== null, `firstIndexOfTermAt(${index}): no such entry`);
    const lowest = Math.max(floor, this.firstIndex());
    let i = index;
    while (i > lowest && this.term(i - 1) === term) i--;
    return i;
  }

  /**
   * Leader side of fast backup: the last index in [floor, from] whose term is `term`, or null if
   * our log has no entry of that term there.
   */
  lastIndexOfTerm(term: number, from: number, floor: number): number | null {
    let i = Math.min(from, this.lastIndex());
    const lowest = Math.max(floor, this.firstIndex() - 1);
    while (i >= lowest) {
      const t = this.term(i);
      if (t === null || t < term) return null;
      if (t === term) return i;
      i--;
    }
    return null;
  }

  /** Follower receives a whole snapshot that does not match its log: restart the log from it. */
  restore(snapshot: PendingSnapshot): void {
    this.unstable.restore(snapshot);
    this.commitIndex = snapshot.meta.index;
  }

  checkInvariants(): void {
    this.unstable.checkInvariants();
    assert(this.appliedIndex <= this.applyingIndex, `applied ${this.appliedIndex} > applying ${this.applyingIndex}`);
    assert(this.applyingIndex <= this.commitIndex, `applying ${this.applyingIndex} > commit ${this.commitIndex}`);
    assert(this.commitIndex <= this.lastIndex(), `commit ${this.commitIndex} > lastIndex ${this.lastIndex()}`);
    if (this.unstable.snapshot === null) {
      assert(this.unstable.offset <= this.storage.lastIndex() + 1, `unstable offset ${this.unstable.offset} leaves a gap after stored ${this.storage.lastIndex()}`);
    }
  }
}
