// Goal: retention on the disk store moves the log start durably before any file goes, unlinks
// the old data and index segments off the event loop (in order, `unlinkIntervalMs` apart), and a
// crash at any point of the deletion (after the checkpoint, before or between the unlinks)
// reopens to a consistent log start with the leftover files removed.
// Method: 4 KiB data / 1 KiB index segments in a temp dir, ~60 entries over ~15 segments; the
// "crash mid-delete" states are made by copying the files retention will delete before the run
// and putting (some of) them back after a simulated crash, which is exactly what the disk holds
// when the process dies between the checkpoint write and the unlinks.
import t, { type Test } from 'tap';
import fs, { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogStore, type SegmentedLogStore } from '../../src/store/index.js';
import { bodyOf } from './store-behaviour.js';

const GEOMETRY = { dataSegmentSizeBytes: 4096, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1000 } as const;
const ENTRIES = 60;
const BODY_BYTES = 900;

function open(nodeDir: string): SegmentedLogStore {
  return openLogStore({ nodeDir, flush: { kind: 'sync' }, ...GEOMETRY });
}

function list(nodeDir: string, kind: 'data' | 'index'): string[] {
  return existsSync(join(nodeDir, kind)) ? readdirSync(join(nodeDir, kind)).sort() : [];
}

async function filled(t: Test): Promise<{ nodeDir: string; store: SegmentedLogStore }> {
  const nodeDir = mkdtempSync(join(tmpdir(), 'dledger-retention-'));
  t.teardown(() => rmSync(nodeDir, { recursive: true, force: true }));
  const store = open(nodeDir);
  for (let i = 0; i < ENTRIES; i++) store.append(1, [bodyOf(7, i, BODY_BYTES)]);
  await store.whenDurable(store.lastIndex);
  // Every file "old": expiry is not what these tests are about.
  const oldSeconds = (Date.now() - 3_600_000) / 1000;
  for (const kind of ['data', 'index'] as const) for (const name of list(nodeDir, kind)) utimesSync(join(nodeDir, kind, name), oldSeconds, oldSeconds);
  return { nodeDir, store };
}

function checkEntries(t: Test, store: SegmentedLogStore, from: number): void {
  let bad = 0;
  for (let i = from; i < ENTRIES; i++) {
    const entry = store.get(i);
    if (entry === null || Buffer.compare(Buffer.from(entry.body), Buffer.from(bodyOf(7, i, BODY_BYTES))) !== 0) bad++;
  }
  t.equal(bad, 0, `entries ${from}..${ENTRIES - 1} read back and verify`);
  t.equal(store.get(from - 1), null, `entry ${from - 1} is gone`);
}

t.test('files are unlinked after the start moved, in order and spaced, and one run at a time', async (t) => {
  const { nodeDir, store } = await filled(t);
  const dataBefore = list(nodeDir, 'data');
  t.ok(dataBefore.length >= 14, `${dataBefore.length} data segments`);
  const startedMs = Date.now();
  const run = store.applyRetention({ fileReservedMs: 60_000, forceClean: false, keepFromIndex: 30, nowMs: Date.now(), maxSegmentsPerRun: 4, unlinkIntervalMs: 150 });
  t.ok(run !== null);
  if (run === null) return;
  t.equal(run.dataSegmentsDeleted, 4, 'maxSegmentsPerRun data segments');
  t.same(run.deleted.filter((name) => name.startsWith('data/')), dataBefore.slice(0, 4).map((name) => `data/${name}`), 'oldest first');
  const firstIndex = store.beforeBeginIndex + 1;
  t.ok(firstIndex > 0 && firstIndex <= 30, `log start moved to ${firstIndex} at once`);
  // The unlinks run later, 150 ms apart: the last data file is still there now.
  t.ok(existsSync(join(nodeDir, 'data', dataBefore[3] as string)), 'not unlinked synchronously');
  t.equal(store.applyRetention({ fileReservedMs: 0, forceClean: true, keepFromIndex: 30, nowMs: Date.now() }), null, 'a second run waits for the first');
  store.append(1, [bodyOf(7, 999, 10)]); // the log keeps taking appends meanwhile
  await run.filesRemoved;
  t.ok(Date.now() - startedMs >= 3 * 150 - 20, 'spaced by unlinkIntervalMs');
  t.same(list(nodeDir, 'data'), dataBefore.slice(4), 'exactly the detached data files are gone');
  t.ok(list(nodeDir, 'index').every((name) => Number(name) + GEOMETRY.indexSegmentSizeBytes > firstIndex * 32), 'index segments below the start are gone');
  const range = store.retainedRange();
  t.equal(range.firstIndex, firstIndex);
  t.equal(range.dataSegments, Math.floor(range.endPos / 4096) - Math.floor(range.firstPos / 4096) + 1, 'segments from the start to the end');
  t.equal(range.firstPos, Number(dataBefore[4]), 'the log starts at the first kept segment');
  const ratio = store.diskUsageRatio();
  t.ok(ratio > 0 && ratio < 1, `disk usage ratio ${ratio.toFixed(4)} from statfs`);
  await store.close();
  const reopened = open(nodeDir);
  t.equal(reopened.beforeBeginIndex + 1, firstIndex, 'the start survives a reopen');
  await reopened.close();
});

for (const leftover of ['data and index', 'index only', 'the newest data file only'] as const) {
  t.test(`a crash after the checkpoint with ${leftover} not yet unlinked reopens consistently`, async (t) => {
    const { nodeDir, store } = await filled(t);
    const saved = join(nodeDir, '..', `${nodeDir.split('/').at(-1)}-saved`);
    mkdirSync(join(saved, 'data'), { recursive: true });
    mkdirSync(join(saved, 'index'), { recursive: true });
    t.teardown(() => rmSync(saved, { recursive: true, force: true }));
    for (const kind of ['data', 'index'] as const) for (const name of list(nodeDir, kind)) copyFileSync(join(nodeDir, kind, name), join(saved, kind, name));
    const run = store.applyRetention({ fileReservedMs: 60_000, forceClean: false, keepFromIndex: 40, nowMs: Date.now() });
    t.ok(run !== null && run.dataSegmentsDeleted >= 5, `${run?.dataSegmentsDeleted} data segments deleted`);
    if (run === null) return;
    await run.filesRemoved;
    const firstIndex = store.beforeBeginIndex + 1;
    store.simulateCrash();
    // Put back what a process that died before (or during) its unlinks would have left.
    const deletedData = run.deleted.filter((name) => name.startsWith('data/'));
    const deletedIndex = run.deleted.filter((name) => name.startsWith('index/'));
    const restore = leftover === 'data and index' ? run.deleted : leftover === 'index only' ? deletedIndex : deletedData.slice(-1);
    for (const name of restore) copyFileSync(join(saved, name), join(nodeDir, name));
    t.ok(restore.length > 0, `${restore.length} files left behind`);
    const reopened = open(nodeDir);
    t.equal(reopened.beforeBeginIndex + 1, firstIndex, 'recovery starts at the checkpoint’s log start');
    t.same(reopened.recoveryReport.removedSegments.filter((name) => restore.includes(name)).sort(), [...restore].sort(), 'recovery removed the leftovers');
    for (const name of restore) t.notOk(existsSync(join(nodeDir, name)), `${name} removed at open`);
    checkEntries(t, reopened, firstIndex);
    reopened.append(1, [bodyOf(7, 1000, 100)]);
    await reopened.whenDurable(reopened.lastIndex);
    t.equal(reopened.lastIndex, ENTRIES, 'appends go on');
    await reopened.close();
  });
}

t.test('a crash mid-unlink leaves <name>.deleting files (renamed, maybe truncated): the next open removes them', async (t) => {
  const { nodeDir, store } = await filled(t);
  const run = store.applyRetention({ fileReservedMs: 60_000, forceClean: false, keepFromIndex: 30, nowMs: Date.now() });
  t.ok(run !== null);
  await run?.filesRemoved;
  const firstIndex = store.beforeBeginIndex + 1;
  store.simulateCrash();
  // What a process killed between the rename and the unlink leaves: one truncated, one not yet.
  const [first, second] = run!.deleted;
  fs.writeFileSync(join(nodeDir, `${first}.deleting`), Buffer.alloc(0));
  fs.writeFileSync(join(nodeDir, `${second}.deleting`), Buffer.alloc(GEOMETRY.dataSegmentSizeBytes));
  const reopened = open(nodeDir);
  t.equal(reopened.beforeBeginIndex + 1, firstIndex, 'the start is the checkpoint’s');
  t.notOk(fs.existsSync(join(nodeDir, `${first}.deleting`)) || fs.existsSync(join(nodeDir, `${second}.deleting`)), 'the .deleting files are gone');
  checkEntries(t, reopened, firstIndex);
  await reopened.close();
});
