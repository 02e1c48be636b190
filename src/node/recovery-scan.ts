// Recovery's verification of data segments in parallel on the I/O pool (threads=workers), before
// the store opens: each segment the recovery will scan is checked on its own on a pool thread
// (src/store/segment-scan.ts); the store's serial recovery then checks each segment's first
// record with the full context and takes the scan's word for the rest (same result either way).
import { FAULT_JOURNAL_ENV } from '../store/fault-journal.js';
import type { SegmentScan } from '../store/segment-scan.js';
import { planSegmentScans } from '../store/segment-scan-plan.js';
import type { IoPool } from './io-pool.js';

/**
 * Below this many segments to verify the serial scan runs alone. The usual start has two: the one
 * holding the checkpoint's entry (verified from there to the end) and the one prepared ahead
 * (empty); one segment's worth of work gains nothing from a thread hop. A log whose checkpoint is
 * older (removed, or a crash before a segment's first checkpoint) has more.
 */
export const PARALLEL_SCAN_MIN_SEGMENTS = 3;

/**
 * The scans for the store's open (StoreOptions.recoveryScans), or undefined when the serial scan
 * runs alone: too few segments, a fault harness (its medium shadows the files), or a scan that
 * failed (logged; the store's open then finds the reason itself).
 */
export async function scanSegmentsForRecovery(pool: IoPool, nodeDir: string, segmentSizes: { readonly dataBytes: number; readonly indexBytes: number }, log: (line: string) => void): Promise<ReadonlyMap<number, SegmentScan> | undefined> {
  if (process.env[FAULT_JOURNAL_ENV] !== undefined && process.env[FAULT_JOURNAL_ENV] !== '') return undefined;
  const tasks = planSegmentScans(nodeDir, segmentSizes.dataBytes, segmentSizes.indexBytes);
  if (tasks.length < PARALLEL_SCAN_MIN_SEGMENTS) return undefined;
  const startedMs = performance.now();
  try {
    const scans = await pool.scanSegments(tasks);
    const records = [...scans.values()].reduce((sum, scan) => sum + scan.verifiedRecords, 0);
    log(`recovery: ${tasks.length} data segments verified on the I/O pool in ${(performance.now() - startedMs).toFixed(0)} ms (${records} records)`);
    return scans;
  } catch (error) {
    log(`recovery: parallel segment scan failed (${error instanceof Error ? error.message : String(error)}); verifying serially`);
    return undefined;
  }
}
