// Small durable-file helpers shared by the disk medium and segment creation.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
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
  fsyncDirectory(dirname(path));
}
