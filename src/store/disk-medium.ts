// The file-system medium: segments are mmap'd (or made by an injected factory, for fault tests),
// small metadata files are replaced atomically and durably.
import { mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { PAGE_SIZE_BYTES } from '../native/mmap.js';
import { fsyncDirectory, writeFileDurably } from './fs-util.js';
import type { StoreMedium } from './medium.js';
import { mmapSegmentFileFactory } from './mmap-segment-file.js';
import type { SegmentFileFactory } from './segment-file.js';

export class DiskMedium implements StoreMedium {
  readonly pageSizeBytes = PAGE_SIZE_BYTES;

  constructor(readonly segmentFiles: SegmentFileFactory = mmapSegmentFileFactory) {}

  makeDirectory(directoryPath: string): void {
    mkdirSync(directoryPath, { recursive: true });
  }

  listFiles(directoryPath: string): string[] {
    try {
      return readdirSync(directoryPath).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  fileSizeBytes(filePath: string): number {
    return statSync(filePath).size;
  }

  removeFile(filePath: string): void {
    rmSync(filePath, { force: true });
  }

  syncDirectory(directoryPath: string): void {
    fsyncDirectory(directoryPath);
  }

  readFile(filePath: string): Uint8Array | null {
    try {
      return readFileSync(filePath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  writeFileDurably(filePath: string, contents: Uint8Array): void {
    writeFileDurably(filePath, contents);
  }

  modifiedTimeMs(filePath: string): number {
    return statSync(filePath).mtimeMs;
  }

  diskUsageRatio(directoryPath: string): number {
    const stats = statfsSync(directoryPath);
    // DLedger's UtilAll.getDiskPartitionSpaceUsedPercent: (total - free) / total, with the space
    // available to unprivileged users as "free", since that is what our writes can use.
    return stats.blocks === 0 ? 0 : 1 - stats.bavail / stats.blocks;
  }
}
