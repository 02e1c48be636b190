// The SPSC ring must deliver every record once, in order, byte for byte, refuse writes when
// full (bounded), and work across threads with Atomics wake-ups. Method: a seeded model check
// against an array queue on one thread, then a worker thread producing while the main thread
// consumes with waitForDataAsync (the compiled dist/ module is loaded in the worker).
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SpscRing } from '../../src/node/spsc-ring.js';
import { Prng } from '../../src/util/prng.js';

function recordFor(seq: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seq * 31 + i) & 0xff;
  return bytes;
}

t.test('matches a FIFO model under random interleavings, refusing writes only when full', async (t) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const prng = new Prng(seed);
    const ring = SpscRing.create(1024);
    const model: Uint8Array[] = [];
    let refused = 0;
    for (let step = 0; step < 20_000; step++) {
      if (prng.chance(0.55)) {
        const record = recordFor(step, prng.intBetween(0, 200));
        const usedBefore = ring.usedBytes();
        if (ring.tryWrite(record.subarray(0, 7 > record.length ? record.length : 7), record.subarray(Math.min(7, record.length)))) {
          model.push(record);
        } else {
          refused++;
          // A refusal is only allowed when the record (plus any wrap padding) does not fit.
          if (usedBefore + 4 + record.length <= 1024 - 4 - 200 - 4) {
            t.fail(`seed ${seed}: write of ${record.length} refused with only ${usedBefore} bytes used`);
            return;
          }
        }
      } else {
        const got = ring.tryRead();
        const expected = model.shift();
        if (expected === undefined) {
          if (got !== null) return t.fail(`seed ${seed}: read from an empty ring returned data`);
        } else if (got === null || Buffer.compare(got, expected) !== 0) {
          return t.fail(`seed ${seed}: step ${step} read a different record`);
        }
      }
    }
    t.ok(refused > 0, `seed ${seed}: the ring filled up at least once (${refused} refusals)`);
  }
});

t.test('rejects bad sizes and oversize records', async (t) => {
  t.throws(() => SpscRing.create(1000), /power of two/);
  t.throws(() => SpscRing.create(32), />= 64/);
  const ring = SpscRing.create(256);
  t.throws(() => ring.tryWrite(new Uint8Array(ring.maxRecordBytes + 1)), /exceeds/);
});

t.test('a worker produces, the main thread consumes with waitForDataAsync', async (t) => {
  const ring = SpscRing.create(64 * 1024);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const ringModule = path.resolve(here, '../../dist/src/node/spsc-ring.js');
  const count = 50_000;
  const worker = new Worker(
    `
    const { workerData } = require('node:worker_threads');
    import(workerData.ringModule).then(({ SpscRing }) => {
      const ring = new SpscRing(workerData.buffer);
      for (let seq = 0; seq < workerData.count; seq++) {
        const length = (seq * 7919) % 300;
        const bytes = new Uint8Array(length + 4);
        new DataView(bytes.buffer).setUint32(0, seq, true);
        for (let i = 0; i < length; i++) bytes[i + 4] = (seq + i) & 0xff;
        while (!ring.tryWrite(bytes)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      }
    });
    `,
    { eval: true, workerData: { buffer: ring.buffer, ringModule, count } },
  );
  let next = 0;
  const deadline = Date.now() + 60_000;
  while (next < count && Date.now() < deadline) {
    const record = ring.tryRead();
    if (record === null) {
      await ring.waitForDataAsync(100);
      continue;
    }
    const seq = new DataView(record.buffer, record.byteOffset).getUint32(0, true);
    if (seq !== next) return t.fail(`expected record ${next}, got ${seq}`);
    const length = (seq * 7919) % 300;
    if (record.length !== length + 4) return t.fail(`record ${seq} has length ${record.length}`);
    for (let i = 0; i < length; i++) {
      if (record[i + 4] !== ((seq + i) & 0xff)) return t.fail(`record ${seq} byte ${i} differs`);
    }
    next++;
  }
  t.equal(next, count, 'every record arrived in order');
  await worker.terminate();
});
