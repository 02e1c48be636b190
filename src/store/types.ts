// The public contract of the commit-log store (DLedger's DLedgerMmapFileStore, without roles).
// Implementations: the mmap'd segmented store (store on disk) and the in-memory store (simulation
// tests). The store knows entries, positions and CRCs; it knows nothing of leaders.
//
// Index and position follow DLedger: the first entry has index 0 and pos 0; pos is the global
// byte position of the entry's 48-byte header across all data segments.
import type { SegmentFile } from './segment-file.js';
import type { SegmentScan } from './segment-scan.js';

export const ENTRY_HEADER_BYTES = 48;
export const INDEX_RECORD_BYTES = 32;

/** Entry magic numbers (DLedger): 1 NORMAL, 2 NOOP; -1 is the BLANK filler at a segment's end. */
export const EntryMagic = {
  Normal: 1,
  Noop: 2,
  Blank: -1,
} as const;
export type EntryMagic = (typeof EntryMagic)[keyof typeof EntryMagic];

export interface StoredEntry {
  readonly index: number;
  readonly term: number;
  readonly magic: EntryMagic;
  /** Global byte position of the header; RocketMQ's physical offset is pos + 48. */
  readonly pos: number;
  /** Whole record size, 48 + body length. */
  readonly sizeBytes: number;
  readonly chainCrc: number;
  readonly bodyCrc: number;
  readonly body: Uint8Array;
}

export interface AppendedEntry {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
}

/** Encoded records as they lie in the data files: what replication ships and followers write. */
export interface RawRecords {
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Position of the first record's header. */
  readonly pos: number;
  /** One or more whole records, contiguous in one segment (a read never crosses a BLANK). */
  readonly bytes: Uint8Array;
}

export type FlushPolicy =
  | { readonly kind: 'sync' }
  | { readonly kind: 'async'; readonly intervalMs: number };

export interface StoreOptions {
  /** The node directory, {storeBaseDir}/dledger-{selfId}; data/ and index/ live under it. */
  readonly nodeDir: string;
  readonly dataSegmentSizeBytes: number;
  readonly indexSegmentSizeBytes: number;
  readonly flush: FlushPolicy;
  /** Largest body accepted by append (DLedger: about 4 MiB). */
  readonly maxEntryBodyBytes: number;
  /**
   * Run group-commit flushes (flush sync's msync, flush async's timer) on the libuv thread pool
   * instead of the calling thread, so the event loop serves sockets while the disk flushes; one
   * flush in flight, the next covers everything appended meanwhile. Costs a thread hop per
   * flush; a node serving a group wants it, a caller that waits on each append may not.
   * Default false.
   */
  readonly flushInBackground?: boolean;
  /**
   * Called for each NORMAL entry appended through append(), with its body as written into the
   * segment and its pos, before the CRCs are computed: RocketMQ writes the message's physical
   * offset (pos + 48) into the body here, as DLedger's append hook does. It must be a pure
   * function of (body, pos) so that every replica, which writes the same entry at the same pos,
   * stores the same bytes. Records received raw (appendRaw) are already patched.
   */
  readonly patchBody?: (body: Uint8Array, pos: number) => void;
  /**
   * Data segments verified beforehand (segment-scan.ts; threads=workers runs them in parallel on
   * the I/O pool), by start pos: recovery checks each one's first record itself and takes the
   * scan's word for the rest of it. The result of the open is the same with or without them.
   */
  readonly recoveryScans?: ReadonlyMap<number, SegmentScan>;
  /**
   * Encoding, CRCs and the writes of append() run elsewhere (threads=workers +
   * storageWorkerWrites: the storage worker). The store keeps the logical log (positions, index,
   * term) and serves entries not yet written from its pending tail or waits for them; the bytes
   * written are the same. Segments the writer cannot name (segmentIdOf null) are written inline.
   */
  readonly entryWriter?: OffThreadEntryWriter;
}

/** One batch for an OffThreadEntryWriter: consecutive entries of one append() call. */
export interface OffThreadWriteBatch {
  readonly magic: EntryMagic;
  /** The chain CRC the first entry continues (null: the writer goes on from its last entry). */
  readonly chainSeed: number | null;
  readonly entries: ReadonlyArray<{
    readonly dataSegmentId: number;
    readonly dataOffsetBytes: number;
    readonly pos: number;
    readonly index: number;
    readonly term: number;
    /** As it is to be stored (patchBody already applied). */
    readonly body: Uint8Array;
    readonly indexSegmentId: number;
    readonly indexOffsetBytes: number;
    /** A BLANK that ends the previous segment before this entry. */
    readonly blank: { readonly segmentId: number; readonly offsetBytes: number; readonly sizeBytes: number } | null;
  }>;
}

/** Writes entries off the store's thread, in submission order (storage-worker.ts). */
export interface OffThreadEntryWriter {
  /** The id the writer names this segment file by, or null when it cannot write it. */
  segmentIdOf(file: SegmentFile): number | null;
  /** The largest body one batch entry may have. */
  readonly maxRecordBodyBytes: number;
  /** Queue a batch (never dropped: a full ring waits in order); returns its seq (increasing, wrapping int32). */
  submit(batch: OffThreadWriteBatch): number;
  /** The seq of the last batch written: data in the page cache, index records published. */
  writtenSeq(): number;
  /** Block until batch `seq` is written; throws the writer's (sticky) failure. Not for an event loop: see onWritten. */
  waitWritten(seq: number): void;
  /** Call `callback` once batch `seq` is written, failed, or the writer stopped (asynchronously, never blocking). */
  onWritten(seq: number, callback: () => void): void;
  /** False while the batches waiting for the writer are over its bound: submit no more until onRoom calls back. */
  hasRoom(): boolean;
  /** Call `callback` once hasRoom() is true (asynchronously, never blocking). */
  onRoom(callback: () => void): void;
  /** The writer's first failure (sticky), or null. */
  failure(): Error | null;
}

/** Persisted Raft metadata, written atomically and durably (temp file, fsync, rename, fsync dir). */
export interface TermVote {
  readonly term: number;
  readonly votedFor: string | null;
}

export interface RetentionPolicy {
  /** A data segment whose last write is older than this is expired. */
  readonly fileReservedMs: number;
  /**
   * Delete old segments whether expired or not (the disk is above the force-clean ratio: DLedger's
   * diskSpaceRatioToForceClean, RocketMQ's diskSpaceCleanForciblyRatio). The caller measures the
   * ratio (diskUsageRatio()) between runs: deleted files free their space only once unlinked.
   */
  readonly forceClean: boolean;
  /** Never delete a segment holding an entry with index >= this (uncommitted, unapplied, or a follower's next). */
  readonly keepFromIndex: number;
  /** Clock injected for tests. */
  readonly nowMs: number;
  /** At most this many data segments per run (DLedger and RocketMQ: 10). Default 10. */
  readonly maxSegmentsPerRun?: number;
  /** Pause between two file unlinks (RocketMQ's deleteCommitLogFilesInterval). Default 0. */
  readonly unlinkIntervalMs?: number;
}

export interface RetentionRun {
  /** Files taken out of the log, data and index, as `data/<name>` / `index/<name>`, oldest first. */
  readonly deleted: readonly string[];
  /** Data segments among them. */
  readonly dataSegmentsDeleted: number;
  /** Bytes of the deleted files (data and index). */
  readonly bytesDeleted: number;
  /**
   * Settles once the files are unlinked (off the event loop). The new log start is durable before
   * applyRetention returns; a crash before this settles leaves files recovery removes at open.
   */
  readonly filesRemoved: Promise<void>;
}

/** What the log holds now (read-file, mqadmin, metrics). */
export interface RetainedRange {
  /** First entry's index (beforeBeginIndex + 1); > lastIndex when the log is empty. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Where the first entry lies, and where the next record goes. */
  readonly firstPos: number;
  readonly endPos: number;
  /** Data segment files on disk (mapped), and their bytes. */
  readonly dataSegments: number;
  readonly dataSegmentBytes: number;
  readonly indexSegments: number;
}

export interface LogStore {
  /** Index just before the first available entry (DLedger's ledgerBeforeBeginIndex); -1 initially. */
  readonly beforeBeginIndex: number;
  readonly beforeBeginTerm: number;
  /** chainCrc of the entry at beforeBeginIndex (what the next record's chain is seeded with); null when unknown (a prefix installed from elsewhere without it). */
  readonly beforeBeginChainCrc: number | null;
  /** Last entry's index, or beforeBeginIndex when empty. */
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Position where the next record will be written. */
  readonly endPos: number;
  /** Highest index known durable on this node (fdatasync/msync returned). */
  readonly durableIndex: number;

  /** Leader path: encode and write bodies as entries of `term`; bytes are in the page cache on return. */
  /**
   * `options.inline`: with an off-thread entry writer, encode and write on this thread anyway (a
   * follower's rare encoded runs: its log then has no pending tail to wait for at its next raw
   * records); it drains pending entries first, so callers ask pendingWrites() before.
   */
  append(term: number, bodies: readonly Uint8Array[], magic?: EntryMagic, options?: { readonly inline?: boolean }): AppendedEntry[];
  /**
   * Follower path: write records received from the leader byte for byte at their own pos (header
   * and CRCs verified first). Their first index must be lastIndex + 1 (truncate first otherwise).
   */
  appendRaw(records: RawRecords): void;
  /** Resolves once every entry <= index is durable: group commit under sync, the timer under async. */
  whenDurable(index: number): Promise<void>;
  /** Make every entry appended so far durable now (synchronously; one msync of the dirty range). */
  flush(): void;
  get(index: number): StoredEntry | null;
  /** The index of the entry whose header starts at `pos`, or null if none does (checked against its index record). */
  indexAtPos(pos: number): number | null;
  /**
   * The term of entry `index` from its index record (no body read or copy: for Raft's frequent
   * term lookups); beforeBeginTerm for beforeBeginIndex; null outside [beforeBeginIndex, lastIndex].
   */
  termAt(index: number): number | null;
  /**
   * Whole records starting at fromIndex, up to maxBytes (at least one record), for replication.
   * verify (default true) checks each record's CRCs and chain; false skips that for a leader
   * shipping records it wrote itself moments ago (the follower's appendRaw verifies them all).
   */
  readRaw(fromIndex: number, maxBytes: number, verify?: boolean): RawRecords | null;
  /** Entries handed to an off-thread entry writer and not yet written (0 or absent without one). */
  pendingWrites?(): number;
  /** True when entry `index` is handed to an off-thread entry writer and not yet written. */
  isPendingWrite?(index: number): boolean;
  /** Call `callback` once every entry handed to the entry writer so far is written, never blocking. */
  afterWrites?(callback: () => void): void;
  /** False while the entry writer has more queued than its bound (see afterWriterRoom). */
  writerHasRoom?(): boolean;
  /** Call `callback` once writerHasRoom() is true, never blocking. */
  afterWriterRoom?(callback: () => void): void;
  /** Remove entries with index >= fromIndex (Raft conflict truncation). */
  truncate(fromIndex: number): void;
  /**
   * Logically drop everything <= beforeBeginIndex (after a snapshot); the log restarts after it.
   * Entries after it are kept only if our entry at beforeBeginIndex has beforeBeginTerm (Raft log
   * matching); otherwise the whole log is dropped. `next` (from the leader's snapshot): where its
   * entry beforeBeginIndex + 1 starts and the chainCrc of its entry beforeBeginIndex; a log left
   * empty moves its start there and seeds its chain with it, so that entries appended after the
   * snapshot are the leader's records byte for byte (position and chain).
   */
  resetPrefix(beforeBeginIndex: number, beforeBeginTerm: number, next?: { readonly pos: number; readonly chainCrc: number | null }): void;
  /**
   * Delete old whole segments by the policy, oldest first: the new log start is made durable
   * (checkpoint) first, then data and index segments below it are unmapped and unlinked off the
   * event loop. One run at a time: null while the previous run's files are still being unlinked.
   */
  applyRetention(policy: RetentionPolicy): RetentionRun | null;
  retainedRange(): RetainedRange;
  /** Used fraction of the file system holding the data segments, 0..1 (statfs). */
  diskUsageRatio(): number;
  loadTermVote(): TermVote;
  saveTermVote(state: TermVote): void;
  close(): Promise<void>;
}
