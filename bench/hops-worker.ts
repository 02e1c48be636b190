// The far side of the thread hop measured by bench/hops.ts: takes batches of entries from one
// SPSC ring (or postMessage), does the per-batch work (a CRC over the batch, what a storage stage
// does to every entry at least) and answers with 8 bytes on the other ring (or postMessage).
// An empty record stops it.
import { parentPort, workerData } from 'node:worker_threads';
import { crc32Of } from '../src/store/crc.js';
import { SpscRing } from '../src/node/spsc-ring.js';

interface HopWorkerData {
  readonly mode: 'ring' | 'postMessage';
  readonly toWorker?: SharedArrayBuffer;
  readonly toMain?: SharedArrayBuffer;
}

const data = workerData as HopWorkerData;
const port = parentPort;
if (port === null) throw new Error('hops-worker must run in a worker thread');

function answer(batch: Uint8Array): Uint8Array {
  const reply = new Uint8Array(8);
  new DataView(reply.buffer).setUint32(0, crc32Of(batch));
  new DataView(reply.buffer).setUint32(4, batch.byteLength);
  return reply;
}

if (data.mode === 'postMessage') {
  port.on('message', (batch: Uint8Array) => {
    if (batch.byteLength === 0) return port.close();
    port.postMessage(answer(batch));
  });
} else {
  const toWorker = new SpscRing(data.toWorker as SharedArrayBuffer);
  const toMain = new SpscRing(data.toMain as SharedArrayBuffer);
  // Bounded: the main thread stops the worker with an empty record; 10 idle minutes end it too.
  for (let idleWaits = 0; idleWaits < 600; ) {
    const batch = toWorker.tryRead();
    if (batch === null) {
      toWorker.waitForData(1000);
      idleWaits++;
      continue;
    }
    idleWaits = 0;
    if (batch.byteLength === 0) break;
    const reply = answer(batch);
    // The main thread drains its ring while it waits, so a full ring frees up quickly.
    while (!toMain.tryWrite(reply)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  }
  port.close();
}
