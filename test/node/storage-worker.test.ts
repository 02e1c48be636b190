// threads=workers: the storage worker runs the store's group commits (msync on its own thread over
// the same shared mappings) and the main thread only waits with Atomics.waitAsync. Checked here:
// durability is reported only after the worker's msync; many ranges of one task go as one ticket;
// a ring too small for the tickets in flight makes them wait (back-pressure), none is lost; a
// failed flush fails its ticket and every later one; the files written in workers mode are byte
// for byte those of inline mode; a 3-member group in workers mode replicates identically.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildNodeConfig } from '../../src/node/config.js';
import { DLedgerServer } from '../../src/node/server.js';
import { StorageWorker } from '../../src/node/storage-worker.js';
import { mmapSegmentFileFactory } from '../../src/store/mmap-segment-file.js';
import { openLogStore } from '../../src/store/open.js';
import { testSecretFile } from '../util/peer-secret.js';
import { filesUnder, withoutEmptyTailSegments } from './data-files.js';
import { startInProcessGroup, until } from './in-process-group.js';

const encoder = new TextEncoder();

function tempDir(t: Test, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `storage-worker-${name}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every file under dir (relative path -> bytes). */


t.test('the store group-commits through the worker: durable only after its msync, one ticket per task', async (t) => {
  const dir = tempDir(t, 'store');
  const worker = await StorageWorker.start();
  t.teardown(() => worker.close());
  const store = openLogStore({
    nodeDir: dir,
    dataSegmentSizeBytes: 64 * 1024,
    indexSegmentSizeBytes: 4096,
    flush: { kind: 'sync' },
    maxEntryBodyBytes: 8 * 1024,
    flushInBackground: true,
    segmentFiles: worker.wrap(mmapSegmentFileFactory),
  });
  // 40 x 3 KiB crosses a 64 KiB segment: the dirty ranges of two segments in one group commit.
  const appended = store.append(1, Array.from({ length: 40 }, (_, i) => encoder.encode(`${i}:${'x'.repeat(3000)}`)));
  const last = appended[appended.length - 1]!.index;
  t.equal(store.durableIndex, -1, 'nothing durable before the worker answered');
  const before = { ...worker.stats };
  await store.whenDurable(last);
  t.equal(store.durableIndex, last);
  t.equal(worker.stats.tickets - before.tickets, 1, 'one ticket for the group commit');
  t.ok(worker.stats.ranges - before.ranges >= 2, `its ${worker.stats.ranges - before.ranges} ranges (two segments) in that one record`);
  // Sequential appends, each awaited: a group commit each, all through the worker.
  for (let i = 0; i < 20; i++) {
    const [entry] = store.append(1, [encoder.encode(`seq-${i}`)]);
    await store.whenDurable(entry!.index);
  }
  t.equal(worker.stats.tickets - before.tickets, 21);
  await store.close();
  // Reopened (recovery verifies every CRC), the log is all there.
  const reopened = openLogStore({ nodeDir: dir, dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 4096, flush: { kind: 'sync' }, maxEntryBodyBytes: 8 * 1024 });
  t.equal(reopened.lastIndex, last + 20);
  t.equal(new TextDecoder().decode(reopened.get(last + 20)!.body), 'seq-19');
  await reopened.close();
});

/** Lines of /proc/self/maps that map a file under dir which has been deleted. */
function deletedMappingsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/maps', 'latin1').split('\n').filter((line) => line.includes(dir) && line.endsWith('(deleted)'));
}

for (const mode of ['workers', 'inline'] as const) {
  t.test(`${mode}: retention's deleted segments are unmapped at once (no GC needed), in the worker too`, async (t) => {
    const dir = tempDir(t, `release-${mode}`);
    const worker = mode === 'workers' ? await StorageWorker.start() : null;
    t.teardown(() => worker?.close());
    const store = openLogStore({
      nodeDir: dir,
      dataSegmentSizeBytes: 64 * 1024,
      indexSegmentSizeBytes: 4096,
      flush: { kind: 'sync' },
      maxEntryBodyBytes: 8 * 1024,
      flushInBackground: true,
      ...(worker === null ? {} : { segmentFiles: worker.wrap(mmapSegmentFileFactory) }),
    });
    // 200 x 2 KiB, each made durable: 7 data segments, every one msynced by the worker.
    for (let i = 0; i < 200; i++) {
      const [entry] = store.append(1, [new Uint8Array(2000).fill(i)]);
      await store.whenDurable(entry!.index);
    }
    const run = store.applyRetention({ keepFromIndex: 190, fileReservedMs: 0, nowMs: Date.now() + 1000, forceClean: true, maxSegmentsPerRun: 10 });
    t.ok(run !== null && run.dataSegmentsDeleted >= 5, `${run?.dataSegmentsDeleted} data segments deleted`);
    await run!.filesRemoved;
    if (worker !== null) {
      // The Drop records are processed by the worker in ring order; wait for its counter.
      await until(() => worker.releasedMappings().released >= run!.dataSegmentsDeleted, 5_000, 'the worker to release the dropped mappings');
      t.equal(worker.releasedMappings().failed, 0, 'no release failed');
    }
    // Before: the worker thread never ran a full GC, so every deleted segment it had flushed stayed
    // mapped (6 of 7 here; the main thread's stayed until its own GC).
    t.same(deletedMappingsUnder(dir), [], 'no mapping of a deleted file is left in the process');
    t.equal(store.get(195)!.body[0], 195, 'the retained entries still read');
    await store.close();
  });
}

t.test('a full ring is back-pressure: tickets wait for room, none is dropped, all settle in order', async (t) => {
  // 128-byte ring: room for three one-range records (36 bytes each) at a time.
  const worker = await StorageWorker.start(() => undefined, 128);
  t.teardown(() => worker.close());
  const flushes: Promise<void>[] = [];
  const segmentId = worker.registerSegment(new SharedArrayBuffer(4096), '/nonexistent/anonymous');
  const order: number[] = [];
  for (let i = 0; i < 200; i++) {
    flushes.push(worker.flushRange(segmentId, 0, 4096).then(() => void order.push(i)));
    await Promise.resolve(); // end of "task": seals one ticket
  }
  await Promise.all(flushes);
  t.ok(worker.stats.ringFullWaits > 0, `the ring was full ${worker.stats.ringFullWaits} times`);
  t.same(order, Array.from({ length: 200 }, (_, i) => i), 'every ticket settled, in order');
});

t.test('a failed flush fails its ticket and every later one; the store stops reporting durability', async (t) => {
  const worker = await StorageWorker.start();
  t.teardown(() => worker.close());
  const good = worker.registerSegment(new SharedArrayBuffer(4096), '/nonexistent/good');
  await worker.flushRange(good, 0, 100).then(() => t.pass('a flush of a registered anonymous mapping succeeds'), (error: Error) => t.fail(error.message));
  await t.rejects(worker.flushRange(12345, 0, 4096), /segment 12345, which was never registered/);
  await t.rejects(worker.flushRange(good, 0, 100), /never registered/, 'sticky: a later ticket fails too, with the first failure');
});

t.test('after close the worker refuses flushes; a closed server closes its worker', async (t) => {
  const worker = await StorageWorker.start();
  await worker.close();
  await t.rejects(worker.flushRange(1, 0, 1), /closed/);
});

async function writeSingleMember(dir: string, threads: string, bodies: Uint8Array[], storageWorkerWrites = 'false'): Promise<{ stats: ReturnType<DLedgerServer['storageWorkerStats']>; premade: ReturnType<DLedgerServer['premadeSegmentStats']> }> {
  const built = buildNodeConfig({ group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', storeBaseDir: dir, mappedFileSizeForEntryData: 64 * 1024, mappedFileSizeForEntryIndex: 4096, maxEntryBodyBytes: 8 * 1024, peerSecretFile: testSecretFile(), tickIntervalMs: 10, heartBeatTimeIntervalMs: 50, threads, storageWorkerWrites });
  const server = new DLedgerServer({ config: { ...built, peers: built.peers.map((p) => ({ ...p, port: 0 })) }, log: () => undefined });
  let leading = false;
  server.onRoleChange((change) => (leading = change.role === 'leader'));
  await server.start();
  try {
    await until(() => leading, 10_000, 'the single member to lead');
    // The same sequence in both modes: one at a time, then batches, then concurrent singles.
    // One at a time with a pause: the store prepares, and in workers mode the I/O pool premakes.
    for (const body of bodies.slice(0, 20)) {
      await server.append(body);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (let i = 20; i < 120; i += 25) await server.append(bodies.slice(i, i + 25));
    await Promise.all(bodies.slice(120).map((body) => server.append(body)));
    // With the Raft worker on (DLEDGER_RAFT_WORKER), these stats are the worker's status snapshot,
    // posted every 50 ms, so they can lag the last appends: wait (bounded) for one that covers them.
    for (let i = 0; i < 100 && storageWorkerWrites === 'true' && (server.storageWorkerStats()?.writeEntries ?? 0) < bodies.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { stats: server.storageWorkerStats(), premade: server.premadeSegmentStats() };
  } finally {
    await server.close();
  }
}

t.test('same entries in both modes: the files are identical byte for byte', async (t) => {
  // The first 20 are 3-6 KiB: a new 64 KiB segment every ~14 appends while the pool can keep up.
  const bodies = Array.from({ length: 200 }, (_, i) => encoder.encode(`entry-${i}-${'y'.repeat(i < 20 ? 3000 + i * 150 : (i * 37) % 2000)}`));
  const inlineDir = tempDir(t, 'inline');
  const workersDir = tempDir(t, 'workers');
  const inline = await writeSingleMember(inlineDir, 'inline', bodies);
  const workers = await writeSingleMember(workersDir, 'workers', bodies);
  // threads=workers + storageWorkerWrites: encoding, CRCs and writes on the storage worker too.
  const writesDir = tempDir(t, 'writes');
  const writes = await writeSingleMember(writesDir, 'workers', bodies, 'true');
  t.ok(writes.stats !== null && writes.stats.writeEntries >= bodies.length, `storageWorkerWrites: ${writes.stats?.writeEntries} entries written by the worker`);
  if (process.env.DLEDGER_STORAGE_WORKER_WRITES !== 'true') t.equal(workers.stats?.writeEntries, 0, 'workers without the key: no entry written by the worker');
  t.equal(inline.stats, null, 'inline: no storage worker');
  t.ok(workers.stats !== null && workers.stats.tickets > 0, `workers: ${workers.stats?.tickets} group commits ran on the worker`);
  t.equal(inline.premade, null, 'inline: no I/O pool');
  t.ok(workers.premade !== null && workers.premade.premadeUsed > 0, `workers: ${workers.premade?.premadeUsed} segments allocated ahead by the I/O pool (${workers.premade?.createdInline} inline)`);
  // A segment prepared ahead holds no entry yet (all zeros): whether one exists at close depends on
  // timing (inline prepares it on the event loop, workers takes it from the pool when it is ready),
  // so trailing all-zero segments are left out; every segment holding an entry must be identical.
  const a = withoutEmptyTailSegments(filesUnder(path.join(inlineDir, 'dledger-n0')));
  const b = withoutEmptyTailSegments(filesUnder(path.join(workersDir, 'dledger-n0')));
  const c = withoutEmptyTailSegments(filesUnder(path.join(writesDir, 'dledger-n0')));
  t.same([...b.keys()].sort(), [...a.keys()].sort(), 'the same files');
  t.same([...c.keys()].sort(), [...a.keys()].sort(), 'the same files with storageWorkerWrites');
  for (const [name, bytes] of a) t.ok(Buffer.compare(bytes, c.get(name) ?? Buffer.alloc(0)) === 0, `storageWorkerWrites ${name}: identical`);
  t.ok([...a.keys()].filter((name) => name.startsWith('data')).length >= 4, 'the entries span several data segments');
  for (const [name, bytes] of a) t.ok(Buffer.compare(bytes, b.get(name) ?? Buffer.alloc(0)) === 0, `${name}: ${bytes.length} bytes identical`);
});

t.test('a 3-member group in workers mode commits and replicates byte-identically', async (t) => {
  const baseDir = tempDir(t, 'group');
  // Elections time out after 1 s (not the helper's 300 ms): a leader change on a loaded machine
  // would fail appends with TERM_CHANGED, which is not what this test is about.
  const servers = await startInProcessGroup(baseDir, { threads: 'workers', heartBeatTimeIntervalMs: 100, maxHeartBeatLeak: 10 });
  t.teardown(async () => {
    for (const server of servers) await server.close();
  });
  const leader = await until(() => servers.find((s) => s.status().role === 'leader'), 10_000, 'a leader');
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => leader.append(encoder.encode(`v-${i}-${'z'.repeat(i % 500)}`))));
  const last = Math.max(...results.flat().map((r) => r.index));
  // Applied, not only committed: a follower applies an entry once its own copy is durable.
  await until(() => servers.every((s) => s.status().appliedIndex >= last), 10_000, 'every member to apply');
  for (const server of servers) t.ok((server.storageWorkerStats()?.tickets ?? 0) > 0, `${server.config.selfId}: group commits on its storage worker`);
  let identical = 0;
  for (let index = 0; index <= last; index++) {
    const [a, b, c] = servers.map((s) => s.get(index));
    if (a && b && c && a.pos === b.pos && a.pos === c.pos && Buffer.compare(a.body, b.body) === 0 && Buffer.compare(a.body, c.body) === 0) identical++;
  }
  t.equal(identical, last + 1, `${last + 1} entries identical on all members`);
});
