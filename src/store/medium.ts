// Where a store keeps its files: the real file system (DiskMedium: mmap'd segments, fsync'd
// metadata) or memory (MemoryMedium: simulation tests, fault injection). The store's logic —
// layout, codec, CRCs, recovery, truncation — is the same code over either.
import type { SegmentFileFactory } from './segment-file.js';

export interface StoreLock {
  /** Give the lock up (clean close). */
  release(): void;
  /** Forget the lock in this process but leave its file, as a crashed process would. */
  abandon(): void;
}

export interface StoreMedium {
  /** Data segment sizes must be a multiple of this (mmap granularity). */
  readonly pageSizeBytes: number;
  readonly segmentFiles: SegmentFileFactory;
  makeDirectory(directoryPath: string): void;
  /** Names (not paths) of the files in a directory, sorted; [] when it does not exist. */
  listFiles(directoryPath: string): string[];
  fileSizeBytes(filePath: string): number;
  removeFile(filePath: string): void;
  /**
   * Remove files in order, `intervalMs` apart, and make the removals durable, without blocking the
   * caller's thread (retention: segments already detached from the log).
   */
  removeFilesInOrder(filePaths: readonly string[], intervalMs: number): Promise<void>;
  /** Make creations, renames and removals in the directory durable. */
  syncDirectory(directoryPath: string): void;
  /** A small file's contents, or null when it does not exist. */
  readFile(filePath: string): Uint8Array | null;
  /**
   * Replace a small file atomically and durably (temp file, fsync, rename, fsync directory). On a
   * full disk it spends the directory's space reserve (see prepareSpaceReserve) and retries once.
   */
  writeFileDurably(filePath: string, contents: Uint8Array): void;
  /**
   * Keep a small preallocated file in the directory whose space metadata writes (term/vote,
   * checkpoint) can use when the disk is full: Raft must still persist a vote, and retention must
   * still record a new log start, precisely when there is no space. Best effort.
   */
  prepareSpaceReserve(directoryPath: string): void;
  /**
   * Take the single-writer lock of a node directory (two writers would interleave records); returns
   * its handle. A lock left by a dead process is taken over. Throws StoreLockedError.
   */
  acquireLock(nodeDir: string): StoreLock;
  /** Last modification time in ms since the epoch (retention by age). */
  modifiedTimeMs(filePath: string): number;
  /** Fraction of the file system holding the directory that is in use, 0..1 (retention by space). */
  diskUsageRatio(directoryPath: string): number;
}
