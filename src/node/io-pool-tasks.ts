// Tasks the I/O pool (io-pool.ts, piscina) runs on its threads. Each is a blocking job kept off
// the event loop: allocating a segment file ahead of need; retention's unlinks; recovery's
// verification of data segments, one task per segment, in parallel.
import { closeSync, existsSync, fdatasyncSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fallocate, mapFile, releaseMapping } from '../native/mmap.js';
import { unlinkFilesInOrder } from '../store/segment-deletion.js';
import { type IndexRecord, readIndexRecord } from '../store/index-codec.js';
import { type SegmentScan, scanSegment, type SegmentScanTask } from '../store/segment-scan.js';
import { segmentName } from '../store/segment-list.js';
import { INDEX_RECORD_BYTES } from '../store/types.js';

export interface PremakeSegmentTask {
  readonly kind: 'premake-segment';
  /** Where to build the file (a name the store deletes on open if a crash leaves it). */
  readonly stagePath: string;
  readonly sizeBytes: number;
}

/** Retention's deletion of detached segments (segment-deletion.ts), on the pool thread. */
export interface RemoveFilesTask {
  readonly kind: 'remove-files';
  readonly filePaths: readonly string[];
  readonly intervalMs: number;
}

/** Recovery's verification of one data segment (segment-scan.ts), before the store opens. */
export interface ScanSegmentTask extends SegmentScanTask {
  readonly kind: 'scan-segment';
}

export type IoPoolTask = PremakeSegmentTask | RemoveFilesTask | ScanSegmentTask;

/**
 * Build a segment file of sizeBytes with its blocks allocated (fallocate) and the allocation
 * durable (fdatasync), under stagePath. The caller renames it into place and fsyncs the directory.
 */
function premakeSegment(task: PremakeSegmentTask): void {
  const fd = openSync(task.stagePath, 'wx', 0o644);
  try {
    fallocate(fd, 0, task.sizeBytes, task.stagePath);
    fdatasyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(task.stagePath, { force: true });
    throw error;
  }
  closeSync(fd);
}

/** A read-only mapping of a whole file here (the same page cache the store maps), or null when it does not exist. */
function mapReadOnly(filePath: string, sizeBytes: number): SharedArrayBuffer | null {
  let fd: number;
  try {
    fd = openSync(filePath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return mapFile(fd, sizeBytes, 0, { writable: false, filePath });
  } finally {
    closeSync(fd);
  }
}

/** Verify one data segment and compare its index records; every mapping is let go before returning. */
function scanSegmentFile(task: ScanSegmentTask): SegmentScan {
  const data = mapReadOnly(task.filePath, task.sizeBytes);
  if (data === null) throw new Error(`scan-segment: ${task.filePath} does not exist`);
  const indexSegments = new Map<number, { mapping: SharedArrayBuffer; view: DataView; words: Int32Array; filePath: string } | null>();
  const indexOf = (index: number): IndexRecord | null => {
    const slotPos = index * INDEX_RECORD_BYTES;
    const segmentStart = slotPos - (slotPos % task.indexSegmentSizeBytes);
    let segment = indexSegments.get(segmentStart);
    if (segment === undefined) {
      const filePath = join(task.indexDirPath, segmentName(segmentStart));
      // A short or missing index file: its records are mismatches, rebuilt by the store.
      const ok = existsSync(filePath) && statSync(filePath).size === task.indexSegmentSizeBytes;
      const mapping = ok ? mapReadOnly(filePath, task.indexSegmentSizeBytes) : null;
      segment = mapping === null ? null : { mapping, view: new DataView(mapping), words: new Int32Array(mapping), filePath };
      indexSegments.set(segmentStart, segment);
    }
    return segment === null ? null : readIndexRecord(segment.view, segment.words, slotPos - segmentStart);
  };
  try {
    return scanSegment(new Uint8Array(data), task.startPos, task.fromOffsetBytes, indexOf);
  } finally {
    releaseMapping(data, task.filePath);
    for (const segment of indexSegments.values()) if (segment !== null) releaseMapping(segment.mapping, segment.filePath);
  }
}

export default async function run(task: IoPoolTask): Promise<void | SegmentScan> {
  if (task.kind === 'premake-segment') return premakeSegment(task);
  if (task.kind === 'scan-segment') return scanSegmentFile(task);
  if (task.kind === 'remove-files') return unlinkFilesInOrder(task.filePaths, task.intervalMs);
  throw new Error(`io pool: unknown task ${String((task as { kind?: unknown }).kind)}`);
}
