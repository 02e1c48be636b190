// The storage worker of `threads=workers` (main-thread side; the thread is storage-worker-thread.ts).
//
// What it takes over: the store's group commit. The store (src/store) is unchanged: it asks its
// segment files to flushInBackground(range), and the files this wraps send those ranges to the
// worker instead of the libuv pool. All ranges asked for in one task go as one ring record (one
// ticket); the worker msyncs them synchronously and publishes the ticket in a state word; the main
// thread waits for it with Atomics.waitAsync and never blocks. A full ring is back-pressure: the
// record waits in a bounded outbox until the worker has made room, it is never dropped.
//
// With storageWorkerWrites it also takes the appends' encoding, CRCs and writes (entryWriter():
// Write records on the same ring, so a flush ticket always follows the writes it covers; the
// worker publishes WrittenSeq). Without it, encoding, CRCs and the pwrite stay on the main thread.
// The rare synchronous flushes (truncate, prefix reset, close) msync inline as in inline mode
// (after draining queued writes). The bytes on disk are the same in every mode (tests compare).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { SegmentAccess, SegmentFile, SegmentFileFactory } from '../store/segment-file.js';
import type { OffThreadEntryWriter, OffThreadWriteBatch } from '../store/types.js';
import { assert } from '../util/assert.js';
import { ERROR_AREA_BYTES, FLUSH_HEADER_BYTES, FLUSH_RANGE_BYTES, Op, type SegmentRegistration, STATE_BYTES, StateWord, STATE_WORDS, type StorageWorkerData, ticketAfter, WRITE_ENTRY_BYTES, WRITE_HEADER_BYTES, WriteFlag } from './storage-worker-protocol.js';
import { SpscRing } from './spsc-ring.js';

/** Ring size: a flush record is 12 + 20 bytes per dirty range, so this holds thousands. */
const RING_BYTES = 64 * 1024;
/**
 * Ring size with storageWorkerWrites (the bodies travel in it): room for the largest entry twice
 * over in one record (a record is at most half the ring), and at least 16 MiB of batches.
 */
export function writeRingBytes(maxEntryBodyBytes: number): number {
  const needed = Math.max(16 * 1024 * 1024, 4 * (maxEntryBodyBytes + 48 + WRITE_HEADER_BYTES + WRITE_ENTRY_BYTES + 1024));
  return 2 ** Math.ceil(Math.log2(needed));
}
/**
 * Bytes of Write records waiting for ring space beyond which the writer reports no room
 * (hasRoom() false): the node then takes no further Ready until onRoom() calls back (back-pressure
 * on the appender, asynchronous, never a drop); the pending tail stays bounded too.
 */
const OUTBOX_MAX_WRITE_BYTES = 64 * 1024 * 1024;
/** Records waiting for ring space beyond which the writer reports no room (as OUTBOX_MAX_WRITE_BYTES). */
const OUTBOX_MAX_RECORDS = 4096;
/**
 * The hard bound for callers that append without asking hasRoom() (the store API used directly):
 * past this many times the soft bounds above, submit() waits blocking (Atomics.wait in slices,
 * counted in stats.blockingWaits). The node never gets there: it asks hasRoom() before each Ready.
 */
const OUTBOX_HARD_FACTOR = 4;
/** How long one blocking wait for the worker sleeps before looking again (it notifies; this bounds a lost one). */
const WRITE_WAIT_SLICE_MS = 10;
/** The asynchronous wait on WrittenSeq re-checks at least this often (a lost wake-up, records waiting for room). */
const WRITTEN_RECHECK_MS = 5;
/** While records wait for ring space the main thread re-checks at least this often. */
const BACKPRESSURE_RECHECK_MS = 5;
/**
 * The guard against a wake-up that never arrives (none was seen: in a debugging session a
 * stalled-looking follower turned out to be a test reading before its flush finished): one libuv
 * timer per busy period, not one per ticket. It is armed when a ticket is handed out and none is
 * armed, fires every GUARD_MS while tickets come, and lapses at the first firing that finds no
 * ticket handed out since the last one and none outstanding: an idle node has no timer, a busy
 * one 20 wake-ups a second. When two firings in a row find the same ticket done and not settled
 * by the waiting loop, it restarts the loop, which settles it (stats.timerWakeups counts those):
 * a lost wake-up costs at most 2 x GUARD_MS.
 */
const GUARD_MS = 50;
/** How long close() lets the worker finish its records before terminating it. */
const STOP_TIMEOUT_MS = 10_000;

interface Ticket {
  readonly ticket: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** A range to flush, recorded until the end of the current task seals the batch. */
interface PendingRange {
  readonly segmentId: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export class StorageWorkerError extends Error {
  override name = 'StorageWorkerError';
}

/** The compiled worker script (under dist/ also when this module runs from source in tests). */
function workerScriptUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./storage-worker-thread.js', import.meta.url);
  return pathToFileURL(path.join(path.dirname(here), '../../dist/src/node/storage-worker-thread.js'));
}

export class StorageWorker {
  /** Counters for tests and the bench. */
  readonly stats = { tickets: 0, ranges: 0, ringFullWaits: 0, timerWakeups: 0, guardArms: 0, writeRecords: 0, writeEntries: 0, blockingWaits: 0 };
  private readonly worker: Worker;
  private readonly ring: SpscRing;
  private readonly stateBuffer = new SharedArrayBuffer(STATE_BYTES);
  private readonly state = new Int32Array(this.stateBuffer, 0, STATE_WORDS);
  private readonly port: MessagePort;
  private nextSegmentId = 1;
  // Invariant: ticket numbers increase by one per sealed batch; `outstanding` holds, oldest first,
  // every ticket handed out and not yet settled.
  private lastTicket = 0;
  private readonly outstanding: Ticket[] = [];
  /** Ranges asked for in the current task (sealed into one ticket by a microtask). */
  private batch: PendingRange[] = [];
  private batchPromise: Promise<void> | null = null;
  private batchTicket: Ticket | null = null;
  // Invariant: records (each as its parts) in order, not yet in the ring (the ring was full); at
  // most OUTBOX_MAX_RECORDS, and Write records of at most ~OUTBOX_MAX_WRITE_BYTES.
  private readonly outbox: Uint8Array[][] = [];
  private outboxBytes = 0;
  /** The seq of the last Write record handed out (0: none yet). */
  private lastWriteSeq = 0;
  // Invariant: callbacks waiting for a written seq (oldest seq first) or for outbox room; the
  // written loop (watchWritten) runs while either is non-empty.
  private writtenWaiters: Array<{ readonly seq: number; readonly callback: () => void }> = [];
  private roomWaiters: Array<() => void> = [];
  private watchingWritten = false;
  private waiting = false;
  // Invariant: a waiting loop whose generation is not this one has been replaced and exits.
  private loopGeneration = 0;
  private guard: NodeJS.Timeout | null = null;
  private ticketsSinceGuard = 0;
  /** A ticket the guard last found done but not settled (see guardFired). */
  private guardSuspect: number | null = null;
  private dead: Error | null = null;
  private readonly exited: Promise<void>;
  private readonly ready: Promise<void>;
  private closing = false;

  /**
   * Use start(). `ringBytes` (a power of two) other than the default, and `outboxMaxRecords`
   * (the soft bound of records waiting for ring space) below OUTBOX_MAX_RECORDS, only for tests
   * of back-pressure.
   */
  private constructor(
    private readonly log: (line: string) => void = () => undefined,
    ringBytes = RING_BYTES,
    private readonly outboxMaxRecords = OUTBOX_MAX_RECORDS,
  ) {
    assert(Number.isInteger(outboxMaxRecords) && outboxMaxRecords >= 1 && outboxMaxRecords <= OUTBOX_MAX_RECORDS, `outboxMaxRecords ${outboxMaxRecords}: 1..${OUTBOX_MAX_RECORDS}`);
    this.ring = SpscRing.create(ringBytes);
    const channel = new MessageChannel();
    this.port = channel.port1;
    const data: StorageWorkerData = { ring: this.ring.buffer, state: this.stateBuffer, port: channel.port2 };
    // execArgv []: the worker runs compiled JS and needs none of the parent's loaders (under tap a
    // TypeScript loader inherited by the worker made it take seconds to start).
    this.worker = new Worker(workerScriptUrl(), { workerData: data, transferList: [channel.port2], name: 'dledger-storage', execArgv: [] });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('message', () => resolve());
      this.worker.once('exit', () => reject(this.dead ?? new StorageWorkerError('storage worker exited before it was ready')));
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => {
      this.worker.once('error', (error) => this.die(new StorageWorkerError(`storage worker failed: ${error.message}`)));
      this.worker.once('exit', (code) => {
        if (!this.closing) this.die(new StorageWorkerError(`storage worker exited with code ${code}`));
        resolve();
      });
    });
  }

  /**
   * Start a worker and wait until its thread runs (modules loaded, ring attached), so that the
   * first group commit does not also pay for starting a thread.
   */
  static async start(log: (line: string) => void = () => undefined, ringBytes = RING_BYTES, outboxMaxRecords = OUTBOX_MAX_RECORDS): Promise<StorageWorker> {
    const worker = new StorageWorker(log, ringBytes, outboxMaxRecords);
    await worker.ready;
    return worker;
  }

  /** Segment files from `inner` whose background flushes this worker runs. */
  wrap(inner: SegmentFileFactory): SegmentFileFactory {
    return {
      create: (filePath, sizeBytes) => new WorkerFlushedSegmentFile(inner.create(filePath, sizeBytes), this),
      open: (filePath, sizeBytes, access: SegmentAccess) => {
        const file = inner.open(filePath, sizeBytes, access);
        return access === 'read-write' ? new WorkerFlushedSegmentFile(file, this) : file;
      },
    };
  }

  /** Hand a mapping to the worker; returns the id records name it by. */
  registerSegment(mapping: SharedArrayBuffer, filePath: string, releaseOnDrop = false): number {
    const segmentId = this.nextSegmentId++;
    const registration: SegmentRegistration = { segmentId, mapping, path: filePath, releaseOnDrop };
    this.port.postMessage(registration);
    return segmentId;
  }

  /**
   * The segment is closed: the worker forgets its mapping after the flushes already queued (and
   * releases it if it was registered with releaseOnDrop). False when the worker can no longer take
   * records (closed or dead): the caller then releases the mapping itself.
   */
  dropSegment(segmentId: number): boolean {
    if (this.dead !== null || this.closing) return false;
    const record = new Uint8Array(8);
    new DataView(record.buffer).setUint32(0, Op.Drop, true);
    new DataView(record.buffer).setUint32(4, segmentId, true);
    this.send(record);
    return true;
  }

  /** Mappings the worker released at Drop, and releases that failed (see StateWord). */
  releasedMappings(): { readonly released: number; readonly failed: number } {
    return { released: Atomics.load(this.state, StateWord.ReleasedMappings), failed: Atomics.load(this.state, StateWord.ReleaseFailures) };
  }

  /** msync the range on the worker; resolves once it (and all of this task's ranges) is durable. */
  flushRange(segmentId: number, offsetBytes: number, lengthBytes: number): Promise<void> {
    if (this.dead !== null) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new StorageWorkerError('storage worker closed'));
    this.batch.push({ segmentId, offsetBytes, lengthBytes });
    if (this.batchPromise === null) {
      this.batchPromise = new Promise<void>((resolve, reject) => {
        this.batchTicket = { ticket: 0, resolve, reject };
      });
      queueMicrotask(() => this.sealBatch());
    }
    return this.batchPromise;
  }

  /** Stop the worker after the records already sent; later flushes are refused. */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    if (this.batch.length > 0) this.sealBatch();
    this.closing = true;
    const record = new Uint8Array(4);
    new DataView(record.buffer).setUint32(0, Op.Stop, true);
    if (this.dead === null) this.send(record);
    this.worker.ref();
    const timer = setTimeout(() => void this.worker.terminate(), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    this.port.close();
    this.die(new StorageWorkerError('storage worker closed'));
  }

  private sealBatch(): void {
    const ranges = this.batch;
    const pending = this.batchTicket;
    this.batch = [];
    this.batchPromise = null;
    this.batchTicket = null;
    if (pending === null || ranges.length === 0) return;
    if (this.dead !== null) return pending.reject(this.dead);
    const ticket = (this.lastTicket + 1) | 0 || 1;
    this.lastTicket = ticket;
    this.outstanding.push({ ticket, resolve: pending.resolve, reject: pending.reject });
    this.stats.tickets++;
    this.stats.ranges += ranges.length;
    const record = new Uint8Array(FLUSH_HEADER_BYTES + ranges.length * FLUSH_RANGE_BYTES);
    const view = new DataView(record.buffer);
    view.setUint32(0, Op.Flush, true);
    view.setUint32(4, ticket >>> 0, true);
    view.setUint32(8, ranges.length, true);
    ranges.forEach((range, i) => {
      const at = FLUSH_HEADER_BYTES + i * FLUSH_RANGE_BYTES;
      view.setUint32(at, range.segmentId, true);
      view.setFloat64(at + 4, range.offsetBytes, true);
      view.setFloat64(at + 12, range.lengthBytes, true);
    });
    this.send(record);
    // The process must not exit while a flush someone waits for is in flight.
    this.worker.ref();
    this.ticketsSinceGuard++;
    this.armGuard(GUARD_MS);
    this.waitForCompletions();
  }

  private send(...parts: Uint8Array[]): void {
    let bytes = 0;
    for (const part of parts) bytes += part.byteLength;
    assert(bytes <= this.ring.maxRecordBytes, `storage worker record of ${bytes} bytes exceeds the ring's ${this.ring.maxRecordBytes}`);
    if (this.outbox.length === 0 && this.ring.tryWrite(...parts)) return;
    // Back-pressure: keep the order, wait for the worker to make room (waitForCompletions retries).
    // The node keeps below the soft bound (hasRoom before each Ready); only a direct caller of the
    // store API that ignores it reaches the hard one.
    if (this.outbox.length >= OUTBOX_HARD_FACTOR * this.outboxMaxRecords || this.outboxBytes > OUTBOX_HARD_FACTOR * OUTBOX_MAX_WRITE_BYTES) {
      this.waitUntil(() => this.outbox.length < OUTBOX_HARD_FACTOR * this.outboxMaxRecords && this.outboxBytes <= OUTBOX_HARD_FACTOR * OUTBOX_MAX_WRITE_BYTES);
    }
    this.outbox.push(parts);
    this.outboxBytes += bytes;
    this.stats.ringFullWaits++;
    this.armGuard(BACKPRESSURE_RECHECK_MS);
    this.waitForCompletions();
  }

  private drainOutbox(): void {
    while (this.outbox.length > 0 && this.ring.tryWrite(...(this.outbox[0] as Uint8Array[]))) {
      for (const part of this.outbox.shift() as Uint8Array[]) this.outboxBytes -= part.byteLength;
    }
  }

  /** False while the records waiting for ring space are over the soft bound (see onRoom). */
  hasRoom(): boolean {
    this.drainOutbox();
    return this.dead !== null || (this.outbox.length < this.outboxMaxRecords && this.outboxBytes <= OUTBOX_MAX_WRITE_BYTES);
  }

  /** Call `callback` (from the event loop, never blocking) once hasRoom() is true (or the worker died). */
  onRoom(callback: () => void): void {
    if (this.hasRoom()) return callback();
    this.roomWaiters.push(callback);
    this.watchWritten();
  }

  /** Call `callback` (from the event loop, never blocking) once Write record `seq` is written (or failed, or the worker died). */
  onWritten(seq: number, callback: () => void): void {
    if (this.dead !== null || ticketAfter(Atomics.load(this.state, StateWord.WrittenSeq), seq) >= 0) return callback();
    this.writtenWaiters.push({ seq, callback });
    this.watchWritten();
  }

  /**
   * One loop at a time: call back the waiters whose seq is written and, once the outbox is under
   * its bound, the room waiters; sleep (Atomics.waitAsync on WrittenSeq, which the worker notifies
   * after each Write record, at most WRITTEN_RECHECK_MS: freeing ring space by a flush record
   * notifies nothing) and repeat. Callbacks run synchronously here, so a caller that finds the
   * pending tail empty in its callback acts before anything else runs.
   */
  private watchWritten(): void {
    if (this.watchingWritten) return;
    this.watchingWritten = true;
    void (async () => {
      try {
        for (;;) {
          this.drainOutbox();
          const written = Atomics.load(this.state, StateWord.WrittenSeq);
          const dead = this.dead !== null;
          while (this.writtenWaiters.length > 0 && (dead || ticketAfter(written, (this.writtenWaiters[0] as { seq: number }).seq) >= 0)) {
            (this.writtenWaiters.shift() as { callback: () => void }).callback();
          }
          if (this.roomWaiters.length > 0 && this.hasRoom()) {
            const waiters = this.roomWaiters;
            this.roomWaiters = [];
            for (const callback of waiters) callback();
          }
          if (this.writtenWaiters.length === 0 && this.roomWaiters.length === 0) return;
          const result = Atomics.waitAsync(this.state, StateWord.WrittenSeq, written, WRITTEN_RECHECK_MS);
          if (result.async) await result.value;
        }
      } finally {
        this.watchingWritten = false;
      }
    })();
  }

  /**
   * Block this thread (Atomics.wait, in slices) until `done()`, pushing waiting records into the
   * ring meanwhile. The node never calls this (it waits with onWritten / onRoom): only direct
   * callers of the store's synchronous API (tests, tools), and back-pressure past the hard bound.
   */
  private waitUntil(done: () => boolean): void {
    let counted = false;
    for (;;) {
      this.drainOutbox();
      if (done()) return;
      if (this.dead !== null) throw this.dead;
      if (!counted) this.stats.blockingWaits++;
      counted = true;
      Atomics.wait(this.state, StateWord.WrittenSeq, Atomics.load(this.state, StateWord.WrittenSeq), WRITE_WAIT_SLICE_MS);
    }
  }

  /** The entry writer the store uses with storageWorkerWrites (see OffThreadEntryWriter). */
  entryWriter(): OffThreadEntryWriter {
    return {
      segmentIdOf: (file) => (file instanceof WorkerFlushedSegmentFile ? file.workerSegmentId() : null),
      maxRecordBodyBytes: this.ring.maxRecordBytes - WRITE_HEADER_BYTES - WRITE_ENTRY_BYTES,
      submit: (batch) => this.submitWrite(batch),
      writtenSeq: () => Atomics.load(this.state, StateWord.WrittenSeq),
      onWritten: (seq, callback) => this.onWritten(seq, callback),
      hasRoom: () => this.hasRoom(),
      onRoom: (callback) => this.onRoom(callback),
      waitWritten: (seq) => {
        this.waitUntil(() => ticketAfter(Atomics.load(this.state, StateWord.WrittenSeq), seq) >= 0);
        const failure = this.writeFailure();
        if (failure !== null) throw failure;
      },
      failure: () => this.writeFailure(),
    };
  }

  private writeFailure(): Error | null {
    if (Atomics.load(this.state, StateWord.FailedWriteSeq) !== 0) return new StorageWorkerError(`write failed: ${this.errorText()}`);
    return this.dead;
  }

  /** One Write record per batch (split by ring room); returns the seq of its last record. */
  private submitWrite(batch: OffThreadWriteBatch): number {
    if (this.dead !== null) throw this.dead;
    if (this.closing) throw new StorageWorkerError('storage worker closed');
    const maxBytes = this.ring.maxRecordBytes;
    let from = 0;
    let seed = batch.chainSeed;
    while (from < batch.entries.length) {
      let to = from;
      let bytes = WRITE_HEADER_BYTES;
      while (to < batch.entries.length) {
        const next = WRITE_ENTRY_BYTES + (batch.entries[to] as OffThreadWriteBatch['entries'][number]).body.byteLength;
        if (to > from && bytes + next > maxBytes) break;
        bytes += next;
        to++;
      }
      const seq = (this.lastWriteSeq + 1) | 0 || 1;
      this.lastWriteSeq = seq;
      const count = to - from;
      const head = new Uint8Array(WRITE_HEADER_BYTES + count * WRITE_ENTRY_BYTES);
      const view = new DataView(head.buffer);
      view.setUint32(0, Op.Write, true);
      view.setUint32(4, seq >>> 0, true);
      view.setUint32(8, count, true);
      view.setUint32(12, seed === null ? 0 : WriteFlag.ChainSeed, true);
      view.setUint32(16, seed ?? 0, true);
      view.setInt32(20, batch.magic, true);
      const parts: Uint8Array[] = [head];
      for (let i = 0; i < count; i++) {
        const entry = batch.entries[from + i] as OffThreadWriteBatch['entries'][number];
        const at = WRITE_HEADER_BYTES + i * WRITE_ENTRY_BYTES;
        view.setUint32(at, entry.dataSegmentId, true);
        view.setFloat64(at + 4, entry.dataOffsetBytes, true);
        view.setFloat64(at + 12, entry.pos, true);
        view.setFloat64(at + 20, entry.index, true);
        view.setFloat64(at + 28, entry.term, true);
        view.setUint32(at + 36, entry.body.byteLength, true);
        view.setUint32(at + 40, entry.indexSegmentId, true);
        view.setFloat64(at + 44, entry.indexOffsetBytes, true);
        view.setUint32(at + 52, entry.blank?.segmentId ?? 0, true);
        view.setFloat64(at + 56, entry.blank?.offsetBytes ?? 0, true);
        view.setUint32(at + 64, entry.blank?.sizeBytes ?? 0, true);
        parts.push(entry.body);
      }
      this.stats.writeRecords++;
      this.stats.writeEntries += count;
      this.send(...parts);
      // The rest of a split batch goes on from the chain the worker reached.
      seed = null;
      from = to;
    }
    return this.lastWriteSeq;
  }

  /** One waiter at a time: settle finished tickets, sleep (asynchronously) on DoneTicket, repeat. */
  private waitForCompletions(): void {
    if (this.waiting) return;
    this.waiting = true;
    const generation = ++this.loopGeneration;
    void (async () => {
      try {
        while (this.dead === null && (this.outstanding.length > 0 || this.outbox.length > 0)) {
          this.drainOutbox();
          const done = Atomics.load(this.state, StateWord.DoneTicket);
          this.settleUpTo(done);
          if (this.outstanding.length === 0 && this.outbox.length === 0) break;
          const result = Atomics.waitAsync(this.state, StateWord.DoneTicket, done);
          if (!result.async) continue;
          // No timer here: the guard (armGuard) covers a wake-up that never comes.
          await result.value;
          if (generation !== this.loopGeneration) return;
        }
      } finally {
        if (generation === this.loopGeneration) {
          this.waiting = false;
          if (this.outstanding.length === 0 && !this.closing) this.worker.unref();
        }
      }
    })();
  }

  /** Arm the guard to fire within `delayMs` (a shorter delay moves an armed one earlier). */
  private armGuard(delayMs: number): void {
    if (this.guard !== null && delayMs >= GUARD_MS) return;
    if (this.guard !== null) clearTimeout(this.guard);
    else this.stats.guardArms++;
    this.guard = setTimeout(() => this.guardFired(), delayMs);
    // The guard never keeps the process alive (an outstanding ticket refs the worker instead).
    this.guard.unref();
  }

  private guardFired(): void {
    this.guard = null;
    if (this.dead !== null) return;
    const busy = this.outstanding.length > 0 || this.outbox.length > 0;
    if (busy) {
      const oldest = this.outstanding[0];
      const done = Atomics.load(this.state, StateWord.DoneTicket);
      // Done but unsettled at two firings in a row: the loop's wake-up is not coming. (At one
      // firing it may merely be queued behind this timer in the same loop turn.)
      const unsettled = oldest !== undefined && ticketAfter(done, oldest.ticket) >= 0 ? oldest.ticket : null;
      const missed = unsettled !== null && unsettled === this.guardSuspect;
      this.guardSuspect = missed ? null : unsettled;
      if (missed || this.outbox.length > 0) {
        // A finished ticket the loop has not settled (a wake-up that did not come), or records
        // waiting for ring space (the worker does not notify when it frees room): a new loop
        // takes over; the old one exits if its wait ever returns.
        if (missed) this.stats.timerWakeups++;
        this.waiting = false;
        this.waitForCompletions();
      }
    }
    const stillBusy = this.outstanding.length > 0 || this.outbox.length > 0;
    if (stillBusy || this.ticketsSinceGuard > 0) {
      this.ticketsSinceGuard = 0;
      this.armGuard(this.outbox.length > 0 ? BACKPRESSURE_RECHECK_MS : GUARD_MS);
    }
  }

  private settleUpTo(done: number): void {
    while (this.outstanding.length > 0 && ticketAfter(done, (this.outstanding[0] as Ticket).ticket) >= 0) {
      const ticket = this.outstanding.shift() as Ticket;
      // A failure is sticky in the worker: that ticket and every later one failed.
      const failed = Atomics.load(this.state, StateWord.FailedTicket);
      if (failed !== 0 && ticketAfter(ticket.ticket, failed) >= 0) ticket.reject(new StorageWorkerError(this.errorText()));
      else ticket.resolve();
    }
  }

  private errorText(): string {
    const length = Math.min(Atomics.load(this.state, StateWord.ErrorLength), ERROR_AREA_BYTES);
    return new TextDecoder().decode(new Uint8Array(this.stateBuffer, STATE_WORDS * 4, length).slice());
  }

  private die(error: Error): void {
    if (this.dead !== null) return;
    this.dead = error;
    if (!this.closing) this.log(`storage worker: ${error.message}`);
    for (const ticket of this.outstanding.splice(0)) ticket.reject(error);
    this.outbox.length = 0;
    this.outboxBytes = 0;
    // Waiters learn of the failure from the store (the writer's failure() is sticky).
    for (const waiter of this.writtenWaiters.splice(0)) waiter.callback();
    for (const callback of this.roomWaiters.splice(0)) callback();
    if (this.guard !== null) clearTimeout(this.guard);
    this.guard = null;
  }
}

/** A segment file whose background flushes run on the storage worker; everything else is `inner`'s. */
class WorkerFlushedSegmentFile implements SegmentFile {
  readonly write?: (offsetBytes: number, bytes: Uint8Array) => void;
  // Invariant: null until the first background flush registered the mapping with the worker.
  private segmentId: number | null = null;

  constructor(
    private readonly inner: SegmentFile,
    private readonly worker: StorageWorker,
  ) {
    if (inner.write !== undefined) this.write = (offsetBytes, bytes) => (inner.write as NonNullable<SegmentFile['write']>)(offsetBytes, bytes);
  }

  get path(): string {
    return this.inner.path;
  }
  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  get bytes(): Uint8Array {
    return this.inner.bytes;
  }

  flush(offsetBytes: number, lengthBytes: number): void {
    this.inner.flush(offsetBytes, lengthBytes);
  }

  /** The id the worker names this segment by (registered on first use), or null when its mapping is not shared. */
  workerSegmentId(): number | null {
    const mapping = this.inner.bytes.buffer;
    if (!(mapping instanceof SharedArrayBuffer) || this.inner.bytes.byteOffset !== 0) return null;
    if (this.segmentId === null) this.segmentId = this.worker.registerSegment(mapping, this.inner.path, this.inner.closeLeavingMapping !== undefined);
    return this.segmentId;
  }

  flushInBackground(offsetBytes: number, lengthBytes: number): Promise<void> {
    const mapping = this.inner.bytes.buffer;
    // Only a shared mapping can be msynced from another thread; anything else flushes as before.
    if (!(mapping instanceof SharedArrayBuffer) || this.inner.bytes.byteOffset !== 0) {
      if (this.inner.flushInBackground !== undefined) return this.inner.flushInBackground(offsetBytes, lengthBytes);
      this.inner.flush(offsetBytes, lengthBytes);
      return Promise.resolve();
    }
    if (lengthBytes === 0) return Promise.resolve();
    if (this.segmentId === null) this.segmentId = this.worker.registerSegment(mapping, this.inner.path, this.inner.closeLeavingMapping !== undefined);
    return this.worker.flushRange(this.segmentId, offsetBytes, lengthBytes);
  }

  /**
   * Once the worker has the mapping, it releases it (after the flushes it still has queued for
   * this segment: releasing here first would turn those into no-ops reported durable).
   */
  close(): void {
    const segmentId = this.segmentId;
    this.segmentId = null;
    if (segmentId !== null && this.worker.dropSegment(segmentId) && this.inner.closeLeavingMapping !== undefined) {
      this.inner.closeLeavingMapping();
      return;
    }
    // Never registered, or the worker is gone (it runs no more flushes): release here.
    this.inner.close();
  }
}
