// The segmented commit log (DLedger's DLedgerMmapFileStore without roles): data segments holding
// 48-byte-header records, index segments holding 32-byte records at index*32, over a medium (mmap'd
// files, or memory for simulation). See README "Store" for the guarantees per flush policy.
//
// The append path writes straight into the mapping: header fields through a DataView on the
// segment, the body copied once, CRCs computed over the bytes as they lie in the segment (so the
// check covers the copy), then the index record published with its magic stored last. Nothing is
// flushed per entry: under flush=sync one msync of the dirty range per event-loop turn covers every
// append of that turn (group commit); under async a timer does it.
import { join } from 'node:path';
import { assert } from '../util/assert.js';
import { type Checkpoint, checkpointPath, INITIAL_CHECKPOINT, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { validateStoreOptions } from './config.js';
import { crc32Of } from './crc.js';
import { StoreClosedError, StoreCorruptionError, StoreDiskFullError, StoreFailedError, StoreRejectedRecordError, StoreTruncatedError } from './errors.js';
import { isNoSpaceError } from './fs-util.js';
import { BLANK_MIN_BYTES, checkRecord, HeaderOffset, readEntryHeader, writeBlank, writeEntryHeader } from './entry-codec.js';
import { DurabilityWaiters } from './group-commit.js';
import type { IndexRecord } from './index-codec.js';
import { clearIndexFrom, dataSegmentAt, headerAt, indexSlotPos, locateVerifiedEntry, publishIndexOf, readIndexOf } from './log-access.js';
import type { StoreLock, StoreMedium } from './medium.js';
import { type PendingEntry, PendingWrites } from './pending-writes.js';
import { type RecoveryReport, recoverLog } from './recovery.js';
import { type Segment, SegmentList } from './segment-list.js';
import { loadTermVote, saveTermVote } from './term-vote.js';
import {
  type AppendedEntry,
  ENTRY_HEADER_BYTES,
  type OffThreadWriteBatch,
  EntryMagic,
  INDEX_RECORD_BYTES,
  type LogStore,
  type RawRecords,
  type RetainedRange,
  type RetentionPolicy,
  type RetentionRun,
  type StoredEntry,
  type StoreOptions,
  type TermVote,
} from './types.js';

export const DATA_DIR_NAME = 'data';
/** A run of staged records is written once it would pass this size. */
const STAGING_MAX_BYTES = 4 * 1024 * 1024;

/** Bytes into a segment: through the file's write (pwrite) when it has one, else the mapping. */
function writeSegmentBytes(segment: Segment, offsetBytes: number, bytes: Uint8Array): void {
  const file = segment.file;
  if (file.write !== undefined) file.write(offsetBytes, bytes);
  else segment.bytes.set(bytes, offsetBytes);
}
/**
 * last.chainCrc while the entry writer has not written the last entry (the worker computes the
 * chain); drainWrites() replaces it with the chain CRC read from the written header.
 */
const CHAIN_ON_WRITER = -1;
/** How often creating the next segment ahead is retried after it failed (e.g. disk full). */
const PREPARE_RETRY_MS = 100;
export const INDEX_DIR_NAME = 'index';
/** Data segments one retention run deletes at most (DLedger's and RocketMQ's DELETE_FILES_BATCH_MAX). */
const DEFAULT_RETENTION_SEGMENTS_PER_RUN = 10;

export class SegmentedLogStore implements LogStore {
  readonly recoveryReport: RecoveryReport;
  private readonly dataList: SegmentList;
  private readonly indexList: SegmentList;
  private readonly waiters = new DurabilityWaiters();
  private readonly maxRecordBytes: number;

  // Invariant: beforeBeginIndex <= durableIndex <= lastIndex, and beforeBeginIndex <= lastIndex.
  private beforeBegin: { index: number; term: number; chainCrc: number | null };
  // Invariant: firstPos is where entry beforeBeginIndex+1 lies (or will be written).
  private firstPos: number;
  private last: { index: number; term: number; chainCrc: number | null; pos: number; sizeBytes: number };
  // Invariant: endPos is the end of the last record (or firstPos when empty), or the start of the
  // segment after a BLANK that ends the previous one.
  private end: number;
  private durable: number;
  private checkpointed: Checkpoint;
  /** A truncate cleared index records; they must be durable before later entries are reported durable. */
  private indexFlushPending = false;
  private flushScheduled = false;
  /** Reused encode buffer for append(); grows to the largest run written (at most a few MiB). */
  private staging = Buffer.alloc(64 * 1024);
  private stagingView = new DataView(this.staging.buffer, this.staging.byteOffset, this.staging.byteLength);
  /** The background group commit in flight (flushInBackground), and whether another is wanted. */
  private backgroundFlush: { ranges: ReadonlyArray<{ segment: Segment; fromBytes: number; toBytes: number }> } | null = null;
  private backgroundFlushAgain = false;
  /** Counts synchronous flushes; a background flush that straddles one has nothing left to report. */
  private flushEpoch = 0;
  /** Advisory checkpoints not written because the disk was full (observability). */
  checkpointsSkippedForSpace = 0;
  /** The last retention run's unlinks, while they run (one run at a time). */
  private retentionUnlinks: Promise<void> | null = null;
  private prepareScheduled = false;
  private prepareFailedAtMs: number | null = null;
  private readonly flushTimer: NodeJS.Timeout | null = null;
  private failure: StoreFailedError | null = null;
  /** Entries handed to options.entryWriter and not yet seen written (null without a writer). */
  private readonly pending: PendingWrites | null;
  private closed = false;
  private readonly lock: StoreLock;

  constructor(
    private readonly options: StoreOptions,
    private readonly medium: StoreMedium,
  ) {
    validateStoreOptions(options, medium.pageSizeBytes);
    this.maxRecordBytes = ENTRY_HEADER_BYTES + options.maxEntryBodyBytes;
    this.pending = options.entryWriter === undefined ? null : new PendingWrites(options.entryWriter);
    medium.makeDirectory(options.nodeDir);
    this.lock = medium.acquireLock(options.nodeDir);
    this.dataList = new SegmentList(medium, join(options.nodeDir, DATA_DIR_NAME), options.dataSegmentSizeBytes);
    this.indexList = new SegmentList(medium, join(options.nodeDir, INDEX_DIR_NAME), options.indexSegmentSizeBytes);
    try {
      this.dataList.load();
      this.indexList.load();
      const checkpoint = readCheckpoint(medium, options.nodeDir) ?? INITIAL_CHECKPOINT;
      const recovered = recoverLog(this.dataList, this.indexList, checkpoint, this.maxRecordBytes, options.recoveryScans);
      this.recoveryReport = recovered.report;
      this.beforeBegin = { index: checkpoint.beforeBeginIndex, term: checkpoint.beforeBeginTerm, chainCrc: checkpoint.beforeBeginChainCrc };
      this.firstPos = checkpoint.firstPos;
      this.last = { index: recovered.lastIndex, term: recovered.lastTerm, chainCrc: recovered.lastChainCrc, pos: recovered.lastEntryPos, sizeBytes: recovered.lastEntrySizeBytes };
      this.end = recovered.endPos;
      // Recovery made everything it kept durable.
      this.durable = recovered.lastIndex;
      this.checkpointed = checkpoint;
      // The active segments exist from the start (the next ones are prepared right after). On a
      // full disk the store still opens and serves reads; the first append that needs the missing
      // segment fails with StoreDiskFullError.
      try {
        this.dataList.ensure(this.end);
        this.indexList.ensure(indexSlotPos(this.last.index + 1));
      } catch (error) {
        if (!(error instanceof StoreDiskFullError)) throw error;
      }
      medium.prepareSpaceReserve(options.nodeDir);
      this.writeCheckpointAtLast();
    } catch (error) {
      this.dataList.close();
      this.indexList.close();
      this.lock.release();
      throw error;
    }
    if (options.flush.kind === 'async') {
      this.flushTimer = setInterval(() => this.flushIfDirty(), options.flush.intervalMs);
      this.flushTimer.unref();
    }
    this.schedulePrepare();
  }

  get beforeBeginIndex(): number {
    return this.beforeBegin.index;
  }
  get beforeBeginTerm(): number {
    return this.beforeBegin.term;
  }
  get beforeBeginChainCrc(): number | null {
    return this.beforeBegin.chainCrc;
  }
  get lastIndex(): number {
    return this.last.index;
  }
  get lastTerm(): number {
    return this.last.term;
  }
  get endPos(): number {
    return this.end;
  }
  get durableIndex(): number {
    return this.durable;
  }

  append(term: number, bodies: readonly Uint8Array[], magic: EntryMagic = EntryMagic.Normal, options?: { readonly inline?: boolean }): AppendedEntry[] {
    this.checkWritable('append');
    assert(magic === EntryMagic.Normal || magic === EntryMagic.Noop, `append magic must be NORMAL or NOOP, got ${magic}`);
    assert(Number.isSafeInteger(term) && term >= this.last.term, `append term ${term} below the last term ${this.last.term}`);
    for (const body of bodies) {
      if (body.length > this.options.maxEntryBodyBytes) {
        throw new StoreRejectedRecordError('body length', `<= ${this.options.maxEntryBodyBytes} bytes (maxEntryBodyBytes)`, `${body.length} bytes`);
      }
    }
    if (bodies.length === 0) return [];
    // Plan the positions first and create every segment the batch needs, so that a full disk fails
    // the whole batch before a byte of it is written.
    const segmentBytes = this.options.dataSegmentSizeBytes;
    let planPos = this.end;
    for (const body of bodies) {
      const recordBytes = ENTRY_HEADER_BYTES + body.length;
      const remaining = segmentBytes - (planPos % segmentBytes);
      if (recordBytes + BLANK_MIN_BYTES > remaining) planPos += remaining;
      planPos += recordBytes;
    }
    this.dataList.ensure(this.end);
    this.dataList.ensure(planPos - 1);
    this.indexList.ensure(indexSlotPos(this.last.index + 1));
    this.indexList.ensure(indexSlotPos(this.last.index + bodies.length));
    if (this.pending !== null) {
      const offThread = options?.inline === true ? null : this.appendOffThread(term, bodies, magic);
      if (offThread !== null) return offThread;
      // A segment the writer cannot write (not a shared mapping), or a body too big for its ring:
      // inline, after everything queued before (same order, same bytes).
      this.drainWrites();
    }

    // Records are encoded into a staging buffer and reach each segment in one write (pwrite on the
    // mmap'd store): measured, copying into the mapping page by page cost a page fault per fresh
    // 4 KiB page (~1 ms per 256 x 1 KiB batch); one write() puts the same bytes in the same page
    // cache with none. Index records are published only after their data is written.
    const appended: AppendedEntry[] = [];
    let previousChainCrc = this.last.chainCrc ?? 0;
    let index = this.last.index;
    let pos = this.end;
    let recordBytes = 0;
    let runSegment: Segment | null = null;
    let runStartBytes = 0;
    let runLengthBytes = 0;
    const runIndexRecords: IndexRecord[] = [];
    const writeRun = (): void => {
      if (runSegment === null || runLengthBytes === 0) return;
      try {
        writeSegmentBytes(runSegment, runStartBytes, this.staging.subarray(0, runLengthBytes));
      } catch (error) {
        // Part of a batch may be in the page cache with no index: nothing after this point can
        // be trusted until a reopen recovers the log from what verifies.
        this.failure = new StoreFailedError(`write to ${this.options.nodeDir} failed; reopen the store to recover`, error);
        this.waiters.rejectAll(this.failure);
        throw this.failure;
      }
      runSegment.markDirty(runStartBytes, runStartBytes + runLengthBytes);
      for (const record of runIndexRecords) publishIndexOf(this.indexList, record);
      runIndexRecords.length = 0;
      runLengthBytes = 0;
    };
    const startRun = (segment: Segment, offsetBytes: number): void => {
      writeRun();
      runSegment = segment;
      runStartBytes = offsetBytes;
    };
    for (const body of bodies) {
      recordBytes = ENTRY_HEADER_BYTES + body.length;
      let segment = this.dataList.ensure(pos);
      let offsetBytes = pos - segment.startPos;
      const remaining = segment.file.sizeBytes - offsetBytes;
      if (runSegment !== segment || runLengthBytes + recordBytes + BLANK_MIN_BYTES > STAGING_MAX_BYTES) startRun(segment, offsetBytes);
      if (recordBytes + BLANK_MIN_BYTES > remaining) {
        this.ensureStaging(runLengthBytes + BLANK_MIN_BYTES);
        writeBlank(this.stagingView, runLengthBytes, remaining);
        runLengthBytes += BLANK_MIN_BYTES;
        pos = segment.endPos;
        segment = this.dataList.ensure(pos);
        offsetBytes = 0;
        startRun(segment, offsetBytes);
      }
      index++;
      this.ensureStaging(runLengthBytes + recordBytes);
      const staging = this.staging;
      const at = runLengthBytes;
      const bodyAt = at + ENTRY_HEADER_BYTES;
      staging.set(body, bodyAt);
      if (magic === EntryMagic.Normal && this.options.patchBody !== undefined) {
        this.options.patchBody(staging.subarray(bodyAt, bodyAt + body.length), pos);
      }
      const bodyCrc = crc32Of(staging.subarray(bodyAt, bodyAt + body.length));
      previousChainCrc = writeEntryHeader(this.stagingView, staging, at, { magic, index, term, pos, bodyLength: body.length, bodyCrc }, previousChainCrc);
      runLengthBytes += recordBytes;
      runIndexRecords.push({ magic, pos, sizeBytes: recordBytes, index, term });
      appended.push({ index, term, pos });
      pos += recordBytes;
    }
    writeRun();
    this.last = { index, term, chainCrc: previousChainCrc, pos: pos - recordBytes, sizeBytes: recordBytes };
    this.end = pos;
    this.afterWrite();
    return appended;
  }

  /**
   * append() through options.entryWriter: the positions, index and term are decided here exactly
   * as the inline path does (same BLANKs, same pos), the bodies (patched) go to the writer, which
   * encodes, CRCs and writes them and publishes the index records. Returns null, having changed
   * nothing, when a segment has no writer id or a body does not fit one ring record.
   */
  private appendOffThread(term: number, bodies: readonly Uint8Array[], magic: EntryMagic): AppendedEntry[] | null {
    const writer = this.options.entryWriter as NonNullable<StoreOptions['entryWriter']>;
    const pending = this.pending as PendingWrites;
    const entries: Array<OffThreadWriteBatch['entries'][number]> = [];
    const dirty: Array<{ segment: Segment; fromBytes: number; toBytes: number }> = [];
    const pendingEntries: PendingEntry[] = [];
    let index = this.last.index;
    let pos = this.end;
    let recordBytes = 0;
    for (const body of bodies) {
      if (body.length > writer.maxRecordBodyBytes) return null;
      recordBytes = ENTRY_HEADER_BYTES + body.length;
      let segment = this.dataList.ensure(pos);
      let offsetBytes = pos - segment.startPos;
      const remaining = segment.file.sizeBytes - offsetBytes;
      let blank: OffThreadWriteBatch['entries'][number]['blank'] = null;
      if (recordBytes + BLANK_MIN_BYTES > remaining) {
        const blankSegmentId = writer.segmentIdOf(segment.file);
        if (blankSegmentId === null) return null;
        blank = { segmentId: blankSegmentId, offsetBytes, sizeBytes: remaining };
        dirty.push({ segment, fromBytes: offsetBytes, toBytes: offsetBytes + BLANK_MIN_BYTES });
        pos = segment.endPos;
        segment = this.dataList.ensure(pos);
        offsetBytes = 0;
      }
      const dataSegmentId = writer.segmentIdOf(segment.file);
      index++;
      const slotPos = indexSlotPos(index);
      const indexSegment = this.indexList.ensure(slotPos);
      const indexSegmentId = writer.segmentIdOf(indexSegment.file);
      if (dataSegmentId === null || indexSegmentId === null) return null;
      let stored = body;
      if (magic === EntryMagic.Normal && this.options.patchBody !== undefined) {
        stored = body.slice();
        this.options.patchBody(stored, pos);
      }
      const indexOffsetBytes = slotPos - indexSegment.startPos;
      entries.push({ dataSegmentId, dataOffsetBytes: offsetBytes, pos, index, term, body: stored, indexSegmentId, indexOffsetBytes, blank });
      dirty.push({ segment, fromBytes: offsetBytes, toBytes: offsetBytes + recordBytes });
      dirty.push({ segment: indexSegment, fromBytes: indexOffsetBytes, toBytes: indexOffsetBytes + INDEX_RECORD_BYTES });
      pendingEntries.push({ index, term, pos, sizeBytes: recordBytes, magic, body: stored });
      pos += recordBytes;
    }
    const chainSeed = this.last.chainCrc === CHAIN_ON_WRITER ? null : (this.last.chainCrc ?? 0);
    let seq: number;
    try {
      seq = writer.submit({ magic, chainSeed, entries });
    } catch (error) {
      this.failWrites(error);
    }
    // Marked dirty at once: a background flush is queued after this batch on the same ring, so
    // its msync runs after these bytes are written; a synchronous flush drains first.
    for (const range of dirty) range.segment.markDirty(range.fromBytes, range.toBytes);
    pending.add(seq, pendingEntries);
    this.last = { index, term, chainCrc: CHAIN_ON_WRITER, pos: pos - recordBytes, sizeBytes: recordBytes };
    this.end = pos;
    this.afterWrite();
    return pendingEntries.map((entry) => ({ index: entry.index, term: entry.term, pos: entry.pos }));
  }

  /** True when entry `index` may not be written yet (it is in the pending tail). */
  private isPending(index: number): boolean {
    if (this.pending === null || this.pending.isEmpty) return false;
    try {
      this.pending.refresh();
    } catch (error) {
      this.failWrites(error);
    }
    return index >= this.pending.firstIndex;
  }

  /**
   * Entry `index` of the pending tail as get() returns it, from the body the tail keeps: the CRCs
   * are computed here as the writer computes them (the same codec, chained from the last written
   * entry), once per entry. Null when it is no longer pending (written meanwhile).
   */
  private pendingStoredEntry(index: number): StoredEntry | null {
    const pending = this.pending as PendingWrites;
    let entry: PendingEntry | undefined;
    try {
      entry = pending.entryAt(index);
    } catch (error) {
      this.failWrites(error);
    }
    if (entry === undefined) return null;
    if (entry.chainCrc === undefined) {
      // Chain from the last entry whose chain is known: a pending one computed before, or the
      // written entry (or the log's start) just before the tail.
      const tail = pending.entriesFrom(pending.firstIndex);
      let at = index - pending.firstIndex;
      while (at > 0 && (tail[at - 1] as PendingEntry).chainCrc === undefined) at--;
      let chain = at > 0 ? ((tail[at - 1] as PendingEntry).chainCrc as number) : (this.previousChainCrcOf(pending.firstIndex) ?? 0);
      const header = new Uint8Array(ENTRY_HEADER_BYTES);
      const headerView = new DataView(header.buffer);
      for (; at <= index - pending.firstIndex; at++) {
        const next = tail[at] as PendingEntry;
        const bodyCrc = crc32Of(next.body);
        chain = writeEntryHeader(headerView, header, 0, { magic: next.magic as EntryMagic, index: next.index, term: next.term, pos: next.pos, bodyLength: next.body.byteLength, bodyCrc }, chain);
        next.bodyCrc = bodyCrc;
        next.chainCrc = chain;
      }
    }
    return {
      index,
      term: entry.term,
      magic: entry.magic as EntryMagic,
      pos: entry.pos,
      sizeBytes: entry.sizeBytes,
      chainCrc: entry.chainCrc as number,
      bodyCrc: entry.bodyCrc as number,
      body: entry.body.slice(),
    };
  }

  isPendingWrite(index: number): boolean {
    return this.isPending(index);
  }

  /** Entries handed to the entry writer and not yet written (0 without one). */
  pendingWrites(): number {
    if (this.pending === null || this.pending.isEmpty) return 0;
    try {
      this.pending.refresh();
    } catch (error) {
      this.failWrites(error);
    }
    return this.pending.size;
  }

  /**
   * Call `callback` once every entry handed to the writer so far is written (at once without a
   * writer or with nothing pending), without blocking: the event loop's way to reach the
   * operations that need the written bytes (truncate, appendRaw, retention, close) with no drain.
   */
  afterWrites(callback: () => void): void {
    if (this.pending === null) return callback();
    this.pending.whenEmpty(callback);
  }

  /** False while the entry writer has more queued than its bound: append no more until afterWriterRoom calls back. */
  writerHasRoom(): boolean {
    return this.options.entryWriter?.hasRoom() ?? true;
  }

  afterWriterRoom(callback: () => void): void {
    const writer = this.options.entryWriter;
    if (writer === undefined) return callback();
    writer.onRoom(callback);
  }

  /**
   * Wait (blocking, short: the worker is writing them) until every entry handed to the writer is
   * written, and learn the last entry's chain CRC from its header. Every operation that reads or
   * rewrites bytes of the log's tail calls this first.
   */
  private drainWrites(): void {
    if (this.pending !== null && !this.pending.isEmpty) {
      try {
        this.pending.drain();
      } catch (error) {
        this.failWrites(error);
      }
    }
    if (this.last.chainCrc === CHAIN_ON_WRITER) {
      this.last = { ...this.last, chainCrc: headerAt(this.dataList, this.last.pos, `entry ${this.last.index}`).chainCrc };
    }
  }

  /** The entry writer failed: sticky, as a failed msync (part of a batch may be written without its index). */
  private failWrites(error: unknown): never {
    this.pending?.clear();
    this.failure ??= new StoreFailedError(`write to ${this.options.nodeDir} failed; reopen the store to recover`, error);
    this.waiters.rejectAll(this.failure);
    throw this.failure;
  }

  appendRaw(records: RawRecords): void {
    this.checkWritable('appendRaw');
    this.drainWrites();
    const bytes = records.bytes;
    if (records.firstIndex !== this.last.index + 1) {
      throw new StoreRejectedRecordError('first index of raw records', String(this.last.index + 1), String(records.firstIndex));
    }
    // Verify every record before writing any: header fields, pos, index sequence, term order,
    // bodyCrc and the chain from our last entry.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const segmentBytes = this.options.dataSegmentSizeBytes;
    const roomInSegment = segmentBytes - (records.pos % segmentBytes);
    if (bytes.length + BLANK_MIN_BYTES > roomInSegment) {
      throw new StoreRejectedRecordError(`raw records at pos ${records.pos}`, `<= ${roomInSegment - BLANK_MIN_BYTES} bytes (one segment, BLANK rule)`, `${bytes.length} bytes`);
    }
    let offsetBytes = 0;
    let index = records.firstIndex;
    let term = this.last.term;
    let chainCrc = this.last.index === this.beforeBegin.index ? this.beforeBegin.chainCrc : this.last.chainCrc;
    const parsed: { index: number; term: number; magic: number; pos: number; sizeBytes: number }[] = [];
    while (offsetBytes < bytes.length) {
      const check = checkRecord(view, bytes, offsetBytes, {
        pos: records.pos + offsetBytes,
        maxSizeBytes: bytes.length - offsetBytes,
        index,
        minTerm: term,
        previousChainCrc: chainCrc,
      });
      if (!check.ok) throw new StoreRejectedRecordError(`raw record ${index}: ${check.what}`, check.expected, check.found);
      const header = check.header;
      parsed.push({ index, term: header.term, magic: header.magic, pos: header.pos, sizeBytes: header.sizeBytes });
      term = header.term;
      chainCrc = header.chainCrc;
      offsetBytes += header.sizeBytes;
      index++;
    }
    if (index - 1 !== records.lastIndex || parsed.length === 0) {
      throw new StoreRejectedRecordError('last index of raw records', String(records.lastIndex), String(index - 1));
    }
    this.positionFollowerWrite(records.pos, (parsed[0] as { sizeBytes: number }).sizeBytes);
    const segment = this.dataList.ensure(records.pos);
    this.indexList.ensure(indexSlotPos(records.firstIndex));
    this.indexList.ensure(indexSlotPos(records.lastIndex));
    const segmentOffset = records.pos - segment.startPos;
    // One pwrite, as append() does: copying into fresh mapping pages costs a page fault each.
    writeSegmentBytes(segment, segmentOffset, bytes);
    segment.markDirty(segmentOffset, segmentOffset + bytes.length);
    for (const record of parsed) {
      publishIndexOf(this.indexList, { magic: record.magic, pos: record.pos, sizeBytes: record.sizeBytes, index: record.index, term: record.term });
    }
    const lastRecord = parsed.at(-1) as (typeof parsed)[number];
    this.last = { index: lastRecord.index, term: lastRecord.term, chainCrc, pos: lastRecord.pos, sizeBytes: lastRecord.sizeBytes };
    this.end = records.pos + bytes.length;
    this.afterWrite();
  }

  whenDurable(index: number): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (index <= this.durable) return Promise.resolve();
    if (this.closed) return Promise.reject(new StoreClosedError('wait for durability'));
    assert(index <= this.last.index, `whenDurable(${index}) beyond the last index ${this.last.index}`);
    const promise = this.waiters.add(index);
    if (this.options.flush.kind === 'sync') this.scheduleFlush();
    // The async timer does not keep the process alive by itself, only while someone waits on it.
    else this.flushTimer?.ref();
    return promise;
  }

  /** Flush now (synchronously): every entry appended so far becomes durable. */
  flush(): void {
    this.checkWritable('flush');
    this.flushNow();
  }

  get(index: number): StoredEntry | null {
    this.checkOpen('get');
    if (index <= this.beforeBegin.index || index > this.last.index) return null;
    if (this.isPending(index)) {
      const stored = this.pendingStoredEntry(index);
      if (stored !== null) return stored;
    }
    const located = locateVerifiedEntry(this.dataList, this.indexList, index, this.previousChainCrcOf(index));
    const { header, segment, offsetBytes } = located;
    const bodyStart = offsetBytes + ENTRY_HEADER_BYTES;
    return {
      index,
      term: header.term,
      magic: header.magic as EntryMagic,
      pos: header.pos,
      sizeBytes: header.sizeBytes,
      chainCrc: header.chainCrc,
      bodyCrc: header.bodyCrc,
      body: segment.bytes.slice(bodyStart, bodyStart + header.bodyLength),
    };
  }

  indexAtPos(pos: number): number | null {
    this.checkOpen('indexAtPos');
    if (!Number.isSafeInteger(pos) || pos < this.firstPos || pos + ENTRY_HEADER_BYTES > this.end) return null;
    // A position in the pending tail is answered from it (its bytes may not be written yet); one
    // before it is in written bytes (isPending refreshed the tail just now).
    if (this.isPending(this.last.index) && pos >= (this.pending as PendingWrites).firstPos) {
      return (this.pending as PendingWrites).entryAtPos(pos)?.index ?? null;
    }
    const segment = this.dataList.find(pos);
    if (segment === undefined) return null;
    const offsetBytes = pos - segment.startPos;
    if (offsetBytes + ENTRY_HEADER_BYTES > segment.file.sizeBytes) return null;
    let index: number;
    try {
      index = readEntryHeader(segment.view, offsetBytes).index;
    } catch {
      return null; // not a header (an index field past 2^53)
    }
    if (index <= this.beforeBegin.index || index > this.last.index) return null;
    // The index record says where entry `index` lies: a position inside a body that happens to
    // look like a header is not an entry start.
    const record = readIndexOf(this.indexList, index);
    return record !== null && record.index === index && record.pos === pos ? index : null;
  }

  termAt(index: number): number | null {
    this.checkOpen('termAt');
    if (index === this.beforeBegin.index) return this.beforeBegin.term;
    if (index < this.beforeBegin.index || index > this.last.index) return null;
    if (this.isPending(index)) {
      try {
        const pendingEntry = (this.pending as PendingWrites).entryAt(index);
        if (pendingEntry !== undefined) return pendingEntry.term;
      } catch (error) {
        this.failWrites(error);
      }
    }
    const record = readIndexOf(this.indexList, index);
    if (record === null || record.index !== index) {
      // The full check names the index file, offset, expected and found values.
      return locateVerifiedEntry(this.dataList, this.indexList, index, undefined).header.term;
    }
    return record.term;
  }

  readRaw(fromIndex: number, maxBytes: number, verify = true): RawRecords | null {
    this.checkOpen('readRaw');
    if (fromIndex <= this.beforeBegin.index || fromIndex > this.last.index) return null;
    if (this.isPending(fromIndex)) {
      // Not written yet: the leader's Append then carries the entries as objects (storedRecordsOf).
      if (!verify) return null;
      this.drainWrites();
    }
    if (!verify) {
      const unverified = this.readRawUnverified(fromIndex, maxBytes);
      if (unverified !== null) return unverified;
    }
    const first = locateVerifiedEntry(this.dataList, this.indexList, fromIndex, this.previousChainCrcOf(fromIndex));
    let lastIndex = fromIndex;
    let totalBytes = first.header.sizeBytes;
    let chainCrc = first.header.chainCrc;
    // Whole records, contiguous in this segment: the next one follows unless a BLANK intervenes.
    while (lastIndex < this.last.index) {
      const next = readIndexOf(this.indexList, lastIndex + 1);
      if (next === null || next.pos !== first.indexRecord.pos + totalBytes || totalBytes + next.sizeBytes > maxBytes) break;
      const located = locateVerifiedEntry(this.dataList, this.indexList, lastIndex + 1, chainCrc);
      chainCrc = located.header.chainCrc;
      totalBytes += next.sizeBytes;
      lastIndex++;
    }
    // A copy: the caller may hold it across a truncate or retention that rewrites these bytes.
    const bytes = first.segment.bytes.slice(first.offsetBytes, first.offsetBytes + totalBytes);
    return { firstIndex: fromIndex, lastIndex, pos: first.indexRecord.pos, bytes };
  }

  /** readRaw by the index records alone (no CRC pass); null sends the caller to the checked path. */
  private readRawUnverified(fromIndex: number, maxBytes: number): RawRecords | null {
    const first = readIndexOf(this.indexList, fromIndex);
    if (first === null || first.index !== fromIndex) return null;
    let lastIndex = fromIndex;
    let totalBytes = first.sizeBytes;
    while (lastIndex < this.last.index) {
      const next = readIndexOf(this.indexList, lastIndex + 1);
      if (next === null || next.pos !== first.pos + totalBytes || totalBytes + next.sizeBytes > maxBytes) break;
      totalBytes += next.sizeBytes;
      lastIndex++;
    }
    const segment = dataSegmentAt(this.dataList, first.pos, `entry ${fromIndex}`);
    const offsetBytes = first.pos - segment.startPos;
    if (offsetBytes + totalBytes > segment.file.sizeBytes) return null;
    return { firstIndex: fromIndex, lastIndex, pos: first.pos, bytes: segment.bytes.slice(offsetBytes, offsetBytes + totalBytes) };
  }

  truncate(fromIndex: number): void {
    this.checkWritable('truncate');
    if (fromIndex > this.last.index) return;
    // Queued writes land first: the cut below rewrites and zeroes what they write.
    this.drainWrites();
    assert(fromIndex > this.beforeBegin.index, `truncate(${fromIndex}) into the compacted prefix (beforeBeginIndex ${this.beforeBegin.index})`);
    const cutRecord = readIndexOf(this.indexList, fromIndex);
    assert(cutRecord !== null, `no index record for entry ${fromIndex} <= lastIndex ${this.last.index}`);
    // The new end is right after entry fromIndex-1 — not at entry fromIndex's pos, which may sit
    // past a BLANK: the next leader's record fromIndex may be small enough for this segment.
    let newLast: typeof this.last;
    if (fromIndex - 1 > this.beforeBegin.index) {
      const previous = readIndexOf(this.indexList, fromIndex - 1);
      assert(previous !== null, `no index record for entry ${fromIndex - 1}`);
      const header = headerAt(this.dataList, previous.pos, `entry ${fromIndex - 1}`);
      newLast = { index: fromIndex - 1, term: previous.term, chainCrc: header.chainCrc, pos: previous.pos, sizeBytes: previous.sizeBytes };
    } else {
      newLast = { index: this.beforeBegin.index, term: this.beforeBegin.term, chainCrc: this.beforeBegin.chainCrc, pos: -1, sizeBytes: 0 };
    }
    const newEnd = newLast.pos >= 0 ? newLast.pos + newLast.sizeBytes : cutRecord.pos;
    if (this.checkpointed.verified !== null && this.checkpointed.verified.index >= fromIndex) {
      // Roll the checkpoint back first: recovery must never start past the cut.
      this.saveRequiredCheckpoint({ ...this.checkpointed, verified: newLast.pos >= 0 ? this.verifiedPointOf(newLast) : null });
    }
    // Zero everything after the new end in its segment (not only the header at the cut): a torn
    // write over stale bytes could otherwise leave old records that verify after a crash.
    const endSegment = this.dataList.ensure(newEnd);
    const zeroFrom = newEnd - endSegment.startPos;
    const zeroTo = Math.min(endSegment.file.sizeBytes, this.end - endSegment.startPos);
    if (zeroTo > zeroFrom) {
      endSegment.bytes.fill(0, zeroFrom, zeroTo);
      endSegment.markDirty(zeroFrom, zeroTo);
    }
    const removedData = this.dataList.removeFrom(endSegment.endPos);
    clearIndexFrom(this.indexList, fromIndex, this.last.index);
    const removedIndex = this.indexList.removeFrom(this.indexList.segmentStartOf(indexSlotPos(fromIndex)) + this.options.indexSegmentSizeBytes);
    this.indexFlushPending = true;
    // Removed files must stay removed: their stale records would read as later valid entries.
    if (removedData.length > 0) this.dataList.syncDirectory();
    if (removedIndex.length > 0) this.indexList.syncDirectory();
    this.waiters.rejectFrom(fromIndex, (index) => new StoreTruncatedError(index, fromIndex));
    this.last = newLast;
    this.end = newEnd;
    this.durable = Math.min(this.durable, newLast.index);
    // Make the cut durable now (one msync; truncation is rare): after truncate returns, no power
    // loss can bring the removed entries back.
    this.flushNow();
    this.schedulePrepare();
  }

  resetPrefix(beforeBeginIndex: number, beforeBeginTerm: number, next?: { readonly pos: number; readonly chainCrc: number | null }): void {
    this.checkWritable('resetPrefix');
    this.drainWrites();
    assert(next === undefined || (Number.isSafeInteger(next.pos) && next.pos >= 0), `resetPrefix: next pos ${next?.pos} is not a byte position`);
    assert(next === undefined || next.chainCrc === null || (Number.isInteger(next.chainCrc) && next.chainCrc >= 0 && next.chainCrc <= 0xffffffff), `resetPrefix: chainCrc ${next?.chainCrc} is not a uint32`);
    if (beforeBeginIndex <= this.beforeBegin.index) return;
    if (beforeBeginIndex <= this.last.index && readIndexOf(this.indexList, beforeBeginIndex)?.term !== beforeBeginTerm) {
      // Our entry at that index is not the snapshot's: nothing of our log is part of the new
      // history (Raft log matching), so drop it all and take the prefix as one from elsewhere.
      this.truncate(this.beforeBegin.index + 1);
    }
    let chainCrc: number | null;
    let firstPos: number;
    if (beforeBeginIndex < this.last.index) {
      const next = readIndexOf(this.indexList, beforeBeginIndex + 1);
      const entry = readIndexOf(this.indexList, beforeBeginIndex);
      assert(next !== null && entry !== null, `index records around ${beforeBeginIndex}`);
      chainCrc = headerAt(this.dataList, entry.pos, `entry ${beforeBeginIndex}`).chainCrc;
      firstPos = next.pos;
    } else if (beforeBeginIndex === this.last.index) {
      chainCrc = this.last.chainCrc;
      firstPos = this.end;
    } else {
      // A prefix installed from elsewhere (snapshot): our entries are all superseded; the chain
      // seed of what comes next is the leader's (unknown unless its snapshot named it).
      chainCrc = next?.chainCrc ?? null;
      firstPos = this.end;
    }
    // Make the flushes of the kept part durable and record the new start before deleting anything.
    this.flushNow();
    const keepVerified = this.checkpointed.verified !== null && this.checkpointed.verified.index > beforeBeginIndex;
    this.saveRequiredCheckpoint({
      beforeBeginIndex,
      beforeBeginTerm,
      beforeBeginChainCrc: chainCrc,
      firstPos,
      verified: keepVerified ? this.checkpointed.verified : null,
    });
    if (beforeBeginIndex > this.last.index) {
      // Unpublish our superseded entries so no reader or recovery mistakes them for live ones.
      clearIndexFrom(this.indexList, this.beforeBegin.index + 1, this.last.index);
      this.indexFlushPending = true;
    }
    this.beforeBegin = { index: beforeBeginIndex, term: beforeBeginTerm, chainCrc };
    this.firstPos = firstPos;
    if (beforeBeginIndex >= this.last.index) {
      this.last = { index: beforeBeginIndex, term: beforeBeginTerm, chainCrc, pos: -1, sizeBytes: 0 };
    }
    this.removeSegmentsBeforeStart();
    // Invariant: every replica writes entry i at the same pos (a RocketMQ msgId carries it). A
    // prefix from elsewhere leaves our log empty at our own end; the leader's next entry starts at
    // nextPos, so the empty log moves there (as appendRaw does for raw records) and entries
    // appended encoded land where the leader has them too.
    if (next !== undefined && this.last.index === this.beforeBegin.index && next.pos !== this.end) this.moveEmptyLogStart(next.pos);
    this.durable = Math.max(this.durable, beforeBeginIndex);
    this.waiters.resolveThrough(this.durable);
  }

  applyRetention(policy: RetentionPolicy): RetentionRun | null {
    this.checkWritable('applyRetention');
    if (this.retentionUnlinks !== null) return null;
    this.drainWrites();
    const maxSegments = policy.maxSegmentsPerRun ?? DEFAULT_RETENTION_SEGMENTS_PER_RUN;
    // Whole segments only, oldest first, never the one holding the end of the log, never one
    // holding an entry >= keepFromIndex; stop at the first segment that must stay (DLedger's and
    // RocketMQ's deleteExpiredFileByTime).
    let newStart: { segmentStartPos: number; beforeBeginIndex: number } | null = null;
    for (let at = 0; at < maxSegments; at++) {
      const candidate = this.dataList.segments[at];
      const next = this.dataList.segments[at + 1];
      if (candidate === undefined || next === undefined || this.end < next.startPos) break;
      const nextFirstIndex = this.end === next.startPos ? this.last.index + 1 : headerAt(this.dataList, next.startPos, 'the first entry of a segment').index;
      if (nextFirstIndex > policy.keepFromIndex) break;
      const expired = this.medium.modifiedTimeMs(candidate.file.path) + policy.fileReservedMs < policy.nowMs;
      if (!expired && !policy.forceClean) break;
      newStart = { segmentStartPos: next.startPos, beforeBeginIndex: nextFirstIndex - 1 };
    }
    if (newStart === null) return null;
    // Durable first: once the checkpoint names the new start, a crash at any later point leaves
    // files that recovery removes (it drops every segment before the checkpoint's start).
    this.movePrefixToSegment(newStart.segmentStartPos, newStart.beforeBeginIndex);
    const data = this.dataList.detachEndingBy(this.dataList.segmentStartOf(this.firstPos));
    const index = this.indexList.detachEndingBy(this.indexList.segmentStartOf(indexSlotPos(this.beforeBegin.index + 1)));
    const paths = [...data, ...index].map((file) => file.path);
    const filesRemoved = this.medium.removeFilesInOrder(paths, policy.unlinkIntervalMs ?? 0).finally(() => {
      this.dataList.forgetDetached(data.map((file) => file.path));
      this.indexList.forgetDetached(index.map((file) => file.path));
      this.retentionUnlinks = null;
      if (!this.closed) this.medium.prepareSpaceReserve(this.options.nodeDir);
    });
    this.retentionUnlinks = filesRemoved.catch(() => undefined);
    return {
      deleted: [...data.map((file) => `${DATA_DIR_NAME}/${file.name}`), ...index.map((file) => `${INDEX_DIR_NAME}/${file.name}`)],
      dataSegmentsDeleted: data.length,
      bytesDeleted: [...data, ...index].reduce((sum, file) => sum + file.sizeBytes, 0),
      filesRemoved,
    };
  }

  retainedRange(): RetainedRange {
    this.checkOpen('retainedRange');
    return {
      firstIndex: this.beforeBegin.index + 1,
      lastIndex: this.last.index,
      firstPos: this.firstPos,
      endPos: this.end,
      dataSegments: this.dataList.segments.length,
      dataSegmentBytes: this.dataList.segments.length * this.options.dataSegmentSizeBytes,
      indexSegments: this.indexList.segments.length,
    };
  }

  diskUsageRatio(): number {
    return this.medium.diskUsageRatio(this.dataList.directoryPath);
  }

  /** Persist a log start at `segmentStartPos` whose previous entry is `newBeforeBeginIndex`. */
  private movePrefixToSegment(segmentStartPos: number, newBeforeBeginIndex: number): void {
    this.flushNow();
    let beforeBegin = this.beforeBegin;
    if (newBeforeBeginIndex > beforeBegin.index) {
      const entry = readIndexOf(this.indexList, newBeforeBeginIndex);
      assert(entry !== null, `index record of ${newBeforeBeginIndex}`);
      const chainCrc = headerAt(this.dataList, entry.pos, `entry ${newBeforeBeginIndex}`).chainCrc;
      beforeBegin = { index: newBeforeBeginIndex, term: entry.term, chainCrc };
    }
    const firstPos = Math.max(this.firstPos, segmentStartPos);
    const verified = this.checkpointed.verified;
    this.saveRequiredCheckpoint({
      beforeBeginIndex: beforeBegin.index,
      beforeBeginTerm: beforeBegin.term,
      beforeBeginChainCrc: beforeBegin.chainCrc,
      firstPos,
      verified: verified !== null && verified.index > beforeBegin.index ? verified : null,
    });
    this.beforeBegin = beforeBegin;
    this.firstPos = firstPos;
    this.durable = Math.max(this.durable, beforeBegin.index);
  }

  loadTermVote(): TermVote {
    this.checkOpen('loadTermVote');
    return loadTermVote(this.medium, this.options.nodeDir);
  }

  saveTermVote(state: TermVote): void {
    this.checkOpen('saveTermVote');
    saveTermVote(this.medium, this.options.nodeDir, state);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    // Unlinks in flight finish first (their files are already out of the log; a failure leaves
    // them for recovery).
    if (this.retentionUnlinks !== null) await this.retentionUnlinks;
    if (this.closed) return;
    try {
      if (this.failure === null) {
        this.flushNow();
        if (this.failure === null) this.writeCheckpointAtLast();
      }
    } finally {
      this.closed = true;
      this.waiters.rejectAll(this.failure ?? new StoreClosedError('wait for durability'));
      this.dataList.close();
      this.indexList.close();
      this.lock.release();
    }
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Stop as if the process had died: no flush, no checkpoint; timers and pending work dropped,
   * waiters rejected. The files keep whatever was written (the page cache survives a process
   * death). For crash tests and the simulator; reopen the same directory or medium to recover.
   */
  simulateCrash(): void {
    if (this.closed) return;
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    // What was handed to the writer lands first, as inline append() had written it before
    // returning (the page cache survives a process death); a failed writer just stops.
    try {
      this.pending?.drain();
    } catch {
      this.pending?.clear();
    }
    this.closed = true;
    this.waiters.rejectAll(new StoreClosedError('wait for durability (simulated crash)'));
    this.dataList.close();
    this.indexList.close();
    // A dead process holds no lock; its lock file stays behind, as after a real crash.
    this.lock.abandon();
  }

  /** Where the next record of `recordBytes` goes: a BLANK fills the segment when it does not fit. */
  private placeRecord(recordBytes: number): void {
    const segment = this.dataList.ensure(this.end);
    const offsetBytes = this.end - segment.startPos;
    const remaining = segment.file.sizeBytes - offsetBytes;
    if (recordBytes + BLANK_MIN_BYTES <= remaining) return;
    writeBlank(segment.view, offsetBytes, remaining);
    segment.markDirty(offsetBytes, offsetBytes + BLANK_MIN_BYTES);
    this.end = segment.endPos;
  }

  /**
   * Make the follower's end match the leader's pos for its next records: equal, or the next
   * segment's start when the leader put a BLANK here, or anywhere when our log is empty (the first
   * records after a prefix installed from elsewhere).
   */
  private positionFollowerWrite(pos: number, firstRecordBytes: number): void {
    if (pos === this.end) {
      this.dataList.ensure(pos);
      this.indexList.ensure(indexSlotPos(this.last.index + 1));
      return;
    }
    const segmentBytes = this.options.dataSegmentSizeBytes;
    const endRemaining = segmentBytes - (this.end % segmentBytes);
    if (pos === this.end + endRemaining && firstRecordBytes + BLANK_MIN_BYTES > endRemaining) {
      // Create the next segment (and index room) first: a full disk then fails before the BLANK.
      this.dataList.ensure(this.end);
      this.dataList.ensure(pos);
      this.indexList.ensure(indexSlotPos(this.last.index + 1));
      this.placeRecord(firstRecordBytes);
      assert(this.end === pos, 'BLANK placement matches the leader');
      return;
    }
    if (this.last.index !== this.beforeBegin.index) {
      throw new StoreRejectedRecordError('pos of raw records', `${this.end} (or the next segment after a BLANK)`, String(pos));
    }
    this.moveEmptyLogStart(pos);
  }

  private moveEmptyLogStart(pos: number): void {
    assert(this.last.index === this.beforeBegin.index, 'moveEmptyLogStart on a log with entries');
    const segmentBytes = this.options.dataSegmentSizeBytes;
    // Empty log: move its start to the leader's position. Every byte of our data segments is dead
    // (no live entry), but stale records must not lie after the new start, and each step must
    // leave a recoverable state if we crash right after it.
    const targetStart = this.dataList.segmentStartOf(pos);
    const endSegment = this.dataList.find(this.end);
    if (endSegment !== undefined && endSegment.startPos === targetStart) {
      // Same segment: zero from the new start to the old end (durably), record the new start,
      // then drop every other segment.
      if (pos < this.end) {
        endSegment.bytes.fill(0, pos - endSegment.startPos, this.end - endSegment.startPos);
        endSegment.markDirty(pos - endSegment.startPos, this.end - endSegment.startPos);
        this.flushNow();
      }
      this.saveRequiredCheckpoint({ ...this.checkpointed, firstPos: pos, verified: null });
      const removed = [...this.dataList.removeFrom(targetStart + segmentBytes), ...this.dataList.removeEndingBy(targetStart)];
      if (removed.length > 0) this.dataList.syncDirectory();
    } else {
      // Another segment: drop them all first (an empty data dir recovers as an empty log at the
      // recorded start), then record the new start; the target segment is created fresh.
      if (this.dataList.removeFrom(0).length > 0) this.dataList.syncDirectory();
      this.saveRequiredCheckpoint({ ...this.checkpointed, firstPos: pos, verified: null });
    }
    this.firstPos = pos;
    this.end = pos;
  }

  private removeSegmentsBeforeStart(): string[] {
    const removedData = this.dataList.removeEndingBy(this.dataList.segmentStartOf(this.firstPos)).map((name) => `data/${name}`);
    const firstSlot = indexSlotPos(this.beforeBegin.index + 1);
    const removedIndex = this.indexList.removeEndingBy(this.indexList.segmentStartOf(firstSlot)).map((name) => `index/${name}`);
    if (removedData.length > 0) this.dataList.syncDirectory();
    if (removedIndex.length > 0) this.indexList.syncDirectory();
    return [...removedData, ...removedIndex];
  }

  private previousChainCrcOf(index: number): number | null {
    if (index - 1 === this.beforeBegin.index) return this.beforeBegin.chainCrc;
    const previous = readIndexOf(this.indexList, index - 1);
    if (previous === null) {
      // Damaged on disk (recovery verifies from the checkpoint on only), not a programmer error.
      const slotPos = indexSlotPos(index - 1);
      throw new StoreCorruptionError({ filePath: this.indexList.pathOf(this.indexList.segmentStartOf(slotPos)), fileOffsetBytes: slotPos % this.indexList.segmentSizeBytes, what: `index record of entry ${index - 1}`, expected: `a published record for index ${index - 1}`, found: 'no record (deleted or zeroed)' });
    }
    return headerAt(this.dataList, previous.pos, `entry ${index - 1}`).chainCrc;
  }

  private afterWrite(): void {
    if (this.options.flush.kind === 'sync') this.scheduleFlush();
    this.schedulePrepare();
  }

  private ensureStaging(bytes: number): void {
    if (bytes <= this.staging.length) return;
    const grown = Buffer.alloc(Math.max(bytes, this.staging.length * 2));
    grown.set(this.staging);
    this.staging = grown;
    this.stagingView = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    if (this.backgroundFlush !== null) {
      // The flush in flight does not cover this append; its completion starts the next one.
      this.backgroundFlushAgain = true;
      return;
    }
    this.flushScheduled = true;
    const run = (): void => {
      this.flushScheduled = false;
      if (this.closed || this.failure !== null) return;
      if (this.options.flushInBackground === true) this.startBackgroundFlush();
      else this.flushNow();
    };
    if (this.options.flushInBackground === true) {
      // Off-thread flushes pipeline by themselves: start at the end of this task (the appends of
      // one Ready or one socket read), and whatever arrives while it runs joins the next one.
      queueMicrotask(run);
    } else {
      // setImmediate runs after the current turn's I/O callbacks: every append made in this turn
      // (and every whenDurable waiting on them) is covered by the one blocking msync.
      setImmediate(run);
    }
  }

  private flushIfDirty(): void {
    if (this.closed || this.failure !== null || this.durable >= this.last.index) return;
    if (this.options.flushInBackground !== true) return this.flushNow();
    if (this.backgroundFlush === null) this.startBackgroundFlush();
    else this.backgroundFlushAgain = true;
  }

  /**
   * A group commit on the thread pool: take the dirty data ranges, msync them off-thread, then
   * report durability up to the last entry at the start. At most one is in flight.
   */
  private startBackgroundFlush(): void {
    assert(this.backgroundFlush === null, 'two background flushes in flight');
    const target = this.last;
    const epoch = this.flushEpoch;
    const ranges = this.dataList.takeDirtyRanges();
    // With an entry writer, the checkpoint this flush may write vouches for index records the
    // writer publishes: they are msynced by the same ticket (queued after their writes) rather
    // than drained and msynced on this thread at completion.
    const indexInFlush = this.pending !== null && this.checkpointDueAt(target);
    if (indexInFlush) for (const range of this.indexList.takeDirtyRanges()) ranges.push(range);
    this.backgroundFlushAgain = false;
    this.backgroundFlush = { ranges };
    const flushes = ranges.map(({ segment, fromBytes, toBytes }) => {
      const file = segment.file;
      if (file.flushInBackground !== undefined) return file.flushInBackground(fromBytes, toBytes - fromBytes);
      file.flush(fromBytes, toBytes - fromBytes);
      return Promise.resolve();
    });
    Promise.all(flushes).then(
      () => {
        this.backgroundFlush = null;
        if (this.closed || this.failure !== null) return;
        // A synchronous flush (truncate, reset, close, flush()) since the start covered these
        // ranges and everything before it; after a truncate `target` may not even exist.
        if (epoch === this.flushEpoch) this.completeFlush(target, indexInFlush);
        if (this.backgroundFlushAgain || this.durable < this.last.index) this.startBackgroundFlush();
      },
      (error: unknown) => {
        this.backgroundFlush = null;
        if (this.closed || this.failure !== null) return;
        this.failure = new StoreFailedError(`flush of ${this.options.nodeDir} failed; reopen the store to recover`, error);
        this.waiters.rejectAll(this.failure);
      },
    );
  }

  /** One group commit: msync the dirty data range (and the index after a truncate), then report. */
  private flushNow(): void {
    try {
      this.drainWrites();
    } catch {
      return; // failWrites recorded the failure and rejected the waiters
    }
    const target = this.last;
    this.flushEpoch++;
    // Ranges a background flush is still writing are flushed again here, so that what this
    // reports durable is durable when it returns.
    for (const range of this.backgroundFlush?.ranges ?? []) range.segment.markDirty(range.fromBytes, range.toBytes);
    try {
      this.dataList.flushDirty();
      if (this.indexFlushPending) {
        this.indexList.flushDirty();
        this.indexFlushPending = false;
      }
    } catch (error) {
      this.failure = new StoreFailedError(`flush of ${this.options.nodeDir} failed; reopen the store to recover`, error);
      this.waiters.rejectAll(this.failure);
      return;
    }
    this.completeFlush(target);
  }

  /**
   * Everything up to `target` is durable: wake its waiters, checkpoint when a segment filled.
   * `indexFlushed`: the flush also msynced the index ranges dirty at its start (a background
   * flush with an entry writer: target and its index records are written and durable).
   */
  private completeFlush(target: typeof this.last, indexFlushed = false): void {
    this.durable = Math.max(this.durable, target.index);
    this.waiters.resolveThrough(this.durable);
    if (this.waiters.size === 0) this.flushTimer?.unref();
    // Checkpoint when the durable end has moved to a later data segment: recovery then never
    // scans much more than one segment.
    if (this.checkpointDueAt(target)) this.writeCheckpointAt(target, indexFlushed);
  }

  private checkpointDueAt(target: typeof this.last): boolean {
    const verified = this.checkpointed.verified;
    return target.pos >= 0 && target.index > this.beforeBegin.index && (verified === null || this.dataList.segmentStartOf(target.pos) > this.dataList.segmentStartOf(verified.pos));
  }

  private writeCheckpointAtLast(): void {
    if (this.last.pos >= 0 && this.last.index > this.beforeBegin.index && this.durable >= this.last.index) {
      this.writeCheckpointAt(this.last);
    } else {
      this.writeCheckpointAdvisory(this.checkpointed);
    }
  }

  private writeCheckpointAt(entry: typeof this.last, indexFlushed = false): void {
    if (!indexFlushed) {
      try {
        // The index records below are the writer's: they must be written before they are msynced.
        this.drainWrites();
      } catch {
        return;
      }
    }
    // Written (drained, or covered by the flush that completed): its header is readable.
    if (entry.chainCrc === CHAIN_ON_WRITER) entry = { ...entry, chainCrc: headerAt(this.dataList, entry.pos, `entry ${entry.index}`).chainCrc };
    if (!indexFlushed) {
      try {
        // The checkpoint vouches for the index up to this entry too.
        this.indexList.flushDirty();
      } catch (error) {
        this.failure = new StoreFailedError(`flush of the index of ${this.options.nodeDir} failed; reopen the store to recover`, error);
        this.waiters.rejectAll(this.failure);
        return;
      }
    }
    this.writeCheckpointAdvisory({ ...this.checkpointed, verified: this.verifiedPointOf(entry) });
  }

  /**
   * A checkpoint that only moves the verified point forward is an optimisation (recovery from the
   * previous one is just longer), so a full disk skips it; any other failure stops the store.
   */
  private writeCheckpointAdvisory(checkpoint: Checkpoint): void {
    try {
      this.saveCheckpoint(checkpoint);
    } catch (error) {
      if (isNoSpaceError(error)) {
        this.checkpointsSkippedForSpace++;
        return;
      }
      this.failure = new StoreFailedError(`checkpoint of ${this.options.nodeDir} failed; reopen the store to recover`, error);
      this.waiters.rejectAll(this.failure);
    }
  }

  /** A checkpoint that records a new log start must be written before the change it describes. */
  private saveRequiredCheckpoint(checkpoint: Checkpoint): void {
    try {
      this.saveCheckpoint(checkpoint);
    } catch (error) {
      if (isNoSpaceError(error)) throw new StoreDiskFullError(checkpointPath(this.options.nodeDir), error);
      throw error;
    }
  }

  private verifiedPointOf(entry: typeof this.last): NonNullable<Checkpoint['verified']> {
    assert(entry.chainCrc !== null && entry.pos >= 0, 'verified point needs a located entry with a known chain');
    return { index: entry.index, term: entry.term, pos: entry.pos, sizeBytes: entry.sizeBytes, chainCrc: entry.chainCrc };
  }

  private saveCheckpoint(checkpoint: Checkpoint): void {
    writeCheckpoint(this.medium, this.options.nodeDir, checkpoint);
    this.checkpointed = checkpoint;
  }

  private schedulePrepare(): void {
    if (this.prepareScheduled) return;
    if (this.dataList.hasPrepared && this.indexList.hasPrepared) return;
    // After a failure (disk full) retry at most every PREPARE_RETRY_MS, not on every append.
    if (this.prepareFailedAtMs !== null && Date.now() - this.prepareFailedAtMs < PREPARE_RETRY_MS) return;
    this.prepareScheduled = true;
    // Off the append call: create and allocate the next segments while the loop is idle.
    setImmediate(() => {
      this.prepareScheduled = false;
      if (this.closed) return;
      this.dataList.prepareNext();
      this.indexList.prepareNext();
      const failed = this.dataList.prepareError !== null || this.indexList.prepareError !== null;
      this.prepareFailedAtMs = failed ? Date.now() : null;
    });
  }

  private checkOpen(operation: string): void {
    if (this.closed) throw new StoreClosedError(operation);
  }

  private checkWritable(operation: string): void {
    this.checkOpen(operation);
    if (this.failure !== null) throw this.failure;
  }
}

/** Re-exported for the header layout users (dump, tests). */
export { HeaderOffset, INDEX_RECORD_BYTES };
