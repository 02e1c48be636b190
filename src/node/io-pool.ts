// The I/O pool of threads=workers: a piscina pool (one thread: the jobs are disk-bound and
// rare) for blocking file work that must not stall the event loop. It allocates the data and
// index segment after the one the store prepares next (premade-segment-files.ts), so that the
// store's own preparation is a rename and a mapping instead of fallocate + fdatasync; and it runs
// retention's unlinks (rename .deleting, truncate, unlink, directory fsync: segment-deletion.ts),
// which otherwise go through the main thread's libuv pool and back.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { PremakeSegmentTask, RemoveFilesTask } from './io-pool-tasks.js';

/** The compiled task module (under dist/ also when this module runs from source in tests). */
function tasksUrl(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./io-pool-tasks.js', import.meta.url).href;
  return pathToFileURL(path.join(path.dirname(here), '../../dist/src/node/io-pool-tasks.js')).href;
}

export class IoPool {
  /** Tasks run, by kind (tests, the bench). */
  readonly stats = { premakes: 0, removals: 0 };
  private readonly pool: Piscina;
  private closed = false;

  constructor() {
    // execArgv []: the tasks are compiled JS; a parent's TypeScript loader (tap) only slows them.
    this.pool = new Piscina({ filename: tasksUrl(), minThreads: 1, maxThreads: 1, idleTimeout: 60_000, execArgv: [] });
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
