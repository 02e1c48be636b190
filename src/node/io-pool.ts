// The I/O pool of threads=workers: a piscina pool for blocking file work that must not stall the
// event loop (one thread while the node runs: those jobs are disk-bound and rare; at start up to
// one per core, at most SCAN_THREADS_MAX, verify the data segments of recovery in parallel). It allocates the data and
// index segment after the one the store prepares next (premade-segment-files.ts), so that the
// store's own preparation is a rename and a mapping instead of fallocate + fdatasync; and it runs
// retention's unlinks (rename .deleting, truncate, unlink, directory fsync: segment-deletion.ts),
// which otherwise go through the main thread's libuv pool and back.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { SegmentScan, SegmentScanTask } from '../store/segment-scan.js';
import type { PremakeSegmentTask, RemoveFilesTask, ScanSegmentTask } from './io-pool-tasks.js';

/**
 * Threads at most (recovery's scans: CRCs of whole segments are CPU-bound once the pages are
 * cached, disk-bound before; past a few threads one disk gains nothing).
 */
const SCAN_THREADS_MAX = 4;

/** The compiled task module (under dist/ also when this module runs from source in tests). */
function tasksUrl(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./io-pool-tasks.js', import.meta.url).href;
  return pathToFileURL(path.join(path.dirname(here), '../../dist/src/node/io-pool-tasks.js')).href;
}

export class IoPool {
  /** Tasks run, by kind (tests, the bench). */
  readonly stats = { premakes: 0, removals: 0, segmentScans: 0 };
  private readonly pool: Piscina;
  private closed = false;

  constructor() {
    // execArgv []: the tasks are compiled JS; a parent's TypeScript loader (tap) only slows them.
    // Threads beyond the first start only when tasks queue (the scans at start) and stop after
    // idleTimeout; the jobs of a running node come one or two at a time and need no order
    // between them (each removal task keeps its own order).
    const maxThreads = Math.max(1, Math.min(os.availableParallelism(), SCAN_THREADS_MAX));
    this.pool = new Piscina({ filename: tasksUrl(), minThreads: 1, maxThreads, idleTimeout: 60_000, execArgv: [] });
  }

  /** Verify the segments, one task each, as many at once as the pool has threads; by start pos. */
  async scanSegments(tasks: readonly SegmentScanTask[]): Promise<Map<number, SegmentScan>> {
    if (this.closed) throw new Error('io pool closed');
    this.stats.segmentScans += tasks.length;
    const scans = await Promise.all(tasks.map((task) => this.pool.run({ ...task, kind: 'scan-segment' } satisfies ScanSegmentTask) as Promise<SegmentScan>));
    return new Map(scans.map((scan) => [scan.startPos, scan]));
  }

  premakeSegment(stagePath: string, sizeBytes: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('io pool closed'));
    const task: PremakeSegmentTask = { kind: 'premake-segment', stagePath, sizeBytes };
    this.stats.premakes++;
    return this.pool.run(task) as Promise<void>;
  }

  /** The store's FileRemover (LogStoreOptions.removeFiles) on the pool thread. */
  removeFilesInOrder(filePaths: readonly string[], intervalMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('io pool closed'));
    const task: RemoveFilesTask = { kind: 'remove-files', filePaths: [...filePaths], intervalMs };
    this.stats.removals++;
    return this.pool.run(task) as Promise<void>;
  }

  /** Finish the tasks already queued, then stop the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
