// Goal: one file shared across threads without copies — the addon loads in the main thread and
// several workers at once (context-aware), separate mappings of one file in different workers
// see each other's writes and atomic read-modify-writes on the same physical pages, and a
// mapping posted to a worker is shared, not copied (Atomics.wait/notify on it work across threads).
// Method: real worker threads running the compiled worker (dist/); results checked in the main
// thread and through read(2).

import t from 'tap';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fallocate, mapFile, msync, PAGE_SIZE_BYTES } from '../../src/native/mmap.js';
import { compiledPath } from './helpers/compiled-path.js';
import {
  COUNTER_OFFSET_BYTES,
  POSTED_FLAG_INDEX,
  POSTED_REPLY_INDEX,
  POSTED_REPLY_OFFSET_BYTES,
  POSTED_TAG_OFFSET_BYTES,
  type WorkerReport,
  type WorkerTask,
} from './workers/map-worker-protocol.js';

const workerPath = compiledPath(import.meta.url, './workers/map-worker.js');
const dir = mkdtempSync(join(tmpdir(), 'mmap-threads-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a worker and collects `expected` messages, failing on error, early exit or timeout. */
function runWorker(task: WorkerTask, expected: number, onMessage?: (r: WorkerReport, w: Worker) => void): Promise<WorkerReport[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerPath, { workerData: task });
    const reports: WorkerReport[] = [];
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`worker (${task.role}) timed out after 30 s with ${reports.length}/${expected} reports`));
    }, 30_000);
    worker.on('message', (report: WorkerReport) => {
      reports.push(report);
      onMessage?.(report, worker);
    });
    worker.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    worker.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && reports.length === expected) resolve(reports);
      else reject(new Error(`worker (${task.role}) exited with code ${code} after ${reports.length}/${expected} reports`));
    });
  });
}

t.test('three workers and the main thread map the same file at once', async (t) => {
  const filePath = join(dir, 'shared');
  const mappingBytes = 4 * PAGE_SIZE_BYTES;
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, mappingBytes, filePath);
  const mainMapping = mapFile(fd, mappingBytes, 0, { writable: true, filePath }); // main loads the addon too
  const workerCount = 3;
  const increments = 20_000;
  const barrier = new SharedArrayBuffer(4);
  const runs = [];
  for (let workerId = 0; workerId < workerCount; workerId++) {
    runs.push(runWorker({ role: 'own-mapping', filePath, mappingBytes, workerId, workerCount, increments, barrier }, 1));
  }
  const reports = (await Promise.all(runs)).flat();
  const expectedTags = Array.from({ length: workerCount }, (_, w) => `worker-${w}`);
  for (const report of reports) {
    if (report.role !== 'own-mapping') throw new Error(`unexpected report ${report.role}`);
    t.same(report.tags, expectedTags, 'each worker sees every worker\'s tag through its own mapping');
    t.equal(report.counter, workerCount * increments, 'Atomics.add on separate mappings of one page never loses an update');
  }
  t.equal(Atomics.load(new Int32Array(mainMapping, COUNTER_OFFSET_BYTES, 1), 0), workerCount * increments,
    'the main thread\'s mapping sees the same counter');
  msync(mainMapping, 0, mappingBytes, 'sync', filePath);
  const fromFile = Buffer.alloc(4);
  readSync(fd, fromFile, 0, 4, COUNTER_OFFSET_BYTES);
  t.equal(fromFile.readInt32LE(0), workerCount * increments, 'read(2) sees the counter');
  closeSync(fd);
});

t.test('a mapping posted to a worker is shared, not copied', async (t) => {
  const filePath = join(dir, 'posted');
  const mappingBytes = 4 * PAGE_SIZE_BYTES;
  const fd = openSync(filePath, 'w+');
  fallocate(fd, 0, mappingBytes, filePath);
  const mapping = mapFile(fd, mappingBytes, 0, { writable: true, filePath });
  closeSync(fd);
  const words = new Int32Array(mapping);
  const bytes = new Uint8Array(mapping);
  let wokenByNotify = 0;
  const reports = await runWorker({ role: 'posted-mapping', mapping }, 2, (report) => {
    if (report.role !== 'posted-written') return;
    // The worker wrote into the SharedArrayBuffer it received; the main thread's mapping sees it.
    t.equal(report.byteLength, mappingBytes, 'the worker received the whole mapping');
    t.equal(Atomics.load(words, POSTED_FLAG_INDEX), 1, 'the worker\'s Atomics.store is visible in main');
    t.equal(Buffer.from(bytes.subarray(POSTED_TAG_OFFSET_BYTES, POSTED_TAG_OFFSET_BYTES + 11)).toString('latin1'), 'from-worker');
    // Poke until the worker is parked in Atomics.wait on the mapped word and a notify wakes it
    // (blocking the main thread is fine here: the worker does not need it to reach the wait).
    const deadline = Date.now() + 10_000;
    while (wokenByNotify === 0 && Date.now() < deadline) {
      wokenByNotify = Atomics.notify(words, POSTED_REPLY_INDEX);
      if (wokenByNotify === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
    bytes.set(Buffer.from('from-main', 'latin1'), POSTED_REPLY_OFFSET_BYTES);
    Atomics.store(words, POSTED_REPLY_INDEX, 1);
    Atomics.notify(words, POSTED_REPLY_INDEX);
  });
  t.equal(wokenByNotify, 1, 'Atomics.notify on the mapped memory woke the worker parked on it');
  const woken = reports[1];
  if (woken?.role !== 'posted-woken') throw new Error('missing posted-woken report');
  t.equal(woken.waitResults[0], 'ok', `the worker's first wait ended by notify (${woken.waitResults.join(', ')})`);
  t.notOk(woken.waitResults.includes('timed-out'), 'no wait timed out');
  t.equal(woken.reply, 'from-main', 'the worker sees the main thread\'s write');
});
