// The I/O pool of threads=workers (piscina): it allocates the segment after the one the store
// prepares next, and the store's preparation then only renames and maps it. Checked: segments are
// taken from the pool while a log grows; a segment the store had to create by itself is never
// replaced by the pool's file (that one is discarded); no staged file is left behind; the log
// reopens with every entry verified.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IoPool } from '../../src/node/io-pool.js';
import { PremadeSegmentFiles } from '../../src/node/premade-segment-files.js';
import { mmapSegmentFileFactory } from '../../src/store/mmap-segment-file.js';
import { openLogStore } from '../../src/store/open.js';
import { until } from './in-process-group.js';

const SEGMENT_BYTES = 64 * 1024;
const encoder = new TextEncoder();

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'io-pool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function stagedFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((name) => name.endsWith('.premade.creating'));
}

function storeOptions(nodeDir: string) {
  return { nodeDir, dataSegmentSizeBytes: SEGMENT_BYTES, indexSegmentSizeBytes: 4096, flush: { kind: 'sync' as const }, maxEntryBodyBytes: 8 * 1024 };
}

t.test('a growing log takes its segments from the pool', async (t) => {
  const dir = tempDir(t);
  const pool = new IoPool();
  t.teardown(() => pool.close());
  const premade = new PremadeSegmentFiles(pool);
  const store = openLogStore({ ...storeOptions(dir), segmentFiles: premade.wrap(mmapSegmentFileFactory) });
  let last = -1;
  // 8 x 8 KiB per segment: 10 segments, one append per turn (the store prepares between turns).
  for (let i = 0; i < 80; i++) {
    const [entry] = store.append(1, [encoder.encode(`${i}:${'p'.repeat(8000)}`)]);
    last = entry!.index;
    await store.whenDurable(last);
    if (i % 8 === 7) await until(() => stagedFiles(dir).length > 0 || premade.stats.premadeUsed > 0, 10_000, 'the pool to premake');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  t.ok(premade.stats.premadeUsed >= 5, `${premade.stats.premadeUsed} segments taken from the pool (${premade.stats.createdInline} created inline)`);
  await store.close();
  premade.close();
  await until(() => stagedFiles(dir).length === 0 || null, 10_000, 'staged files removed');
  t.same(stagedFiles(dir), [], 'no staged file left');
  const reopened = openLogStore(storeOptions(dir));
  t.equal(reopened.lastIndex, last, 'every entry recovered (CRCs verified on open)');
  t.equal(new TextDecoder().decode(reopened.get(last)!.body).slice(0, 3), '79:');
  await reopened.close();
});

t.test('a segment the store created itself is never replaced: the pool file is discarded', async (t) => {
  const dir = tempDir(t);
  const pool = new IoPool();
  t.teardown(() => pool.close());
  const premade = new PremadeSegmentFiles(pool);
  const store = openLogStore({ ...storeOptions(dir), segmentFiles: premade.wrap(mmapSegmentFileFactory) });
  // One append across 6 segments: the store creates each inline, in one turn, while the pool is
  // still building the ones after; those finish after the real files exist.
  const bodies = Array.from({ length: 48 }, (_, i) => encoder.encode(`${i}:${'q'.repeat(8000)}`));
  const appended = store.append(1, bodies);
  await store.whenDurable(appended[appended.length - 1]!.index);
  await until(() => premade.stats.premadeDiscarded > 0 || null, 10_000, 'a premake to finish after its segment existed');
  t.ok(premade.stats.createdInline >= 6, `${premade.stats.createdInline} created inline`);
  t.ok(premade.stats.premadeDiscarded >= 1, `${premade.stats.premadeDiscarded} pool files discarded, not renamed over a live segment`);
  await store.close();
  premade.close();
  await until(() => stagedFiles(dir).length === 0 || null, 10_000, 'staged files removed');
  const reopened = openLogStore(storeOptions(dir));
  t.equal(reopened.lastIndex, appended[appended.length - 1]!.index, 'every entry there and verified');
  for (const entry of appended) if (new TextDecoder().decode(reopened.get(entry.index)!.body).split(':')[0] !== String(entry.index)) t.fail(`entry ${entry.index} differs`);
  await reopened.close();
});

t.test('a staged file that vanished before it was taken: the segment is created inline', async (t) => {
  const dir = tempDir(t);
  const pool = new IoPool();
  t.teardown(() => pool.close());
  const logged: string[] = [];
  const premade = new PremadeSegmentFiles(pool, (line) => logged.push(line));
  const factory = premade.wrap(mmapSegmentFileFactory);
  factory.create(path.join(dir, '00000000000000000000'), SEGMENT_BYTES).close();
  await premade.settled();
  t.same(stagedFiles(dir), ['00000000000000065536.premade.creating'], 'the pool built the next segment');
  fs.rmSync(path.join(dir, '00000000000000065536.premade.creating'));
  const file = factory.create(path.join(dir, '00000000000000065536'), SEGMENT_BYTES);
  t.equal(file.sizeBytes, SEGMENT_BYTES);
  t.equal(fs.statSync(path.join(dir, '00000000000000065536')).size, SEGMENT_BYTES, 'created inline at full size');
  file.close();
  t.same({ used: premade.stats.premadeUsed, inline: premade.stats.createdInline }, { used: 0, inline: 2 });
  t.match(logged.join('\n'), /taking 00000000000000065536\.premade\.creating failed, creating 00000000000000065536 inline/);
  await premade.settled();
  premade.close();
});

t.test("retention's unlinks run on the pool: files gone (no .deleting left), space back, the log reopens", async (t) => {
  const dir = tempDir(t);
  const pool = new IoPool();
  t.teardown(() => pool.close());
  const store = openLogStore({ ...storeOptions(dir), removeFiles: pool.removeFilesInOrder.bind(pool) });
  for (let i = 0; i < 80; i++) store.append(1, [encoder.encode(`${i}:${'r'.repeat(8000)}`)]);
  await store.whenDurable(store.lastIndex);
  const dataDir = path.join(dir, 'data');
  const before = fs.readdirSync(dataDir).length;
  const run = store.applyRetention({ keepFromIndex: 70, fileReservedMs: 0, nowMs: Date.now() + 1000, forceClean: true, maxSegmentsPerRun: 10, unlinkIntervalMs: 5 });
  t.ok(run !== null && run.dataSegmentsDeleted >= 5, `${run?.dataSegmentsDeleted} data segments detached`);
  await run!.filesRemoved;
  t.equal(pool.stats.removals, 1, 'one pool task for the run');
  const after = fs.readdirSync(dataDir);
  t.equal(after.length, before - run!.dataSegmentsDeleted, `${after.length} data files left of ${before}`);
  t.same(after.filter((name) => name.includes('.deleting')), [], 'no .deleting file left');
  for (const name of run!.deleted) t.notOk(fs.existsSync(path.join(dir, name)), `${name} unlinked`);
  const first = store.retainedRange().firstIndex;
  await store.close();
  const reopened = openLogStore(storeOptions(dir));
  t.equal(reopened.retainedRange().firstIndex, first, `the log starts at ${first} after a reopen`);
  t.equal(new TextDecoder().decode(reopened.get(79)!.body).slice(0, 3), '79:');
  await reopened.close();
});

t.test('a removal on a closed pool is refused, not lost silently', async (t) => {
  const pool = new IoPool();
  await pool.close();
  await t.rejects(pool.removeFilesInOrder(['/nonexistent/x'], 0), /io pool closed/);
});
