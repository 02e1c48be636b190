// An in-memory RaftStorage: the durable state of one node as the core sees it. Tests and the
// simulator use it as "the disk": whatever the node has persisted lives here and survives a
// simulated crash; whatever it has not is lost with the core. The write side mirrors what a node
// does with a Ready (truncate + append, hard state, snapshot install) plus compaction.
import { assert } from '../util/assert.js';
import type { Entry, HardState, RaftStorage, Ready, SnapshotMeta } from './types.js';

export const EMPTY_HARD_STATE: HardState = { term: 0, votedFor: null, commitIndex: -1 };

export class MemoryRaftStorage implements RaftStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  // Invariant: snapshot is null or snapshot.index + 1 === entriesOffset.
  private snapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null;
  // Invariant: entries[i].index === entriesOffset + i, and terms never decrease along the array.
  private entriesList: Entry[] = [];
  private entriesOffset = 0;

  initialHardState(): HardState {
    return this.hardState;
  }

  firstIndex(): number {
    return this.entriesOffset;
  }

  lastIndex(): number {
    return this.entriesOffset + this.entriesList.length - 1;
  }

  term(index: number): number {
    const before = this.entriesOffset - 1;
    assert(index >= before, `term(${index}) is compacted: first available is ${before}`);
    assert(index <= this.lastIndex(), `term(${index}) is past lastIndex ${this.lastIndex()}`);
    if (index === before) return this.snapshot === null ? 0 : this.snapshot.meta.term;
    return (this.entriesList[index - this.entriesOffset] as Entry).term;
  }

  entries(lo: number, hiExclusive: number, maxBytes: number): Entry[] {
    assert(lo >= this.entriesOffset, `entries(${lo}) is compacted: first index ${this.entriesOffset}`);
    assert(hiExclusive <= this.lastIndex() + 1, `entries(.., ${hiExclusive}) past lastIndex ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hiExclusive; i++) {
      const entry = this.entriesList[i - this.entriesOffset] as Entry;
      if (out.length > 0 && bytes + entry.data.byteLength > maxBytes) break;
      bytes += entry.data.byteLength;
      out.push(entry);
    }
    return out;
  }

  snapshotMeta(): SnapshotMeta | null {
    return this.snapshot?.meta ?? null;
  }

  snapshotChunk(offset: number, maxBytes: number): { data: Uint8Array; done: boolean } {
    assert(this.snapshot !== null, 'snapshotChunk without a snapshot');
    const data = this.snapshot.data;
    assert(offset >= 0 && offset <= data.byteLength, `snapshot offset ${offset} outside [0, ${data.byteLength}]`);
    const end = Math.min(data.byteLength, offset + maxBytes);
    return { data: data.subarray(offset, end), done: end === data.byteLength };
  }

  // ---- write side: what a node does with a Ready, and compaction ----

  /** Truncates the log at entries[0].index, then appends entries (contiguous, ascending). */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index >= this.entriesOffset, `append at ${first.index} below first index ${this.entriesOffset}`);
    assert(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    this.entriesList.length = first.index - this.entriesOffset;
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, `entry ${entry.index} is not contiguous`);
      this.entriesList.push(entry);
    }
  }

  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.hardState.term, `term went back from ${this.hardState.term} to ${hardState.term}`);
    this.hardState = hardState;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  installSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    assert(data.byteLength === meta.sizeBytes, `snapshot size ${data.byteLength} != meta ${meta.sizeBytes}`);
    assert(meta.index >= this.entriesOffset - 1, `snapshot ${meta.index} older than the current one`);
    this.snapshot = { meta, data };
    this.entriesList = [];
    this.entriesOffset = meta.index + 1;
  }

  /**
   * Makes a snapshot of the prefix up to `index` (which the node has applied) holding `data`,
   * and drops those entries. The core notices through firstIndex()/snapshotMeta().
   */
  compact(index: number, data: Uint8Array): SnapshotMeta {
    assert(index >= this.entriesOffset, `compact(${index}): already compacted up to ${this.entriesOffset - 1}`);
    assert(index <= this.lastIndex(), `compact(${index}) past lastIndex ${this.lastIndex()}`);
    const meta: SnapshotMeta = { index, term: this.term(index), sizeBytes: data.byteLength };
    this.entriesList = this.entriesList.slice(index + 1 - this.entriesOffset);
    this.entriesOffset = index + 1;
    this.snapshot = { meta, data };
    return meta;
  }

  /** Persists a Ready in the contract's order: snapshot, entries, hard state. */
  persistReady(ready: Ready): void {
    if (ready.snapshotToInstall !== null) {
      this.installSnapshot(ready.snapshotToInstall.meta, ready.snapshotToInstall.data);
    }
    this.append(ready.entriesToPersist);
    if (ready.hardState !== null) this.setHardState(ready.hardState);
  }

  /** A deep-enough copy: a crashed node restarts from a copy of what was persisted. */
  clone(): MemoryRaftStorage {
    const copy = new MemoryRaftStorage();
    copy.hardState = this.hardState;
    copy.snapshot = this.snapshot;
    copy.entriesList = [...this.entriesList];
    copy.entriesOffset = this.entriesOffset;
    return copy;
  }
}
