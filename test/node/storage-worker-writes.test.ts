// threads=workers + storageWorkerWrites: the storage worker encodes, CRCs and writes the appends
// (Write records on the same SPSC ring as the group commits) while the store keeps the logical log
// and a pending tail. Checked here: the same bytes as an inline store for the same operations
// (segment crossings and BLANKs included); the pending-tail readers (termAt answers from memory,
// get waits for the bytes, readRaw unverified declines); a truncate racing queued writes; a ring
// far too small for the batches (back-pressure, nothing dropped); a failed write is sticky (later
// writes and flushes fail, the store stops); durability never covers an unwritten entry; the key is
// validated with the others.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { buildNodeConfig } from '../../src/node/config.js';
import { StorageWorker, writeRingBytes } from '../../src/node/storage-worker.js';
import { resolveStorageWorkerWrites } from '../../src/node/threads-mode.js';
import { StoreFailedError } from '../../src/store/errors.js';
import type { SegmentedLogStore } from '../../src/store/segmented-log-store.js';
import { openInline, openWritten, SEGMENT_BYTES, tempDir } from './worker-written-stores.js';
import { testSecretFile } from '../util/peer-secret.js';
import { filesUnder } from './data-files.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function body(i: number): Uint8Array {
  return encoder.encode(`e${i}-${'q'.repeat((i * 977) % 5000)}`);
}

/** The same operations on any store: batches crossing segments (BLANKs), a truncate, a term change. */
async function workload(store: SegmentedLogStore): Promise<void> {
  for (let i = 0; i < 60; i += 12) store.append(1, Array.from({ length: 12 }, (_, k) => body(i + k)));
  // Truncate while (in the worker mode) those batches may still be queued: the cut waits for them.
  store.truncate(41);
  store.append(2, Array.from({ length: 30 }, (_, k) => body(100 + k)));
  for (let i = 0; i < 10; i++) store.append(2, [body(200 + i)]);
  await store.whenDurable(store.lastIndex);
}

t.test('same operations, same files: inline writes vs storage-worker writes', async (t) => {
  const inlineDir = tempDir(t, 'swrites', 'inline');
  const workerDir = tempDir(t, 'swrites', 'worker');
  const inline = openInline(inlineDir);
  await workload(inline);
  await inline.close();
  const worker = await StorageWorker.start(() => undefined, writeRingBytes(8 * 1024));
  t.teardown(() => worker.close());
  const written = openWritten(workerDir, worker);
  await workload(written);
  const lastIndex = written.lastIndex;
  await written.close();
  t.ok(worker.stats.writeEntries >= 100, `${worker.stats.writeEntries} entries written by the worker in ${worker.stats.writeRecords} records`);
  const a = filesUnder(inlineDir);
  const b = filesUnder(workerDir);
  t.same([...b.keys()].sort(), [...a.keys()].sort(), 'the same files');
  t.ok([...a.keys()].filter((name) => name.includes('data')).length >= 3, 'entries over several data segments');
  for (const [name, bytes] of a) t.ok(Buffer.compare(bytes, b.get(name) ?? Buffer.alloc(0)) === 0, `${name}: ${bytes.length} bytes identical`);
  const reopened = openInline(workerDir);
  t.equal(reopened.lastIndex, lastIndex, 'recovery keeps every entry (every CRC verifies)');
  t.equal(decoder.decode(reopened.get(41)!.body), decoder.decode(body(100)), 'the entry after the cut is the new one');
  await reopened.close();
});

t.test('pending tail: termAt from memory, get waits for the bytes, readRaw unverified declines, durability after the write', async (t) => {
  const dir = tempDir(t, 'swrites', 'pending');
  const worker = await StorageWorker.start(() => undefined, writeRingBytes(8 * 1024));
  t.teardown(() => worker.close());
  const store = openWritten(dir, worker);
  let sawPending = 0;
  for (let round = 0; round < 20; round++) {
    const appended = store.append(3, Array.from({ length: 64 }, (_, k) => body(round * 64 + k)));
    const first = appended[0]!.index;
    const last = appended[appended.length - 1]!.index;
    // Right after append: the worker has most likely not written the batch yet.
    const raw = store.readRaw(first, 1 << 20, false);
    if (raw === null) sawPending++;
    else t.ok(raw.firstIndex === first, 'a written batch reads raw as usual');
    t.equal(store.termAt(last), 3, 'termAt of the last entry (pending tail or index record)');
    t.equal(store.lastTerm, 3);
    const entry = store.get(last);
    t.equal(decoder.decode(entry!.body), decoder.decode(body(round * 64 + 63)), 'get returns the written body');
    t.equal(entry!.pos, appended[appended.length - 1]!.pos, 'at the pos append reported');
    const waitsBefore = worker.stats.blockingWaits;
    await store.whenDurable(last);
    // Durable implies written: reading now never has to wait for the worker.
    t.ok(store.readRaw(first, 1 << 20, false) !== null, 'after durability the batch reads raw');
    t.equal(worker.stats.blockingWaits, waitsBefore, 'no blocking wait after durability');
  }
  t.ok(sawPending > 0, `${sawPending} of 20 batches were still pending right after append (readRaw declined)`);
  await store.close();
});

t.test('a ring far smaller than the batches: back-pressure, nothing dropped, order kept', async (t) => {
  const dir = tempDir(t, 'swrites', 'ring');
  // 64 KiB ring: a record is at most 32 KiB, so each 40-entry batch splits, and the ring fills.
  const worker = await StorageWorker.start(() => undefined, 64 * 1024);
  t.teardown(() => worker.close());
  const store = openWritten(dir, worker);
  const count = 400;
  for (let i = 0; i < count; i += 40) store.append(1, Array.from({ length: 40 }, (_, k) => body(i + k)));
  t.ok(worker.stats.ringFullWaits > 0, `${worker.stats.ringFullWaits} records waited for ring space`);
  t.ok(worker.stats.writeRecords > count / 40, `batches split into ${worker.stats.writeRecords} records`);
  await store.whenDurable(store.lastIndex);
  for (const index of [0, 1, 199, count - 1]) t.equal(decoder.decode(store.get(index)!.body), decoder.decode(body(index)), `entry ${index}`);
  await store.close();
  const reopened = openInline(dir);
  t.equal(reopened.lastIndex, count - 1, 'all entries recovered');
  await reopened.close();
});

t.test('a failed write is sticky: that batch, later writes and later flushes fail; the store stops', async (t) => {
  const dir = tempDir(t, 'swrites', 'fail');
  const worker = await StorageWorker.start(() => undefined, writeRingBytes(8 * 1024));
  t.teardown(() => worker.close());
  const store = openWritten(dir, worker);
  const [first] = store.append(1, [body(0)]);
  await store.whenDurable(first!.index);
  // The next data segment file disappears before the worker opened it: its pwrite cannot happen.
  const dataDir = path.join(dir, 'data');
  const names = fs.readdirSync(dataDir).sort();
  t.ok(names.length >= 1);
  // Fill the first segment so the next batch lands in the second (which the worker never opened).
  store.append(1, Array.from({ length: 14 }, (_, k) => body(5000 + k)));
  await store.whenDurable(store.lastIndex);
  const second = fs.readdirSync(dataDir).sort()[1];
  t.ok(second !== undefined, 'a second data segment exists (prepared ahead)');
  fs.unlinkSync(path.join(dataDir, second!));
  const before = store.lastIndex;
  const appended = store.append(1, Array.from({ length: 14 }, (_, k) => body(6000 + k)));
  t.ok(appended[appended.length - 1]!.pos >= SEGMENT_BYTES, 'the batch reaches the second segment');
  await t.rejects(store.whenDurable(store.lastIndex), StoreFailedError, 'durability of the failed batch is refused');
  t.throws(() => store.append(1, [body(1)]), StoreFailedError, 'later appends fail');
  await t.rejects(worker.flushRange(1, 0, 100), /ENOENT/, 'later flushes on the worker fail too, with the first failure');
  t.ok(before >= 14);
  await store.close().catch(() => undefined);
});

t.test('the storageWorkerWrites key: validated with the others, needs workers, env override', async (t) => {
  const base = { group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', storeBaseDir: '/tmp/x', peerSecretFile: testSecretFile() };
  t.equal(buildNodeConfig(base).storageWorkerWrites, false, 'default: off (measured slower here, docs/architecture.md)');
  t.equal(buildNodeConfig({ ...base, threads: 'workers', storageWorkerWrites: 'true' }).storageWorkerWrites, true);
  t.throws(() => buildNodeConfig({ ...base, threads: 'inline', storageWorkerWrites: 'true' }), /storageWorkerWrites: true needs threads workers/);
  t.throws(() => buildNodeConfig({ ...base, storageWorkerWrites: 'yes' }), /storageWorkerWrites: "yes" must be true or false/);
  const saved = process.env.DLEDGER_STORAGE_WORKER_WRITES;
  process.env.DLEDGER_STORAGE_WORKER_WRITES = 'maybe';
  try {
    t.throws(() => buildNodeConfig(base), /DLEDGER_STORAGE_WORKER_WRITES: "maybe" must be true or false/);
  } finally {
    if (saved === undefined) delete process.env.DLEDGER_STORAGE_WORKER_WRITES;
    else process.env.DLEDGER_STORAGE_WORKER_WRITES = saved;
  }
  t.equal(resolveStorageWorkerWrites('inline', true, 'true'), false, 'never in inline mode');
  t.equal(resolveStorageWorkerWrites('workers', false, 'true'), true, 'env on');
  t.equal(resolveStorageWorkerWrites('workers', true, 'false'), false, 'env off');
  t.equal(resolveStorageWorkerWrites('workers', true, undefined), true, 'the key');
});
