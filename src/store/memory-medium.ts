// An in-memory file system for the in-memory store: segments are MemorySegmentFiles, metadata
// files are byte arrays. Reopening a store on the same medium is a process restart; with
// trackDurability, loseUnflushedWrites() first is a power loss (unflushed segment bytes revert).
import { basename, dirname, join } from 'node:path';
import { assert } from '../util/assert.js';
import { StoreDiskFullError, StoreLockedError } from './errors.js';
import type { StoreLock, StoreMedium } from './medium.js';
import { MemorySegmentFile } from './memory-segment-file.js';
import type { SegmentFileFactory } from './segment-file.js';

const MEMORY_PAGE_SIZE_BYTES = 4096;

export interface MemoryMediumOptions {
  /** Keep a durable copy of each segment so loseUnflushedWrites() can simulate a power loss. */
  readonly trackDurability?: boolean;
  /** Refuse to create segments once this many bytes of segments exist (disk-full tests). */
  readonly capacityBytes?: number;
  /** Clock for modification times (retention by age). */
  readonly nowMs?: () => number;
  /** Wrap the medium's segment factory, e.g. to count flushes or inject failures in tests. */
  readonly decorateSegmentFiles?: (segmentFiles: SegmentFileFactory) => SegmentFileFactory;
}

export class MemoryMedium implements StoreMedium {
  readonly pageSizeBytes = MEMORY_PAGE_SIZE_BYTES;
  readonly segmentFiles: SegmentFileFactory;
  private readonly segments = new Map<string, MemorySegmentFile>();
  private readonly smallFiles = new Map<string, Uint8Array>();
  private readonly modifiedMs = new Map<string, number>();
  private readonly directories = new Set<string>();
  private readonly locked = new Set<string>();
  private readonly trackDurability: boolean;
  private readonly capacityBytes: number;
  private readonly nowMs: () => number;

  constructor(options: MemoryMediumOptions = {}) {
    this.trackDurability = options.trackDurability ?? false;
    this.capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
    this.nowMs = options.nowMs ?? Date.now;
    const segmentFiles: SegmentFileFactory = {
      create: (path, sizeBytes) => this.createSegment(path, sizeBytes),
      open: (path, sizeBytes) => {
        const segment = this.segments.get(path);
        assert(segment !== undefined && segment.sizeBytes === sizeBytes, `no segment ${path} of ${sizeBytes} bytes`);
        return segment;
      },
    };
    this.segmentFiles = options.decorateSegmentFiles?.(segmentFiles) ?? segmentFiles;
  }

  makeDirectory(directoryPath: string): void {
    this.directories.add(directoryPath);
  }

  listFiles(directoryPath: string): string[] {
    const names: string[] = [];
    for (const path of [...this.segments.keys(), ...this.smallFiles.keys()]) {
      if (dirname(path) === directoryPath) names.push(basename(path));
    }
    return names.sort();
  }

  fileSizeBytes(filePath: string): number {
    const segment = this.segments.get(filePath);
    if (segment !== undefined) return segment.sizeBytes;
    const file = this.smallFiles.get(filePath);
    assert(file !== undefined, `no file ${filePath}`);
    return file.length;
  }

  removeFile(filePath: string): void {
    this.segments.delete(filePath);
    this.smallFiles.delete(filePath);
    this.modifiedMs.delete(filePath);
  }

  removeFilesInOrder(filePaths: readonly string[]): Promise<void> {
    // Memory has no slow unlink; the removal is immediate (and durable, as every directory op here).
    for (const filePath of filePaths) this.removeFile(filePath);
    return Promise.resolve();
  }

  syncDirectory(): void {
    // Directory operations of this medium are durable as soon as they happen.
  }

  readFile(filePath: string): Uint8Array | null {
    const file = this.smallFiles.get(filePath);
    return file === undefined ? null : file.slice();
  }

  writeFileDurably(filePath: string, contents: Uint8Array): void {
    this.smallFiles.set(filePath, contents.slice());
    this.modifiedMs.set(filePath, this.nowMs());
  }

  acquireLock(nodeDir: string): StoreLock {
    if (this.locked.has(nodeDir)) throw new StoreLockedError(join(nodeDir, 'lock'), process.pid);
    this.locked.add(nodeDir);
    const release = (): void => void this.locked.delete(nodeDir);
    return { release, abandon: release };
  }

  prepareSpaceReserve(): void {
    // Small files of this medium do not count against its capacity.
  }

  modifiedTimeMs(filePath: string): number {
    const ms = this.modifiedMs.get(filePath);
    assert(ms !== undefined, `no file ${filePath}`);
    return ms;
  }

  /** Set a file's modification time (retention tests). */
  setModifiedTimeMs(filePath: string, ms: number): void {
    assert(this.modifiedMs.has(filePath), `no file ${filePath}`);
    this.modifiedMs.set(filePath, ms);
  }

  diskUsageRatio(): number {
    if (!Number.isFinite(this.capacityBytes)) return 0;
    return this.segmentBytes() / this.capacityBytes;
  }

  /** A segment file, for tests that corrupt or inspect bytes. */
  segment(filePath: string): MemorySegmentFile | undefined {
    return this.segments.get(filePath);
  }

  /** Simulated power loss: every segment loses the bytes written since its last flush. */
  loseUnflushedWrites(): void {
    assert(this.trackDurability, 'loseUnflushedWrites needs trackDurability');
    for (const segment of this.segments.values()) segment.loseUnflushedWrites();
  }

  private segmentBytes(): number {
    let total = 0;
    for (const segment of this.segments.values()) total += segment.sizeBytes;
    return total;
  }

  private createSegment(path: string, sizeBytes: number): MemorySegmentFile {
    assert(!this.segments.has(path), `segment ${path} already exists`);
    if (this.segmentBytes() + sizeBytes > this.capacityBytes) {
      throw new StoreDiskFullError(path, new Error(`memory medium capacity ${this.capacityBytes} bytes reached`));
    }
    const segment = new MemorySegmentFile(path, sizeBytes, { trackDurability: this.trackDurability });
    this.segments.set(path, segment);
    this.modifiedMs.set(path, this.nowMs());
    return segment;
  }
}
