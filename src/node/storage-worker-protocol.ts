// What the main thread and the storage worker (storage-worker.ts, storage-worker-thread.ts) share:
// the layout of the ring records and of the state words. Records travel main -> worker over an
// SpscRing; completions come back as words of a small SharedArrayBuffer the main thread waits on
// with Atomics.waitAsync. Segment mappings (SharedArrayBuffers) are posted once per segment on a
// MessagePort and taken by the worker with receiveMessageOnPort before it reads the next record,
// so a record never names a segment the worker has not received.
import type { MessagePort } from 'node:worker_threads';

/** Ring record kinds (first u32 of a record). */
export const Op = {
  /** u32 ticket, u32 rangeCount, then rangeCount x (u32 segmentId, f64 offsetBytes, f64 lengthBytes). */
  Flush: 1,
  /**
   * u32 segmentId: the main thread closed this segment; the worker drops its mapping, and
   * releases it (releaseMapping: the file is let go now, not at a GC) when it was registered so.
   */
  Drop: 2,
  /** Finish the records before this one, then exit. */
  Stop: 3,
  /**
   * Encode, CRC and write a batch of entries (storageWorkerWrites): WRITE_HEADER_BYTES, then
   * entryCount x WRITE_ENTRY_BYTES of metadata, then the bodies back to back. See encodeWriteRecord.
   */
  Write: 4,
} as const;

/** u32 op, u32 seq, u32 entryCount, u32 flags (WriteFlag), u32 chainSeed, u32 magic. */
export const WRITE_HEADER_BYTES = 24;
/**
 * Per entry: u32 dataSegmentId, f64 dataOffsetBytes, f64 pos, f64 index, f64 term, u32 bodyLength,
 * u32 indexSegmentId, f64 indexOffsetBytes, u32 blankSegmentId (0: no BLANK before this entry),
 * f64 blankOffsetBytes, u32 blankSizeBytes.
 */
export const WRITE_ENTRY_BYTES = 68;
export const WriteFlag = {
  /** chainSeed is the chain CRC this batch starts from; without it the worker continues its own. */
  ChainSeed: 1,
} as const;

export const FLUSH_HEADER_BYTES = 12;
export const FLUSH_RANGE_BYTES = 20;

/** Int32 words of the state SharedArrayBuffer. */
export const StateWord = {
  /** The last flush ticket the worker finished (durable, or failed: see FAILED_TICKET). */
  DoneTicket: 0,
  /** The first ticket whose msync failed (0: none); it and every later ticket failed. Its message is in the error area. */
  FailedTicket: 1,
  /** Bytes of the UTF-8 error message in the error area. */
  ErrorLength: 2,
  /** Mappings the worker released at Drop (counter). */
  ReleasedMappings: 3,
  /** Releases that failed (counter; the GC unmaps those eventually). */
  ReleaseFailures: 4,
  /**
   * The seq of the last Write record whose entries are in the page cache with their index records
   * published (storageWorkerWrites). Moves only forward, one record at a time, in ring order.
   */
  WrittenSeq: 5,
  /** The seq of the first Write record that failed (0: none); it and every later write and flush failed (sticky). */
  FailedWriteSeq: 6,
} as const;

export const STATE_WORDS = 16;
export const ERROR_AREA_BYTES = 1024;
export const STATE_BYTES = STATE_WORDS * 4 + ERROR_AREA_BYTES;

/** The message that hands a segment's mapping to the worker. */
export interface SegmentRegistration {
  readonly segmentId: number;
  readonly mapping: SharedArrayBuffer;
  readonly path: string;
  /** The mapping is a mapFile one that the main thread left to the worker to release at Drop. */
  readonly releaseOnDrop: boolean;
}

export interface StorageWorkerData {
  readonly ring: SharedArrayBuffer;
  readonly state: SharedArrayBuffer;
  readonly port: MessagePort;
}

/** a - b for 32-bit counters that wrap: > 0 when a is later than b. */
export function ticketAfter(a: number, b: number): number {
  return (a - b) | 0;
}
