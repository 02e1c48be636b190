// Log entries (and at most one incoming snapshot) that this node holds in memory but has not yet
// seen persisted (etcd's unstable). Entries before `offsetInProgress` have been handed to the node
// in a Ready and are being written; onPersisted() makes them stable, after which they are read
// from RaftStorage instead.
import { assert } from '../util/assert.js';
import type { Entry, SnapshotMeta } from './types.js';

export interface PendingSnapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export class Unstable {
  snapshot: PendingSnapshot | null = null;
  /** The snapshot has been handed out in a Ready and is being written. */
  snapshotInProgress = false;
  // Invariant: entries[i].index === offset + i.
  entries: Entry[] = [];
  offset: number;
  // Invariant: offset <= offsetInProgress <= offset + entries.length.
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Index of the last unstable entry, or of the unstable snapshot, or null. */
  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.meta.index;
    return null;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot === null ? null : this.snapshot.meta.index + 1;
  }

  /** Term of index if the unstable part knows it. */
  maybeTerm(index: number): number | null {
    if (index < this.offset) {
      if (this.snapshot !== null && this.snapshot.meta.index === index) return this.snapshot.meta.term;
      return null;
    }
    const entry = this.entries[index - this.offset];
    return entry === undefined ? null : entry.term;
  }

  /** Entries not yet handed out in a Ready. */
  nextEntries(): Entry[] {
    return this.entries.slice(this.offsetInProgress - this.offset);
  }

  nextSnapshot(): PendingSnapshot | null {
    return this.snapshot !== null && !this.snapshotInProgress ? this.snapshot : null;
  }

  /** Everything returned by nextEntries()/nextSnapshot() is now handed out. */
  acceptInProgress(): void {
    this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot !== null) this.snapshotInProgress = true;
  }

  /**
   * Entries up to (index, term) are persisted. Ignored if that entry has since been replaced by
   * a different one (a truncation raced the write) or is already stable.
   */
  stableTo(index: number, term: number): void {
    const found = this.maybeTerm(index);
    if (found === null || found !== term || index < this.offset) return;
    const drop = index + 1 - this.offset;
    this.entries = this.entries.slice(drop);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapshotTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.meta.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  restore(snapshot: PendingSnapshot): void {
    this.offset = snapshot.meta.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = snapshot;
    this.snapshotInProgress = false;
  }

  /** Appends entries, first dropping any unstable entries at or after entries[0].index. */
  truncateAndAppend(newEntries: readonly Entry[]): void {
    const first = newEntries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      // A loop, not push(...newEntries): spread arguments overflow the stack past ~100k entries
      // (chaos F6 hit that in RaftLog.entries); a large proposal batch must not.
      for (const entry of newEntries) this.entries.push(entry);
    } else if (after <= this.offset) {
      // Replaces everything unstable (and, once persisted, part of the stored log).
      this.offset = after;
      this.offsetInProgress = after;
      this.entries = [...newEntries];
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(newEntries);
      this.offsetInProgress = Math.min(this.offsetInProgress, after);
    }
  }

  slice(lo: number, hiExclusive: number): Entry[] {
    assert(lo >= this.offset && hiExclusive <= this.offset + this.entries.length, `unstable slice [${lo}, ${hiExclusive}) out of range`);
    return this.entries.slice(lo - this.offset, hiExclusive - this.offset);
  }

  checkInvariants(): void {
    assert(this.offset <= this.offsetInProgress, `unstable offset ${this.offset} > inProgress ${this.offsetInProgress}`);
    assert(this.offsetInProgress <= this.offset + this.entries.length, 'unstable offsetInProgress past its entries');
    // The ends are enough: entries only ever enter through truncateAndAppend, which keeps them contiguous.
    const first = this.entries[0];
    const last = this.entries[this.entries.length - 1];
    if (first !== undefined && last !== undefined) {
      assert(first.index === this.offset, `unstable first entry ${first.index} != offset ${this.offset}`);
      assert(last.index === this.offset + this.entries.length - 1, `unstable last entry ${last.index} not contiguous`);
    }
  }
}
