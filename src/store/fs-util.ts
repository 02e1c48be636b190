// Small durable-file helpers shared by the disk medium and segment creation.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** fsync a directory so that creations, renames and unlinks in it survive a power loss. */
export function fsyncDirectory(directoryPath: string): void {
  const fd = openSync(directoryPath, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace `path` atomically and durably: write a temp file, fsync it, rename, fsync the directory. */
export function writeFileDurably(path: string, contents: Uint8Array): void {
  const tempPath = `${path}.tmp`;
  try {
    const fd = openSync(tempPath, 'w', 0o644);
    try {
      let writtenBytes = 0;
      while (writtenBytes < contents.length) {
        writtenBytes += writeSync(fd, contents, writtenBytes, contents.length - writtenBytes);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tempPath, path);
  } catch (error) {
    rmSync(tempPath, { force: true });
    throw error;
  }
  fsyncDirectory(dirname(path));
}

/** True for the errno codes of a full file system or an exhausted quota. */
export function isNoSpaceError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
