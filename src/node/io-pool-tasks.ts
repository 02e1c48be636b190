// Tasks the I/O pool (io-pool.ts, piscina) runs on its threads. Each is a blocking job kept off
// the event loop: allocating a segment file ahead of need; retention's unlinks.
import { closeSync, fdatasyncSync, openSync, rmSync } from 'node:fs';
import { fallocate } from '../native/mmap.js';
import { unlinkFilesInOrder } from '../store/segment-deletion.js';

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

export type IoPoolTask = PremakeSegmentTask | RemoveFilesTask;

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

export default async function run(task: IoPoolTask): Promise<void> {
  if (task.kind === 'premake-segment') return premakeSegment(task);
  if (task.kind === 'remove-files') return unlinkFilesInOrder(task.filePaths, task.intervalMs);
  throw new Error(`io pool: unknown task ${String((task as { kind?: unknown }).kind)}`);
}
