// The behavioural tests every LogStore implementation must pass, written once and run by
// log-store-mmap.test.ts (files on disk) and log-store-memory.test.ts (MemoryMedium). Each test
// drives a store through its public API and then checks the bytes from outside with an
// independent parser of DLedger's layout (big-endian, 48-byte headers, 32-byte index records).
import type { Test } from 'tap';
import { crc32 } from 'node:zlib';
import { Prng } from '../../src/util/prng.js';
import {
  EntryMagic,
  type SegmentedLogStore,
  StoreCorruptionError,
  StoreDiskFullError,
  StoreFailedError,
  StoreLockedError,
  StoreRejectedRecordError,
  StoreTruncatedError,
} from '../../src/store/index.js';
import { SMALL_GEOMETRY, type StoreHarness } from './store-harness.js';

const SEGMENT = SMALL_GEOMETRY.dataSegmentSizeBytes;
const INDEX_SEGMENT = SMALL_GEOMETRY.indexSegmentSizeBytes;

/** Deterministic body of `sizeBytes` for (seed, n). */
export function bodyOf(seed: number, n: number, sizeBytes: number): Uint8Array {
  const prng = new Prng(seed * 1_000_003 + n);
  const body = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) body[i] = prng.nextUint32() & 0xff;
  return body;
}

function sizes(seed: number, count: number, maxBytes = 900): number[] {
  const prng = new Prng(seed);
  return Array.from({ length: count }, () => prng.intBetween(0, maxBytes + 1));
}

function segmentName(startPos: number): string {
  return String(startPos).padStart(20, '0');
}

interface ParsedRecord {
  readonly kind: 'entry' | 'blank';
  readonly pos: number;
  readonly sizeBytes: number;
  readonly magic: number;
  readonly index: number;
  readonly term: number;
  readonly posField: number;
  readonly chainCrc: number;
  readonly bodyCrc: number;
  readonly body: Uint8Array;
}

function u64(view: DataView, offset: number): number {
  return view.getUint32(offset) * 2 ** 32 + view.getUint32(offset + 4);
}

/** Parse every data segment from outside the store, checking layout rules as it goes. */
function parseDataFiles(t: Test, harness: StoreHarness): ParsedRecord[] {
  const records: ParsedRecord[] = [];
  const names = harness.list('data');
  let expectedStart: number | null = null;
  for (const name of names) {
    const bytes = harness.read(`data/${name}`);
    t.equal(bytes.length, SEGMENT, `segment ${name} is exactly the segment size`);
    const start = Number(name);
    if (expectedStart !== null) t.equal(start, expectedStart, `segment ${name} follows the previous one`);
    expectedStart = start + SEGMENT;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    while (offset + 8 <= SEGMENT) {
      const magic = view.getInt32(offset);
      const sizeBytes = view.getInt32(offset + 4);
      if (magic === 0 && sizeBytes === 0) break;
      if (magic === -1) {
        records.push({ kind: 'blank', pos: start + offset, sizeBytes, magic, index: -1, term: -1, posField: -1, chainCrc: 0, bodyCrc: 0, body: new Uint8Array() });
        break;
      }
      const bodyLength = view.getInt32(offset + 44);
      records.push({
        kind: 'entry',
        pos: start + offset,
        sizeBytes,
        magic,
        index: u64(view, offset + 8),
        term: u64(view, offset + 16),
        posField: u64(view, offset + 24),
        chainCrc: view.getUint32(offset + 36),
        bodyCrc: view.getUint32(offset + 40),
        body: bytes.slice(offset + 48, offset + 48 + bodyLength),
      });
      offset += sizeBytes;
    }
  }
  return records;
}

/** The layout invariants: pos == where written, BLANK rule, dense indexes, CRCs, index records at i*32. */
function checkLayout(t: Test, harness: StoreHarness, store: SegmentedLogStore): void {
  const records = parseDataFiles(t, harness);
  let previousChain: number | null = null;
  let expectedIndex: number | null = null;
  let failures = 0;
  for (const [i, record] of records.entries()) {
    if (record.kind === 'blank') {
      const next = records[i + 1];
      const remaining = SEGMENT - (record.pos % SEGMENT);
      if (record.sizeBytes !== remaining) failures++, t.fail(`BLANK at ${record.pos} has size ${record.sizeBytes}, not the rest ${remaining}`);
      if (next !== undefined && next.sizeBytes + 8 <= remaining) failures++, t.fail(`BLANK at ${record.pos} although entry ${next.index} (${next.sizeBytes} B) fit`);
      continue;
    }
    if (record.posField !== record.pos) failures++, t.fail(`entry ${record.index}: pos field ${record.posField} != written at ${record.pos}`);
    if (record.sizeBytes !== 48 + record.body.length) failures++, t.fail(`entry ${record.index}: size ${record.sizeBytes} != 48 + body`);
    if (expectedIndex !== null && record.index !== expectedIndex) failures++, t.fail(`index ${record.index} after ${expectedIndex - 1}`);
    if ((crc32(record.body) >>> 0) !== record.bodyCrc) failures++, t.fail(`entry ${record.index}: bodyCrc`);
    const remainingAfter = SEGMENT - (record.pos % SEGMENT) - record.sizeBytes;
    if (remainingAfter < 8) failures++, t.fail(`entry ${record.index} leaves ${remainingAfter} < 8 bytes in its segment`);
    if (previousChain !== null) {
      const header = harness.read(`data/${segmentName(record.pos - (record.pos % SEGMENT))}`).subarray(record.pos % SEGMENT, (record.pos % SEGMENT) + 48);
      const chain: number = crc32(header.subarray(40, 48), crc32(header.subarray(0, 36), previousChain)) >>> 0;
      if (chain !== record.chainCrc) failures++, t.fail(`entry ${record.index}: chainCrc`);
    }
    previousChain = record.chainCrc;
    expectedIndex = record.index + 1;
    // Index record i lives at byte i*32 of the index file list.
    const slot = record.index * 32;
    const indexName = segmentName(slot - (slot % INDEX_SEGMENT));
    const indexBytes = harness.read(`index/${indexName}`);
    const view = new DataView(indexBytes.buffer, indexBytes.byteOffset, indexBytes.byteLength);
    const at = slot % INDEX_SEGMENT;
    const fields = [view.getInt32(at), u64(view, at + 4), view.getInt32(at + 12), u64(view, at + 16), u64(view, at + 24)];
    const expected = [record.magic, record.pos, record.sizeBytes, record.index, record.term];
    if (fields.join() !== expected.join()) failures++, t.fail(`index record ${record.index} is ${fields.join()} expected ${expected.join()}`);
  }
  const entries = records.filter((r) => r.kind === 'entry' && r.index > store.beforeBeginIndex);
  if (entries.length > 0) t.equal(entries.at(-1)?.index, store.lastIndex, 'the last record in the files is lastIndex');
  t.equal(failures, 0, `layout invariants hold over ${records.length} records`);
}

function appendSized(store: SegmentedLogStore, seed: number, term: number, sizeList: readonly number[]): void {
  for (const size of sizeList) store.append(term, [bodyOf(seed, store.lastIndex + 1, size)]);
}

function checkBodies(t: Test, store: SegmentedLogStore, seed: number, sizeOf: (index: number) => number, from: number, to: number): void {
  let bad = 0;
  for (let index = from; index <= to; index++) {
    const entry = store.get(index);
    if (entry === null || Buffer.compare(entry.body, bodyOf(seed, index, sizeOf(index))) !== 0) bad++;
  }
  t.equal(bad, 0, `entries ${from}..${to} read back with their bodies`);
}

function readCheckpoint(harness: StoreHarness): Map<string, string> {
  const text = new TextDecoder().decode(harness.read('checkpoint'));
  return new Map(text.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=') as [string, string]));
}

function flipBit(harness: StoreHarness, pos: number, bit = 0x10): void {
  const name = `data/${segmentName(pos - (pos % SEGMENT))}`;
  const original = harness.read(name)[pos % SEGMENT] as number;
  harness.write(name, pos % SEGMENT, Uint8Array.of(original ^ bit));
}

export function storeBehaviour(t: Test, makeHarness: () => StoreHarness): void {
  const withHarness = (name: string, body: (t: Test, harness: StoreHarness) => Promise<void>): void => {
    void t.test(name, async (t) => {
      const harness = makeHarness();
      t.teardown(() => harness.cleanup());
      await body(t, harness);
    });
  };

  withHarness('single appends across segment boundaries: BLANK filler, pos and index invariants', async (t, harness) => {
    const store = harness.open();
    const sizeList = sizes(1, 150);
    const appended = sizeList.map((size, n) => store.append(1, [bodyOf(1, n, size)])[0]);
    t.same(appended.map((a) => a?.index), sizeList.map((_, n) => n), 'indexes are dense from 0');
    t.equal(appended[0]?.pos, 0, 'the first entry is at pos 0');
    await store.whenDurable(store.lastIndex);
    t.equal(store.durableIndex, 149);
    checkBodies(t, store, 1, (i) => sizeList[i] as number, 0, 149);
    for (const a of appended) if (a !== undefined && store.get(a.index)?.pos !== a.pos) t.fail(`pos of ${a.index}`);
    t.ok(harness.list('data').length > 10, `spans ${harness.list('data').length} data segments`);
    t.ok(harness.list('index').length >= 5, `spans ${harness.list('index').length} index segments`);
    await store.close();
    checkLayout(t, harness, store);
  });

  withHarness('batch append of 256 entries spanning many segments', async (t, harness) => {
    const store = harness.open();
    const sizeList = sizes(2, 256, 700);
    const appended = store.append(3, sizeList.map((size, n) => bodyOf(2, n, size)), EntryMagic.Noop);
    t.equal(appended.length, 256);
    t.equal(appended.at(-1)?.index, 255);
    await store.whenDurable(255);
    t.equal(store.get(17)?.magic, EntryMagic.Noop, 'magic kept');
    t.equal(store.get(17)?.term, 3, 'term kept');
    t.equal(store.termAt(17), 3, 'termAt reads the index record');
    t.equal(store.termAt(-1), 0, 'termAt of the sentinel before the first entry');
    t.equal(store.termAt(256), null, 'termAt past the end');
    await store.close();
    checkLayout(t, harness, store);
  });

  withHarness('reopen after a clean close keeps everything and appends continue', async (t, harness) => {
    let store = harness.open();
    const sizeList = sizes(3, 80);
    appendSized(store, 3, 2, sizeList);
    const before = { lastIndex: store.lastIndex, lastTerm: store.lastTerm, endPos: store.endPos };
    await store.close();
    store = harness.open();
    t.same({ lastIndex: store.lastIndex, lastTerm: store.lastTerm, endPos: store.endPos }, before, 'same end after reopen');
    t.equal(store.recoveryReport.cutAtPos, null, 'nothing cut');
    t.equal(store.recoveryReport.startedFrom, 'checkpoint', 'recovery starts at the checkpoint');
    t.equal(store.durableIndex, store.lastIndex, 'recovered entries are durable');
    checkBodies(t, store, 3, (i) => sizeList[i] as number, 0, 79);
    const next = store.append(2, [bodyOf(3, 80, 10)])[0];
    t.equal(next?.index, 80);
    t.equal(next?.pos, before.endPos);
    await store.close();
    checkLayout(t, harness, store);
  });

  withHarness('group commit: one flush covers every append waiting in the same turn', async (t, harness) => {
    const store = harness.open();
    store.append(1, [bodyOf(4, 0, 10)]);
    await store.whenDurable(0);
    await new Promise((resolve) => setImmediate(resolve));
    const flushesBefore = harness.flushCalls();
    const waits: Promise<void>[] = [];
    for (let n = 1; n <= 40; n++) waits.push(store.whenDurable(store.append(1, [bodyOf(4, n, 10)])[0]?.index as number));
    t.equal(store.durableIndex, 0, 'nothing durable before the turn ends');
    await Promise.all(waits);
    t.equal(store.durableIndex, 40);
    t.equal(harness.flushCalls() - flushesBefore, 1, '40 appends, one flush');
    await store.close();
  });

  withHarness('flush async: a timer makes appends durable', async (t, harness) => {
    const store = harness.open({ flush: { kind: 'async', intervalMs: 20 } });
    const startMs = Date.now();
    store.append(1, [bodyOf(5, 0, 100), bodyOf(5, 1, 100)]);
    await new Promise((resolve) => setImmediate(resolve));
    t.equal(store.durableIndex, -1, 'not durable right after the turn');
    await store.whenDurable(1);
    t.equal(store.durableIndex, 1);
    t.ok(Date.now() - startMs >= 10, 'durability waited for the timer');
    await store.close();
  });

  withHarness('truncate inside a segment, at a segment boundary and across segments', async (t, harness) => {
    let store = harness.open();
    const sizeList = sizes(6, 120);
    appendSized(store, 6, 1, sizeList);
    await store.whenDurable(store.lastIndex);
    // Mid-segment: the new end is right after entry 99.
    const end99 = (store.get(99)?.pos as number) + (store.get(99)?.sizeBytes as number);
    store.truncate(100);
    t.equal(store.lastIndex, 99);
    t.equal(store.endPos, end99, 'end right after entry 99');
    t.equal(store.get(100), null);
    // At a boundary: an entry that starts a segment after a BLANK.
    let boundary = -1;
    for (let index = 30; index <= 90; index++) if ((store.get(index)?.pos as number) % SEGMENT === 0) boundary = index;
    t.ok(boundary > 0, `entry ${boundary} starts a segment`);
    const previous = store.get(boundary - 1);
    const boundaryPos = store.get(boundary)?.pos as number;
    store.truncate(boundary);
    t.equal(store.endPos, (previous?.pos as number) + (previous?.sizeBytes as number), 'end before the BLANK, not at the segment start');
    t.notOk(harness.list('data').some((name) => Number(name) > boundaryPos), 'later segments deleted');
    // A larger entry than fits where the BLANK was goes to the next segment again; a small one stays.
    const small = store.append(2, [bodyOf(7, boundary, 0)])[0];
    t.equal(small?.pos, store.endPos - 48, 'a small entry takes the freed room');
    // Across segments.
    const first = store.get(20)?.pos as number;
    store.truncate(20);
    t.equal(store.lastIndex, 19);
    t.notOk(harness.list('data').some((name) => Number(name) > first), 'segments after the cut deleted');
    t.ok(harness.list('index').every((name) => Number(name) <= 20 * 32), 'index segments after the cut deleted');
    appendSized(store, 8, 3, [500, 600, 700]);
    await store.whenDurable(store.lastIndex);
    await store.close();
    checkLayout(t, harness, store);
    store = harness.open();
    t.equal(store.lastIndex, 22, 'reopen sees the truncated and re-extended log');
    t.equal(store.recoveryReport.cutAtPos, null, 'no stale record after the cuts confuses recovery');
    checkBodies(t, store, 6, (i) => sizeList[i] as number, 0, 19);
    t.equal(store.get(20)?.term, 3);
    await store.close();
  });

  withHarness('truncate rejects waiters of removed entries and its zeroing is durable before later appends', async (t, harness) => {
    const store = harness.open();
    appendSized(store, 9, 1, [10, 10]);
    await store.whenDurable(1);
    store.append(1, [bodyOf(9, 2, 10), bodyOf(9, 3, 10)]);
    const removed = store.whenDurable(3);
    store.truncate(2);
    await t.rejects(removed, StoreTruncatedError);
    const flushes = harness.flushCalls();
    store.append(2, [bodyOf(9, 2, 20)]);
    await store.whenDurable(2);
    t.ok(harness.flushCalls() > flushes, 'the next group commit flushed');
    store.simulateCrash();
    const reopened = harness.open();
    t.equal(reopened.lastIndex, 2);
    t.equal(reopened.get(2)?.term, 2, 'the entry written after the truncate survives');
    await reopened.close();
  });

  withHarness('resetPrefix inside the log, at its end and beyond it', async (t, harness) => {
    let store = harness.open();
    const sizeList = sizes(10, 100);
    appendSized(store, 10, 1, sizeList);
    const pos61 = store.get(61)?.pos as number;
    store.resetPrefix(60, 1);
    t.equal(store.beforeBeginIndex, 60);
    t.equal(store.beforeBeginTerm, 1);
    t.equal(store.get(60), null);
    t.ok(store.get(61) !== null);
    t.equal(harness.list('data')[0], segmentName(pos61 - (pos61 % SEGMENT)), 'whole earlier data segments deleted');
    t.equal(Number(harness.list('index')[0]), 61 * 32 - ((61 * 32) % INDEX_SEGMENT), 'whole earlier index segments deleted');
    await store.close();
    store = harness.open();
    t.equal(store.beforeBeginIndex, 60, 'prefix persisted');
    t.equal(store.lastIndex, 99);
    checkBodies(t, store, 10, (i) => sizeList[i] as number, 61, 99);
    store.resetPrefix(99, 1);
    t.equal(store.lastIndex, 99, 'reset at the end keeps lastIndex');
    t.equal(store.get(99), null);
    store.resetPrefix(500, 4);
    t.equal(store.lastIndex, 500);
    t.equal(store.lastTerm, 4);
    t.equal(store.append(4, [bodyOf(10, 501, 30)])[0]?.index, 501, 'appends continue after the reset');
    await store.close();
    store = harness.open();
    t.same([store.beforeBeginIndex, store.beforeBeginTerm, store.lastIndex], [500, 4, 501], 'reset beyond the end persisted');
    t.equal(store.get(501)?.body.length, 30);
    await store.close();
  });

  withHarness('appendRaw: a follower copying the leader has byte-identical files', async (t, harness) => {
    const leader = harness.open();
    const followerHarness = makeHarness();
    t.teardown(() => followerHarness.cleanup());
    const follower = followerHarness.open();
    const prng = new Prng(11);
    for (let term = 1; term <= 3; term++) {
      for (let k = 0; k < 40; k++) leader.append(term, [bodyOf(11, leader.lastIndex + 1, prng.intBetween(0, 900))], prng.chance(0.1) ? EntryMagic.Noop : EntryMagic.Normal);
    }
    // The follower has a divergent suffix of its own first.
    for (let k = 0; k < 70; k++) follower.append(1, [bodyOf(11, k, prng.intBetween(0, 900))]);
    let common = 0;
    while (common <= follower.lastIndex && Buffer.compare(follower.get(common)?.body ?? new Uint8Array(1), leader.get(common)?.body ?? new Uint8Array()) === 0) common++;
    follower.truncate(common);
    while (follower.lastIndex < leader.lastIndex) {
      const raw = leader.readRaw(follower.lastIndex + 1, prng.intBetween(1, 6000));
      t.ok(raw !== null);
      if (raw === null) break;
      follower.appendRaw(raw);
    }
    await leader.close();
    await follower.close();
    t.same(followerHarness.list('data'), harness.list('data'), 'same data segment names');
    let differing = 0;
    for (const name of harness.list('data')) if (Buffer.compare(harness.read(`data/${name}`), followerHarness.read(`data/${name}`)) !== 0) differing++;
    for (const name of harness.list('index')) if (Buffer.compare(harness.read(`index/${name}`), followerHarness.read(`index/${name}`)) !== 0) differing++;
    t.equal(differing, 0, 'data and index files are byte-identical');
    checkLayout(t, followerHarness, follower);
  });

  withHarness('appendRaw verifies before writing and rejects bad records', async (t, harness) => {
    const leader = harness.open();
    const followerHarness = makeHarness();
    t.teardown(() => followerHarness.cleanup());
    const follower = followerHarness.open();
    appendSized(leader, 12, 1, [100, 200, 300]);
    const raw = leader.readRaw(0, 10_000);
    t.ok(raw !== null && raw.lastIndex === 2, 'one read returns the three records');
    if (raw === null) return;
    const flipped = raw.bytes.slice();
    flipped[48 + 100 + 48 + 7] = (flipped[48 + 100 + 48 + 7] as number) ^ 1;
    t.throws(() => follower.appendRaw({ ...raw, bytes: flipped }), StoreRejectedRecordError, 'a flipped body bit is rejected');
    t.equal(follower.lastIndex, -1, 'nothing written');
    t.throws(() => follower.appendRaw({ ...raw, firstIndex: 1, lastIndex: 3 }), StoreRejectedRecordError, 'wrong first index');
    t.throws(() => follower.appendRaw({ ...raw, pos: 48 }), StoreRejectedRecordError, 'wrong pos');
    follower.appendRaw(raw);
    t.equal(follower.lastIndex, 2);
    t.throws(() => follower.appendRaw(raw), StoreRejectedRecordError, 'a repeat is rejected');
    await leader.close();
    await follower.close();
  });

  withHarness('appendRaw after a prefix installed from elsewhere starts at the leader pos', async (t, harness) => {
    const leader = harness.open();
    const followerHarness = makeHarness();
    t.teardown(() => followerHarness.cleanup());
    const follower = followerHarness.open();
    appendSized(leader, 13, 1, sizes(13, 60));
    appendSized(follower, 14, 1, [50, 60]);
    follower.resetPrefix(40, 1);
    while (follower.lastIndex < leader.lastIndex) {
      const raw = leader.readRaw(follower.lastIndex + 1, 3000);
      if (raw === null) break;
      follower.appendRaw(raw);
    }
    t.equal(follower.lastIndex, 59);
    for (const index of [41, 50, 59]) t.same(follower.get(index)?.pos, leader.get(index)?.pos, `entry ${index} at the leader's pos`);
    await follower.close();
    const reopened = followerHarness.open();
    t.equal(reopened.beforeBeginIndex, 40);
    t.equal(reopened.lastIndex, 59);
    t.same(reopened.get(45)?.body, leader.get(45)?.body);
    await reopened.close();
    await leader.close();
  });

  /**
   * A store that "died" with entries 0..durableCount-1 durable (the checkpoint covers them) and
   * entries up to lastCount-1 written but never flushed, as after a SIGKILL.
   */
  const crashedAfterUnflushedAppends = async (harness: StoreHarness, seed: number, durableCount: number, lastCount: number, maxBodyBytes: number): Promise<{ sizeList: number[]; checkpointIndex: number; lastIndex: number }> => {
    const store = harness.open();
    const sizeList = sizes(seed, lastCount, maxBodyBytes);
    appendSized(store, seed, 1, sizeList.slice(0, durableCount));
    await store.whenDurable(store.lastIndex);
    appendSized(store, seed, 1, sizeList.slice(durableCount));
    const lastIndex = store.lastIndex;
    store.simulateCrash();
    return { sizeList, checkpointIndex: Number(readCheckpoint(harness).get('verifiedIndex')), lastIndex };
  };

  const entryAt = (harness: StoreHarness, index: number): { pos: number; sizeBytes: number; bodyCrc: number } => {
    const record = parseDataFiles(new Proxy({} as Test, { get: () => () => undefined }), harness).find((r) => r.kind === 'entry' && r.index === index);
    if (record === undefined) throw new Error(`entry ${index} not in the files`);
    return record;
  };

  withHarness('recovery cuts a torn tail at any cut point to a verified prefix', async (t, harness) => {
    const crashed = await crashedAfterUnflushedAppends(harness, 15, 20, 30, 600);
    t.equal(crashed.checkpointIndex, 19, 'the checkpoint covers the durable entries only');
    const last = entryAt(harness, 29);
    const name = `data/${segmentName(last.pos - (last.pos % SEGMENT))}`;
    const original = harness.read(name);
    for (const cut of [4, 20, 47, 48, 60, last.sizeBytes - 1]) {
      // A torn write: bytes from the cut point to the record end never reached the file (zeros).
      const torn = original.slice();
      torn.fill(0, (last.pos % SEGMENT) + cut, (last.pos % SEGMENT) + last.sizeBytes);
      harness.write(name, 0, torn);
      const store = harness.open();
      t.equal(store.lastIndex, 28, `cut at +${cut}: the log ends at entry 28`);
      t.equal(store.recoveryReport.cutAtPos, last.pos, `cut at +${cut}: cut reported at the torn record`);
      t.ok(store.get(28) !== null);
      store.simulateCrash();
      harness.write(name, 0, original);
    }
    const store = harness.open();
    t.equal(store.lastIndex, 29, 'with the record whole again, nothing is cut');
    checkBodies(t, store, 15, (i) => crashed.sizeList[i] as number, 0, 29);
    store.append(2, [bodyOf(15, 30, 10)]);
    await store.close();
    checkLayout(t, harness, store);
  });

  withHarness('a bit flip in the last record is cut; one in a middle record refuses to open', async (t, harness) => {
    await crashedAfterUnflushedAppends(harness, 16, 10, 40, 300);
    const last = entryAt(harness, 39);
    const middle = entryAt(harness, 25);
    const bitPos = middle.pos + 48 + 3;
    flipBit(harness, bitPos);
    const file = `${harness.nodeDir}/data/${segmentName(middle.pos - (middle.pos % SEGMENT))}`;
    const error = (() => {
      try {
        harness.open().simulateCrash();
        return null;
      } catch (caught) {
        return caught;
      }
    })();
    t.ok(error instanceof StoreCorruptionError, 'refuses to open');
    if (!(error instanceof StoreCorruptionError)) return;
    t.equal(error.filePath, file, 'names the file');
    t.equal(error.fileOffsetBytes, middle.pos % SEGMENT, 'names the offset of the record');
    t.equal(error.found, `0x${middle.bodyCrc.toString(16).padStart(8, '0')}`, 'found: the stored bodyCrc');
    t.not(error.expected, error.found);
    t.match(error.message, new RegExp(`${file}.*offset ${middle.pos % SEGMENT}.*bodyCrc of entry 25.*expected 0x[0-9a-f]{8}, found 0x[0-9a-f]{8}`));
    t.match(error.message, /entry 26 .* still verifies/);
    // Header corruption in the middle is refused too.
    flipBit(harness, bitPos);
    flipBit(harness, middle.pos + 20, 0x01);
    t.throws(() => harness.open(), StoreCorruptionError, 'a flipped term in the middle is refused');
    flipBit(harness, middle.pos + 20, 0x01);
    // Damage to a record the checkpoint vouches for is refused, even at the checkpoint itself.
    const vouched = entryAt(harness, 9);
    flipBit(harness, vouched.pos + 50);
    t.throws(() => harness.open(), /bodyCrc of entry 9.*recorded as durable in the checkpoint/, 'checkpointed record damaged');
    flipBit(harness, vouched.pos + 50);
    // Finally the last record, which no later record vouches for: a torn tail, cut.
    flipBit(harness, last.pos + 48 + Math.floor((last.sizeBytes - 48) / 2));
    const store = harness.open();
    t.equal(store.lastIndex, 38, 'flipped last record cut');
    t.match(store.recoveryReport.cutReason, /bodyCrc of entry 39/);
    await store.close();
  });

  withHarness('a lagging index tail is rebuilt from the data', async (t, harness) => {
    const crashed = await crashedAfterUnflushedAppends(harness, 17, 10, 60, 200);
    // The index is not flushed on the append path: lose every record after the checkpoint.
    let zeroed = 0;
    for (let index = crashed.checkpointIndex + 1; index <= 59; index++) {
      const slot = index * 32;
      const name = `index/${segmentName(slot - (slot % INDEX_SEGMENT))}`;
      if (!harness.exists(name)) continue;
      harness.write(name, slot % INDEX_SEGMENT, new Uint8Array(32));
      zeroed++;
    }
    t.equal(zeroed, 50, '50 index records lost');
    const store = harness.open();
    t.equal(store.lastIndex, 59, 'no entry lost');
    t.equal(store.recoveryReport.rebuiltIndexRecords, 50, 'the index tail rebuilt');
    checkBodies(t, store, 17, (i) => crashed.sizeList[i] as number, 0, 59);
    await store.close();
    checkLayout(t, harness, store);
  });

  withHarness('retention deletes whole old segments by age and by disk usage, never needed ones', async (t, harness) => {
    let store = harness.open();
    const sizeList = sizes(18, 100, 800);
    appendSized(store, 18, 1, sizeList);
    await store.whenDurable(store.lastIndex);
    const names = harness.list('data');
    t.ok(names.length >= 8, `${names.length} data segments`);
    const nowMs = Date.now();
    for (const name of names.slice(0, 4)) harness.setModifiedTimeMs(`data/${name}`, nowMs - 3_600_000);
    // Keep everything from the first entry of the third segment: only segments 0 and 1 may go.
    const thirdStart = Number(names[2]);
    let keepFromIndex = 0;
    while ((store.get(keepFromIndex)?.pos as number) < thirdStart) keepFromIndex++;
    const run = store.applyRetention({ fileReservedMs: 60_000, forceClean: false, keepFromIndex, nowMs });
    t.ok(run !== null, 'a run deleted something');
    if (run === null) return;
    t.same(run.deleted.filter((r) => r.startsWith('data/')), [`data/${names[0]}`, `data/${names[1]}`], 'the two expired, unneeded segments');
    t.equal(run.dataSegmentsDeleted, 2);
    t.equal(store.beforeBeginIndex, keepFromIndex - 1, 'the log start moved before the files are unlinked');
    t.equal(store.retainedRange().firstIndex, keepFromIndex);
    t.equal(store.retainedRange().firstPos, thirdStart, 'the first kept entry is the first of the third segment');
    t.equal(store.applyRetention({ fileReservedMs: 0, forceClean: true, keepFromIndex: store.lastIndex + 1, nowMs }), null, 'one run at a time');
    await run.filesRemoved;
    t.equal(run.bytesDeleted, 2 * SEGMENT + run.deleted.filter((r) => r.startsWith('index/')).length * INDEX_SEGMENT, 'bytes of the files deleted');
    t.notOk(harness.list('data').includes(names[0] as string), 'unlinked');
    t.equal(store.get(keepFromIndex - 1), null);
    t.ok(store.get(keepFromIndex) !== null);
    t.ok(harness.list('index').every((name) => Number(name) + INDEX_SEGMENT > keepFromIndex * 32), 'index segments trimmed');
    // Expired nothing: the rest is recent; only forced cleaning (the disk is over its ratio) goes on.
    t.equal(store.applyRetention({ fileReservedMs: 3_600_000_000, forceClean: false, keepFromIndex: store.lastIndex + 1, nowMs }), null, 'nothing expired');
    const forced = store.applyRetention({ fileReservedMs: 3_600_000_000, forceClean: true, keepFromIndex: store.lastIndex + 1, nowMs, maxSegmentsPerRun: 3 });
    t.equal(forced?.dataSegmentsDeleted, 3, 'force clean deletes regardless of age, at most maxSegmentsPerRun');
    await forced?.filesRemoved;
    for (;;) {
      const more = store.applyRetention({ fileReservedMs: 3_600_000_000, forceClean: true, keepFromIndex: store.lastIndex + 1, nowMs });
      if (more === null) break;
      await more.filesRemoved;
    }
    t.ok(harness.list('data').includes(segmentName(store.endPos - (store.endPos % SEGMENT))), 'the active segment is kept');
    const firstKept = store.beforeBeginIndex + 1;
    await store.close();
    store = harness.open();
    t.equal(store.beforeBeginIndex, firstKept - 1, 'the new start persisted');
    checkBodies(t, store, 18, (i) => sizeList[i] as number, firstKept, 99);
    await store.close();
  });

  withHarness('disk full on a new segment fails the whole append and leaves the log readable', async (t, harness) => {
    const store = harness.open();
    await new Promise((resolve) => setImmediate(resolve));
    harness.failSegmentCreates = true;
    let failure: unknown = null;
    let appendedBytes = 0;
    try {
      for (let n = 0; n < 200; n++) {
        store.append(1, [bodyOf(19, n, 500), bodyOf(19, n + 1000, 500)]);
        appendedBytes += 1096;
      }
    } catch (error) {
      failure = error;
    }
    t.ok(failure instanceof StoreDiskFullError, 'StoreDiskFullError');
    t.match(String(failure), /disk full: cannot allocate segment .*data\/\d{20}/, 'names the segment file');
    t.ok(appendedBytes >= SEGMENT, 'the prepared segment was used first');
    const lastIndex = store.lastIndex;
    t.equal(lastIndex % 2, 1, 'no half batch: batches are all or nothing');
    t.ok(store.get(lastIndex) !== null, 'still readable');
    await store.whenDurable(lastIndex);
    harness.failSegmentCreates = false;
    store.append(1, [bodyOf(19, 5000, 500)]);
    t.equal(store.lastIndex, lastIndex + 1, 'appends resume when space is back');
    await store.close();
  });

  withHarness('one writer at a time: a second open is refused until the first closes or dies', async (t, harness) => {
    const first = harness.open();
    t.throws(() => harness.open(), StoreLockedError, 'second writer refused');
    await first.close();
    const second = harness.open();
    second.simulateCrash();
    const third = harness.open();
    t.pass('a crashed writer leaves a lock that the next open takes over');
    await third.close();
  });

  withHarness('readRaw returns whole records of one segment, at least one, up to maxBytes', async (t, harness) => {
    const store = harness.open();
    appendSized(store, 20, 1, sizes(20, 40, 700));
    const one = store.readRaw(3, 1);
    t.same([one?.firstIndex, one?.lastIndex, one?.pos], [3, 3, store.get(3)?.pos], 'at least one record even if larger than maxBytes');
    t.equal(one?.bytes.length, store.get(3)?.sizeBytes);
    let index = 0;
    let batches = 0;
    while (index <= store.lastIndex) {
      const raw = store.readRaw(index, 3000);
      if (raw === null) break;
      const segmentOf = (pos: number): number => pos - (pos % SEGMENT);
      if (segmentOf(raw.pos) !== segmentOf(raw.pos + raw.bytes.length - 1)) t.fail(`records ${raw.firstIndex}..${raw.lastIndex} cross a segment`);
      if (raw.bytes.length > 3000 && raw.lastIndex !== raw.firstIndex) t.fail('more than maxBytes');
      index = raw.lastIndex + 1;
      batches++;
    }
    t.equal(index, 40, `all records read in ${batches} reads`);
    t.equal(store.readRaw(40, 1000), null, 'nothing past the end');
    await store.close();
  });

  withHarness('a failed flush fails the waiters and stops the store until it is reopened', async (t, harness) => {
    let store = harness.open();
    appendSized(store, 21, 1, [100, 100]);
    await store.whenDurable(1);
    harness.failFlushes = true;
    appendSized(store, 21, 1, [100]);
    await t.rejects(store.whenDurable(2), StoreFailedError, 'the waiter learns the flush failed');
    t.throws(() => store.append(1, [new Uint8Array(1)]), StoreFailedError, 'no more writes');
    t.equal(store.get(1)?.body.length, 100, 'reads still work');
    await t.rejects(store.close(), StoreFailedError, 'close reports the failure');
    harness.failFlushes = false;
    store = harness.open();
    t.ok(store.lastIndex >= 1, 'reopen recovers what is on disk');
    await store.close();
  });

  withHarness('term and vote round trip', async (t, harness) => {
    let store = harness.open();
    t.same(store.loadTermVote(), { term: 0, votedFor: null }, 'initially term 0, no vote');
    store.saveTermVote({ term: 5, votedFor: 'n1' });
    t.same(store.loadTermVote(), { term: 5, votedFor: 'n1' });
    await store.close();
    store = harness.open();
    t.same(store.loadTermVote(), { term: 5, votedFor: 'n1' }, 'survives reopen');
    t.match(new TextDecoder().decode(harness.read('currterm')), /currTerm=5\nvoteLeader=n1/, 'DLedger property names');
    store.saveTermVote({ term: 6, votedFor: null });
    t.same(store.loadTermVote(), { term: 6, votedFor: null });
    t.throws(() => store.saveTermVote({ term: 7, votedFor: 'a\nb' }), RangeError);
    await store.close();
  });
}
