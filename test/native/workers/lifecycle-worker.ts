// Worker for test/native/workers/lifecycle-child.ts: loads the addon in this thread only, maps a
// file, dirties it, and then either exits on its own holding the mapping ('exit'), or starts a
// background msync of the whole mapping and reports 'started' so the parent can terminate it
// mid-flush ('terminate').

import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { fallocate, mapFile, msyncInBackground } from '../../../src/native/mmap.js';
import { assert } from '../../../src/util/assert.js';

interface LifecycleTask {
  readonly filePath: string;
  readonly sizeBytes: number;
  readonly mode: 'exit' | 'terminate';
}

const task = workerData as LifecycleTask;
assert(parentPort !== null, 'lifecycle-worker must run in a worker thread');
const fd = openSync(task.filePath, 'w+');
fallocate(fd, 0, task.sizeBytes, task.filePath);
const mapping = mapFile(fd, task.sizeBytes, 0, { writable: true, filePath: task.filePath });
closeSync(fd);
new Uint8Array(mapping).fill(0x6b);
if (task.mode === 'terminate') {
  // Never settles before the parent terminates this worker (tens of MB to write back).
  void msyncInBackground(mapping, 0, task.sizeBytes, task.filePath).catch(() => {});
  parentPort.postMessage('started');
} else {
  // Keep the mapping reachable until the thread ends: the isolate frees it at teardown.
  (globalThis as { keepMapping?: SharedArrayBuffer }).keepMapping = mapping;
  parentPort.postMessage('exiting');
}
