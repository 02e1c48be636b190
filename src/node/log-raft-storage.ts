// The Raft core's view of a node's durable state (RaftStorage) over the commit-log store, and the
// write side that persists a Ready into it. This is where src/raft and src/store meet: Raft entry
// types map to the store's magic numbers, Raft's truncate-then-append becomes store.truncate +
// store.append, and term/vote go to the store's durable currterm file.
import type { Entry, HardState, RaftStorage, Ready, SnapshotMeta } from '../raft/types.js';
import { EntryType } from '../raft/types.js';
import { type AppendedEntry, EntryMagic, type LogStore, type TermVote } from '../store/types.js';
import { assert } from '../util/assert.js';

function magicOf(type: EntryType): EntryMagic {
  return type === EntryType.Noop ? EntryMagic.Noop : EntryMagic.Normal;
}

function typeOf(magic: EntryMagic): EntryType {
  assert(magic === EntryMagic.Normal || magic === EntryMagic.Noop, `log entry with magic ${magic}`);
  return magic === EntryMagic.Noop ? EntryType.Noop : EntryType.Normal;
}

export class LogRaftStorage implements RaftStorage {
  // Invariant: savedTermVote is what the currterm file holds.
  private savedTermVote: TermVote;

  constructor(private readonly store: LogStore) {
    this.savedTermVote = store.loadTermVote();
  }

  initialHardState(): HardState {
    // The commit index is not persisted: a restarted node learns it from the leader (entries it
    // holds are durable, but only the leader knows which of them are committed).
    return { term: this.savedTermVote.term, votedFor: this.savedTermVote.votedFor, commitIndex: this.store.beforeBeginIndex };
  }

  firstIndex(): number {
    return this.store.beforeBeginIndex + 1;
  }

  lastIndex(): number {
    return this.store.lastIndex;
  }

  term(index: number): number {
    if (index === this.store.beforeBeginIndex) return this.store.beforeBeginTerm;
    // From the index record: no body copy or CRC pass just to learn a term (Raft asks often).
    const term = this.store.termAt(index);
    assert(term !== null, `term(${index}) outside the log [${this.store.beforeBeginIndex}, ${this.store.lastIndex}]`);
    return term;
  }

  entries(lo: number, hiExclusive: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hiExclusive; index++) {
      const stored = this.store.get(index);
      assert(stored !== null, `entries: ${index} outside the log [${this.store.beforeBeginIndex}, ${this.store.lastIndex}]`);
      if (out.length > 0 && bytes + stored.body.byteLength > maxBytes) break;
      bytes += stored.body.byteLength;
      out.push({ index: stored.index, term: stored.term, type: typeOf(stored.magic), data: stored.body });
    }
    return out;
  }

  snapshotMeta(): SnapshotMeta | null {
    // No state-machine snapshots yet: a compacted prefix is described by the store's before-begin
    // entry, and installing it means "continue the log after this point" (an empty snapshot).
    if (this.store.beforeBeginIndex < 0) return null;
    return { index: this.store.beforeBeginIndex, term: this.store.beforeBeginTerm, sizeBytes: 0 };
  }

  snapshotChunk(offset: number): { data: Uint8Array; done: boolean } {
    assert(offset === 0, `snapshot chunk at offset ${offset} of an empty snapshot`);
    return { data: new Uint8Array(0), done: true };
  }

  /**
   * Write what a Ready asks to persist, in the contract's order: snapshot, entries (truncating a
   * conflicting suffix first), then term/vote. Entries reach the page cache here; the caller
   * waits for store.whenDurable(lastIndex) before it reports the Ready persisted.
   * Returns where each entry was written (index, term, pos), in order.
   */
  persist(ready: Ready): AppendedEntry[] {
    if (ready.snapshotToInstall !== null) {
      const meta = ready.snapshotToInstall.meta;
      if (this.store.lastIndex >= meta.index + 1) this.store.truncate(Math.max(meta.index + 1, this.store.beforeBeginIndex + 1));
      this.store.resetPrefix(meta.index, meta.term);
    }
    const written: AppendedEntry[] = [];
    const entries = ready.entriesToPersist;
    const first = entries[0];
    if (first !== undefined) {
      if (first.index <= this.store.lastIndex) this.store.truncate(first.index);
      assert(first.index === this.store.lastIndex + 1, `persist: entry ${first.index} does not follow the log's last index ${this.store.lastIndex}`);
      // One store.append per run of entries sharing term and type (usually the whole batch).
      let runStart = 0;
      for (let i = 1; i <= entries.length; i++) {
        const head = entries[runStart] as Entry;
        const current = entries[i];
        if (current !== undefined && current.term === head.term && current.type === head.type) continue;
        const run = entries.slice(runStart, i);
        const appended = this.store.append(head.term, run.map((entry) => entry.data), magicOf(head.type));
        assert(appended[0]?.index === head.index, `store appended at ${appended[0]?.index}, Raft expected ${head.index}`);
        for (const entry of appended) written.push(entry);
        runStart = i;
      }
    }
    const hardState = ready.hardState;
    if (hardState !== null && (hardState.term !== this.savedTermVote.term || hardState.votedFor !== this.savedTermVote.votedFor)) {
      this.savedTermVote = { term: hardState.term, votedFor: hardState.votedFor };
      this.store.saveTermVote(this.savedTermVote);
    }
    return written;
  }
}
