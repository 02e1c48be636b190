// Goal: mappings and offsets beyond 2 GiB work (mmap-io's int-sized arguments failed there).
// Method: a sparse file made with ftruncate; map 3 GiB at once and a page at offset 2^31 + 4 KiB;
// touch only one page of each, msync it and read it back with read(2). No disk space is used
// beyond a few pages.

import t from 'tap';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapFile, msync, PAGE_SIZE_BYTES } from '../../src/native/mmap.js';

const dir = mkdtempSync(join(tmpdir(), 'mmap-large-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const GIB = 1024 ** 3;

t.test('a 3 GiB mapping of a sparse file, touching one page near its end', async (t) => {
  const filePath = join(dir, 'sparse');
  const fd = openSync(filePath, 'w+');
  ftruncateSync(fd, 3 * GIB);
  const mapping = mapFile(fd, 3 * GIB, 0, { writable: true, filePath });
  t.equal(mapping.byteLength, 3 * GIB);
  const at = 3 * GIB - PAGE_SIZE_BYTES + 8;
  const view = new Uint8Array(mapping, at, 8);
  view.set(Buffer.from('far-away', 'latin1'));
  msync(mapping, at, 8, 'sync', filePath);
  const back = Buffer.alloc(8);
  readSync(fd, back, 0, 8, at);
  t.equal(back.toString('latin1'), 'far-away');
  closeSync(fd);
});

t.test('a mapping at a file offset past 2^31', async (t) => {
  const filePath = join(dir, 'offset');
  const fd = openSync(filePath, 'w+');
  const offset = 2 * GIB + PAGE_SIZE_BYTES;
  ftruncateSync(fd, offset + PAGE_SIZE_BYTES);
  const mapping = mapFile(fd, PAGE_SIZE_BYTES, offset, { writable: true, filePath });
  new Uint8Array(mapping).set([9, 8, 7], 0);
  msync(mapping, 0, 3, 'sync', filePath);
  const back = Buffer.alloc(3);
  readSync(fd, back, 0, 3, offset);
  t.same([...back], [9, 8, 7]);
  closeSync(fd);
});
