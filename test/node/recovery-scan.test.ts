// Recovery scans verifying data segments in parallel on the I/O pool (threads=workers, issue 13):
// the store opened with the pool's scans (StoreOptions.recoveryScans) recovers exactly what the
// serial scan recovers. Method: one log of 8 segments written by the store, its checkpoint removed
// (recovery then verifies from the log start), copied; one copy opened serially, the other with
// the scans from a real IoPool (piscina threads mapping the files read-only); compared: the
// recovered end, the report, and every file afterwards. Then the same with a corrupted record in
// a middle segment (the same refusal, same file, offset and message) and with a torn tail (the same
// cut, the same files), and with index records missing (the same records rebuilt).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { IoPool } from '../../src/node/io-pool.js';
import { scanSegmentsForRecovery } from '../../src/node/recovery-scan.js';
import { checkpointPath } from '../../src/store/checkpoint.js';
import { StoreCorruptionError } from '../../src/store/errors.js';
import { openLogStore } from '../../src/store/open.js';
import type { SegmentScan } from '../../src/store/segment-scan.js';
import { planSegmentScans } from '../../src/store/segment-scan-plan.js';
import type { SegmentedLogStore } from '../../src/store/segmented-log-store.js';
import { filesUnder } from './data-files.js';

const SEGMENT_BYTES = 64 * 1024;
const SIZES = { dataBytes: SEGMENT_BYTES, indexBytes: 4096 };
const options = (nodeDir: string, recoveryScans?: ReadonlyMap<number, SegmentScan>) => ({
  nodeDir,
  dataSegmentSizeBytes: SEGMENT_BYTES,
  indexSegmentSizeBytes: 4096,
  maxEntryBodyBytes: 8 * 1024,
  flush: { kind: 'sync' as const },
  ...(recoveryScans === undefined ? {} : { recoveryScans }),
});

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'recovery-scan-'));
const pool = new IoPool();
t.teardown(async () => {
  await pool.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** A log of 8 full segments + a partial one, entries of varied sizes, no checkpoint left. */
async function writeLog(nodeDir: string): Promise<Array<{ index: number; pos: number }>> {
  const store = openLogStore(options(nodeDir));
  const entries: Array<{ index: number; pos: number }> = [];
  let i = 0;
  while (store.endPos < 8.5 * SEGMENT_BYTES) {
    const bodies = Array.from({ length: 7 }, (_, j) => new Uint8Array(200 + ((i * 7 + j) % 23) * 37).fill((i + j) & 0xff));
    entries.push(...store.append(1 + Math.floor(i / 40), bodies));
    await store.whenDurable(store.lastIndex);
    i++;
  }
  await store.close();
  fs.rmSync(checkpointPath(nodeDir));
  return entries;
}

function copyOf(from: string, name: string): string {
  const to = path.join(root, name);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

type Opened = { store: SegmentedLogStore } | { error: unknown };
function open(nodeDir: string, scans?: ReadonlyMap<number, SegmentScan>): Opened {
  try {
    return { store: openLogStore(options(nodeDir, scans)) };
  } catch (error) {
    return { error };
  }
}

async function scansFor(nodeDir: string): Promise<ReadonlyMap<number, SegmentScan>> {
  const scans = await scanSegmentsForRecovery(pool, nodeDir, SIZES, () => undefined);
  if (scans === undefined) throw new Error('no parallel scan ran');
  return scans;
}

const base = path.join(root, 'base');
const entries = await writeLog(base);

/**
 * Two copies of the base log, each damaged the same way; the plan and the pool's scans of one
 * (planned before any open: an open prepares a segment ahead); both opened, serially and with the scans.
 */
async function openBoth(name: string, damage: (dir: string) => void = () => undefined) {
  const serialDir = copyOf(base, `${name}-serial`);
  const poolDir = copyOf(base, `${name}-pool`);
  for (const dir of [serialDir, poolDir]) damage(dir);
  const planned = planSegmentScans(poolDir, SEGMENT_BYTES, 4096);
  const scans = await scansFor(poolDir);
  return { serialDir, poolDir, planned, scans, serial: open(serialDir), parallel: open(poolDir, scans) };
}

/** Closes both stores; they left the same files, byte for byte. */
async function sameFilesAfterClose(t: Test, serialDir: string, poolDir: string, serial: SegmentedLogStore, parallel: SegmentedLogStore): Promise<void> {
  await serial.close();
  await parallel.close();
  const serialFiles = filesUnder(serialDir);
  const parallelFiles = filesUnder(poolDir);
  t.same([...parallelFiles.keys()], [...serialFiles.keys()], 'same files');
  for (const [name, bytes] of serialFiles) if (!bytes.equals(parallelFiles.get(name)!)) t.fail(`${name} differs`);
}

t.test('a clean log: same recovery, same files, most records verified by the pool', async (t) => {
  const { serialDir, poolDir, planned, scans, serial, parallel } = await openBoth('clean');
  t.equal(planned.length, 10, 'every data segment is planned (no checkpoint: from the log start): 9 with entries, the one prepared ahead');
  t.same([...scans.values()].map((scan) => scan.verifiedRecords > 0), [...Array(9).fill(true), false], 'each of the 9 verified records, the empty one none');
  if (!('store' in serial) || !('store' in parallel)) return t.fail(`open failed: ${String('error' in serial ? serial.error : '')} ${String('error' in parallel ? parallel.error : '')}`);
  t.equal(parallel.store.lastIndex, entries.at(-1)!.index, 'the whole log recovered');
  t.same([parallel.store.lastIndex, parallel.store.lastTerm, parallel.store.endPos], [serial.store.lastIndex, serial.store.lastTerm, serial.store.endPos], 'same last index, term and end');
  const { verifiedByScans, ...parallelReport } = parallel.store.recoveryReport;
  const { verifiedByScans: serialByScans, ...serialReport } = serial.store.recoveryReport;
  t.same(parallelReport, serialReport, 'same recovery report');
  t.equal(serialByScans, 0, 'the serial open checked every record itself');
  // Every record but the first of each of the 9 segments.
  t.equal(verifiedByScans, entries.length - 9, `the pool verified ${verifiedByScans} of ${parallelReport.verifiedEntries} records`);
  t.same(Buffer.from(parallel.store.get(entries[500]!.index)!.body), Buffer.from(serial.store.get(entries[500]!.index)!.body), 'reads agree');
  await sameFilesAfterClose(t, serialDir, poolDir, serial.store, parallel.store);
});

t.test('a corrupted record in a middle segment: the same refusal', async (t) => {
  // An entry in the middle of the 4th segment, not its first: the pool's scan is the one to find it.
  const victim = entries.find((entry) => entry.pos > 3 * SEGMENT_BYTES + SEGMENT_BYTES / 2)!;
  const segmentStart = Math.floor(victim.pos / SEGMENT_BYTES) * SEGMENT_BYTES;
  const { serialDir, poolDir, scans, serial, parallel } = await openBoth('corrupt', (dir) => {
    const file = path.join(dir, 'data', String(segmentStart).padStart(20, '0'));
    const bytes = fs.readFileSync(file);
    bytes[victim.pos - segmentStart + 48 + 3]! ^= 0x40;
    fs.writeFileSync(file, bytes);
  });
  const scan = scans.get(segmentStart)!;
  t.equal(segmentStart + scan.verifiedEndOffsetBytes, victim.pos, 'the pool\'s scan of that segment stopped at the corrupted record');
  if (!('error' in serial) || !('error' in parallel)) return t.fail('a store opened over a corrupted middle record');
  t.ok(serial.error instanceof StoreCorruptionError && parallel.error instanceof StoreCorruptionError, 'both refuse with StoreCorruptionError');
  const strip = (error: unknown): string => String((error as Error).message).replaceAll(serialDir, '<dir>').replaceAll(poolDir, '<dir>');
  t.equal(strip(parallel.error), strip(serial.error), 'the same file, offset, expected and found');
  t.match(strip(serial.error), new RegExp(`bodyCrc of entry ${victim.index}`), `names entry ${victim.index}`);
  t.match(strip(serial.error), /not a torn tail/, 'later records still verify: refused, not cut');
});

t.test('index records missing in a middle segment: the same rebuilt records, the same files', async (t) => {
  const victims = entries.filter((entry) => entry.pos > 5 * SEGMENT_BYTES + 1000).slice(0, 3);
  const { serialDir, poolDir, scans, serial, parallel } = await openBoth('index', (dir) => {
    for (const victim of victims) {
      const slotPos = victim.index * 32;
      const file = path.join(dir, 'index', String(slotPos - (slotPos % 4096)).padStart(20, '0'));
      const bytes = fs.readFileSync(file);
      bytes.fill(0, slotPos % 4096, (slotPos % 4096) + 32);
      fs.writeFileSync(file, bytes);
    }
  });
  t.equal(scans.get(5 * SEGMENT_BYTES)!.indexMismatches, 3, 'the pool saw the 3 missing index records');
  if (!('store' in serial) || !('store' in parallel)) return t.fail('open failed');
  t.equal(serial.store.recoveryReport.rebuiltIndexRecords, 3, 'the serial open rebuilt the 3');
  t.equal(parallel.store.recoveryReport.rebuiltIndexRecords, 3, 'so did the one with the scans');
  t.equal(parallel.store.get(victims[1]!.index)?.pos, victims[1]!.pos, 'the rebuilt record reads');
  await sameFilesAfterClose(t, serialDir, poolDir, serial.store, parallel.store);
});

t.test('a torn tail: the same cut, the same files', async (t) => {
  const last = entries.at(-1)!;
  const segmentStart = Math.floor(last.pos / SEGMENT_BYTES) * SEGMENT_BYTES;
  const { serialDir, poolDir, serial, parallel } = await openBoth('torn', (dir) => {
    const file = path.join(dir, 'data', String(segmentStart).padStart(20, '0'));
    const bytes = fs.readFileSync(file);
    bytes.fill(0, last.pos - segmentStart + 60, last.pos - segmentStart + 100);
    fs.writeFileSync(file, bytes);
  });
  if (!('store' in serial) || !('store' in parallel)) return t.fail('a torn tail refused');
  t.equal(serial.store.recoveryReport.cutAtPos, last.pos, 'cut at the torn record');
  t.equal(parallel.store.recoveryReport.cutAtPos, serial.store.recoveryReport.cutAtPos, 'the same cut');
  t.equal(parallel.store.recoveryReport.cutReason, serial.store.recoveryReport.cutReason, 'the same reason');
  t.equal(parallel.store.lastIndex, last.index - 1, 'the log ends before the torn entry');
  await sameFilesAfterClose(t, serialDir, poolDir, serial.store, parallel.store);
});

t.test('the usual start (a checkpoint one segment behind) runs the serial scan alone', async (t) => {
  const dir = path.join(root, 'checkpointed');
  const store = openLogStore(options(dir));
  for (let i = 0; i < 30; i++) store.append(1, Array.from({ length: 20 }, () => new Uint8Array(500)));
  await store.whenDurable(store.lastIndex);
  await store.close();
  t.equal(planSegmentScans(dir, SEGMENT_BYTES, 4096).length, 2, 'two segments to verify: the checkpoint\'s (from its entry on) and the one prepared ahead');
  t.equal(await scanSegmentsForRecovery(pool, dir, SIZES, () => undefined), undefined, 'no pool scan');
});
