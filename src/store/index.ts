// The public API of the commit-log store.
export * from './types.js';
export { openLogStore, openMemoryLogStore, MemoryLogStore, type LogStoreOptions } from './open.js';
export { SegmentedLogStore, DATA_DIR_NAME, INDEX_DIR_NAME } from './segmented-log-store.js';
export type { RecoveryReport } from './recovery.js';
export { openLogReader, LogReader, type LogReaderOptions } from './log-reader.js';
export { dumpDataDir, retainedOnDisk, type DumpOptions, type DumpSummary, type RetainedOnDisk } from './dump.js';
export type { SegmentFile, SegmentFileFactory, SegmentAccess } from './segment-file.js';
export { MmapSegmentFile, mmapSegmentFileFactory } from './mmap-segment-file.js';
export { FAULT_JOURNAL_ENV, SLOW_DISK_CONTROL_FILE, SHADOW_DIR_NAME, META_DIR_NAME, faultJournalDirOf } from './fault-journal.js';
export { MemorySegmentFile } from './memory-segment-file.js';
export { MemoryMedium, type MemoryMediumOptions } from './memory-medium.js';
export type { StoreMedium, StoreLock } from './medium.js';
export {
  StoreConfigError,
  StoreCorruptionError,
  StoreDiskFullError,
  StoreFailedError,
  StoreClosedError,
  StoreLockedError,
  StoreRejectedRecordError,
  StoreTruncatedError,
} from './errors.js';
export { DEFAULT_DATA_SEGMENT_SIZE_BYTES, DEFAULT_INDEX_SEGMENT_SIZE_BYTES, DEFAULT_MAX_ENTRY_BODY_BYTES, validateStoreOptions } from './config.js';
export { HeaderOffset, BLANK_MIN_BYTES, readEntryHeader, checkRecord, computeChainCrc, type EntryHeader } from './entry-codec.js';
export { IndexOffset, type IndexRecord } from './index-codec.js';
export { crc32Of } from './crc.js';
