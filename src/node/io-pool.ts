// The I/O pool of threads=workers: a piscina pool (one thread: the jobs are disk-bound and
// rare) for blocking file work that must not stall the event loop. Today it allocates the data
// and index segment after the one the store prepares next (premade-segment-files.ts), so that
// the store's own preparation is a rename and a mapping instead of fallocate + fdatasync.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import type { PremakeSegmentTask } from './io-pool-tasks.js';

/** The compiled task module (under dist/ also when this module runs from source in tests). */
function tasksUrl(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./io-pool-tasks.js', import.meta.url).href;
  return pathToFileURL(path.join(path.dirname(here), '../../dist/src/node/io-pool-tasks.js')).href;
}

export class IoPool {
  private readonly pool: Piscina;
  private closed = false;

  constructor() {
    // execArgv []: the tasks are compiled JS; a parent's TypeScript loader (tap) only slows them.
    this.pool = new Piscina({ filename: tasksUrl(), minThreads: 1, maxThreads: 1, idleTimeout: 60_000, execArgv: [] });
  }

  premakeSegment(stagePath: string, sizeBytes: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error('io pool closed'));
    const task: PremakeSegmentTask = { kind: 'premake-segment', stagePath, sizeBytes };
    return this.pool.run(task) as Promise<void>;
  }

  /** Finish the tasks already queued, then stop the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
