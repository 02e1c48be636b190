// The file-system medium: segments are mmap'd (or made by an injected factory, for fault tests),
// small metadata files are replaced atomically and durably.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PAGE_SIZE_BYTES } from '../native/mmap.js';
import { fsyncDirectory, isNoSpaceError, writeFileDurably } from './fs-util.js';
import { StoreLockedError } from './errors.js';
import type { StoreLock, StoreMedium } from './medium.js';
import { mmapSegmentFileFactory } from './mmap-segment-file.js';
import type { SegmentFileFactory } from './segment-file.js';
import { type FileRemover, unlinkFilesInOrder } from './segment-deletion.js';

/** Space kept for metadata writes on a full disk: a few small files' worth of blocks. */
export const SPACE_RESERVE_FILE_NAME = 'space-reserve';
const SPACE_RESERVE_BYTES = 64 * 1024;

/** {nodeDir}/lock, a symlink to the writer's pid (DLedger had no lock; two writers corrupt the log). */
export const LOCK_FILE_NAME = 'lock';
const locksHeldByThisProcess = new Set<string>();

function lockHolderPid(lockPath: string): number | null {
  try {
    const pid = Number(readlinkSync(lockPath));
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DiskMedium implements StoreMedium {
  readonly pageSizeBytes = PAGE_SIZE_BYTES;

  constructor(
    readonly segmentFiles: SegmentFileFactory = mmapSegmentFileFactory,
    private readonly removeFiles: FileRemover = unlinkFilesInOrder,
  ) {}

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

  removeFilesInOrder(filePaths: readonly string[], intervalMs: number): Promise<void> {
    return this.removeFiles(filePaths, intervalMs);
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
    try {
      writeFileDurably(filePath, contents);
    } catch (error) {
      const reservePath = join(dirname(filePath), SPACE_RESERVE_FILE_NAME);
      if (!isNoSpaceError(error) || !existsSync(reservePath)) throw error;
      rmSync(reservePath, { force: true });
      fsyncDirectory(dirname(filePath));
      writeFileDurably(filePath, contents);
    }
  }

  acquireLock(nodeDir: string): StoreLock {
    const key = resolve(nodeDir);
    const lockPath = join(nodeDir, LOCK_FILE_NAME);
    if (locksHeldByThisProcess.has(key)) throw new StoreLockedError(lockPath, process.pid);
    for (let attempt = 0; ; attempt++) {
      try {
        // A symlink whose target is our pid: created atomically and exclusively (EEXIST), and a
        // short target lives in the inode, so taking the lock needs no data block on a full disk.
        symlinkSync(String(process.pid), lockPath);
        locksHeldByThisProcess.add(key);
        return {
          release: () => {
            locksHeldByThisProcess.delete(key);
            rmSync(lockPath, { force: true });
          },
          abandon: () => void locksHeldByThisProcess.delete(key),
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      }
      const holderPid = lockHolderPid(lockPath);
      // Our own pid without a live store here is a lock left by a simulated crash of this process.
      if (holderPid !== null && holderPid !== process.pid && isProcessAlive(holderPid)) {
        throw new StoreLockedError(lockPath, holderPid);
      }
      rmSync(lockPath, { force: true });
    }
  }

  prepareSpaceReserve(directoryPath: string): void {
    const reservePath = join(directoryPath, SPACE_RESERVE_FILE_NAME);
    if (existsSync(reservePath)) return;
    try {
      writeFileDurably(reservePath, new Uint8Array(SPACE_RESERVE_BYTES));
    } catch (error) {
      if (!isNoSpaceError(error)) throw error;
    }
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
