// Entry points: the mmap'd store on disk, and the in-memory store (same code over MemoryMedium).
import { DiskMedium } from './disk-medium.js';
import { faultJournalFromEnvironment } from './fault-journal.js';
import { MemoryMedium } from './memory-medium.js';
import { mmapSegmentFileFactory } from './mmap-segment-file.js';
import type { SegmentFileFactory } from './segment-file.js';
import type { FileRemover } from './segment-deletion.js';
import { SegmentedLogStore } from './segmented-log-store.js';
import type { StoreOptions } from './types.js';

export interface LogStoreOptions extends StoreOptions {
  /**
   * Makes and opens segment files; default: mmap'd, fallocated files (MmapSegmentFile). Tests wrap
   * it to inject faults: ENOSPC on create, failing flushes, torn writes.
   */
  readonly segmentFiles?: SegmentFileFactory;
  /**
   * Where retention's unlinks run (segment-deletion.ts unlinkFilesInOrder); default: on this
   * thread's libuv pool. threads=workers passes the I/O pool's.
   */
  readonly removeFiles?: FileRemover;
}

/**
 * Open (creating if needed) the store under options.nodeDir and recover it: verify from the
 * checkpoint, cut a torn tail, rebuild a lagging index. Throws StoreConfigError for bad options
 * and StoreCorruptionError (file, offset, expected, found) when the log cannot be trusted.
 */
export function openLogStore(options: LogStoreOptions): SegmentedLogStore {
  // Fault harnesses only (DLEDGER_FAULT_JOURNAL, see fault-journal.ts): shadows of what is durable.
  const journal = faultJournalFromEnvironment(options.nodeDir);
  if (journal !== null) return new SegmentedLogStore(options, journal.medium(options.segmentFiles ?? mmapSegmentFileFactory, options.removeFiles));
  return new SegmentedLogStore(options, new DiskMedium(options.segmentFiles, options.removeFiles));
}

/**
 * The store held in memory, with the same encoding, CRCs and recovery. Opening again with the same
 * medium is a restart (after medium.loseUnflushedWrites(), a power loss).
 */
export class MemoryLogStore extends SegmentedLogStore {
  constructor(
    options: StoreOptions,
    readonly memoryMedium: MemoryMedium = new MemoryMedium(),
  ) {
    super(options, memoryMedium);
  }
}

export function openMemoryLogStore(options: StoreOptions, medium: MemoryMedium = new MemoryMedium()): MemoryLogStore {
  return new MemoryLogStore(options, medium);
}
