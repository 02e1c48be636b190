// Mounts a small tmpfs for disk-full tests (needs root and CAP_SYS_ADMIN; refused in many
// containers). Callers skip the disk-full assertions, printing the reason, when mount is refused.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
