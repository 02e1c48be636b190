// `npm run bench -- recovery [--mib 300] [--segment-mib 32] [--rounds 3]`
//
// Start time of a store whose recovery verifies the whole log (no checkpoint: the case the parallel
// scan is for; with a checkpoint a start verifies about one segment either way): a log of --mib
// MiB of 1 KiB entries written by the store, its checkpoint removed before each open; then, in
// interleaved rounds, (a) serial: openLogStore alone, as threads=inline starts; (b) pool: the
// segments verified on the I/O pool (src/node/recovery-scan.ts, threads=workers; the pool and its
// first thread already up, as in a node, which starts it before the store) then openLogStore with
// the scans. Page cache warm (the log was just written, every round reads the same files): what
// is measured is CPU (CRCs) and mapping faults, not the disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoPool } from '../src/node/io-pool.js';
import { scanSegmentsForRecovery } from '../src/node/recovery-scan.js';
import { checkpointPath } from '../src/store/checkpoint.js';
import { openLogStore } from '../src/store/index.js';
import type { SegmentScan } from '../src/store/segment-scan.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable } from './lib/table.js';

const ENTRY_BYTES = 1024;

function flag(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number, got ${args[at + 1]}`);
  return value;
}

export async function run(args: readonly string[]): Promise<void> {
  const logMiB = flag(args, '--mib', 300);
  const segmentMiB = flag(args, '--segment-mib', 32);
  const rounds = flag(args, '--rounds', 3);
  const dir = mkdtempSync(join(tmpdir(), 'bench-recovery-'));
  const nodeDir = join(dir, 'node');
  const options = (recoveryScans?: ReadonlyMap<number, SegmentScan>) => ({
    nodeDir,
    dataSegmentSizeBytes: segmentMiB * 1024 * 1024,
    indexSegmentSizeBytes: 4 * 1024 * 1024,
    maxEntryBodyBytes: 64 * 1024,
    flush: { kind: 'async' as const, intervalMs: 100 },
    ...(recoveryScans === undefined ? {} : { recoveryScans }),
  });
  const pool = new IoPool();
  try {
    const writer = openLogStore(options());
    const batch = Array.from({ length: 256 }, (_, i) => new Uint8Array(ENTRY_BYTES).fill(i));
    while (writer.endPos < logMiB * 1024 * 1024) writer.append(1, batch);
    writer.flush();
    const entries = writer.lastIndex + 1;
    await writer.close();
    console.log(`log: ${entries} entries of ${ENTRY_BYTES} B, ${fixed(logMiB)} MiB in ${segmentMiB} MiB segments; ${availableParallelism()} cores`);
    // Warm the pool's threads once (a node's pool has run nothing either; its first thread is up).
    rmSync(checkpointPath(nodeDir));
    await scanSegmentsForRecovery(pool, nodeDir, { dataBytes: options().dataSegmentSizeBytes, indexBytes: options().indexSegmentSizeBytes }, () => undefined);
    const serialMs: number[] = [];
    const poolMs: number[] = [];
    const scanMs: number[] = [];
    let verifiedByScans = 0;
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? ['serial', 'pool'] : ['pool', 'serial']) {
        rmSync(checkpointPath(nodeDir), { force: true });
        const startedMs = performance.now();
        let scans: ReadonlyMap<number, SegmentScan> | undefined;
        if (mode === 'pool') {
          scans = await scanSegmentsForRecovery(pool, nodeDir, { dataBytes: options().dataSegmentSizeBytes, indexBytes: options().indexSegmentSizeBytes }, () => undefined);
          if (scans === undefined) throw new Error('the pool scan did not run');
          scanMs.push(performance.now() - startedMs);
        }
        const store = openLogStore(options(scans));
        const elapsedMs = performance.now() - startedMs;
        if (store.lastIndex + 1 !== entries) throw new Error(`recovered ${store.lastIndex + 1} of ${entries} entries`);
        if (mode === 'pool') verifiedByScans = store.recoveryReport.verifiedByScans;
        await store.close();
        (mode === 'pool' ? poolMs : serialMs).push(elapsedMs);
      }
    }
    const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    console.log(formatTable(['open, whole log verified', 'median ms', 'rounds (ms)'], [
      ['serial (threads=inline)', fixed(median(serialMs)), serialMs.map((ms) => fixed(ms)).join(' / ')],
      ['pool scans + open (workers)', fixed(median(poolMs)), poolMs.map((ms) => fixed(ms)).join(' / ')],
      ['  of which the pool scans', fixed(median(scanMs)), scanMs.map((ms) => fixed(ms)).join(' / ')],
    ]));
    console.log(`pool/serial: ${fixed(median(poolMs) / median(serialMs), 2)}x the start time; ${verifiedByScans} of ${entries} records verified by the pool`);
    writeResults('recovery', { logMiB, segmentMiB, entries, cores: availableParallelism(), serialMs, poolMs, scanMs, verifiedByScans });
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
