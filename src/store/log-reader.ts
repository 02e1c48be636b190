// A read-only view of a store's files for another thread (or process): it maps the same segment
// files read-only and reads entries the writer has published.
//
// Publication: the writer copies a record into the data mapping, writes the index record's fields
// and stores its magic word last with Atomics.store; the reader loads the magic with Atomics.load
// and only then reads the rest (src/store/index-codec.ts). So a reader never sees a partial entry.
// It may see entries that are not yet durable or committed — what is safe to expose is the
// caller's decision (Raft's commit index), not the store's.
//
// Files that the writer deletes and recreates (truncate, retention) are detected by inode and
// remapped. A record that fails verification is re-read once after a remap; if the index record
// was unpublished meanwhile (a concurrent truncate), get returns null.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from './checkpoint.js';
import { StoreCorruptionError } from './errors.js';
import { checkRecord } from './entry-codec.js';
import { loadIndexMagic, readIndexRecord } from './index-codec.js';
import { DiskMedium } from './disk-medium.js';
import { mmapSegmentFileFactory } from './mmap-segment-file.js';
import type { SegmentFileFactory } from './segment-file.js';
import { Segment, segmentName } from './segment-list.js';
import { DATA_DIR_NAME, INDEX_DIR_NAME } from './segmented-log-store.js';
import { ENTRY_HEADER_BYTES, type EntryMagic, INDEX_RECORD_BYTES, type StoredEntry } from './types.js';

export interface LogReaderOptions {
  readonly nodeDir: string;
  readonly dataSegmentSizeBytes: number;
  readonly indexSegmentSizeBytes: number;
  readonly segmentFiles?: SegmentFileFactory;
}

interface MappedSegment {
  readonly segment: Segment;
  readonly inode: number;
}

class ReadOnlySegments {
  private readonly mapped = new Map<number, MappedSegment>();

  constructor(
    readonly directoryPath: string,
    readonly segmentSizeBytes: number,
    private readonly segmentFiles: SegmentFileFactory,
  ) {}

  /** The segment holding `pos`, mapping it on first use; undefined when the file does not exist. */
  find(pos: number, revalidate = false): Segment | undefined {
    const startPos = pos - (pos % this.segmentSizeBytes);
    const cached = this.mapped.get(startPos);
    if (cached !== undefined && !revalidate) return cached.segment;
    const path = join(this.directoryPath, segmentName(startPos));
    if (!existsSync(path)) {
      this.drop(startPos);
      return undefined;
    }
    const stats = statSync(path);
    if (cached !== undefined && cached.inode === stats.ino) return cached.segment;
    this.drop(startPos);
    if (stats.size !== this.segmentSizeBytes) return undefined;
    const segment = new Segment(startPos, this.segmentFiles.open(path, this.segmentSizeBytes, 'read-only'));
    this.mapped.set(startPos, { segment, inode: stats.ino });
    return segment;
  }

  close(): void {
    for (const startPos of [...this.mapped.keys()]) this.drop(startPos);
  }

  private drop(startPos: number): void {
    this.mapped.get(startPos)?.segment.file.close();
    this.mapped.delete(startPos);
  }
}

export class LogReader {
  private readonly data: ReadOnlySegments;
  private readonly index: ReadOnlySegments;
  // Invariant: a hint only; every answer is re-checked against the published index.
  private lastIndexHint: number;
  private readonly floorIndex: number;

  constructor(options: LogReaderOptions) {
    const segmentFiles = options.segmentFiles ?? mmapSegmentFileFactory;
    this.data = new ReadOnlySegments(join(options.nodeDir, DATA_DIR_NAME), options.dataSegmentSizeBytes, segmentFiles);
    this.index = new ReadOnlySegments(join(options.nodeDir, INDEX_DIR_NAME), options.indexSegmentSizeBytes, segmentFiles);
    this.floorIndex = readCheckpoint(new DiskMedium(segmentFiles), options.nodeDir)?.beforeBeginIndex ?? -1;
    this.lastIndexHint = this.floorIndex;
  }

  /** The highest published entry index (beforeBeginIndex at open when none is published). */
  lastIndex(): number {
    let index = this.lastIndexHint;
    if (index > this.floorIndex && !this.isPublished(index)) {
      while (index > this.floorIndex && !this.isPublished(index)) index--;
    }
    while (this.isPublished(index + 1) || this.isPublished(index + 1, true)) index++;
    this.lastIndexHint = index;
    return index;
  }

  /** The published entry, verified (header against the index record, pos, bodyCrc); null if none. */
  get(index: number): StoredEntry | null {
    const first = this.tryGet(index, false);
    return first === 'retry' ? this.toEntryOrNull(this.tryGet(index, true)) : first;
  }

  close(): void {
    this.data.close();
    this.index.close();
  }

  private toEntryOrNull(result: StoredEntry | null | 'retry'): StoredEntry | null {
    return result === 'retry' ? null : result;
  }

  private isPublished(index: number, revalidate = false): boolean {
    if (index < 0) return false;
    const slotPos = index * INDEX_RECORD_BYTES;
    const segment = this.index.find(slotPos, revalidate);
    return segment !== undefined && loadIndexMagic(segment.words, slotPos - segment.startPos) !== 0;
  }

  private tryGet(index: number, revalidate: boolean): StoredEntry | null | 'retry' {
    if (index < 0) return null;
    const slotPos = index * INDEX_RECORD_BYTES;
    const indexSegment = this.index.find(slotPos, revalidate);
    if (indexSegment === undefined) return revalidate ? null : 'retry';
    const record = readIndexRecord(indexSegment.view, indexSegment.words, slotPos - indexSegment.startPos);
    if (record === null) return revalidate ? null : 'retry';
    const dataSegment = this.data.find(record.pos, revalidate);
    if (dataSegment === undefined) return revalidate ? null : 'retry';
    const offsetBytes = record.pos - dataSegment.startPos;
    const check = checkRecord(dataSegment.view, dataSegment.bytes, offsetBytes, {
      pos: record.pos,
      maxSizeBytes: dataSegment.file.sizeBytes - offsetBytes,
      index,
    });
    if (!check.ok || check.header.sizeBytes !== record.sizeBytes || check.header.term !== record.term) {
      if (!revalidate) return 'retry';
      // Still published after a remap, yet the record does not verify: real corruption.
      if (loadIndexMagic(indexSegment.words, slotPos - indexSegment.startPos) === 0) return null;
      throw new StoreCorruptionError({
        filePath: dataSegment.file.path,
        fileOffsetBytes: offsetBytes,
        what: check.ok ? `entry ${index} against its index record` : check.what,
        expected: check.ok ? `size ${record.sizeBytes} term ${record.term}` : check.expected,
        found: check.ok ? `size ${check.header.sizeBytes} term ${check.header.term}` : check.found,
      });
    }
    const header = check.header;
    const bodyStart = offsetBytes + ENTRY_HEADER_BYTES;
    return {
      index,
      term: header.term,
      magic: header.magic as EntryMagic,
      pos: header.pos,
      sizeBytes: header.sizeBytes,
      chainCrc: header.chainCrc,
      bodyCrc: header.bodyCrc,
      body: dataSegment.bytes.slice(bodyStart, bodyStart + header.bodyLength),
    };
  }
}

export function openLogReader(options: LogReaderOptions): LogReader {
  return new LogReader(options);
}
