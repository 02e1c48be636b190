// An ordered list of same-size segment files named by their global start offset (DLedger's
// MmapFileList): data/<20-digit start pos> or index/<20-digit start byte>. The list maps a global
// byte position to (segment, offset), tracks each segment's unflushed range, and keeps the next
// segment created ahead of need so that no append waits for a file to be made.
import { join } from 'node:path';
import { assert } from '../util/assert.js';
import { StoreCorruptionError } from './errors.js';
import type { StoreMedium } from './medium.js';
import { SEGMENT_DELETING_SUFFIX, SEGMENT_TEMP_SUFFIX } from './segment-names.js';
import type { SegmentFile } from './segment-file.js';

export const SEGMENT_NAME_DIGITS = 20;

export function segmentName(startPos: number): string {
  return String(startPos).padStart(SEGMENT_NAME_DIGITS, '0');
}

export class Segment {
  readonly view: DataView;
  /** The same bytes as 32-bit words, for Atomics (index publication). */
  readonly words: Int32Array;
  // Invariant: dirtyFromBytes <= dirtyToBytes; equal means nothing to flush.
  dirtyFromBytes = 0;
  dirtyToBytes = 0;

  constructor(
    readonly startPos: number,
    readonly file: SegmentFile,
  ) {
    const bytes = file.bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  }

  get bytes(): Uint8Array {
    return this.file.bytes;
  }

  get endPos(): number {
    return this.startPos + this.file.sizeBytes;
  }

  markDirty(fromBytes: number, toBytes: number): void {
    if (this.dirtyFromBytes === this.dirtyToBytes) {
      this.dirtyFromBytes = fromBytes;
      this.dirtyToBytes = toBytes;
      return;
    }
    if (fromBytes < this.dirtyFromBytes) this.dirtyFromBytes = fromBytes;
    if (toBytes > this.dirtyToBytes) this.dirtyToBytes = toBytes;
  }

  /** Hand the unflushed range to a background flush: it is no longer dirty here. */
  takeDirty(): { segment: Segment; fromBytes: number; toBytes: number } | null {
    if (this.dirtyFromBytes === this.dirtyToBytes) return null;
    const range = { segment: this as Segment, fromBytes: this.dirtyFromBytes, toBytes: this.dirtyToBytes };
    this.dirtyFromBytes = 0;
    this.dirtyToBytes = 0;
    return range;
  }

  /** msync the unflushed range, if any. Throws on I/O error (the range stays dirty). */
  flushDirty(): boolean {
    if (this.dirtyFromBytes === this.dirtyToBytes) return false;
    this.file.flush(this.dirtyFromBytes, this.dirtyToBytes - this.dirtyFromBytes);
    this.dirtyFromBytes = 0;
    this.dirtyToBytes = 0;
    return true;
  }
}

export class SegmentList {
  // Invariant: sorted by startPos, consecutive (each starts where the previous ends), all of
  // segmentSizeBytes, every startPos a multiple of segmentSizeBytes.
  readonly segments: Segment[] = [];
  // Invariant: when set, prepared.startPos equals the end of the last segment (or it is discarded).
  private prepared: Segment | null = null;
  // Invariant: paths of detached segments whose unlink may still be running; never created anew.
  private readonly detachedPaths = new Set<string>();
  /** Why the last ahead-of-need creation failed (e.g. disk full); cleared on success. */
  prepareError: unknown = null;

  constructor(
    private readonly medium: StoreMedium,
    readonly directoryPath: string,
    readonly segmentSizeBytes: number,
  ) {}

  /**
   * Open every segment in the directory. Every file must be exactly segmentSizeBytes and named by
   * a start offset consecutive with the previous one (DLedger's load/checkSelf), else the error
   * names the file. Leftover temp files of an interrupted creation are removed.
   */
  load(): void {
    assert(this.segments.length === 0, 'load into a non-empty list');
    this.medium.makeDirectory(this.directoryPath);
    let removedTemp = false;
    for (const name of this.medium.listFiles(this.directoryPath)) {
      const path = join(this.directoryPath, name);
      if (name.endsWith(SEGMENT_TEMP_SUFFIX) || name.endsWith(SEGMENT_DELETING_SUFFIX)) {
        this.medium.removeFile(path);
        removedTemp = true;
        continue;
      }
      if (!/^\d{20}$/.test(name)) {
        throw new StoreCorruptionError({ filePath: path, fileOffsetBytes: 0, what: 'segment file name', expected: 'a 20-digit start offset', found: JSON.stringify(name) });
      }
      const startPos = Number(name);
      const sizeBytes = this.medium.fileSizeBytes(path);
      if (sizeBytes !== this.segmentSizeBytes) {
        throw new StoreCorruptionError({ filePath: path, fileOffsetBytes: 0, what: 'segment file size', expected: `${this.segmentSizeBytes} bytes (the configured segment size)`, found: `${sizeBytes} bytes` });
      }
      if (startPos % this.segmentSizeBytes !== 0) {
        throw new StoreCorruptionError({ filePath: path, fileOffsetBytes: 0, what: 'segment start offset', expected: `a multiple of ${this.segmentSizeBytes}`, found: String(startPos) });
      }
      const previous = this.segments.at(-1);
      if (previous !== undefined && previous.endPos !== startPos) {
        throw new StoreCorruptionError({ filePath: path, fileOffsetBytes: 0, what: 'segment start offset', expected: `${previous.endPos} (consecutive with ${segmentName(previous.startPos)})`, found: String(startPos), detail: 'a segment is missing' });
      }
      this.segments.push(new Segment(startPos, this.medium.segmentFiles.open(path, sizeBytes, 'read-write')));
    }
    if (removedTemp) this.medium.syncDirectory(this.directoryPath);
  }

  get isEmpty(): boolean {
    return this.segments.length === 0;
  }

  get firstStartPos(): number {
    return this.segments[0]?.startPos ?? 0;
  }

  /** End of the last segment (0 when empty). */
  get endPos(): number {
    return this.segments.at(-1)?.endPos ?? 0;
  }

  segmentStartOf(pos: number): number {
    return pos - (pos % this.segmentSizeBytes);
  }

  /** The segment holding byte `pos`, or undefined. */
  find(pos: number): Segment | undefined {
    const first = this.segments[0];
    if (first === undefined || pos < first.startPos) return undefined;
    return this.segments[Math.floor((pos - first.startPos) / this.segmentSizeBytes)];
  }

  pathOf(startPos: number): string {
    return join(this.directoryPath, segmentName(startPos));
  }

  /**
   * The segment holding `pos`, creating it and any missing segment before it (consecutively) when
   * needed. Uses the segment prepared ahead when there is one; otherwise creates synchronously,
   * which may throw StoreDiskFullError before anything is written.
   */
  ensure(pos: number): Segment {
    const found = this.find(pos);
    if (found !== undefined) return found;
    if (this.segments.length === 0) {
      this.adopt(this.createOrTakePrepared(this.segmentStartOf(pos)));
    } else {
      assert(pos >= this.endPos, `position ${pos} before the first segment ${this.firstStartPos} of ${this.directoryPath}`);
    }
    while (this.endPos <= pos) this.adopt(this.createOrTakePrepared(this.endPos));
    const segment = this.find(pos);
    assert(segment !== undefined, `segment for ${pos} after ensure`);
    return segment;
  }

  /** Create the segment after the last one, ahead of need. Failures are kept in prepareError. */
  prepareNext(): void {
    if (this.segments.length === 0 || this.prepared !== null) return;
    const startPos = this.endPos;
    try {
      this.prepared = this.create(startPos);
      this.prepareError = null;
    } catch (error) {
      this.prepareError = error;
    }
  }

  get hasPrepared(): boolean {
    return this.prepared !== null;
  }

  /** Delete every segment starting at or after `startPos` (and the prepared one). Returns names. */
  removeFrom(startPos: number): string[] {
    const removed: string[] = [];
    while (this.segments.length > 0 && (this.segments.at(-1) as Segment).startPos >= startPos) {
      removed.push(this.remove(this.segments.pop() as Segment));
    }
    this.discardPrepared();
    return removed;
  }

  /** Delete every segment that ends at or before `pos`. Returns names. */
  removeEndingBy(pos: number): string[] {
    const removed: string[] = [];
    while (this.segments.length > 0 && (this.segments[0] as Segment).endPos <= pos) {
      removed.push(this.remove(this.segments.shift() as Segment));
    }
    if (this.segments.length === 0) this.discardPrepared();
    return removed;
  }

  /**
   * Take every segment that ends at or before `pos` out of the list and unmap it, but leave its
   * file for the caller to unlink (off the event loop). Oldest first. Until the caller reports
   * the files gone (forgetDetached), no segment may be created under one of those names.
   * Invariant: nothing reads a detached segment's bytes again (store reads copy out of the
   * mapping), so its file may be truncated while the mapping awaits garbage collection.
   */
  detachEndingBy(pos: number): Array<{ name: string; path: string; sizeBytes: number }> {
    const detached = [];
    while (this.segments.length > 0 && (this.segments[0] as Segment).endPos <= pos) {
      const segment = this.segments.shift() as Segment;
      segment.file.close();
      this.detachedPaths.add(segment.file.path);
      detached.push({ name: segmentName(segment.startPos), path: segment.file.path, sizeBytes: segment.file.sizeBytes });
    }
    if (this.segments.length === 0) this.discardPrepared();
    return detached;
  }

  /** The detached files are unlinked (or their unlink failed and recovery will remove them). */
  forgetDetached(paths: readonly string[]): void {
    for (const path of paths) this.detachedPaths.delete(path);
  }

  /** Every segment's unflushed range, handed over to a background flush. */
  takeDirtyRanges(): Array<{ segment: Segment; fromBytes: number; toBytes: number }> {
    const ranges = [];
    for (const segment of this.segments) {
      const range = segment.takeDirty();
      if (range !== null) ranges.push(range);
    }
    return ranges;
  }

  /** Make every segment's unflushed range durable. */
  flushDirty(): void {
    for (const segment of this.segments) segment.flushDirty();
  }

  syncDirectory(): void {
    this.medium.syncDirectory(this.directoryPath);
  }

  close(): void {
    for (const segment of this.segments) segment.file.close();
    this.prepared?.file.close();
    this.segments.length = 0;
    this.prepared = null;
  }

  private discardPrepared(): void {
    if (this.prepared === null) return;
    this.remove(this.prepared);
    this.prepared = null;
  }

  private remove(segment: Segment): string {
    segment.file.close();
    this.medium.removeFile(segment.file.path);
    return segmentName(segment.startPos);
  }

  private createOrTakePrepared(startPos: number): Segment {
    const prepared = this.prepared;
    if (prepared !== null) {
      this.prepared = null;
      if (prepared.startPos === startPos) return prepared;
      this.remove(prepared);
    }
    return this.create(startPos);
  }

  private create(startPos: number): Segment {
    const path = this.pathOf(startPos);
    assert(!this.detachedPaths.has(path), `segment ${path} created while its detached file is being unlinked`);
    return new Segment(startPos, this.medium.segmentFiles.create(path, this.segmentSizeBytes));
  }

  private adopt(segment: Segment): void {
    const last = this.segments.at(-1);
    assert(last === undefined || last.endPos === segment.startPos, `segment ${segment.startPos} not consecutive in ${this.directoryPath}`);
    this.segments.push(segment);
  }
}
