// What the main thread and the Raft worker (raft-worker.ts / raft-worker-thread.ts) say to each
// other. Two SPSC SharedArrayBuffer rings (spsc-ring.ts), one per direction; each ring record is
// one msgpack array of records (a batch: everything one side produced in one event-loop turn), so
// many appends, or many committed entries, cross in one record. A record is an array whose first
// element is its op. Start, fatal stops and close go over postMessage (rare, ordered after the
// ring records the worker flushed before them).
//
// Ordering guarantees (every one relies on "one producer, records consumed in the order written"):
//   - ToWorker: appends are proposed in the order main called append().
//   - ToMain: Proposed(id) comes before the Applied record holding that append's entries (the
//     worker proposes, then the entries commit later); Applied records come in log order with no
//     gap; Snapshot(index) comes after every Applied below it and before every Applied above it;
//     ReadDone(id, readIndex) comes after the Applied record that reached readIndex (the worker
//     resolves a read only once it forwarded everything up to it).
import { Packr, Unpackr } from 'msgpackr';
import type { DLedgerNodeConfig } from './config.js';
import type { RaftConfig } from '../raft/types.js';
import type { RetentionSettings } from './retention-settings.js';

export const enum ToWorker {
  /** [op, id, bodies[], evenIfDiskFull] */
  Append = 1,
  /** [op, id] */
  ReadBarrier = 2,
  /** [op, id, to, timeoutMs] */
  Transfer = 3,
  /** [op, peerId, host, port] */
  SetPeerPort = 4,
}

export const enum ToMain {
  /** [op, id, firstIndex, term]: append `id` was proposed at firstIndex.. in term. */
  Proposed = 1,
  /** [op, id, code, message, leaderId]: append `id` failed (refused, timed out, term changed). */
  AppendFailed = 2,
  /** [op, lastIndex, [index, term, pos, normal 0|1, body | null]...]: applied in the worker, in order. */
  Applied = 3,
  /** [op, index]: a snapshot at index was installed (the state machine rebuilds after it). */
  Snapshot = 4,
  /** [op, role, term, leaderId] */
  Role = 5,
  /** [op, id, readIndex] */
  ReadDone = 6,
  /** [op, id, code, message, leaderId] */
  ReadFailed = 7,
  /** [op, id, null | [code, message, leaderId]] */
  TransferDone = 8,
  /** [op, WorkerSnapshot] */
  Status = 9,
  /** [op, line] */
  Log = 10,
  /** [op, metricsMethodName, args[]] */
  Metric = 11,
  /** [op, run, firstIndex, firstPos]: retention moved the log start. */
  LogStartMoved = 12,
}

/** Float64 words of the shared state buffer. */
export const enum Word {
  /** Highest index the worker applied and forwarded (= its commit index after each Ready). */
  WorkerApplied = 0,
  /** Highest index the main thread applied. */
  MainApplied = 1,
  /** The state machine's retention floor (first index it needs kept), published by main. */
  RetentionFloor = 2,
}
export const WORDS = 4;

export interface RaftWorkerData {
  readonly config: DLedgerNodeConfig;
  readonly toWorker: SharedArrayBuffer;
  readonly toMain: SharedArrayBuffer;
  readonly words: SharedArrayBuffer;
  readonly hasStateMachine: boolean;
  readonly hasInstallSnapshot: boolean;
  readonly hasRetentionFloor: boolean;
  readonly acceptClients: boolean;
  readonly appendTimeoutMs: number | undefined;
  readonly raft: Partial<RaftConfig> | undefined;
  /** undefined: the server's default; null: off. */
  readonly retention: RetentionSettings | null | undefined;
  /** The store hook, imported in the worker (module URL of compiled JS, export name). */
  readonly patchBodyModule: { readonly url: string; readonly exportName: string } | null;
}

/** What the worker's node reports every few ticks (status() and the stats getters on main). */
export interface WorkerSnapshot {
  readonly status: Omit<import('../raft/types.js').RaftStatus, 'progress'> & { readonly progress: Array<[string, import('../raft/types.js').PeerProgressStatus]> };
  readonly retainedRange: import('../store/types.js').RetainedRange;
  readonly retentionStats: import('./retention-service.js').RetentionStats | null;
  readonly persistedCounts: { readonly raw: number; readonly encoded: number; readonly rawRejected: number };
  readonly storageWorkerStats: { readonly tickets: number; readonly ranges: number; readonly ringFullWaits: number; readonly timerWakeups: number; readonly releasedMappings: number; readonly writeEntries: number } | null;
  readonly premadeSegmentStats: { readonly premadeUsed: number; readonly createdInline: number; readonly premakeFailed: number; readonly premadeDiscarded: number } | null;
  readonly ioPoolStats: { readonly premakes: number; readonly removals: number; readonly segmentScans: number } | null;
}

/** Control messages over postMessage (worker -> main). */
export type WorkerControl =
  | { readonly kind: 'started'; readonly port: number; readonly snapshot: WorkerSnapshot }
  | { readonly kind: 'start-failed'; readonly message: string; readonly configProblems: readonly string[] | null }
  | { readonly kind: 'fatal'; readonly reason: string }
  | { readonly kind: 'closed' };

/** Control messages over postMessage (main -> worker). */
export type MainControl = { readonly kind: 'close' };

// One Packr per thread and direction; records are plain arrays, so no structures are shared.
export const recordPackr = new Packr({ useRecords: false, moreTypes: false });
export const recordUnpackr = new Unpackr({ useRecords: false, moreTypes: false });

/**
 * Pack `records` into ring records of at most maxBytes each (a batch that does not fit is split;
 * one record that alone does not fit is an error for the caller: it is bounded by maxEntryBodyBytes).
 */
export function packBatches(records: readonly unknown[], maxBytes: number): Uint8Array[] {
  if (records.length === 0) return [];
  const packed = recordPackr.pack(records);
  if (packed.byteLength <= maxBytes) return [packed];
  if (records.length === 1) throw new Error(`a ring record of ${packed.byteLength} bytes exceeds the ring's maximum of ${maxBytes}`);
  const half = Math.ceil(records.length / 2);
  return [...packBatches(records.slice(0, half), maxBytes), ...packBatches(records.slice(half), maxBytes)];
}

export function unpackBatch(bytes: Uint8Array): unknown[][] {
  const value = recordUnpackr.unpack(bytes) as unknown;
  if (!Array.isArray(value)) throw new Error('raft worker ring: a record is not a batch');
  return value as unknown[][];
}
