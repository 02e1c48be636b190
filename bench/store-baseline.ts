// The baseline the store is judged against: plain fs.writeSync + fs.fdatasyncSync appending to a
// file (it grows with every write, as a naive log would), measured in the same run as the store.
//
//   single: one 1 KiB write + fdatasync per operation -> latency per operation
//   batch:  256 writes of 1 KiB, then one fdatasync  -> bytes/s (and latency per batch)
//
// Two informational floors for the store's own I/O path, to tell store overhead from I/O cost:
//   prealloc: the same writes into a file fallocated (and fdatasync'd) up front, as segments are
//   mmap:     memcpy into a MAP_SHARED mapping of such a file, then msync(MS_SYNC) of the range
//   mmap-random: the same after madvise(MADV_RANDOM). Without it, page faults on the mapping read
//             ahead (read_ahead_kb) into large folios, and msync writes back every whole folio that
//             straddles the synced range — again after the next batch dirties it: compare the
//             device bytes per payload byte of the two.

import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { fallocate, madvise, mapFile, msync } from '../src/native/mmap.js';
import { join } from 'node:path';
import { deviceBytesWrittenCounter } from './lib/diskstats.js';
import { LatencySamples, nowUs } from './lib/stats.js';

export interface SliceResult {
  readonly samples: LatencySamples;
  /** Bytes the block device wrote during the measured window (all writers of that device), or NaN. */
  readonly deviceBytes: number;
  /** Operations (single) or entries (batch) completed inside the measured window. */
  readonly entries: number;
  readonly payloadBytes: number;
  readonly elapsedUs: number;
}

export interface SliceTiming {
  /** Time at the start of a slice whose results are thrown away (page-cache and allocator warm-up). */
  readonly warmupMs: number;
  readonly measureMs: number;
}

export type BaselineMethod = 'grow' | 'prealloc' | 'mmap' | 'mmap-random';

/** Room preallocated for the prealloc and mmap methods; a slice that fills it wraps to offset 0. */
const PREALLOC_BYTES = 256 * 1024 * 1024;

/**
 * Appends `batch` writes of `entryBytes` each, then one fdatasync (or memcpy + one msync for
 * 'mmap'), until the slice ends.
 */
export function runBaselineSlice(
  dir: string,
  method: BaselineMethod,
  entryBytes: number,
  batch: number,
  timing: SliceTiming,
): SliceResult {
  const path = join(dir, `baseline-${method}-${batch}`);
  const fd = openSync(path, 'w+');
  const payload = Buffer.alloc(entryBytes, 0x5a);
  const samples = new LatencySamples();
  const batchBytes = entryBytes * batch;
  let writeBatch: (positionBytes: number) => void;
  if (method === 'grow') {
    writeBatch = () => {
      for (let i = 0; i < batch; i++) writeSync(fd, payload, 0, entryBytes);
      fdatasyncSync(fd);
    };
  } else {
    fallocate(fd, 0, PREALLOC_BYTES, path);
    fdatasyncSync(fd);
    if (method === 'prealloc') {
      writeBatch = (positionBytes) => {
        for (let i = 0; i < batch; i++) writeSync(fd, payload, 0, entryBytes, positionBytes + i * entryBytes);
        fdatasyncSync(fd);
      };
    } else {
      const mapping = mapFile(fd, PREALLOC_BYTES, 0, { writable: true, filePath: path });
      if (method === 'mmap-random') madvise(mapping, 0, PREALLOC_BYTES, 'random', path);
      const bytes = new Uint8Array(mapping);
      writeBatch = (positionBytes) => {
        for (let i = 0; i < batch; i++) bytes.set(payload, positionBytes + i * entryBytes);
        msync(mapping, positionBytes, batchBytes, 'sync', path);
      };
    }
  }
  let positionBytes = 0;
  const deviceBytes = deviceBytesWrittenCounter(dir) ?? (() => NaN);
  let deviceBytesAtStart = NaN;
  try {
    const sliceStartUs = nowUs();
    const measureFromUs = sliceStartUs + timing.warmupMs * 1000;
    const endUs = measureFromUs + timing.measureMs * 1000;
    let entries = 0;
    let measuredFromUs = NaN;
    for (;;) {
      let startUs = nowUs();
      if (startUs >= endUs) break;
      const measured = startUs >= measureFromUs;
      if (measured && Number.isNaN(measuredFromUs)) {
        // Every warm-up batch has been synced, so the device counter starts clean here.
        deviceBytesAtStart = deviceBytes();
        startUs = nowUs();
        measuredFromUs = startUs;
      }
      if (positionBytes + batchBytes > PREALLOC_BYTES) positionBytes = 0;
      writeBatch(positionBytes);
      positionBytes += batchBytes;
      const doneUs = nowUs();
      if (measured) {
        samples.add(doneUs - startUs);
        entries += batch;
      }
    }
    const elapsedUs = Number.isNaN(measuredFromUs) ? 0 : nowUs() - measuredFromUs;
    return { samples, entries, payloadBytes: entries * entryBytes, elapsedUs, deviceBytes: deviceBytes() - deviceBytesAtStart };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}
