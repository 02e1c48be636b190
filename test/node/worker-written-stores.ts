// Stores for the storageWorkerWrites tests: an inline one and one whose appends the storage
// worker writes, with the same options (64 KiB data segments, 4 KiB index segments, flush sync).
import type { Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StorageWorker } from '../../src/node/storage-worker.js';
import { mmapSegmentFileFactory } from '../../src/store/mmap-segment-file.js';
import { openLogStore } from '../../src/store/open.js';
import type { SegmentedLogStore } from '../../src/store/segmented-log-store.js';

export const SEGMENT_BYTES = 64 * 1024;

/** A temporary directory removed at the end of `t`. */
export function tempDir(t: Test, prefix: string, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-${name}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function openInline(dir: string): SegmentedLogStore {
  return openLogStore({ nodeDir: dir, dataSegmentSizeBytes: SEGMENT_BYTES, indexSegmentSizeBytes: 4096, flush: { kind: 'sync' }, maxEntryBodyBytes: 8 * 1024 });
}

export function openWritten(dir: string, worker: StorageWorker): SegmentedLogStore {
  return openLogStore({
    nodeDir: dir,
    dataSegmentSizeBytes: SEGMENT_BYTES,
    indexSegmentSizeBytes: 4096,
    flush: { kind: 'sync' },
    maxEntryBodyBytes: 8 * 1024,
    flushInBackground: true,
    segmentFiles: worker.wrap(mmapSegmentFileFactory),
    entryWriter: worker.entryWriter(),
  });
}
