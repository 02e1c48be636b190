// The store's pending tail with an off-thread entry writer (StoreOptions.entryWriter): entries
// append() handed to the writer that it has not yet published as written. The store's synchronous
// readers answer from here what they can (termAt, get and indexAtPos: the tail keeps each entry's
// stored body and its place) and the rest (verified readRaw, truncate, appendRaw's chain check)
// waits for the writer: asynchronously through whenEmpty(), or blocking (drain) for a direct caller.
import { assert } from '../util/assert.js';
import type { OffThreadEntryWriter } from './types.js';

export interface PendingEntry {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly sizeBytes: number;
  readonly magic: number;
  /** The body as stored (patchBody applied): the writer's copy of it is in its ring. */
  readonly body: Uint8Array;
  /** The chain CRC the writer computes for this entry, once a reader asked (see SegmentedLogStore.get). */
  chainCrc?: number;
  bodyCrc?: number;
}

/** a - b for wrapping int32 sequence numbers: >= 0 when a is b or later. */
function seqAfter(a: number, b: number): number {
  return (a - b) | 0;
}

export class PendingWrites {
  // Invariant: entries[head..] hold consecutive indexes, oldest first, each submitted to the
  // writer and not yet seen written; batches[batchHead..] are their submissions in order, each
  // with the last index it carries. Bounded by what the writer holds (its ring and outbox bound).
  private entries: PendingEntry[] = [];
  private head = 0;
  private batches: Array<{ readonly seq: number; readonly lastIndex: number }> = [];
  private batchHead = 0;

  constructor(private readonly writer: OffThreadEntryWriter) {}

  get isEmpty(): boolean {
    return this.head === this.entries.length;
  }

  /** Entries not yet known written (for tests and stats). */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** The first index not known written, or Infinity when none is pending. */
  get firstIndex(): number {
    return this.entries[this.head]?.index ?? Number.POSITIVE_INFINITY;
  }

  add(seq: number, entries: readonly PendingEntry[]): void {
    const first = entries[0];
    const last = entries[entries.length - 1];
    if (first === undefined || last === undefined) return;
    const previous = this.entries[this.entries.length - 1];
    assert(this.isEmpty || previous === undefined || previous.index + 1 === first.index, `pending entry ${first.index} does not follow ${previous?.index}`);
    for (const entry of entries) this.entries.push(entry);
    this.batches.push({ seq, lastIndex: last.index });
  }

  /** The pending entry `index`, or undefined when it is not pending (written, or not in the log). */
  entryAt(index: number): PendingEntry | undefined {
    this.refresh();
    const first = this.firstIndex;
    if (index < first) return undefined;
    return this.entries[this.head + index - first];
  }

  /** Forget what the writer has published written. Throws the writer's failure. */
  refresh(): void {
    if (this.isEmpty) return;
    const failure = this.writer.failure();
    if (failure !== null) throw failure;
    const written = this.writer.writtenSeq();
    let through: number | null = null;
    while (this.batchHead < this.batches.length && seqAfter(written, (this.batches[this.batchHead] as { seq: number }).seq) >= 0) {
      through = (this.batches[this.batchHead++] as { lastIndex: number }).lastIndex;
    }
    if (through === null) return;
    while (this.head < this.entries.length && (this.entries[this.head] as PendingEntry).index <= through) this.head++;
    this.compact();
  }

  /**
   * Call `callback` once every entry submitted so far is written (at once when none is pending),
   * asynchronously: the writer calls back from its event-loop wait, never blocking.
   */
  whenEmpty(callback: () => void): void {
    const last = this.batches[this.batches.length - 1];
    if (this.isEmpty || last === undefined) return callback();
    this.writer.onWritten(last.seq, callback);
  }

  /** The entries pending from `index` on (for computing their chain), or [] when it is not pending. */
  entriesFrom(index: number): readonly PendingEntry[] {
    const first = this.firstIndex;
    if (index < first) return [];
    return this.entries.slice(this.head + index - first);
  }

  /** The pending entry at byte `pos`, or undefined (as of the last refresh: the caller refreshes). */
  entryAtPos(pos: number): PendingEntry | undefined {
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const entry = this.entries[mid] as PendingEntry;
      if (entry.pos === pos) return entry;
      if (entry.pos < pos) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The pos of the first pending entry, or Infinity. */
  get firstPos(): number {
    return this.entries[this.head]?.pos ?? Number.POSITIVE_INFINITY;
  }

  /** Wait (blocking) until every submitted entry is written. Throws the writer's failure. Not for the node's event loop (whenEmpty). */
  drain(): void {
    const last = this.batches[this.batches.length - 1];
    if (this.isEmpty || last === undefined) return;
    this.writer.waitWritten(last.seq);
    this.refresh();
    assert(this.isEmpty, `pending tail not empty after the writer wrote seq ${last.seq}`);
  }

  /** Forget everything (the store stops: a failure or a simulated crash). */
  clear(): void {
    this.entries = [];
    this.head = 0;
    this.batches = [];
    this.batchHead = 0;
  }

  private compact(): void {
    ({ items: this.entries, head: this.head } = compacted(this.entries, this.head));
    ({ items: this.batches, head: this.batchHead } = compacted(this.batches, this.batchHead));
  }
}

/** A list consumed from `head` on: emptied when all is consumed, sliced once the consumed part is large and most of it. */
function compacted<T>(items: T[], head: number): { items: T[]; head: number } {
  if (head === items.length) return { items: [], head: 0 };
  if (head > 1024 && head * 2 > items.length) return { items: items.slice(head), head: 0 };
  return { items, head };
}
