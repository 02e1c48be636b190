// Mounts a small tmpfs for disk-full tests (needs root and CAP_SYS_ADMIN; refused in many
// containers). Callers skip the disk-full assertions, printing the reason, when mount is refused.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type TmpfsMount =
  | { readonly mounted: true; readonly dir: string; unmount(): void }
  | { readonly mounted: false; readonly reason: string };

export function mountTmpfs(sizeBytes: number, prefix: string): TmpfsMount {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    const why = result.error?.message ?? result.stderr.trim();
    return { mounted: false, reason: `mount -t tmpfs refused (${why || `exit ${String(result.status)}`})` };
  }
  let unmounted = false;
  return {
    mounted: true,
    dir,
    /**
     * Lazy unmount: detaches the filesystem now even while a mapping of one of its files is still
     * alive (a SharedArrayBuffer is unmapped only when garbage-collected); the kernel frees it
     * when the last mapping goes.
     */
    unmount(): void {
      if (unmounted) return;
      const umount = spawnSync('umount', ['--lazy', dir], { encoding: 'utf8' });
      if (umount.status !== 0) {
        throw new Error(`umount ${dir} failed: ${umount.error?.message ?? umount.stderr.trim()}`);
      }
      unmounted = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One tmpfs of sizeBytes per member (`count` of them), unmounted in t's teardown; null when mount is
 * refused (the caller skips, the reason is printed as a comment). Mounts made before a refusal are
 * unmounted at once.
 */
export function mountTmpfsEach(t: { comment(text: string): void; teardown(fn: () => void): void }, count: number, sizeBytes: number, prefix: string): string[] | null {
  const mounts: Array<TmpfsMount & { mounted: true }> = [];
  for (let i = 0; i < count; i++) {
    const mount = mountTmpfs(sizeBytes, `${prefix}${i}-`);
    if (!mount.mounted) {
      for (const m of mounts) m.unmount();
      t.comment(`skipped: needs a tmpfs per broker: ${mount.reason}`);
      return null;
    }
    mounts.push(mount);
  }
  t.teardown(() => { for (const m of mounts) m.unmount(); });
  return mounts.map((m) => m.dir);
}

/** Used fraction of the filesystem holding `dir`, as the store measures it (1 - bavail / blocks). */
export function diskUsedRatio(dir: string): number {
  const stats = statfsSync(dir);
  return 1 - stats.bavail / stats.blocks;
}

/**
 * Writes `fillerPath` (on the filesystem holding it) so that the filesystem's used fraction becomes
 * about `ratio`; returns the filler's size in bytes. Throws when that would need a negative size.
 */
export function fillToRatio(fillerPath: string, ratio: number): number {
  const stats = statfsSync(dirname(fillerPath));
  const usedBytes = (stats.blocks - stats.bavail) * stats.bsize;
  const bytes = Math.round(ratio * stats.blocks * stats.bsize - usedBytes);
  if (bytes <= 0) throw new Error(`${dirname(fillerPath)} is already at ${(usedBytes / (stats.blocks * stats.bsize)).toFixed(3)}, over ${ratio}`);
  writeFileSync(fillerPath, Buffer.alloc(bytes));
  return bytes;
}
