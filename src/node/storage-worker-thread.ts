// The storage worker's thread (started by storage-worker.ts in `threads=workers` mode): it holds
// the segment mappings the main thread posted (the same SharedArrayBuffers: one page cache, no
// copy) and runs each group commit's msync synchronously here — a blocking call is what this
// thread is for, so no libuv pool hop and no callback on the main loop. It then publishes the
// finished ticket in a state word and notifies; the main thread waits with Atomics.waitAsync.
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { msync, PAGE_SIZE_BYTES, releaseMapping } from '../native/mmap.js';
import { ERROR_AREA_BYTES, FLUSH_HEADER_BYTES, FLUSH_RANGE_BYTES, Op, type SegmentRegistration, StateWord, STATE_WORDS, type StorageWorkerData } from './storage-worker-protocol.js';
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

function takeRegistrations(): void {
  for (let message = receiveMessageOnPort(port); message !== undefined; message = receiveMessageOnPort(port)) {
    const registration = message.message as SegmentRegistration;
    mappings.set(registration.segmentId, registration);
  }
}

function publishFailure(ticket: number, error: unknown): void {
  // The first failure only: after a failed msync the page cache's state is unknown (the kernel
  // may have dropped the dirty pages), so every later ticket fails too and nothing is reported
  // durable again until the store is reopened and recovered.
  if (Atomics.load(state, StateWord.FailedTicket) !== 0) return;
  const text = new TextEncoder().encode(error instanceof Error ? error.message : String(error)).subarray(0, ERROR_AREA_BYTES);
  errorArea.set(text);
  Atomics.store(state, StateWord.ErrorLength, text.length);
  Atomics.store(state, StateWord.FailedTicket, ticket);
}

function flush(view: DataView): void {
  const ticket = view.getUint32(4, true) | 0;
  const count = view.getUint32(8, true);
  try {
    if (Atomics.load(state, StateWord.FailedTicket) !== 0) throw new Error('an earlier flush failed');
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
  if (segment === undefined || !segment.releaseOnDrop) return;
  try {
    releaseMapping(segment.mapping, segment.path);
    Atomics.add(state, StateWord.ReleasedMappings, 1);
  } catch {
    // Not a durability matter (the segment is closed): the GC unmaps it eventually; counted.
    Atomics.add(state, StateWord.ReleaseFailures, 1);
  }
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
  else if (op === Op.Stop) break;
  else throw new Error(`storage worker: unknown record kind ${op}`);
}
port.close();
