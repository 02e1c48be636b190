// The storage worker's thread (started by storage-worker.ts in `threads=workers` mode): it holds
// the segment mappings the main thread posted (the same SharedArrayBuffers: one page cache, no
// copy) and runs each group commit's msync synchronously here — a blocking call is what this
// thread is for, so no libuv pool hop and no callback on the main loop. It then publishes the
// finished ticket in a state word and notifies; the main thread waits with Atomics.waitAsync.
// With storageWorkerWrites it also encodes, CRCs and writes the entries of Write records (one
// pwrite per contiguous run, index records published after their data), publishing WrittenSeq.
import { closeSync, openSync, writeSync } from 'node:fs';
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { msync, PAGE_SIZE_BYTES, releaseMapping } from '../native/mmap.js';
import { crc32Of } from '../store/crc.js';
import { BLANK_MIN_BYTES, writeBlank, writeEntryHeader } from '../store/entry-codec.js';
import { publishIndexRecord } from '../store/index-codec.js';
import { ENTRY_HEADER_BYTES, type EntryMagic } from '../store/types.js';
import { ERROR_AREA_BYTES, FLUSH_HEADER_BYTES, FLUSH_RANGE_BYTES, Op, type SegmentRegistration, StateWord, STATE_WORDS, type StorageWorkerData, WRITE_ENTRY_BYTES, WRITE_HEADER_BYTES, WriteFlag } from './storage-worker-protocol.js';
import { SpscRing } from './spsc-ring.js';

/** Idle sleep between checks of the ring; a record's producer notifies, so this only bounds a lost wake-up. */
const IDLE_WAIT_MS = 10_000;

const data = workerData as StorageWorkerData;
const ring = new SpscRing(data.ring);
const state = new Int32Array(data.state, 0, STATE_WORDS);
const errorArea = new Uint8Array(data.state, STATE_WORDS * 4, ERROR_AREA_BYTES);
const port: MessagePort = data.port;
// Invariant: holds every segment named by a record not yet processed (registered before it).
const mappings = new Map<number, SegmentRegistration>();
/** Descriptors this thread opened for its writes (by segment id), closed at Drop. */
const descriptors = new Map<number, number>();
/** Views over index mappings (by segment id) for publishing index records. */
const indexViews = new Map<number, { view: DataView; words: Int32Array }>();
/** The chain CRC of the last entry this thread wrote (a Write record without a seed goes on from it). */
let lastChainCrc = 0;
/** The encode buffer of one run (grows to the largest run, at most a few MiB). */
let staging = new Uint8Array(1024 * 1024);
let stagingView = new DataView(staging.buffer);

function takeRegistrations(): void {
  for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port)) {
    const registration = message.message as SegmentRegistration;
    mappings.set(registration.segmentId, registration);
  }
}

function publishErrorText(error: unknown): void {
  if (Atomics.load(state, StateWord.ErrorLength) !== 0) return;
  const text = new TextEncoder().encode(error instanceof Error ? error.message : String(error)).subarray(0, ERROR_AREA_BYTES);
  errorArea.set(text);
  Atomics.store(state, StateWord.ErrorLength, text.length);
}

function publishFailure(ticket: number, error: unknown): void {
  // The first failure only: after a failed msync the page cache's state is unknown (the kernel
  // may have dropped the dirty pages), so every later ticket fails too and nothing is reported
  // durable again until the store is reopened and recovered.
  if (Atomics.load(state, StateWord.FailedTicket) !== 0) return;
  publishErrorText(error);
  Atomics.store(state, StateWord.FailedTicket, ticket);
}

function flush(view: DataView): void {
  const ticket = view.getUint32(4, true) | 0;
  const count = view.getUint32(8, true);
  try {
    if (Atomics.load(state, StateWord.FailedTicket) !== 0) throw new Error('an earlier flush failed');
    if (Atomics.load(state, StateWord.FailedWriteSeq) !== 0) throw new Error('an earlier write failed');
    for (let i = 0; i < count; i++) {
      const at = FLUSH_HEADER_BYTES + i * FLUSH_RANGE_BYTES;
      const segmentId = view.getUint32(at, true);
      const offsetBytes = view.getFloat64(at + 4, true);
      const lengthBytes = view.getFloat64(at + 12, true);
      // A registration is posted before the first record naming it, but may have arrived after
      // this loop last looked: look again before calling it missing.
      if (!mappings.has(segmentId)) takeRegistrations();
      const segment = mappings.get(segmentId);
      if (segment === undefined) throw new Error(`storage worker: flush of segment ${segmentId}, which was never registered`);
      if (lengthBytes === 0) continue;
      const alignedStart = offsetBytes - (offsetBytes % PAGE_SIZE_BYTES);
      msync(segment.mapping, alignedStart, offsetBytes + lengthBytes - alignedStart, 'sync', segment.path);
    }
  } catch (error) {
    publishFailure(ticket, error);
  }
  // Invariant: DoneTicket moves only after every range of the ticket is on disk (or it failed).
  Atomics.store(state, StateWord.DoneTicket, ticket);
  Atomics.notify(state, StateWord.DoneTicket);
}

/**
 * The main thread closed the segment. Its mapping is released here (the file let go at once), after
 * every flush queued before the Drop ran: this thread may never run a full GC, so merely forgetting
 * the SharedArrayBuffer kept deleted segments mapped (and their files' blocks) indefinitely.
 */
function drop(segmentId: number): void {
  if (!mappings.has(segmentId)) takeRegistrations();
  const segment = mappings.get(segmentId);
  mappings.delete(segmentId);
  indexViews.delete(segmentId);
  const fd = descriptors.get(segmentId);
  descriptors.delete(segmentId);
  if (fd !== undefined) closeSync(fd);
  if (segment === undefined || !segment.releaseOnDrop) return;
  try {
    releaseMapping(segment.mapping, segment.path);
    Atomics.add(state, StateWord.ReleasedMappings, 1);
  } catch {
    // Not a durability matter (the segment is closed): the GC unmaps it eventually; counted.
    Atomics.add(state, StateWord.ReleaseFailures, 1);
  }
}

function segmentOf(segmentId: number): SegmentRegistration {
  if (!mappings.has(segmentId)) takeRegistrations();
  const segment = mappings.get(segmentId);
  if (segment === undefined) throw new Error(`storage worker: write to segment ${segmentId}, which was never registered`);
  return segment;
}

/** pwrite through this thread's own descriptor (the main thread's may close before a queued write runs). */
function writeBytes(segmentId: number, offsetBytes: number, bytes: Uint8Array): void {
  let fd = descriptors.get(segmentId);
  if (fd === undefined) {
    fd = openSync(segmentOf(segmentId).path, 'r+');
    descriptors.set(segmentId, fd);
  }
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offsetBytes + done);
}

function indexViewOf(segmentId: number): { view: DataView; words: Int32Array } {
  let views = indexViews.get(segmentId);
  if (views === undefined) {
    const mapping = segmentOf(segmentId).mapping;
    views = { view: new DataView(mapping), words: new Int32Array(mapping) };
    indexViews.set(segmentId, views);
  }
  return views;
}

function ensureStaging(bytes: number): void {
  if (bytes <= staging.length) return;
  const grown = new Uint8Array(Math.max(bytes, staging.length * 2));
  grown.set(staging);
  staging = grown;
  stagingView = new DataView(grown.buffer);
}

interface IndexToPublish {
  readonly segmentId: number;
  readonly offsetBytes: number;
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly sizeBytes: number;
}

/**
 * One Write record: the same encoding as the store's inline append (segmented-log-store.ts):
 * records staged per contiguous run of one segment, one pwrite per run, the run's index records
 * published (magic last) only after its data is written. WrittenSeq moves once the whole record is.
 */
function write(record: Uint8Array, view: DataView): void {
  const seq = view.getUint32(4, true) | 0;
  const count = view.getUint32(8, true);
  const flags = view.getUint32(12, true);
  const magic = view.getInt32(20, true) as EntryMagic;
  try {
    if (Atomics.load(state, StateWord.FailedWriteSeq) !== 0) throw new Error('an earlier write failed');
    let chain = (flags & WriteFlag.ChainSeed) !== 0 ? view.getUint32(16, true) : lastChainCrc;
    let bodyAt = WRITE_HEADER_BYTES + count * WRITE_ENTRY_BYTES;
    let runSegment = 0;
    let runStart = 0;
    let runLength = 0;
    const runIndex: IndexToPublish[] = [];
    const flushRun = (): void => {
      if (runLength > 0) writeBytes(runSegment, runStart, staging.subarray(0, runLength));
      for (const entry of runIndex) {
        const target = indexViewOf(entry.segmentId);
        publishIndexRecord(target.view, target.words, entry.offsetBytes, { magic, pos: entry.pos, sizeBytes: entry.sizeBytes, index: entry.index, term: entry.term });
      }
      runIndex.length = 0;
      runLength = 0;
    };
    const place = (segmentId: number, offsetBytes: number, bytes: number): number => {
      if (segmentId !== runSegment || offsetBytes !== runStart + runLength || runLength + bytes > 4 * 1024 * 1024) {
        flushRun();
        runSegment = segmentId;
        runStart = offsetBytes;
      }
      ensureStaging(runLength + bytes);
      const at = runLength;
      runLength += bytes;
      return at;
    };
    for (let i = 0; i < count; i++) {
      const meta = WRITE_HEADER_BYTES + i * WRITE_ENTRY_BYTES;
      const dataSegmentId = view.getUint32(meta, true);
      const dataOffset = view.getFloat64(meta + 4, true);
      const pos = view.getFloat64(meta + 12, true);
      const index = view.getFloat64(meta + 20, true);
      const term = view.getFloat64(meta + 28, true);
      const bodyLength = view.getUint32(meta + 36, true);
      const indexSegmentId = view.getUint32(meta + 40, true);
      const indexOffset = view.getFloat64(meta + 44, true);
      const blankSegmentId = view.getUint32(meta + 52, true);
      if (blankSegmentId !== 0) {
        const at = place(blankSegmentId, view.getFloat64(meta + 56, true), BLANK_MIN_BYTES);
        writeBlank(stagingView, at, view.getUint32(meta + 64, true));
      }
      const at = place(dataSegmentId, dataOffset, ENTRY_HEADER_BYTES + bodyLength);
      staging.set(record.subarray(bodyAt, bodyAt + bodyLength), at + ENTRY_HEADER_BYTES);
      bodyAt += bodyLength;
      const bodyCrc = crc32Of(staging.subarray(at + ENTRY_HEADER_BYTES, at + ENTRY_HEADER_BYTES + bodyLength));
      chain = writeEntryHeader(stagingView, staging, at, { magic, index, term, pos, bodyLength, bodyCrc }, chain);
      runIndex.push({ segmentId: indexSegmentId, offsetBytes: indexOffset, index, term, pos, sizeBytes: ENTRY_HEADER_BYTES + bodyLength });
    }
    flushRun();
    lastChainCrc = chain;
  } catch (error) {
    // Sticky, like a failed msync: part of the record may be in the page cache without its index;
    // nothing after it is written or reported durable until the store is reopened and recovered.
    if (Atomics.load(state, StateWord.FailedWriteSeq) === 0) {
      publishErrorText(error);
      Atomics.store(state, StateWord.FailedWriteSeq, seq === 0 ? 1 : seq);
    }
  }
  // Invariant: WrittenSeq moves only after every entry of the record is written (or it failed).
  Atomics.store(state, StateWord.WrittenSeq, seq);
  Atomics.notify(state, StateWord.WrittenSeq);
}

// Ready: StorageWorker.start() resolves on this message.
parentPort?.postMessage('ready');
for (;;) {
  takeRegistrations();
  const record = ring.tryRead();
  if (record === null) {
    ring.waitForData(IDLE_WAIT_MS);
    continue;
  }
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const op = view.getUint32(0, true);
  if (op === Op.Flush) flush(view);
  else if (op === Op.Drop) drop(view.getUint32(4, true));
  else if (op === Op.Write) write(record, view);
  else if (op === Op.Stop) break;
  else throw new Error(`storage worker: unknown record kind ${op}`);
}
for (const fd of descriptors.values()) closeSync(fd);
port.close();
