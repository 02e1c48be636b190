// The storage worker's guard against a lost wake-up (src/node/storage-worker.ts armGuard): one
// timer per busy period, none per ticket and none while idle; and a flush still completes when
// the Atomics.waitAsync wake-up never comes.
// Method: a real worker msyncing an anonymous shared mapping; timers counted by wrapping
// globalThis.setTimeout for the duration of the flushes; the lost wake-up simulated by an
// Atomics.waitAsync that always reports "async" and never resolves (the fault the guard is for).
import t from 'tap';
import { StorageWorker } from '../../src/node/storage-worker.js';

const FLUSHES = 300;

t.test('sequential flushes (one outstanding at a time) arm the guard once, not once per ticket', async (t) => {
  const worker = await StorageWorker.start();
  t.teardown(() => worker.close());
  const segmentId = worker.registerSegment(new SharedArrayBuffer(4096), '/nonexistent/anonymous');
  await worker.flushRange(segmentId, 0, 100); // warm: the worker has the mapping
  await new Promise((resolve) => setTimeout(resolve, 200)); // the warm-up's guard lapses
  const realSetTimeout = globalThis.setTimeout;
  let timersCreated = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    timersCreated++;
    return realSetTimeout(...args);
  }) as typeof setTimeout;
  const startedMs = performance.now();
  try {
    for (let i = 0; i < FLUSHES; i++) await worker.flushRange(segmentId, 0, 100);
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  const elapsedMs = performance.now() - startedMs;
  // Busy for elapsedMs: the guard fires every 50 ms and re-arms; the old code made one per ticket.
  const bound = Math.ceil(elapsedMs / 50) + 3;
  t.ok(timersCreated >= 1 && timersCreated <= bound, `${timersCreated} timers for ${FLUSHES} flushes in ${elapsedMs.toFixed(0)} ms (bound ${bound}; one per ticket would be ${FLUSHES})`);
  t.equal(worker.stats.timerWakeups, 0, 'no wake-up was missed');
});

t.test('an idle worker has no timer: the guard lapses after the last ticket', async (t) => {
  const worker = await StorageWorker.start();
  t.teardown(() => worker.close());
  const segmentId = worker.registerSegment(new SharedArrayBuffer(4096), '/nonexistent/anonymous');
  const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
  const before = timers();
  await worker.flushRange(segmentId, 0, 100);
  await new Promise((resolve) => setTimeout(resolve, 200)); // > 2 guard periods
  t.equal(timers(), before, `no timer left ${200} ms after the last flush (${timers()} active, ${before} before)`);
  const arms = worker.stats.guardArms;
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(worker.stats.guardArms, arms, 'and none is armed while nothing happens');
});

t.test('a wake-up that never comes: the guard settles the flush', async (t) => {
  const worker = await StorageWorker.start();
  t.teardown(() => worker.close());
  const segmentId = worker.registerSegment(new SharedArrayBuffer(4096), '/nonexistent/anonymous');
  await worker.flushRange(segmentId, 0, 100);
  const realWaitAsync = Atomics.waitAsync;
  // Every wait goes to sleep and never wakes, also when the word had already moved (worse than a
  // lost notify, which the guard must cover all the same).
  let sleeps = 0;
  Atomics.waitAsync = (() => { sleeps++; return { async: true, value: new Promise<never>(() => undefined) }; }) as unknown as typeof Atomics.waitAsync;
  let settledMs: number | null = null;
  try {
    // An idle worker can finish before the caller waits at all (then nothing needs the guard):
    // repeat until a flush really went to sleep on the broken wait.
    for (let attempt = 0; attempt < 50 && sleeps === 0; attempt++) {
      const startedMs = performance.now();
      const flushes = Array.from({ length: 5 }, () => worker.flushRange(segmentId, 0, 100));
      await Promise.all(flushes);
      settledMs = performance.now() - startedMs;
    }
  } finally {
    Atomics.waitAsync = realWaitAsync;
  }
  t.ok(sleeps >= 1, `a flush waited on the never-waking wait (${sleeps} times)`);
  t.ok(settledMs !== null && settledMs < 2_000, `settled in ${settledMs?.toFixed(0)} ms without a wake-up`);
  t.ok(worker.stats.timerWakeups >= 1, `by the guard (${worker.stats.timerWakeups} guard firings found a missed completion)`);
  await worker.flushRange(segmentId, 0, 100);
  t.pass('flushes after the fault complete normally');
});
