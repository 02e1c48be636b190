// Goal: a reader in another worker thread (openLogReader: its own read-only mappings of the
// segment files) reads entries while the main thread appends, never sees a torn or partial
// entry, never loses sight of an entry it has seen, and ends having verified every entry.
// Method: the main thread appends deterministic entries (helpers/entry-content.ts; bodies up to
// 12 KiB, so a copy takes long enough to be caught half-done) in random batches to a store with
// 64 KiB data / 4 KiB index segments (the reader must pick up new segment files as they appear),
// yielding between batches. The worker (helpers/reader-worker.ts, compiled) checks every entry as
// it becomes visible and re-reads random earlier ones; both flush policies.

import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { openLogStore, type FlushPolicy } from '../../src/store/index.js';
import { Prng } from '../../src/util/prng.js';
import { compiledPath } from '../native/helpers/compiled-path.js';
import { ExpectedBodies, type ContentShape } from './helpers/entry-content.js';
import type { ReaderReport, ReaderTask } from './helpers/reader-worker.js';

const workerPath = compiledPath(import.meta.url, './helpers/reader-worker.js');
const GEOMETRY = { dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 4 * 1024, maxEntryBodyBytes: 16 * 1024 } as const;
const SHAPE: ContentShape = { minBodyBytes: 1, maxBodyBytes: 12 * 1024 };
const ENTRIES = 3000;
const seed = Number(process.env.READER_SEED ?? Math.floor(Math.random() * 2 ** 31));

function startReader(task: ReaderTask, onStarted: () => void): Promise<ReaderReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerPath, { workerData: task });
    let report: ReaderReport | null = null;
    worker.on('message', (message: ReaderReport | { started: true }) => {
      if ('started' in message) onStarted();
      else report = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (report !== null) resolve(report);
      else reject(new Error(`reader worker exited with code ${code} without a report`));
    });
  });
}

for (const flush of [{ kind: 'sync' }, { kind: 'async', intervalMs: 10 }] as const satisfies readonly FlushPolicy[]) {
  t.test(`reader thread during appends, flush ${flush.kind} (seed ${seed})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'store-reader-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const nodeDir = join(dir, 'dledger-n0');
    const store = openLogStore({ nodeDir, flush, ...GEOMETRY });
    const bodies = new ExpectedBodies(seed, SHAPE);
    let started: () => void = () => undefined;
    const readerStarted = new Promise<void>((resolve) => (started = resolve));
    const reading = startReader(
      {
        nodeDir,
        ...GEOMETRY,
        seed,
        shape: SHAPE,
        targetLastIndex: ENTRIES - 1,
        deadlineMs: Date.now() + 60_000,
      },
      () => started(),
    );
    await Promise.race([readerStarted, reading.then(() => undefined, () => undefined)]);
    const prng = new Prng(seed);
    while (store.lastIndex < ENTRIES - 1) {
      const first = store.lastIndex + 1;
      const count = Math.min(prng.intBetween(1, 9), ENTRIES - first);
      store.append(1, Array.from({ length: count }, (_, i) => bodies.of(first + i)));
      if (flush.kind === 'sync' && prng.chance(0.3)) await store.whenDurable(store.lastIndex);
      else await yieldToEventLoop();
    }
    await store.whenDurable(store.lastIndex);
    const report = await reading;
    await store.close();
    t.equal(report.problem, null, 'the reader saw only whole, correct entries');
    t.ok(report.ok, 'the reader finished without a problem');
    t.equal(report.verifiedEntries, ENTRIES, `the reader verified all ${ENTRIES} entries`);
    t.ok(report.distinctLastIndexes > 10, `reads interleaved with appends (${report.distinctLastIndexes} distinct lastIndex values, ${report.rereads} re-reads, ${report.idlePolls} idle polls)`);
    if (report.problem !== null) t.comment(`reproduce: READER_SEED=${seed} npx tap test/store/worker-reader.test.ts`);
  });
}
