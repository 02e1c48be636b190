// Goal: the mmap addon's single-thread contract — a fallocated file mapped as a SharedArrayBuffer
// is coherent with read(2)/write(2) on the file, msync and madvise accept every mode over any
// sub-range, and the mapping is unmapped once its SharedArrayBuffer is garbage-collected, or lets
// go of its file at once with releaseMapping.
// Method: real files in a temp dir; read back through fresh fds with fs.readSync; count the
// file's lines in /proc/self/maps before and after a forced GC.

import t from 'tap';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fallocate, madvise, mapFile, msync, PAGE_SIZE_BYTES, releaseMapping, type MadviseAdvice } from '../../src/native/mmap.js';

const dir = mkdtempSync(join(tmpdir(), 'mmap-basic-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function readAt(filePath: string, position: number, length: number): Buffer {
  const fd = openSync(filePath, 'r');
  try {
    const out = Buffer.alloc(length);
    const n = readSync(fd, out, 0, length, position);
    return out.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

t.test('PAGE_SIZE_BYTES is a power of two of at least 4 KiB', async (t) => {
  t.ok(PAGE_SIZE_BYTES >= 4096);
  t.equal(PAGE_SIZE_BYTES & (PAGE_SIZE_BYTES - 1), 0);
});

t.test('fallocate extends the file and reserves blocks', async (t) => {
  const filePath = join(dir, 'alloc');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 1 << 20, filePath);
  const st = fstatSync(fd);
  t.equal(st.size, 1 << 20, 'size covers the range');
  t.ok(st.blocks * 512 >= 1 << 20, `blocks allocated (${st.blocks} x 512 B), not sparse`);
  fallocate(fd, 4096, 4096, filePath);
  t.equal(fstatSync(fd).size, 1 << 20, 'fallocate inside the file never shrinks it');
  closeSync(fd);
});

t.test('writes through the mapping reach the file; msync sync and async', async (t) => {
  const filePath = join(dir, 'seg');
  const lengthBytes = 1 << 20;
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, lengthBytes, filePath);
  const mapping = mapFile(fd, lengthBytes, 0, { writable: true, filePath });
  t.type(mapping, SharedArrayBuffer);
  t.equal(mapping.byteLength, lengthBytes);
  const bytes = new Uint8Array(mapping);
  t.equal(bytes[12345], 0, 'fallocated space reads as zeros');

  // An unaligned range in the middle of a page: msync rounds the start down itself.
  const payload = Buffer.from('hello, mapped world', 'latin1');
  bytes.set(payload, 3 * PAGE_SIZE_BYTES + 100);
  msync(mapping, 3 * PAGE_SIZE_BYTES + 100, payload.length, 'sync', filePath);
  t.same(readAt(filePath, 3 * PAGE_SIZE_BYTES + 100, payload.length), payload, 'read(2) sees the msync\'d bytes');

  // A range that straddles a page boundary, flushed asynchronously.
  const straddle = Buffer.from('across-the-page-boundary', 'latin1');
  const at = 7 * PAGE_SIZE_BYTES - 10;
  bytes.set(straddle, at);
  msync(mapping, at, straddle.length, 'async', filePath);
  t.same(readAt(filePath, at, straddle.length), straddle, 'page cache is shared even before write-back');

  // The last byte of the mapping, and a zero-length msync at the very end.
  bytes[lengthBytes - 1] = 0xab;
  msync(mapping, lengthBytes - 1, 1, 'sync', filePath);
  msync(mapping, lengthBytes, 0, 'sync', filePath);
  t.equal(readAt(filePath, lengthBytes - 1, 1)[0], 0xab);

  // The other direction: write(2) on the file is visible through the mapping.
  writeSync(fd, Buffer.from('via-write', 'latin1'), 0, 9, 20 * PAGE_SIZE_BYTES);
  t.equal(Buffer.from(bytes.subarray(20 * PAGE_SIZE_BYTES, 20 * PAGE_SIZE_BYTES + 9)).toString('latin1'), 'via-write');
  closeSync(fd);

  // Closing the fd does not invalidate the mapping.
  bytes.set(Buffer.from('after-close', 'latin1'), 0);
  msync(mapping, 0, PAGE_SIZE_BYTES, 'sync', filePath);
  t.equal(readFileSync(filePath).subarray(0, 11).toString('latin1'), 'after-close');
});

t.test('mapping at a non-zero page-aligned file offset', async (t) => {
  const filePath = join(dir, 'offset');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 16 * PAGE_SIZE_BYTES, filePath);
  const mapping = mapFile(fd, 4 * PAGE_SIZE_BYTES, 8 * PAGE_SIZE_BYTES, { writable: true, filePath });
  new Uint8Array(mapping).set([1, 2, 3, 4], 0);
  msync(mapping, 0, 4, 'sync', filePath);
  t.same([...readAt(filePath, 8 * PAGE_SIZE_BYTES, 4)], [1, 2, 3, 4], 'byte 0 of the mapping is file byte 8 pages in');
  closeSync(fd);
});

t.test('read-only mapping sees later writes to the file', async (t) => {
  const filePath = join(dir, 'ro');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 2 * PAGE_SIZE_BYTES, filePath);
  const roFd = openSync(filePath, 'r');
  const mapping = mapFile(roFd, 2 * PAGE_SIZE_BYTES, 0, { writable: false, filePath });
  closeSync(roFd);
  writeSync(fd, Buffer.from('late', 'latin1'), 0, 4, PAGE_SIZE_BYTES + 1);
  t.equal(Buffer.from(new Uint8Array(mapping, PAGE_SIZE_BYTES + 1, 4)).toString('latin1'), 'late');
  closeSync(fd);
});

t.test('madvise accepts every advice over sub-ranges', async (t) => {
  const filePath = join(dir, 'advise');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 8 * PAGE_SIZE_BYTES, filePath);
  const mapping = mapFile(fd, 8 * PAGE_SIZE_BYTES, 0, { writable: true, filePath });
  closeSync(fd);
  const bytes = new Uint8Array(mapping);
  bytes[5 * PAGE_SIZE_BYTES] = 7;
  msync(mapping, 0, mapping.byteLength, 'sync', filePath);
  const advices: MadviseAdvice[] = ['normal', 'random', 'sequential', 'willneed', 'dontneed'];
  for (const advice of advices) {
    madvise(mapping, PAGE_SIZE_BYTES + 17, 3 * PAGE_SIZE_BYTES, advice, filePath);
    madvise(mapping, 0, mapping.byteLength, advice, filePath);
  }
  // MADV_DONTNEED on a shared file mapping drops the pages; they fault back in from the file.
  t.equal(bytes[5 * PAGE_SIZE_BYTES], 7, 'data survives dontneed on a MAP_SHARED file mapping');
});

t.test('the mapping is unmapped when its SharedArrayBuffer is garbage-collected', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const filePath = join(dir, 'gc-me');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 64 * PAGE_SIZE_BYTES, filePath);
  const countMappings = (): number =>
    readFileSync('/proc/self/maps', 'latin1').split('\n').filter((line) => line.endsWith(filePath)).length;

  const mapped = 20;
  (() => {
    const keep: SharedArrayBuffer[] = [];
    for (let i = 0; i < mapped; i++) keep.push(mapFile(fd, 64 * PAGE_SIZE_BYTES, 0, { writable: true, filePath }));
    t.equal(countMappings(), mapped, `${mapped} live mappings show in /proc/self/maps`);
  })();
  // V8 frees external backing stores from a background sweeper after a full GC: give it a moment.
  let left = countMappings();
  for (let attempt = 0; attempt < 50 && left > 0; attempt++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = countMappings();
  }
  t.equal(left, 0, 'every mapping was munmapped after GC');
  closeSync(fd);
});

t.test('releaseMapping lets go of the file at once, without a GC; written bytes stay in the file', async (t) => {
  const filePath = join(dir, 'release-me');
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, 16 * PAGE_SIZE_BYTES, filePath);
  const mapping = mapFile(fd, 16 * PAGE_SIZE_BYTES, 0, { writable: true, filePath });
  closeSync(fd);
  const maps = (): string[] => readFileSync('/proc/self/maps', 'latin1').split('\n').filter((line) => line.includes(filePath));
  const bytes = new Uint8Array(mapping);
  bytes.set(Buffer.from('kept'), 2 * PAGE_SIZE_BYTES);
  t.equal(maps().length, 1, 'mapped');
  releaseMapping(mapping, filePath);
  t.equal(maps().length, 0, 'the file is no longer mapped, though the SharedArrayBuffer is alive');
  t.equal(bytes[2 * PAGE_SIZE_BYTES], 0, 'the range reads as zeros now');
  bytes[0] = 9;
  t.equal(bytes[0], 9, 'and takes writes that go nowhere (no SIGSEGV, no SIGBUS)');
  t.equal(readAt(filePath, 2 * PAGE_SIZE_BYTES, 4).toString(), 'kept', 'what was written before is in the file');
  t.equal(readAt(filePath, 0, 1)[0], 0, 'what was written after is not');
  releaseMapping(mapping, filePath);
  t.pass('a second release is harmless');
  t.throws(() => releaseMapping(new SharedArrayBuffer(PAGE_SIZE_BYTES), filePath), /not a mapping made by map\(\)/, 'a SharedArrayBuffer from elsewhere is refused');
  t.throws(() => releaseMapping(new ArrayBuffer(8) as unknown as SharedArrayBuffer, filePath), TypeError);
});
