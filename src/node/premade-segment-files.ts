// Segment files made ahead on the I/O pool (threads=workers). The store already prepares the
// segment after the active one (segment-list.ts prepareNext, on the event loop); with this
// factory each create(path) also asks the pool to allocate the segment after `path`, so that when
// the store prepares that one, create() only renames the pool's file into place, fsyncs the
// directory and maps it — the fallocate and fdatasync ran on the pool thread.
//
// Safety: the pool builds under `<name>.premade.creating` (a .creating leftover is deleted when a
// store opens), and only the event-loop thread renames into place, after checking that the real
// name does not exist: a segment the store had to create by itself meanwhile is never replaced,
// and the pool's file is then removed. A failed premake only means the store creates inline.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDirectory } from '../store/fs-util.js';
import type { SegmentAccess, SegmentFile, SegmentFileFactory } from '../store/segment-file.js';
import { segmentName } from '../store/segment-list.js';
import { SEGMENT_TEMP_SUFFIX } from '../store/segment-names.js';
import type { IoPool } from './io-pool.js';

const PREMADE_SUFFIX = `.premade${SEGMENT_TEMP_SUFFIX}`;

/** One premake: in flight, or done (ok: the staged file is complete). */
interface Premake {
  done: boolean;
  ok: boolean;
  readonly stagePath: string;
}

export class PremadeSegmentFiles {
  /** Counters for tests and the bench. */
  readonly stats = { premadeUsed: 0, createdInline: 0, premakeFailed: 0, premadeDiscarded: 0 };
  // Invariant: keys are segment paths whose premake was asked for and not yet taken or discarded.
  private readonly premakes = new Map<string, Premake>();
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** A failure is logged once until a premake succeeds again (a full disk fails every one). */
  private failureLogged = false;

  constructor(
    private readonly pool: IoPool,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  wrap(inner: SegmentFileFactory): SegmentFileFactory {
    return {
      create: (path, sizeBytes) => this.create(inner, path, sizeBytes),
      open: (path, sizeBytes, access: SegmentAccess) => inner.open(path, sizeBytes, access),
    };
  }

  /** Resolves once every premake asked for so far has finished (bench, tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** No more premakes; files still staged are removed (an open would remove them anyway). */
  close(): void {
    this.closed = true;
    for (const [path, premake] of this.premakes) if (premake.done) this.discard(path, premake);
  }

  private create(inner: SegmentFileFactory, path: string, sizeBytes: number): SegmentFile {
    const premake = this.premakes.get(path);
    let file: SegmentFile;
    if (premake !== undefined && premake.done && premake.ok && !existsSync(path) && this.takeStaged(path, premake)) {
      file = inner.open(path, sizeBytes, 'read-write');
      this.stats.premadeUsed++;
    } else {
      file = inner.create(path, sizeBytes);
      this.stats.createdInline++;
      // A premake still running for this path is discarded when it finishes (see premakeAfter).
      if (premake?.done === true) this.discard(path, premake);
    }
    this.premakeAfter(path, sizeBytes);
    return file;
  }

  /** Rename the staged file into place (durably); false (and inline creation) if that fails. */
  private takeStaged(path: string, premake: Premake): boolean {
    this.premakes.delete(path);
    try {
      renameSync(premake.stagePath, path);
    } catch (error) {
      this.log(`io pool: taking ${basename(premake.stagePath)} failed, creating ${basename(path)} inline: ${error instanceof Error ? error.message : String(error)}`);
      rmSync(premake.stagePath, { force: true });
      return false;
    }
    fsyncDirectory(dirname(path));
    return true;
  }

  /** Ask the pool for the segment after `path` (same directory, next start position). */
  private premakeAfter(path: string, sizeBytes: number): void {
    if (this.closed) return;
    const startPos = Number(basename(path));
    if (!Number.isSafeInteger(startPos)) return;
    const nextPath = join(dirname(path), segmentName(startPos + sizeBytes));
    if (this.premakes.has(nextPath) || existsSync(nextPath)) return;
    const premake: Premake = { done: false, ok: false, stagePath: nextPath + PREMADE_SUFFIX };
    rmSync(premake.stagePath, { force: true });
    this.premakes.set(nextPath, premake);
    const job = this.pool.premakeSegment(premake.stagePath, sizeBytes).then(
      () => {
        premake.done = true;
        premake.ok = true;
        this.failureLogged = false;
        // Taken meanwhile by an inline create, or closed: not needed.
        if (this.closed || this.premakes.get(nextPath) !== premake || existsSync(nextPath)) this.discard(nextPath, premake);
      },
      (error: unknown) => {
        premake.done = true;
        this.stats.premakeFailed++;
        if (this.premakes.get(nextPath) === premake) this.premakes.delete(nextPath);
        rmSync(premake.stagePath, { force: true });
        // Not fatal: the store creates the segment itself when it needs it (and reports a full disk then).
        if (!this.failureLogged) this.log(`io pool: premaking ${basename(nextPath)} failed (the store creates segments itself until a premake succeeds again): ${error instanceof Error ? error.message : String(error)}`);
        this.failureLogged = true;
      },
    );
    this.inFlight.add(job);
    void job.finally(() => this.inFlight.delete(job));
  }

  private discard(path: string, premake: Premake): void {
    if (this.premakes.get(path) === premake) this.premakes.delete(path);
    rmSync(premake.stagePath, { force: true });
    this.stats.premadeDiscarded++;
  }
}
