// Goal: a full disk on demand for one member: its node directory lives on its own tmpfs (needs
// root; refused mounts are reported with the reason), and fill() takes the last free byte.
// Method: mountTmpfs (test/native/helpers/tmpfs.ts), the member's node directory a symlink into it
// (made before the member's first start), a filler file written until ENOSPC; free() deletes it.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { mountTmpfs } from '../native/helpers/tmpfs.js';

const FILLER_NAME = 'chaos-filler';
/**
 * A member that hit ENOSPC during a fault window needs a moment to close and exit (it flushes and
 * logs first); its exit can arrive after healAll() already freed the disk. Exits this soon after a
 * free still count as stops on a full disk (30-minute disk-full run, seed 35: exit 0.1 s later).
 */
export const DISK_FULL_EXIT_GRACE_MS = 10_000;

/**
 * Whether a member's exit is its expected self-stop on a full disk rather than a crash: exit code 3
 * (the node's self-stop code) with a FATAL line naming the full disk, while the disk was full or
 * freed at most DISK_FULL_EXIT_GRACE_MS ago.
 */
export function isDiskFullStop(exit: { code: number | null; fatalLine: string; diskFull: boolean; msSinceFreed: number }): boolean {
  if (exit.code !== 3) return false;
  if (!/ENOSPC|disk full/i.test(exit.fatalLine)) return false;
  return exit.diskFull || exit.msSinceFreed <= DISK_FULL_EXIT_GRACE_MS;
}

/** Write zeros until the file system refuses (ENOSPC); returns the bytes written. */
export function fillUp(filePath: string): number {
  const fd = fs.openSync(filePath, 'a');
  const chunk = Buffer.alloc(64 * 1024);
  let total = 0;
  try {
    for (let size = chunk.length; size >= 1; ) {
      try {
        total += fs.writeSync(fd, chunk, 0, size);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return total;
}

export class SmallDisk {
  /** performance.now() of the last free() that removed a filler; -Infinity before any. */
  private lastFreedAtMs = Number.NEGATIVE_INFINITY;

  private constructor(
    readonly dir: string,
    private readonly unmount: () => void,
  ) {}

  /** Mount a tmpfs of sizeBytes and make nodeDir (which must not exist yet) a symlink to it. */
  static mountAt(nodeDir: string, sizeBytes: number): SmallDisk {
    const mount = mountTmpfs(sizeBytes, 'dledger-chaos-disk-');
    if (!mount.mounted) throw new Error(`a small disk for ${nodeDir} needs a tmpfs mount (root): ${mount.reason}`);
    fs.mkdirSync(path.dirname(nodeDir), { recursive: true });
    fs.symlinkSync(mount.dir, nodeDir);
    return new SmallDisk(mount.dir, () => mount.unmount());
  }

  get isFull(): boolean {
    return fs.existsSync(path.join(this.dir, FILLER_NAME));
  }

  /** Take every free byte; returns how many. */
  fill(): number {
    return fillUp(path.join(this.dir, FILLER_NAME));
  }

  free(): void {
    if (this.isFull) this.lastFreedAtMs = performance.now();
    fs.rmSync(path.join(this.dir, FILLER_NAME), { force: true });
  }

  /** Milliseconds since the filler was last removed (Infinity if it never was). */
  msSinceFreed(): number {
    return performance.now() - this.lastFreedAtMs;
  }

  dispose(): void {
    this.free();
    this.unmount();
  }
}
