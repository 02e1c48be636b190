// Unlinking segment files that retention detached from the log, off the event loop. Unlinking a
// large fallocated file frees its extents in the kernel and can take milliseconds to seconds; the
// event loop must keep serving meanwhile. Plain paths and numbers in, a promise out: nothing here
// touches the store's state, so it can also run in a worker pool.
//
// Files are removed in the order given (oldest first) and one at a time, so a crash in the middle
// leaves a consecutive run of segments, which the next open accepts (recovery then removes those
// before the checkpoint's log start). Each file is renamed to <name>.deleting, truncated to 0 and
// unlinked: the segment's mapping is unmapped only when its SharedArrayBuffer is collected, and
// until then an unlinked file keeps its blocks (measured on tmpfs: space came back only after a
// GC, seconds to never); truncating frees them at once. A crash leaves a .deleting file, which
// the next open deletes.
import { open, rename, truncate, unlink } from 'node:fs/promises';
import { SEGMENT_DELETING_SUFFIX } from './segment-names.js';
import { dirname } from 'node:path';

/** Runs unlinkFilesInOrder somewhere (default: here, on the libuv pool; the I/O pool in workers mode). */
export type FileRemover = (filePaths: readonly string[], intervalMs: number) => Promise<void>;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

async function fsyncDirectoryAsync(directoryPath: string): Promise<void> {
  const handle = await open(directoryPath, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Unlink `filePaths` in order, `intervalMs` apart (RocketMQ's deleteCommitLogFilesInterval, so a
 * burst of deletions does not stall the disk), then fsync each directory once so the removals are
 * durable. A file already gone is not an error.
 */
export async function unlinkFilesInOrder(filePaths: readonly string[], intervalMs: number): Promise<void> {
  const directories = new Set<string>();
  for (let i = 0; i < filePaths.length; i++) {
    const filePath = filePaths[i] as string;
    if (i > 0 && intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const deletingPath = filePath + SEGMENT_DELETING_SUFFIX;
    try {
      await rename(filePath, deletingPath);
    } catch (error) {
      if (!isMissing(error)) throw error;
      continue;
    }
    await truncate(deletingPath, 0);
    await unlink(deletingPath);
    directories.add(dirname(filePath));
  }
  for (const directory of directories) await fsyncDirectoryAsync(directory);
}
