// The Raft core's view of a node's durable state (RaftStorage) over the commit-log store, and the
// write side that persists a Ready into it. This is where src/raft and src/store meet: Raft entry
// types map to the store's magic numbers, Raft's truncate-then-append becomes store.truncate +
// store.append, and term/vote go to the store's durable currterm file.
import type { Entry, HardState, RaftStorage, Ready, SnapshotMeta } from '../raft/types.js';
import { EntryType } from '../raft/types.js';
import { StoreRejectedRecordError } from '../store/errors.js';
import { type AppendedEntry, ENTRY_HEADER_BYTES, EntryMagic, type LogStore, type RawRecords, type TermVote } from '../store/types.js';
import { assert } from '../util/assert.js';

/**
 * Received raw record sets kept until their entries are persisted; older ones are forgotten (their
 * entries are then encoded again). Each is a view of a received frame that the core's unstable
 * entries hold anyway. 64 was too few for a leader with storageWorkerWrites: the Appends it held
 * until their entries were written go out back to back, and a follower then took 240 entries from
 * ~100 Appends in one Ready, encoding the ones whose record sets it had forgotten.
 */
const MAX_RECEIVED_RAW = 1024;
/** Bodies of the most recently persisted entries kept in memory for entries() (see RecentEntries). */
const RECENT_ENTRIES_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The last entries persisted, as the Raft core handed them over, so that entries() serves the
 * hot reads (committed entries to apply, a pipelined Append) without a store read, a CRC pass
 * and a body copy each: profiled on a follower at 64-entry batches, those store reads were 14 %
 * of its CPU. Holds only entries whose bodies are the stored bytes.
 */
class RecentEntries {
  // Invariant: entries hold consecutive indexes [firstIndex, firstIndex + entries.length - head),
  // bodies total `bytes` (<= RECENT_ENTRIES_MAX_BYTES once add() returns).
  private entries: Entry[] = [];
  private head = 0;
  private bytes = 0;

  get firstIndex(): number {
    return this.entries[this.head]?.index ?? -1;
  }

  add(entry: Entry): void {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && this.head < this.entries.length && last.index + 1 !== entry.index) this.clear();
    this.entries.push(entry);
    this.bytes += entry.data.byteLength;
    while (this.bytes > RECENT_ENTRIES_MAX_BYTES && this.head < this.entries.length) this.bytes -= (this.entries[this.head++] as Entry).data.byteLength;
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  get(index: number): Entry | undefined {
    const first = this.firstIndex;
    return first < 0 || index < first ? undefined : this.entries[this.head + index - first];
  }

  /** Forget entries >= fromIndex (a truncation). */
  truncate(fromIndex: number): void {
    const first = this.firstIndex;
    if (first < 0) return;
    if (fromIndex <= first) return this.clear();
    const keep = this.head + fromIndex - first;
    for (let i = keep; i < this.entries.length; i++) this.bytes -= (this.entries[i] as Entry).data.byteLength;
    this.entries.length = Math.min(this.entries.length, keep);
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }
}

function magicOf(type: EntryType): EntryMagic {
  return type === EntryType.Noop ? EntryMagic.Noop : EntryMagic.Normal;
}

function typeOf(magic: EntryMagic): EntryType {
  assert(magic === EntryMagic.Normal || magic === EntryMagic.Noop, `log entry with magic ${magic}`);
  return magic === EntryMagic.Noop ? EntryType.Noop : EntryType.Normal;
}

/** True when `entry` was decoded from `raw`: its body is a view into raw's bytes. */
function holds(raw: RawRecords, entry: Entry): boolean {
  const from = raw.bytes.byteOffset;
  return entry.data.buffer === raw.bytes.buffer && entry.index >= raw.firstIndex && entry.index <= raw.lastIndex && entry.data.byteOffset >= from + ENTRY_HEADER_BYTES && entry.data.byteOffset + entry.data.byteLength <= from + raw.bytes.byteLength;
}

/**
 * The snapshot's data: the leader's position of the entry after the snapshot (8 bytes,
 * big-endian), then the chainCrc of the snapshot's last entry (4 bytes) when the leader knows it.
 */
export const SNAPSHOT_START_POS_BYTES = 8;
export const SNAPSHOT_START_BYTES_WITH_CHAIN = 12;

export interface SnapshotStart {
  readonly pos: number;
  readonly chainCrc: number | null;
}

export function encodeSnapshotStart(start: SnapshotStart): Uint8Array {
  assert(Number.isSafeInteger(start.pos) && start.pos >= 0, `snapshot start pos ${start.pos}`);
  const data = new Uint8Array(start.chainCrc === null ? SNAPSHOT_START_POS_BYTES : SNAPSHOT_START_BYTES_WITH_CHAIN);
  const view = new DataView(data.buffer);
  view.setBigUint64(0, BigInt(start.pos));
  if (start.chainCrc !== null) view.setUint32(8, start.chainCrc >>> 0);
  return data;
}

/**
 * Where a snapshot's data says the log goes on, or undefined for an empty snapshot (a leader
 * before positions were sent: the follower then goes on at its own end, as before) or one of
 * another length or with a position beyond a safe integer (never written by this code; ignored,
 * not trusted).
 */
export function decodeSnapshotStart(data: Uint8Array): SnapshotStart | undefined {
  if (data.byteLength !== SNAPSHOT_START_POS_BYTES && data.byteLength !== SNAPSHOT_START_BYTES_WITH_CHAIN) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const pos = view.getBigUint64(0);
  if (pos > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { pos: Number(pos), chainCrc: data.byteLength === SNAPSHOT_START_BYTES_WITH_CHAIN ? view.getUint32(8) : null };
}

export class LogRaftStorage implements RaftStorage {
  // Invariant: savedTermVote is what the currterm file holds.
  private savedTermVote: TermVote;
  // Invariant: at most MAX_RECEIVED_RAW entries, oldest first. Entries decoded from one of these
  // have bodies that are views into its bytes, which is how persist() recognises them.
  private receivedRaw: RawRecords[] = [];
  /** Entries persisted from received bytes verbatim / re-encoded (tests and the bench read these). */
  readonly persistedCounts = { raw: 0, encoded: 0, rawRejected: 0 };
  private readonly recent = new RecentEntries();
  /**
   * For the Ready being persisted: encode on this thread even with an off-thread entry writer.
   * A follower does (its encoded runs are the few records that arrived as objects, e.g. across a
   * segment boundary): a pending tail would make its next raw records wait for the writer; the
   * leader's own proposals go to the writer.
   */
  private writeInline = false;

  /**
   * `bodiesAsStored`: the bodies the core proposes are written unchanged (no store patchBody
   * hook), so the leader may keep them as the stored bytes; received raw bodies always are.
   */
  constructor(
    private readonly store: LogStore,
    private readonly bodiesAsStored = true,
  ) {
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
      const recent = this.recent.get(index);
      if (recent !== undefined) {
        if (out.length > 0 && bytes + recent.data.byteLength > maxBytes) break;
        bytes += recent.data.byteLength;
        out.push(recent);
        continue;
      }
      const stored = this.store.get(index);
      assert(stored !== null, `entries: ${index} outside the log [${this.store.beforeBeginIndex}, ${this.store.lastIndex}]`);
      if (out.length > 0 && bytes + stored.body.byteLength > maxBytes) break;
      bytes += stored.body.byteLength;
      out.push({ index: stored.index, term: stored.term, type: typeOf(stored.magic), data: stored.body });
    }
    return out;
  }

  /** Follower: records an Append carried (raft-message-wire.ts); persist() writes them verbatim. */
  offerReceivedRaw(raw: RawRecords): void {
    this.receivedRaw.push(raw);
    if (this.receivedRaw.length > MAX_RECEIVED_RAW) this.receivedRaw.shift();
  }

  /**
   * Leader: the stored records of exactly `entries` (contiguous, already persisted), to ship
   * instead of re-encoding them; null when the store cannot give them in one piece (a segment
   * boundary in between), and the entries travel as objects.
   */
  storedRecordsOf(entries: readonly Entry[]): RawRecords | null {
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (first === undefined || last === undefined || last.index > this.store.lastIndex) return null;
    // An Append held until its entries were written (storageWorkerWrites) may find them replaced
    // by then (a truncate after a leader change): those are not its records.
    if (this.store.termAt(first.index) !== first.term || this.store.termAt(last.index) !== last.term) return null;
    let bytes = 0;
    for (const entry of entries) bytes += ENTRY_HEADER_BYTES + entry.data.byteLength;
    // Unverified: these are records this node wrote (the follower's appendRaw checks every CRC).
    const raw = this.store.readRaw(first.index, bytes, false);
    return raw !== null && raw.lastIndex === last.index && raw.bytes.byteLength === bytes ? raw : null;
  }

  /**
   * True when persisting `ready` needs every entry an off-thread entry writer holds written first:
   * it installs a snapshot, truncates, appends received raw records (appendRaw checks their
   * chain against our last written entry), or writes entries inline (`writeInline`, see persist). The node then persists it once the store's
   * afterWrites calls back, instead of letting the store drain (block) for it.
   */
  needsWrittenLog(ready: Ready, writeInline: boolean): boolean {
    if ((this.store.pendingWrites?.() ?? 0) === 0) return false;
    if (ready.snapshotToInstall !== null) return true;
    const first = ready.entriesToPersist[0];
    if (first === undefined) return false;
    if (first.index <= this.store.lastIndex || writeInline) return true;
    return ready.entriesToPersist.some((entry) => this.isReceivedRaw(entry));
  }

  /** True when the last of `entries` is still with the off-thread entry writer (not written yet). */
  entriesPending(entries: readonly Entry[]): boolean {
    const last = entries[entries.length - 1];
    return last !== undefined && this.store.isPendingWrite?.(last.index) === true;
  }

  snapshotMeta(): SnapshotMeta | null {
    // No state-machine snapshots yet: a compacted prefix is described by the store's before-begin
    // entry, and installing it means "continue the log after this point". Its only data is where
    // the entry after it starts here and the chain seed (encodeSnapshotStart), so the follower's log
    // goes on with the same records at the same positions as ours (a RocketMQ msgId is that position).
    if (this.store.beforeBeginIndex < 0) return null;
    return { index: this.store.beforeBeginIndex, term: this.store.beforeBeginTerm, sizeBytes: this.snapshotData().byteLength };
  }

  snapshotChunk(offset: number): { data: Uint8Array; done: boolean } {
    assert(offset === 0, `snapshot chunk at offset ${offset} of a one-chunk snapshot`);
    return { data: this.snapshotData(), done: true };
  }

  private snapshotData(): Uint8Array {
    return encodeSnapshotStart({ pos: this.store.retainedRange().firstPos, chainCrc: this.store.beforeBeginChainCrc });
  }

  /**
   * Write what a Ready asks to persist, in the contract's order: snapshot, entries (truncating a
   * conflicting suffix first), then term/vote. Entries reach the page cache here; the caller
   * waits for store.whenDurable(lastIndex) before it reports the Ready persisted.
   * Returns where each entry was written (index, term, pos), in order.
   */
  persist(ready: Ready, writeInline = false): AppendedEntry[] {
    this.writeInline = writeInline;
    if (ready.snapshotToInstall !== null) {
      const meta = ready.snapshotToInstall.meta;
      if (this.store.lastIndex >= meta.index + 1) this.store.truncate(Math.max(meta.index + 1, this.store.beforeBeginIndex + 1));
      this.store.resetPrefix(meta.index, meta.term, decodeSnapshotStart(ready.snapshotToInstall.data));
      this.recent.clear();
    }
    const written: AppendedEntry[] = [];
    const entries = ready.entriesToPersist;
    const first = entries[0];
    if (first !== undefined) {
      if (first.index <= this.store.lastIndex) {
        this.store.truncate(first.index);
        this.recent.truncate(first.index);
      }
      assert(first.index === this.store.lastIndex + 1, `persist: entry ${first.index} does not follow the log's last index ${this.store.lastIndex}`);
      for (let at = 0; at < entries.length; ) at = this.persistFrom(entries, at, written);
    }
    const hardState = ready.hardState;
    if (hardState !== null && (hardState.term !== this.savedTermVote.term || hardState.votedFor !== this.savedTermVote.votedFor)) {
      this.savedTermVote = { term: hardState.term, votedFor: hardState.votedFor };
      this.store.saveTermVote(this.savedTermVote);
    }
    return written;
  }

  /**
   * Persist entries[at..] up to the end of one run: the entries decoded from one received raw
   * record set go to the store as those bytes (appendRaw verifies their CRCs and the chain);
   * otherwise one store.append per run of entries sharing term and type. Returns the next `at`.
   */
  private persistFrom(entries: readonly Entry[], at: number, written: AppendedEntry[]): number {
    const head = entries[at] as Entry;
    // appendRaw checks the chain from our last written entry: with entries of this Ready still
    // with the off-thread writer (an encoded run before this one), the store would have to wait
    // (block) for them, so those records are encoded instead (same bodies, same pos: same bytes).
    const writerBehind = this.store.isPendingWrite?.(this.store.lastIndex) === true;
    const raw = writerBehind ? undefined : this.receivedRaw.find((r) => holds(r, head));
    if (raw !== undefined) {
      let end = at + 1;
      while (end < entries.length && holds(raw, entries[end] as Entry)) end++;
      const last = entries[end - 1] as Entry;
      const fromBytes = head.data.byteOffset - ENTRY_HEADER_BYTES - raw.bytes.byteOffset;
      const toBytes = last.data.byteOffset + last.data.byteLength - raw.bytes.byteOffset;
      const records: RawRecords = { firstIndex: head.index, lastIndex: last.index, pos: raw.pos + fromBytes, bytes: raw.bytes.subarray(fromBytes, toBytes) };
      try {
        this.store.appendRaw(records);
        this.persistedCounts.raw += end - at;
        let pos = records.pos;
        for (let i = at; i < end; i++) {
          const entry = entries[i] as Entry;
          this.recent.add(entry);
          written.push({ index: entry.index, term: entry.term, pos });
          pos += ENTRY_HEADER_BYTES + entry.data.byteLength;
        }
        if (last.index >= raw.lastIndex) this.receivedRaw = this.receivedRaw.filter((r) => r !== raw);
        return end;
      } catch (error) {
        // Nothing was written (appendRaw verifies all first): the bytes disagree with our log
        // (e.g. a damaged frame); fall back to encoding the entries as the leader's append did.
        if (!(error instanceof StoreRejectedRecordError)) throw error;
        this.persistedCounts.rawRejected++;
      }
    }
    let end = at + 1;
    while (end < entries.length && (entries[end] as Entry).term === head.term && (entries[end] as Entry).type === head.type && (writerBehind || !this.isReceivedRaw(entries[end] as Entry))) end++;
    const appended = this.store.append(head.term, entries.slice(at, end).map((entry) => entry.data), magicOf(head.type), this.writeInline ? { inline: true } : undefined);
    assert(appended[0]?.index === head.index, `store appended at ${appended[0]?.index}, Raft expected ${head.index}`);
    for (const entry of appended) written.push(entry);
    if (!this.bodiesAsStored) this.recent.clear();
    else for (let i = at; i < end; i++) this.recent.add(entries[i] as Entry);
    this.persistedCounts.encoded += end - at;
    return end;
  }

  private isReceivedRaw(entry: Entry): boolean {
    return this.receivedRaw.some((r) => holds(r, entry));
  }
}
