// threads=workers with raftWorker=true: the Raft core, the store, the peer transport and the ticks
// run on a Raft worker thread; the embedding API and the state machine stay on the main thread.
// Checked here: the ring batches and their ordering (packBatches splitting, a full ring waiting);
// a 3-member in-process group commits, applies on the main thread in order with the stored bytes,
// reads through the shared mappings, serves read barriers and a leadership transfer; a member
// whose worker fails to start reports the reason; a single member writes the same files as inline.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { buildNodeConfig } from '../../src/node/config.js';
import { DLedgerServer, type CommittedEntry } from '../../src/node/server.js';
import { packBatches, unpackBatch } from '../../src/node/raft-worker-protocol.js';
import { SpscRing } from '../../src/node/spsc-ring.js';
import { testSecretFile } from '../util/peer-secret.js';
import { filesUnder, withoutEmptyTailSegments } from './data-files.js';
import { startInProcessGroup, until } from './in-process-group.js';

const encoder = new TextEncoder();

function tempDir(t: Test, name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `raft-worker-${name}-`));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}



t.test('ring protocol: batches split to fit, keep their order, and a full ring refuses (no drop)', async (t) => {
  const ring = SpscRing.create(4096);
  const records = Array.from({ length: 100 }, (_, i) => [3, i, new Uint8Array(50).fill(i)]);
  const batches = packBatches(records, ring.maxRecordBytes);
  t.ok(batches.length > 1, `100 records of ~60 bytes in ${batches.length} ring records of <= ${ring.maxRecordBytes} bytes`);
  const seen: unknown[][] = [];
  const pending = [...batches];
  let refusals = 0;
  // Producer writes until the ring is full, consumer drains, repeat: every record once, in order.
  while (pending.length > 0 || ring.usedBytes() > 0) {
    while (pending.length > 0 && ring.tryWrite(pending[0]!)) pending.shift();
    if (pending.length > 0) refusals++;
    let bytes: Uint8Array | null;
    while ((bytes = ring.tryRead()) !== null) seen.push(...unpackBatch(bytes));
  }
  t.ok(refusals > 0, `the ring was full ${refusals} times (back-pressure)`);
  t.same(seen.map((r) => r[1]), records.map((r) => r[1]), 'every record, in order');
  t.same(seen[42]![2], new Uint8Array(50).fill(42), 'bodies intact');
  t.throws(() => packBatches([[1, new Uint8Array(ring.maxRecordBytes)]], ring.maxRecordBytes), /exceeds the ring's maximum/, 'a single record too large for the ring is an error, not a silent drop');
});

t.test('a 3-member group with Raft workers: main applies in order with the stored bytes', async (t) => {
  const baseDir = tempDir(t, 'group');
  const applied = new Map<string, CommittedEntry[]>();
  const applyThreads = new Set<number>();
  const servers = await startInProcessGroup(baseDir, { threads: 'workers', raftWorker: 'true', heartBeatTimeIntervalMs: 100, maxHeartBeatLeak: 10 }, (selfId) => ({
    stateMachine: {
      apply: (entry) => {
        applyThreads.add(threadId);
        const list = applied.get(selfId) ?? [];
        list.push(entry);
        applied.set(selfId, list);
        return `r${entry.index}`;
      },
    },
  }));
  t.teardown(async () => {
    for (const server of servers) await server.close();
  });
  const leader = await until(() => servers.find((s) => s.status().role === 'leader'), 15_000, 'a leader');
  t.equal(leader.threadsMode?.mode, 'workers');
  t.ok(servers.every((s) => s.onRaftWorker), 'every member runs its node on a Raft worker');
  const bodies = Array.from({ length: 300 }, (_, i) => encoder.encode(`v-${i}-${'z'.repeat(i % 500)}`));
  const singles = await Promise.all(bodies.slice(0, 200).map((body) => leader.append(body)));
  const batch = await leader.append(bodies.slice(200));
  const results = [...singles.flat(), ...batch];
  t.equal(results.length, 300);
  t.ok(results.every((r) => r.result === `r${r.index}`), "each append resolves with the main thread's state-machine result");
  t.ok(results.every((r) => r.pos >= 0), 'each append knows where it was written');
  t.same([...applyThreads], [threadId], 'apply ran on the main thread only');
  t.ok(isMainThread);
  const last = Math.max(...results.map((r) => r.index));
  await until(() => servers.every((s) => s.status().appliedIndex >= last), 15_000, 'every member to apply');
  for (const server of servers) {
    const list = applied.get(server.config.selfId) ?? [];
    t.ok(list.every((e, i) => i === 0 || e.index > list[i - 1]!.index), `${server.config.selfId}: applied in index order`);
    t.equal(list.length, 300, `${server.config.selfId}: every normal entry applied once`);
    const byIndex = new Map(list.map((e) => [e.index, e]));
    for (const r of [results[0]!, results[150]!, results[299]!]) {
      const entry = server.get(r.index);
      t.ok(entry !== null && Buffer.from(entry.body).equals(Buffer.from(byIndex.get(r.index)!.body)), `${server.config.selfId}: get(${r.index}) reads the shared files, same bytes as applied`);
      t.equal(server.storedPos(r.index), r.pos, `${server.config.selfId}: entry ${r.index} at the leader's position`);
    }
  }
  t.same(leader.latestNormalAtOrBefore(last)?.body, bodies[299], 'read-latest through the shared files');
  const readIndex = await leader.readBarrier();
  t.ok(readIndex >= last, `read barrier at ${readIndex} (>= ${last})`);
  t.ok(leader.status().appliedIndex >= readIndex, 'the barrier resolved only after main applied up to it');
  const follower = servers.find((s) => s !== leader)!;
  await t.rejects(follower.append(encoder.encode('x')), /not-leader/, 'a follower refuses appends (NOT_LEADER from the worker)');
  await t.rejects(follower.readBarrier(), /refused/, 'a follower refuses read barriers');
  const metadata = leader.metadata();
  t.equal(metadata.role, 'leader');
  t.ok(metadata.commitIndex >= last);
  t.ok((leader.storageWorkerStats()?.tickets ?? 0) > 0, "the Raft worker's node group-commits on its own storage worker");
  // Leadership moves to a follower through the worker.
  await leader.transferLeadership(follower.config.selfId, 10_000);
  await until(() => follower.status().role === 'leader', 10_000, 'the transferee to lead');
  const after = await follower.append(encoder.encode('after-transfer'));
  t.ok(after[0]!.index > last, 'the new leader appends');
  // Replicas are identical byte for byte.
  await until(() => servers.every((s) => s.status().appliedIndex >= after[0]!.index), 15_000, 'every member to apply the last entry');
  for (const server of servers) await server.close();
  const files = servers.map((s) => withoutEmptyTailSegments(filesUnder(path.join(baseDir, `dledger-${s.config.selfId}`, 'data'))));
  for (const other of files.slice(1)) {
    for (const [name, bytes] of files[0]!) t.ok(Buffer.compare(bytes, other.get(name) ?? Buffer.alloc(0)) === 0, `data/${name} identical on the replicas`);
  }
  await t.rejects(async () => leader.append(encoder.encode('late')), /server closed/, 'closed: appends refused');
});

async function writeSingleMember(dir: string, raftWorker: boolean, bodies: Uint8Array[]): Promise<void> {
  const built = buildNodeConfig({ group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', storeBaseDir: dir, mappedFileSizeForEntryData: 64 * 1024, mappedFileSizeForEntryIndex: 4096, maxEntryBodyBytes: 8 * 1024, peerSecretFile: testSecretFile(), tickIntervalMs: 10, heartBeatTimeIntervalMs: 50, threads: raftWorker ? 'workers' : 'inline', raftWorker: String(raftWorker) });
  const server = new DLedgerServer({ config: { ...built, peers: built.peers.map((p) => ({ ...p, port: 0 })) }, log: () => undefined });
  let leading = false;
  server.onRoleChange((change) => (leading = change.role === 'leader'));
  await server.start();
  try {
    await until(() => leading, 15_000, 'the single member to lead');
    for (const body of bodies.slice(0, 20)) await server.append(body);
    for (let i = 20; i < 120; i += 25) await server.append(bodies.slice(i, i + 25));
    await Promise.all(bodies.slice(120).map((body) => server.append(body)));
  } finally {
    await server.close();
  }
}

t.test('same entries inline and with a Raft worker: the files are identical byte for byte', async (t) => {
  const bodies = Array.from({ length: 200 }, (_, i) => encoder.encode(`entry-${i}-${'y'.repeat(i < 20 ? 3000 + i * 150 : (i * 37) % 2000)}`));
  const inlineDir = tempDir(t, 'inline');
  const workerDir = tempDir(t, 'worker');
  await writeSingleMember(inlineDir, false, bodies);
  await writeSingleMember(workerDir, true, bodies);
  const a = withoutEmptyTailSegments(filesUnder(path.join(inlineDir, 'dledger-n0')));
  const b = withoutEmptyTailSegments(filesUnder(path.join(workerDir, 'dledger-n0')));
  t.same([...b.keys()].sort(), [...a.keys()].sort(), 'the same files');
  t.ok([...a.keys()].filter((name) => name.startsWith('data')).length >= 4, 'the entries span several data segments');
  for (const [name, bytes] of a) t.ok(Buffer.compare(bytes, b.get(name) ?? Buffer.alloc(0)) === 0, `${name}: ${bytes.length} bytes identical`);
});

t.test('config: raftWorker needs threads workers; a node that cannot start says why', async (t) => {
  t.throws(() => buildNodeConfig({ group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', threads: 'inline', raftWorker: 'true', peerSecretFile: testSecretFile() }), /raftWorker: true needs threads workers/);
  t.throws(() => buildNodeConfig({ group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', raftWorker: 'yes', peerSecretFile: testSecretFile() }), /raftWorker: "yes" must be true or false/);
  const dir = tempDir(t, 'hook');
  const built = buildNodeConfig({ group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', storeBaseDir: dir, threads: 'workers', raftWorker: 'true', peerSecretFile: testSecretFile() });
  const server = new DLedgerServer({ config: built, log: () => undefined, patchBody: () => undefined });
  await t.rejects(server.start(), /patchBody/, 'a store hook cannot cross yet: refused at start with the reason');
});
