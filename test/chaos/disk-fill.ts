// Goal: a full disk on demand for one member: its node directory lives on its own tmpfs (needs
// root; refused mounts are reported with the reason), and fill() takes the last free byte.
// Method: mountTmpfs (test/native/helpers/tmpfs.ts), the member's node directory a symlink into it
// (made before the member's first start), a filler file written until ENOSPC; free() deletes it.
import fs from 'node:fs';
import path from 'node:path';
import { mountTmpfs } from '../native/helpers/tmpfs.js';

const FILLER_NAME = 'chaos-filler';

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
    fs.rmSync(path.join(this.dir, FILLER_NAME), { force: true });
  }

  dispose(): void {
    this.free();
    this.unmount();
  }
}
