// Group commit on the thread pool (flushInBackground) must report an entry durable only after an
// msync that covers it has returned, keep one flush in flight while appends go on, and stay right
// when a truncate (a synchronous flush) lands while a background flush is still running.
// Method: the mmap store in a temp dir; reopen (recovery) to check what is on disk.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLogStore, type LogStoreOptions } from '../../src/store/index.js';

function options(nodeDir: string): LogStoreOptions {
  return { nodeDir, dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 4096, maxEntryBodyBytes: 4096, flush: { kind: 'sync' }, flushInBackground: true };
}

const body = (i: number, term: number): Uint8Array => new TextEncoder().encode(`entry-${i}-term-${term}-${'x'.repeat(i % 300)}`);
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('appends across segments become durable through background flushes', async (t) => {
  const nodeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgflush-'));
  t.teardown(() => fs.rmSync(nodeDir, { recursive: true, force: true }));
  let store = openLogStore(options(nodeDir));
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 2000; i += 10) {
    const appended = store.append(1, Array.from({ length: 10 }, (_, k) => body(i + k, 1)));
    waits.push(store.whenDurable(appended[appended.length - 1]!.index));
    if (i % 100 === 0) await tick();
  }
  await Promise.all(waits);
  t.equal(store.durableIndex, 1999);
  await store.close();
  store = openLogStore(options(nodeDir));
  t.equal(store.lastIndex, 1999);
  t.same(store.get(1234)?.body, body(1234, 1));
  await store.close();
});

t.test('a truncate while a background flush is in flight', async (t) => {
  const nodeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgflush-'));
  t.teardown(() => fs.rmSync(nodeDir, { recursive: true, force: true }));
  let store = openLogStore(options(nodeDir));
  store.append(1, Array.from({ length: 100 }, (_, i) => body(i, 1)));
  const firstWait = store.whenDurable(49).then(() => 'durable', (error: Error) => error.name);
  const lostWait = store.whenDurable(99).then(() => 'durable', (error: Error) => error.name);
  await tick(); // the group commit has started on the pool
  store.truncate(50);
  const replaced = store.append(2, Array.from({ length: 10 }, (_, i) => body(50 + i, 2)));
  await store.whenDurable(replaced[replaced.length - 1]!.index);
  t.equal(await firstWait, 'durable');
  t.equal(await lostWait, 'StoreTruncatedError', 'a wait for a truncated entry fails');
  t.equal(store.durableIndex, 59);
  await store.close();
  store = openLogStore(options(nodeDir));
  t.equal(store.lastIndex, 59);
  t.same(store.get(49)?.body, body(49, 1));
  t.same(store.get(55)?.body, body(55, 2));
  t.equal(store.get(55)?.term, 2);
  await store.close();
});

t.test('patchBody writes a pure function of pos into the stored body before the CRCs', async (t) => {
  const nodeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'patch-'));
  t.teardown(() => fs.rmSync(nodeDir, { recursive: true, force: true }));
  const patchBody = (body: Uint8Array, pos: number): void => new DataView(body.buffer, body.byteOffset, body.byteLength).setBigUint64(0, BigInt(pos + 48));
  let store = openLogStore({ ...options(nodeDir), patchBody });
  const appended = store.append(1, Array.from({ length: 300 }, () => new Uint8Array(200)));
  await store.whenDurable(299);
  await store.close();
  store = openLogStore(options(nodeDir)); // recovery verifies the CRCs of the patched bytes
  for (const { index, pos } of appended) {
    const entry = store.get(index);
    const written = entry === null ? -1n : new DataView(entry.body.buffer, entry.body.byteOffset).getBigUint64(0);
    if (written !== BigInt(pos + 48)) return t.fail(`entry ${index}: body holds ${written}, expected ${pos + 48}`);
  }
  t.pass('300 bodies hold their own physical offset and verify');
  await store.close();
});
