// Test harnesses that run the same behavioural tests (store-behaviour.ts) against the store on
// disk (mmap'd files in a temp dir) and the in-memory store. A harness opens stores on one node
// directory, and reads and damages segment files from outside the store (only while no store is
// open on them), as an operator or a crash would.
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, openSync, writeSync, closeSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryMedium,
  MemoryLogStore,
  mmapSegmentFileFactory,
  openLogStore,
  type SegmentedLogStore,
  type SegmentFile,
  type SegmentFileFactory,
  StoreDiskFullError,
  type StoreOptions,
} from '../../src/store/index.js';

/** Small geometry so tests cross segment boundaries: 4 KiB data, 1 KiB (32-record) index segments. */
export const SMALL_GEOMETRY = {
  dataSegmentSizeBytes: 4096,
  indexSegmentSizeBytes: 1024,
  maxEntryBodyBytes: 1000,
} as const;

export interface StoreHarness {
  readonly name: 'mmap' | 'memory';
  readonly nodeDir: string;
  open(overrides?: Partial<StoreOptions>): SegmentedLogStore;
  /** File names in data/ or index/. */
  list(kind: 'data' | 'index'): string[];
  /** A whole file relative to nodeDir, e.g. 'data/00000000000000000000' or 'checkpoint'. */
  read(relativePath: string): Uint8Array;
  exists(relativePath: string): boolean;
  /** Overwrite bytes of a segment file (no store may be open on it). */
  write(relativePath: string, offsetBytes: number, bytes: Uint8Array): void;
  remove(relativePath: string): void;
  setModifiedTimeMs(relativePath: string, ms: number): void;
  /** Flush calls made on segment files so far. */
  flushCalls(): number;
  /** While true, creating a segment fails with StoreDiskFullError. */
  failSegmentCreates: boolean;
  /** While true, flushing a segment fails with EIO. */
  failFlushes: boolean;
  cleanup(): void;
}

function baseOptions(nodeDir: string, overrides: Partial<StoreOptions>): StoreOptions {
  return { nodeDir, flush: { kind: 'sync' }, ...SMALL_GEOMETRY, ...overrides };
}

export function mmapHarness(defaults: Partial<StoreOptions> = {}): StoreHarness {
  const nodeDir = mkdtempSync(join(tmpdir(), 'dledger-store-'));
  let flushes = 0;
  const harness: StoreHarness = {
    name: 'mmap',
    nodeDir,
    failSegmentCreates: false,
    failFlushes: false,
    open: (overrides = {}) => openLogStore({ ...baseOptions(nodeDir, { ...defaults, ...overrides }), segmentFiles: factory }),
    list: (kind) => (existsSync(join(nodeDir, kind)) ? readdirSync(join(nodeDir, kind)).sort() : []),
    read: (relativePath) => new Uint8Array(readFileSync(join(nodeDir, relativePath))),
    exists: (relativePath) => existsSync(join(nodeDir, relativePath)),
    write: (relativePath, offsetBytes, bytes) => {
      const fd = openSync(join(nodeDir, relativePath), 'r+');
      try {
        writeSync(fd, bytes, 0, bytes.length, offsetBytes);
      } finally {
        closeSync(fd);
      }
    },
    remove: (relativePath) => rmSync(join(nodeDir, relativePath)),
    setModifiedTimeMs: (relativePath, ms) => utimesSync(join(nodeDir, relativePath), ms / 1000, ms / 1000),
    flushCalls: () => flushes,
    cleanup: () => rmSync(nodeDir, { recursive: true, force: true }),
  };
  const onFlush = (): void => {
    if (harness.failFlushes) throw Object.assign(new Error('EIO: i/o error, msync (injected)'), { code: 'EIO' });
    flushes++;
  };
  const factory: SegmentFileFactory = {
    create: (path, sizeBytes) => {
      if (harness.failSegmentCreates) throw new StoreDiskFullError(path, new Error('ENOSPC (injected)'));
      return countFlushes(mmapSegmentFileFactory.create(path, sizeBytes), () => onFlush());
    },
    open: (path, sizeBytes, access) => countFlushes(mmapSegmentFileFactory.open(path, sizeBytes, access), () => onFlush()),
  };
  return harness;
}

export function memoryHarness(): StoreHarness {
  const nodeDir = '/memory/dledger-n0';
  let flushes = 0;
  const onFlush = (): void => {
    if (harness.failFlushes) throw Object.assign(new Error('EIO: i/o error, msync (injected)'), { code: 'EIO' });
    flushes++;
  };
  const medium: MemoryMedium = new MemoryMedium({
    decorateSegmentFiles: (inner) => ({
      create: (path, sizeBytes) => {
        if (harness.failSegmentCreates) throw new StoreDiskFullError(path, new Error('ENOSPC (injected)'));
        return countFlushes(inner.create(path, sizeBytes), () => onFlush());
      },
      open: (path, sizeBytes, access) => countFlushes(inner.open(path, sizeBytes, access), () => onFlush()),
    }),
  });
  const harness: StoreHarness = {
    name: 'memory',
    nodeDir,
    failSegmentCreates: false,
    failFlushes: false,
    open: (overrides = {}) => new MemoryLogStore(baseOptions(nodeDir, overrides), medium),
    list: (kind) => medium.listFiles(join(nodeDir, kind)),
    read: (relativePath) => {
      const path = join(nodeDir, relativePath);
      const segment = medium.segment(path);
      if (segment !== undefined) return segment.bytes.slice();
      const file = medium.readFile(path);
      if (file === null) throw new Error(`no file ${path}`);
      return file;
    },
    exists: (relativePath) => {
      const path = join(nodeDir, relativePath);
      return medium.segment(path) !== undefined || medium.readFile(path) !== null;
    },
    write: (relativePath, offsetBytes, bytes) => {
      const segment = medium.segment(join(nodeDir, relativePath));
      if (segment === undefined) throw new Error(`no segment ${relativePath}`);
      segment.bytes.set(bytes, offsetBytes);
    },
    remove: (relativePath) => medium.removeFile(join(nodeDir, relativePath)),
    setModifiedTimeMs: (relativePath, ms) => medium.setModifiedTimeMs(join(nodeDir, relativePath), ms),
    flushCalls: () => flushes,
    cleanup: () => {},
  };
  return harness;
}

/** A view of `file` whose flush calls (inline and background) are counted and can be failed. */
function countFlushes(file: SegmentFile, onFlush: () => void): SegmentFile {
  const counted: SegmentFile = {
    path: file.path,
    sizeBytes: file.sizeBytes,
    bytes: file.bytes,
    flush: (offsetBytes, lengthBytes) => {
      onFlush();
      file.flush(offsetBytes, lengthBytes);
    },
    close: () => file.close(),
  };
  const inBackground = file.flushInBackground?.bind(file);
  if (inBackground === undefined) return counted;
  return {
    ...counted,
    flushInBackground: async (offsetBytes, lengthBytes) => {
      onFlush();
      await inBackground(offsetBytes, lengthBytes);
    },
  };
}
