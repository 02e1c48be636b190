// Worker thread for test/native/mmap-threads.test.ts. Two roles:
//
// 'own-mapping': load the addon in this thread, map the file through this thread's own fd, write a
//   tag in this worker's slot, Atomics.add a shared counter in the mapped memory `increments`
//   times, meet the other workers at a barrier (a plain SAB), then read every slot through its
//   own mapping and report what it saw.
// 'posted-mapping': receive the main thread's mapping (a SharedArrayBuffer), write a tag, tell the
//   main thread, then Atomics.wait on the mapped memory until the main thread notifies.

import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { mapFile } from '../../../src/native/mmap.js';
import { assert } from '../../../src/util/assert.js';
import {
  COUNTER_OFFSET_BYTES,
  POSTED_FLAG_INDEX,
  POSTED_REPLY_INDEX,
  POSTED_REPLY_OFFSET_BYTES,
  POSTED_TAG_OFFSET_BYTES,
  SLOT_BYTES,
  SLOTS_OFFSET_BYTES,
  type WorkerReport,
  type WorkerTask,
} from './map-worker-protocol.js';

const task = workerData as WorkerTask;
assert(parentPort !== null, 'map-worker must run in a worker thread');
const port = parentPort;

function readTag(bytes: Uint8Array, offset: number): string {
  const end = bytes.indexOf(0, offset);
  return Buffer.from(bytes.subarray(offset, end === -1 || end > offset + SLOT_BYTES ? offset + SLOT_BYTES : end)).toString('latin1');
}

if (task.role === 'own-mapping') {
  const fd = openSync(task.filePath, 'r+');
  const mapping = mapFile(fd, task.mappingBytes, 0, { writable: true, filePath: task.filePath });
  closeSync(fd); // the mapping keeps the file referenced
  const bytes = new Uint8Array(mapping);
  const counter = new Int32Array(mapping, COUNTER_OFFSET_BYTES, 1);
  bytes.set(Buffer.from(`worker-${task.workerId}`, 'latin1'), SLOTS_OFFSET_BYTES + task.workerId * SLOT_BYTES);
  for (let i = 0; i < task.increments; i++) Atomics.add(counter, 0, 1);

  const barrier = new Int32Array(task.barrier);
  Atomics.add(barrier, 0, 1);
  Atomics.notify(barrier, 0);
  for (;;) {
    const arrived = Atomics.load(barrier, 0);
    if (arrived >= task.workerCount) break;
    assert(Atomics.wait(barrier, 0, arrived, 10_000) !== 'timed-out', 'barrier timed out');
  }
  const tags: string[] = [];
  for (let w = 0; w < task.workerCount; w++) tags.push(readTag(bytes, SLOTS_OFFSET_BYTES + w * SLOT_BYTES));
  const report: WorkerReport = { role: 'own-mapping', tags, counter: Atomics.load(counter, 0) };
  port.postMessage(report);
} else {
  const mapping = task.mapping;
  const words = new Int32Array(mapping);
  const bytes = new Uint8Array(mapping);
  bytes.set(Buffer.from('from-worker', 'latin1'), POSTED_TAG_OFFSET_BYTES);
  Atomics.store(words, POSTED_FLAG_INDEX, 1);
  const first: WorkerReport = { role: 'posted-written', byteLength: mapping.byteLength };
  port.postMessage(first);
  // Wait until the main thread publishes its reply; it first wakes us once without publishing,
  // to prove a notify on the mapped memory reaches a waiter in this thread.
  const waitResults: string[] = [];
  while (Atomics.load(words, POSTED_REPLY_INDEX) === 0 && waitResults.length < 100) {
    waitResults.push(Atomics.wait(words, POSTED_REPLY_INDEX, 0, 10_000));
  }
  const second: WorkerReport = {
    role: 'posted-woken',
    waitResults,
    reply: readTag(bytes, POSTED_REPLY_OFFSET_BYTES),
  };
  port.postMessage(second);
}
