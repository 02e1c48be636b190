// Goal: a full disk is an operating error, not a crash: appends fail with a typed
// StoreDiskFullError naming a path on the full file system, nothing of the failed batch is
// written, everything appended before stays readable (content and CRCs), the store reopens cleanly
// on the still-full disk, and appends resume once space is freed.
// Method: a real 1 MiB tmpfs (mount needs root; if mount is refused, the same assertions run over
// the store's segment-factory hook with an allocation budget that fails like fallocate's ENOSPC,
// and the reason is printed). Store: flush sync, 64 KiB data / 4 KiB index segments.

import t from 'tap';
import type { Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeIoError } from '../../src/native/mmap.js';
import {
  mmapSegmentFileFactory,
  openLogStore,
  StoreDiskFullError,
  type LogStoreOptions,
  type SegmentFileFactory,
} from '../../src/store/index.js';
import { Prng } from '../../src/util/prng.js';
import { mountTmpfs } from '../native/helpers/tmpfs.js';
import { ExpectedBodies } from './helpers/entry-content.js';
import { verifyLog } from './helpers/verify-log.js';

const GEOMETRY = { dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 4 * 1024, maxEntryBodyBytes: 16 * 1024 } as const;
const TMPFS_BYTES = 1024 * 1024;
const seed = Number(process.env.DISK_FULL_SEED ?? 4242);
const bodies = new ExpectedBodies(seed, { minBodyBytes: 500, maxBodyBytes: 3000 });

/** The file system under test: a real tmpfs, or (mount refused) a budgeted segment factory. */
interface FullDisk {
  readonly dir: string;
  readonly segmentFiles?: SegmentFileFactory;
  /** Make room for more segments. */
  grow(): void;
  dispose(): void;
}

function realTmpfs(t: Test): FullDisk | null {
  const mount = mountTmpfs(TMPFS_BYTES, 'store-disk-full-');
  if (!mount.mounted) {
    t.comment(`mount refused, using the segment-factory hook instead: ${mount.reason}`);
    return null;
  }
  return {
    dir: mount.dir,
    grow(): void {
      const remount = spawnSync('mount', ['-o', `remount,size=${4 * TMPFS_BYTES}`, mount.dir], { encoding: 'utf8' });
      if (remount.status !== 0) throw new Error(`remount of ${mount.dir} failed: ${remount.stderr}`);
    },
    dispose: () => mount.unmount(),
  };
}

/** Writes a file until the file system is full; returns its size. */
function fillToTheLastByte(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 0xee);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

/** Fallback: creation beyond a byte budget fails exactly as MmapSegmentFile reports ENOSPC. */
function budgetedFactory(): FullDisk {
  const dir = mkdtempSync(join(tmpdir(), 'store-disk-full-hook-'));
  let budgetBytes = TMPFS_BYTES;
  const segmentFiles: SegmentFileFactory = {
    create(path, sizeBytes) {
      if (sizeBytes > budgetBytes) {
        throw new StoreDiskFullError(path, new NativeIoError('fallocate', `${path}.creating`, 'ENOSPC', 28, 'No space left on device'));
      }
      budgetBytes -= sizeBytes;
      return mmapSegmentFileFactory.create(path, sizeBytes);
    },
    open: (path, sizeBytes, access) => mmapSegmentFileFactory.open(path, sizeBytes, access),
  };
  return {
    dir,
    segmentFiles,
    grow: () => {
      budgetBytes += 3 * TMPFS_BYTES;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

t.test('appends until the disk is full, then reads, reopens and resumes', async (t) => {
  const disk = realTmpfs(t) ?? budgetedFactory();
  t.teardown(() => disk.dispose());
  const options: LogStoreOptions = {
    nodeDir: join(disk.dir, 'dledger-n0'),
    flush: { kind: 'sync' },
    ...GEOMETRY,
    ...(disk.segmentFiles === undefined ? {} : { segmentFiles: disk.segmentFiles }),
  };
  const prng = new Prng(seed);
  let store = openLogStore(options);

  // 1. Append batches until the file system refuses.
  let diskFull: unknown = null;
  let failedBatch: Uint8Array[] = [];
  for (let attempt = 0; attempt < 5000 && diskFull === null; attempt++) {
    const first = store.lastIndex + 1;
    const batch = Array.from({ length: prng.intBetween(1, 5) }, (_, i) => bodies.of(first + i));
    failedBatch = batch;
    try {
      const appended = store.append(1, batch);
      await store.whenDurable((appended.at(-1) ?? { index: first }).index);
    } catch (error) {
      diskFull = error;
      t.equal(store.lastIndex, first - 1, 'nothing of the failed batch was appended');
    }
  }
  t.ok(diskFull instanceof StoreDiskFullError, `a StoreDiskFullError, got: ${String(diskFull)}`);
  const error = diskFull as StoreDiskFullError;
  t.ok(error.filePath.startsWith(disk.dir), `the error names a file on the full disk (${error.filePath})`);
  t.match(error.message, /ENOSPC/, `the message says why: ${error.message}`);
  const lastBeforeFull = store.lastIndex;
  t.ok(lastBeforeFull > 100, `the disk held ${lastBeforeFull + 1} entries before it filled`);

  // 2. The failure is repeatable and harmless; reads still work. (A smaller batch may still fit
  // in the current segment: the store fails a batch only when it needs a segment it cannot create.)
  t.throws(() => store.append(1, failedBatch), StoreDiskFullError, 'retrying the same batch fails the same way');
  t.equal(store.lastIndex, lastBeforeFull);
  t.equal(store.durableIndex, lastBeforeFull, 'everything appended before is durable');
  t.equal(verifyLog(store, bodies).lastIndex, lastBeforeFull, 'every entry reads back with its content and CRCs');
  await store.close();

  // 3. Reopen on the still-full disk, filled to its last byte by another writer.
  if (disk.segmentFiles === undefined) t.comment(`filled the last ${fillToTheLastByte(join(disk.dir, 'filler'))} bytes with another file`);
  store = openLogStore(options);
  t.equal(store.lastIndex, lastBeforeFull, 'reopened with every entry');
  t.equal(verifyLog(store, bodies).lastIndex, lastBeforeFull, 'and they verify');
  await store.close();

  // 4. Free space: appends resume where they stopped.
  rmSync(join(disk.dir, 'filler'), { force: true });
  disk.grow();
  store = openLogStore(options);
  for (let i = 0; i < 100; i++) {
    const appended = store.append(1, [bodies.of(store.lastIndex + 1)]);
    await store.whenDurable((appended[0] ?? { index: -1 }).index);
  }
  t.equal(store.lastIndex, lastBeforeFull + 100, 'appends resumed after space was freed');
  t.equal(verifyLog(store, bodies).lastIndex, lastBeforeFull + 100);
  await store.close();
});

// A full disk must refuse only what needs new space. The store writes small metadata files
// (checkpoint: temp file + rename) on open, on close and when the durable end enters a new data
// segment; on a file system with no free block those writes must not turn the store "failed".
t.test('a disk filled to the last byte by another writer: open, read, append into the current segment, close', async (t) => {
  const disk = realTmpfs(t);
  if (disk === null) {
    t.pass('skipped: needs a real full file system (mount refused)');
    return;
  }
  t.teardown(() => disk.dispose());
  const options: LogStoreOptions = { nodeDir: join(disk.dir, 'dledger-n0'), flush: { kind: 'sync' }, ...GEOMETRY };
  let store = openLogStore(options);
  for (let i = 0; i < 20; i++) {
    const appended = store.append(1, [bodies.of(store.lastIndex + 1)]);
    await store.whenDurable((appended[0] ?? { index: -1 }).index);
  }
  await store.close();
  const fillerBytes = fillToTheLastByte(join(disk.dir, 'filler'));
  t.comment(`filled the remaining ${fillerBytes} bytes with another file`);

  store = openLogStore(options);
  t.equal(store.lastIndex, 19, 'reopened with every entry');
  t.equal(verifyLog(store, bodies).lastIndex, 19, 'and they verify');
  // 20 entries of <= 3 KiB leave room in the first 64 KiB segment: this append needs no new space.
  let appendError: unknown = null;
  try {
    const appended = store.append(1, [bodies.of(20)]);
    await store.whenDurable((appended[0] ?? { index: -1 }).index);
  } catch (error) {
    appendError = error;
  }
  t.equal(String(appendError), 'null', 'an append into the current segment works on a full disk');
  let closeError: unknown = null;
  try {
    await store.close();
  } catch (error) {
    closeError = error;
  }
  t.equal(String(closeError), 'null', 'close succeeds on a full disk');
  // Open/append/close again and again on the full disk: a one-time reserve must not run out.
  for (let cycle = 0; cycle < 3; cycle++) {
    store = openLogStore(options);
    const expectedLast = 21 + cycle;
    const appended = store.append(1, [bodies.of(expectedLast)]);
    await store.whenDurable((appended[0] ?? { index: -1 }).index);
    t.equal(verifyLog(store, bodies).lastIndex, expectedLast, `cycle ${cycle}: the log is intact and grew`);
    await store.close();
  }
});
