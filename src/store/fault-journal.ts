// Goal: let a fault harness (test/chaos) simulate a power loss and a slow disk on a real, mmap'd
// store running in another process. Opt-in only: openLogStore uses it when the environment
// variable DLEDGER_FAULT_JOURNAL names a directory; production never sets it.
// Method: a shadow copy of what is durable. Every segment file gets a sparse shadow file of the same
// size under {journal}/{basename(nodeDir)}/shadow/{data|index}/; after each completed flush (msync)
// the flushed range's bytes, as they were when the flush started, are written into the shadow
// before the store hears the flush completed (so before anything is acknowledged). Metadata files
// (currterm, checkpoint) are copied to .../meta/ after each durable replace returns. A simulated
// power loss (test/chaos/power-loss-disk.ts) SIGKILLs the process and rewrites its files from the
// shadows: whatever was written after the last flush of its range is gone (or, seeded, partly kept
// and torn). Shadow writes need no fsync: SIGKILL keeps the page cache, and the harness never
// simulates a power loss of the journal itself.
// Slow disk: before each flush the file {journal}/{basename(nodeDir)}/slow-disk-ms is consulted (at
// most every CONTROL_POLL_MS); a positive number delays every flush by that many ms (a blocking
// sleep for an inline msync, a timer for a background one), as a disk with long fsyncs would.
import type { FileRemover } from './segment-deletion.js';
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DiskMedium } from './disk-medium.js';
import type { SegmentFile, SegmentFileFactory } from './segment-file.js';

export const FAULT_JOURNAL_ENV = 'DLEDGER_FAULT_JOURNAL';
export const SLOW_DISK_CONTROL_FILE = 'slow-disk-ms';
export const SHADOW_DIR_NAME = 'shadow';
export const META_DIR_NAME = 'meta';
const CONTROL_POLL_MS = 100;
const MAX_FLUSH_DELAY_MS = 60_000;

/** The journal directory of the store at nodeDir, for both the node and the harness. */
export function faultJournalDirOf(journalRoot: string, nodeDir: string): string {
  return join(journalRoot, basename(resolve(nodeDir)));
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export class FaultJournal {
  readonly dir: string;
  private delayCheckedAtMs = Number.NEGATIVE_INFINITY;
  private delayMs = 0;

  constructor(
    journalRoot: string,
    private readonly nodeDir: string,
  ) {
    this.dir = faultJournalDirOf(journalRoot, nodeDir);
    mkdirSync(join(this.dir, META_DIR_NAME), { recursive: true });
  }

  /** Where the shadow of a segment file at `segmentPath` (…/data/<name>, …/index/<name>) lives. */
  shadowPathOf(segmentPath: string): string {
    return join(this.dir, SHADOW_DIR_NAME, basename(dirname(segmentPath)), basename(segmentPath));
  }

  /** The flush delay the harness asked for now (0: a normal disk). */
  flushDelayMs(): number {
    const now = Date.now();
    if (now - this.delayCheckedAtMs < CONTROL_POLL_MS) return this.delayMs;
    this.delayCheckedAtMs = now;
    let text = '';
    try {
      text = readFileSync(join(this.dir, SLOW_DISK_CONTROL_FILE), 'utf8').trim();
    } catch {
      // no control file: a normal disk
    }
    const ms = Number(text);
    this.delayMs = Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_FLUSH_DELAY_MS) : 0;
    return this.delayMs;
  }

  /** Record a metadata file's contents once its durable replace has returned. */
  recordMetadata(filePath: string, contents: Uint8Array): void {
    if (resolve(dirname(filePath)) !== resolve(this.nodeDir)) return;
    // Replaced whole (temp + rename), like the store's own file: a SIGKILL in the middle of a
    // plain write left an empty copy, which a later "power loss" put back as an empty currterm
    // (30-minute power campaign, seed 34: the member then refused to start, 165 times).
    const target = join(this.dir, META_DIR_NAME, basename(filePath));
    writeFileSync(`${target}.tmp`, contents);
    renameSync(`${target}.tmp`, target);
  }

  /** A segment factory whose files keep their shadows. */
  wrap(inner: SegmentFileFactory): SegmentFileFactory {
    return {
      create: (path, sizeBytes) => {
        const file = inner.create(path, sizeBytes);
        // Created durable and zero (fallocated, fdatasync'd, renamed, directory fsync'd).
        return new JournaledSegmentFile(file, this, this.openShadow(path, sizeBytes, false));
      },
      open: (path, sizeBytes, access) => {
        const file = inner.open(path, sizeBytes, access);
        if (access === 'read-only') return file;
        // No shadow yet: the file predates the journal; take what is on it as durable.
        return new JournaledSegmentFile(file, this, this.openShadow(path, sizeBytes, true));
      },
    };
  }

  /** The disk medium whose metadata writes and segments are journaled. */
  medium(segmentFiles: SegmentFileFactory, removeFiles?: FileRemover): DiskMedium {
    const journal = this;
    return new (class extends DiskMedium {
      override writeFileDurably(filePath: string, contents: Uint8Array): void {
        super.writeFileDurably(filePath, contents);
        journal.recordMetadata(filePath, contents);
      }
    })(this.wrap(segmentFiles), removeFiles);
  }

  private openShadow(segmentPath: string, sizeBytes: number, copyIfMissing: boolean): number {
    const shadowPath = this.shadowPathOf(segmentPath);
    mkdirSync(dirname(shadowPath), { recursive: true });
    if (!existsSync(shadowPath) && copyIfMissing) copyFileSync(segmentPath, shadowPath);
    const fd = openSync(shadowPath, existsSync(shadowPath) && copyIfMissing ? 'r+' : 'w+');
    ftruncateSync(fd, sizeBytes);
    return fd;
  }
}

class JournaledSegmentFile implements SegmentFile {
  readonly write?: (offsetBytes: number, bytes: Uint8Array) => void;
  readonly flushInBackground?: (offsetBytes: number, lengthBytes: number) => Promise<void>;
  // Invariant: an open descriptor of this file's shadow until close().
  private shadowFd: number | null;

  constructor(
    private readonly inner: SegmentFile,
    private readonly journal: FaultJournal,
    shadowFd: number,
  ) {
    this.shadowFd = shadowFd;
    if (inner.write !== undefined) this.write = (offsetBytes, bytes) => inner.write!(offsetBytes, bytes);
    if (inner.flushInBackground !== undefined) {
      this.flushInBackground = async (offsetBytes, lengthBytes) => {
        // The bytes this flush covers, as of its start (later writes may or may not reach the disk).
        const snapshot = Buffer.from(this.inner.bytes.subarray(offsetBytes, offsetBytes + lengthBytes));
        const delayMs = this.journal.flushDelayMs();
        if (delayMs > 0) await new Promise((done) => setTimeout(done, delayMs));
        await inner.flushInBackground!(offsetBytes, lengthBytes);
        this.recordDurable(offsetBytes, snapshot);
      };
    }
  }

  get path(): string {
    return this.inner.path;
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  get bytes(): Uint8Array {
    return this.inner.bytes;
  }

  flush(offsetBytes: number, lengthBytes: number): void {
    const delayMs = this.journal.flushDelayMs();
    if (delayMs > 0) Atomics.wait(sleepCell, 0, 0, delayMs);
    this.inner.flush(offsetBytes, lengthBytes);
    this.recordDurable(offsetBytes, this.inner.bytes.subarray(offsetBytes, offsetBytes + lengthBytes));
  }

  close(): void {
    this.inner.close();
    if (this.shadowFd !== null) closeSync(this.shadowFd);
    this.shadowFd = null;
  }

  private recordDurable(offsetBytes: number, bytes: Uint8Array): void {
    // A flush completing after close (background) has nothing left to record: the close flushed.
    if (this.shadowFd === null) return;
    let done = 0;
    while (done < bytes.length) done += writeSync(this.shadowFd, bytes, done, bytes.length - done, offsetBytes + done);
  }
}

/** The journal for a store at nodeDir when the environment asks for one, else null. */
export function faultJournalFromEnvironment(nodeDir: string): FaultJournal | null {
  const root = process.env[FAULT_JOURNAL_ENV];
  return root === undefined || root.length === 0 ? null : new FaultJournal(root, nodeDir);
}
