// msyncInBackground must make a range durable without blocking the event loop, report errors as
// NativeIoError, and keep the mapping alive until it is done. Method: write through a mapping,
// flush in the background while a timer keeps ticking, read back with a fresh fd; bad arguments
// are refused before native code.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fallocate, mapFile, msyncInBackground, PAGE_SIZE_BYTES } from '../../src/native/mmap.js';

t.test('flushes in the background and the event loop keeps running', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msync-bg-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'seg');
  const fd = fs.openSync(file, 'w+');
  const size = 64 * PAGE_SIZE_BYTES;
  fallocate(fd, 0, size, file);
  const mapping = mapFile(fd, size, 0, { writable: true, filePath: file });
  fs.closeSync(fd);
  const bytes = new Uint8Array(mapping);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  for (let round = 0; round < 50; round++) {
    const offset = round * 1000;
    bytes.set(new TextEncoder().encode(`round-${round}`), offset);
    await msyncInBackground(mapping, offset, 1000, file);
  }
  clearInterval(timer);
  const check = fs.readFileSync(file);
  t.equal(check.subarray(49_000, 49_008).toString(), 'round-49');
  t.ok(ticks > 0, `the event loop ran ${ticks} timer callbacks during 50 background flushes`);
  t.throws(() => msyncInBackground(mapping, size, 1, file), /beyond|range|out of/i);
});
