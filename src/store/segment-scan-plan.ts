// Which data segments a recovery of a node directory will verify (segment-scan.ts runs each on
// its own, in parallel, before the store opens): read from the checkpoint and the data directory
// the way the store's open reads them.
import { join } from 'node:path';
import { type Checkpoint, INITIAL_CHECKPOINT, readCheckpoint } from './checkpoint.js';
import { DiskMedium } from './disk-medium.js';
import type { SegmentScanTask } from './segment-scan.js';
import { DATA_DIR_NAME, INDEX_DIR_NAME } from './segmented-log-store.js';

/**
 * The data segments recovery of `nodeDir` will verify, as the store will see them (its checkpoint
 * and data directory read the same way), from the scan's start on. Anything unusual (no directory,
 * an odd name or size) yields no task for it: the store's own open reports it, serially.
 */
export function planSegmentScans(nodeDir: string, dataSegmentSizeBytes: number, indexSegmentSizeBytes: number): SegmentScanTask[] {
  const medium = new DiskMedium();
  const checkpoint = readCheckpointOrNull(medium, nodeDir);
  if (checkpoint === null) return [];
  const verified = checkpoint.verified;
  const scanStartPos = verified !== null && verified.index > checkpoint.beforeBeginIndex ? verified.pos + verified.sizeBytes : checkpoint.firstPos;
  const directory = join(nodeDir, DATA_DIR_NAME);
  const tasks: SegmentScanTask[] = [];
  for (const name of medium.listFiles(directory)) {
    if (!/^\d{20}$/.test(name)) continue;
    const startPos = Number(name);
    const filePath = join(directory, name);
    if (startPos + dataSegmentSizeBytes <= scanStartPos || medium.fileSizeBytes(filePath) !== dataSegmentSizeBytes) continue;
    tasks.push({ filePath, startPos, sizeBytes: dataSegmentSizeBytes, fromOffsetBytes: Math.max(0, scanStartPos - startPos), indexDirPath: join(nodeDir, INDEX_DIR_NAME), indexSegmentSizeBytes });
  }
  return tasks;
}

function readCheckpointOrNull(medium: DiskMedium, nodeDir: string): Checkpoint | null {
  try {
    return readCheckpoint(medium, nodeDir) ?? INITIAL_CHECKPOINT;
  } catch {
    // A damaged checkpoint: the store's open refuses it with the reason.
    return null;
  }
}
