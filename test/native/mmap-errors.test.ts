// Goal: every misuse of the mmap wrapper and every failing system call ends in a clear, typed
// error naming the file (never a segfault/SIGBUS): argument checks in TypeScript, errno errors as
// NativeIoError with syscall, code, errno and text — including a real ENOSPC from fallocate.
// Method: bad arguments against real mappings; closed fds; a 1 MiB tmpfs for ENOSPC (the ENOSPC
// assertions are skipped with the printed reason only if mount is refused).

import t from 'tap';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fallocate, madvise, mapFile, msync, NativeIoError, PAGE_SIZE_BYTES, type MadviseAdvice } from '../../src/native/mmap.js';
import { mountTmpfs } from './helpers/tmpfs.js';

const dir = mkdtempSync(join(tmpdir(), 'mmap-errors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** An fd number that is certainly closed right now. */
function closedFd(): number {
  const fd = openSync(join(dir, 'closed'), 'w+');
  closeSync(fd);
  return fd;
}

t.test('failing system calls throw NativeIoError naming syscall, file and errno', async (t) => {
  const filePath = join(dir, 'no-such-fd');
  const fd = closedFd();
  t.throws(() => fallocate(fd, 0, 4096, filePath), {
    name: 'NativeIoError',
    code: 'EBADF',
    errno: 9,
    syscall: 'fallocate',
    filePath,
    message: `fallocate failed on ${filePath}: EBADF (Bad file descriptor)`,
  });
  t.throws(() => mapFile(fd, 4096, 0, { writable: true, filePath }), { name: 'NativeIoError', code: 'EBADF', filePath });

  // A writable shared mapping needs an fd opened for writing.
  const roPath = join(dir, 'read-only');
  const w = openSync(roPath, 'w+');
  fallocate(w, 0, 4096, roPath);
  closeSync(w);
  const ro = openSync(roPath, 'r');
  const error = t.throws(() => mapFile(ro, 4096, 0, { writable: true, filePath: roPath }));
  t.ok(error instanceof NativeIoError, 'NativeIoError class');
  t.match(error, { code: 'EACCES', syscall: 'mmap', filePath: roPath });
  t.match((error as Error).message, /^mmap failed on .*read-only: EACCES \(Permission denied\)$/);
  closeSync(ro);

  // A directory cannot be mapped or fallocated.
  const dirFd = openSync(dir, 'r');
  t.throws(() => fallocate(dirFd, 0, 4096, dir), { name: 'NativeIoError', syscall: 'fallocate', filePath: dir });
  closeSync(dirFd);
});

t.test('bad arguments throw before native code runs', async (t) => {
  const filePath = join(dir, 'args');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 4 * PAGE_SIZE_BYTES, filePath);
  const mapping = mapFile(fd, 4 * PAGE_SIZE_BYTES, 0, { writable: true, filePath });

  t.throws(() => mapFile(fd, 0, 0, { writable: true, filePath }), RangeError, 'zero length');
  t.throws(() => mapFile(fd, 4096, 100, { writable: true, filePath }), /not a multiple of the page size/);
  t.throws(() => mapFile(fd, 1.5, 0, { writable: true, filePath }), RangeError, 'fractional length');
  t.throws(() => mapFile(fd, -1, 0, { writable: true, filePath }), RangeError, 'negative length');
  t.throws(() => mapFile(-1, 4096, 0, { writable: true, filePath }), RangeError, 'negative fd');
  t.throws(() => mapFile(fd, 4096, 0, { writable: true, filePath: '' }), TypeError, 'empty file path');
  t.throws(
    () => mapFile(fd, 5 * PAGE_SIZE_BYTES, 0, { writable: true, filePath }),
    /is 16384 bytes, shorter than the mapped range \[0, 20480\).*SIGBUS/,
    'mapping past the end of the file is refused (it would SIGBUS on touch)',
  );
  t.throws(() => mapFile(fd, 4096, 4 * PAGE_SIZE_BYTES, { writable: true, filePath }), /shorter than the mapped range/);

  t.throws(() => msync(mapping, 0, 4 * PAGE_SIZE_BYTES + 1, 'sync', filePath), /beyond the end of the 16384-byte mapping/);
  t.throws(() => msync(mapping, 4 * PAGE_SIZE_BYTES + 1, 0, 'sync', filePath), RangeError, 'offset past the end');
  t.throws(() => msync(mapping, 0.5, 1, 'sync', filePath), RangeError);
  t.throws(() => msync(new ArrayBuffer(8) as unknown as SharedArrayBuffer, 0, 8, 'sync', filePath), TypeError);
  t.throws(() => msync(mapping, 0, 1, 'later' as 'sync', filePath), TypeError);
  t.throws(() => madvise(mapping, 0, 1, 'bogus' as MadviseAdvice, filePath), /advice must be one of/);
  t.throws(() => madvise(mapping, 0, 1, 'toString' as MadviseAdvice, filePath), /advice must be one of/, 'no prototype keys');
  t.throws(() => madvise(mapping, PAGE_SIZE_BYTES, 4 * PAGE_SIZE_BYTES, 'normal', filePath), RangeError);
  t.throws(() => fallocate(fd, 0, 0, filePath), RangeError, 'zero-length fallocate');
  t.throws(() => fallocate(fd, Number.MAX_SAFE_INTEGER, 10, filePath), /overflows/);

  // A plain (non-mapped) SharedArrayBuffer passes the checks; msync on memory the kernel did not
  // map from a file must fail cleanly (ENOMEM) or succeed, never crash.
  const plain = new SharedArrayBuffer(PAGE_SIZE_BYTES * 2);
  try {
    msync(plain, 0, plain.byteLength, 'sync', 'plain-sab');
    t.pass('msync on anonymous memory succeeded');
  } catch (error) {
    t.match(error, { name: 'NativeIoError', syscall: 'msync' }, 'msync on anonymous memory failed cleanly');
  }
  closeSync(fd);
});

t.test('fallocate on a full filesystem throws ENOSPC, and the file stays usable', async (t) => {
  const tmpfs = mountTmpfs(1 << 20, 'mmap-enospc-');
  if (!tmpfs.mounted) {
    t.comment(`skipping the ENOSPC assertions: ${tmpfs.reason}`);
    t.pass(`skipped: ${tmpfs.reason}`);
    return;
  }
  t.teardown(() => tmpfs.unmount());
  const filePath = join(tmpfs.dir, '00000000000000000000');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 256 * 1024, filePath);
  const error = t.throws(() => fallocate(fd, 0, 4 << 20, filePath));
  t.ok(error instanceof NativeIoError, 'NativeIoError');
  t.match(error, { code: 'ENOSPC', errno: 28, syscall: 'fallocate', filePath });
  t.equal((error as Error).message, `fallocate failed on ${filePath}: ENOSPC (No space left on device)`);
  t.ok(fstatSync(fd).size >= 256 * 1024, 'the earlier allocation is intact');
  const mapping = mapFile(fd, 256 * 1024, 0, { writable: true, filePath });
  new Uint8Array(mapping)[256 * 1024 - 1] = 1; // allocated, so this cannot SIGBUS
  msync(mapping, 0, mapping.byteLength, 'sync', filePath);
  closeSync(fd);
});
