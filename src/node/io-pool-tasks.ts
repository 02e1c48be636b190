// Tasks the I/O pool (io-pool.ts, piscina) runs on its threads. Each is a blocking job kept off
// the event loop: here, allocating a segment file ahead of need.
import { closeSync, fdatasyncSync, openSync, rmSync } from 'node:fs';
import { fallocate } from '../native/mmap.js';

export interface PremakeSegmentTask {
  readonly kind: 'premake-segment';
  /** Where to build the file (a name the store deletes on open if a crash leaves it). */
  readonly stagePath: string;
  readonly sizeBytes: number;
}

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

export default function run(task: PremakeSegmentTask): void {
  if (task.kind === 'premake-segment') return premakeSegment(task);
  throw new Error(`io pool: unknown task ${String((task as { kind?: unknown }).kind)}`);
}
