// Goal: a follower that catches up by snapshot install (the leader's retention deleted what it
// needed) writes every later entry at the leader's position, even when those entries reach it as
// objects (an Append that crosses one of the leader's segment boundaries is not sent as stored
// records), so every replica holds entry i at the same pos (a RocketMQ msgId carries it).
// Found by the retention chaos campaign (test/chaos/FINDINGS.md F10): before, the follower went on
// at its own end and its positions differed from the leader's for good ("moved" on every
// acknowledged append after the install, divergence over the retained range).
// Method: two real stores in temp dirs (4 KiB data / 1 KiB index segments); the leader's retention
// deletes its first segments; the follower, holding entries of its own, persists a Ready with the
// leader's snapshot (LogRaftStorage.snapshotMeta/snapshotChunk) and the next entries as objects;
// the records must be the leader's byte for byte (position, header incl. chain CRC, body).
import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogStore, type SegmentedLogStore } from '../../src/store/index.js';
import { decodeSnapshotStart, encodeSnapshotStart, LogRaftStorage } from '../../src/node/log-raft-storage.js';
import type { Ready } from '../../src/raft/types.js';

const GEOMETRY = { dataSegmentSizeBytes: 4096, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1000 } as const;

const dirs = new WeakMap<SegmentedLogStore, string>();

function open(t: Test, name: string): SegmentedLogStore {
  const nodeDir = mkdtempSync(join(tmpdir(), `dledger-snapshot-pos-${name}-`));
  t.teardown(() => rmSync(nodeDir, { recursive: true, force: true }));
  const store = openLogStore({ nodeDir, flush: { kind: 'sync' }, ...GEOMETRY });
  dirs.set(store, nodeDir);
  return store;
}

const body = (i: number, bytes: number): Uint8Array => new TextEncoder().encode(`v${i}-`.padEnd(bytes, 'x'));

function readyOf(fields: Partial<Ready>): Ready {
  return { number: 1, softState: null, hardState: null, entriesToPersist: [], snapshotToInstall: null, messages: [], messagesAfterPersist: [], committedEntries: [], readStates: [], mustSync: true, ...fields };
}

t.test('snapshot data: position and chain seed round-trip; other lengths name nothing', async (t) => {
  t.same(decodeSnapshotStart(encodeSnapshotStart({ pos: 0, chainCrc: null })), { pos: 0, chainCrc: null });
  t.equal(encodeSnapshotStart({ pos: 1, chainCrc: null }).byteLength, 8, 'position only: 8 bytes');
  t.same(decodeSnapshotStart(encodeSnapshotStart({ pos: 123_456_789_012, chainCrc: 0xfedcba98 })), { pos: 123_456_789_012, chainCrc: 0xfedcba98 }, 'with the chain seed: 12 bytes');
  t.equal(decodeSnapshotStart(new Uint8Array(0)), undefined, 'an empty snapshot (older leader)');
  t.equal(decodeSnapshotStart(new Uint8Array(7)), undefined);
  t.equal(decodeSnapshotStart(new Uint8Array(8).fill(0xff)), undefined, 'beyond a safe integer: ignored');
  t.throws(() => encodeSnapshotStart({ pos: -1, chainCrc: null }));
});

for (const followerEntries of [0, 3, 25] as const) {
  t.test(`after a snapshot install the follower (${followerEntries} entries of its own) writes at the leader's positions`, async (t) => {
    const leaderStore = open(t, 'leader');
    for (let i = 0; i < 60; i++) leaderStore.append(1, [body(i, 300 + (i % 7) * 50)]);
    await leaderStore.whenDurable(leaderStore.lastIndex);
    const oldSeconds = (Date.now() - 3_600_000) / 1000;
    const dataDir = join(dirs.get(leaderStore)!, 'data');
    for (const name of readdirSync(dataDir)) utimesSync(join(dataDir, name), oldSeconds, oldSeconds);
    const run = leaderStore.applyRetention({ fileReservedMs: 60_000, forceClean: false, keepFromIndex: 40, nowMs: Date.now() });
    t.ok(run !== null && run.dataSegmentsDeleted > 0, `the leader's retention deleted ${run?.dataSegmentsDeleted} segments`);
    await run?.filesRemoved;
    const leader = new LogRaftStorage(leaderStore);
    const meta = leader.snapshotMeta();
    t.ok(meta !== null && meta.index >= 0, `snapshot (${meta?.index}, ${meta?.term}) of ${meta?.sizeBytes} bytes`);
    if (meta === null) return;
    const chunk = leader.snapshotChunk(0);
    t.equal(chunk.data.byteLength, meta.sizeBytes, 'the chunk is the whole snapshot');
    t.ok(chunk.done);
    t.same(decodeSnapshotStart(chunk.data), { pos: leaderStore.retainedRange().firstPos, chainCrc: leaderStore.beforeBeginChainCrc }, 'it names where the leader\'s retained log starts and its chain seed');
    t.ok(leaderStore.beforeBeginChainCrc !== null, 'the leader knows its chain seed after retention');

    const followerStore = open(t, 'follower');
    // Its own history: other bodies, another term, so its end is not the leader's.
    for (let i = 0; i < followerEntries; i++) followerStore.append(1, [body(1000 + i, 111)]);
    const follower = new LogRaftStorage(followerStore);
    // The leader's entries after the snapshot, as objects (not stored records).
    const entries = leader.entries(meta.index + 1, leaderStore.lastIndex + 1, Number.MAX_SAFE_INTEGER);
    t.equal(entries.length, leaderStore.lastIndex - meta.index);
    const written = follower.persist(readyOf({ snapshotToInstall: { meta, data: chunk.data }, entriesToPersist: entries }));
    await followerStore.whenDurable(followerStore.lastIndex);
    t.equal(follower.persistedCounts.encoded, entries.length, 'written encoded, not from stored records');
    let samePos = 0;
    let sameBytes = 0;
    for (const entry of written) {
      const mine = followerStore.get(entry.index);
      const theirs = leaderStore.get(entry.index);
      if (mine !== null && theirs !== null && mine.pos === theirs.pos && entry.pos === theirs.pos) samePos++;
      const a = followerStore.readRaw(entry.index, 1, true);
      const b = leaderStore.readRaw(entry.index, 1, true);
      if (a !== null && b !== null && a.pos === b.pos && a.lastIndex === entry.index && b.lastIndex === entry.index && Buffer.from(a.bytes).equals(Buffer.from(b.bytes))) sameBytes++;
    }
    t.equal(samePos, written.length, `all ${written.length} entries at the leader's positions (first leader pos ${leaderStore.get(meta.index + 1)?.pos}, follower ${followerStore.get(meta.index + 1)?.pos})`);
    t.equal(sameBytes, written.length, 'the same record bytes (header incl. chain CRC, body) at every index');
    t.equal(followerStore.retainedRange().firstPos, leaderStore.retainedRange().firstPos, 'the same log start');
    // The follower's own stored records can now go to a third member as raw records at the same positions.
    const raw = followerStore.readRaw(meta.index + 1, 4096, true);
    t.equal(raw?.pos, leaderStore.get(meta.index + 1)?.pos);
    // A reopen keeps the start.
    const nodeDir = dirs.get(followerStore)!;
    await followerStore.close();
    const reopened = openLogStore({ nodeDir, flush: { kind: 'sync' }, ...GEOMETRY });
    t.equal(reopened.get(meta.index + 1)?.pos, leaderStore.get(meta.index + 1)?.pos, 'the position survives a reopen');
    t.equal(reopened.lastIndex, leaderStore.lastIndex);
    await reopened.close();
    await leaderStore.close();
  });
}

t.test('an empty snapshot (no position: an older leader) keeps the follower at its own end, as before', async (t) => {
  const followerStore = open(t, 'follower-old');
  for (let i = 0; i < 3; i++) followerStore.append(1, [body(i, 100)]);
  const end = followerStore.retainedRange().endPos;
  const follower = new LogRaftStorage(followerStore);
  follower.persist(readyOf({ snapshotToInstall: { meta: { index: 50, term: 2, sizeBytes: 0 }, data: new Uint8Array(0) } }));
  t.equal(followerStore.beforeBeginIndex, 50);
  t.equal(followerStore.beforeBeginChainCrc, null, 'chain seed unknown');
  t.equal(followerStore.retainedRange().firstPos, end);
  await followerStore.close();
});
