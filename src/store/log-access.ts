// Entry-level access shared by the store, recovery and the reader: index record i lives at global
// byte i*32 of the index list, and an entry's record at its pos in the data list.
import { StoreCorruptionError } from './errors.js';
import { checkRecord, type EntryHeader, readEntryHeader } from './entry-codec.js';
import { clearIndexRecord, type IndexRecord, loadIndexMagic, publishIndexRecord, readIndexRecord } from './index-codec.js';
import type { Segment, SegmentList } from './segment-list.js';
import { INDEX_RECORD_BYTES } from './types.js';

export function indexSlotPos(index: number): number {
  return index * INDEX_RECORD_BYTES;
}

/** The published index record of entry `index`, or null (no segment there, or nothing published). */
export function readIndexOf(indexList: SegmentList, index: number): IndexRecord | null {
  const slotPos = indexSlotPos(index);
  const segment = indexList.find(slotPos);
  if (segment === undefined) return null;
  return readIndexRecord(segment.view, segment.words, slotPos - segment.startPos);
}

/** Write and publish the index record of `record.index` (its segment must exist: ensure first). */
export function publishIndexOf(indexList: SegmentList, record: IndexRecord): void {
  const slotPos = indexSlotPos(record.index);
  const segment = indexList.ensure(slotPos);
  const offsetBytes = slotPos - segment.startPos;
  publishIndexRecord(segment.view, segment.words, offsetBytes, record);
  segment.markDirty(offsetBytes, offsetBytes + INDEX_RECORD_BYTES);
}

/**
 * Unpublish and zero index records from `fromIndex` on, up to `toIndex` inclusive or, when toIndex
 * is null, until the first record that is already empty (or the end of the list). Returns how
 * many records were cleared.
 */
export function clearIndexFrom(indexList: SegmentList, fromIndex: number, toIndex: number | null): number {
  let cleared = 0;
  for (let index = fromIndex; toIndex === null || index <= toIndex; index++) {
    const slotPos = indexSlotPos(index);
    const segment = indexList.find(slotPos);
    if (segment === undefined) break;
    const offsetBytes = slotPos - segment.startPos;
    const isEmpty = loadIndexMagic(segment.words, offsetBytes) === 0 && segment.bytes.subarray(offsetBytes, offsetBytes + INDEX_RECORD_BYTES).every((b) => b === 0);
    if (isEmpty) {
      if (toIndex === null) break;
      continue;
    }
    clearIndexRecord(segment.bytes, segment.words, offsetBytes);
    segment.markDirty(offsetBytes, offsetBytes + INDEX_RECORD_BYTES);
    cleared++;
  }
  return cleared;
}

/** The data segment holding `pos`; a missing one is corruption of the data directory. */
export function dataSegmentAt(dataList: SegmentList, pos: number, forWhat: string): Segment {
  const segment = dataList.find(pos);
  if (segment === undefined) {
    throw new StoreCorruptionError({
      filePath: dataList.pathOf(dataList.segmentStartOf(pos)),
      fileOffsetBytes: pos % dataList.segmentSizeBytes,
      what: `data segment holding ${forWhat}`,
      expected: 'the file to exist',
      found: 'no such segment',
    });
  }
  return segment;
}

/** The header at `pos` (no checks). */
export function headerAt(dataList: SegmentList, pos: number, forWhat: string): EntryHeader {
  const segment = dataSegmentAt(dataList, pos, forWhat);
  return readEntryHeader(segment.view, pos - segment.startPos);
}

export interface LocatedEntry {
  readonly segment: Segment;
  readonly offsetBytes: number;
  readonly header: EntryHeader;
  readonly indexRecord: IndexRecord;
}

/**
 * Find entry `index` through its index record and verify its record (fields against the index
 * record, pos, bodyCrc, and chainCrc when previousChainCrc is given). Corruption throws with the
 * file, offset, expected and found values.
 */
export function locateVerifiedEntry(
  dataList: SegmentList,
  indexList: SegmentList,
  index: number,
  previousChainCrc: number | null | undefined,
): LocatedEntry {
  const indexRecord = readIndexOf(indexList, index);
  const slotPos = indexSlotPos(index);
  if (indexRecord === null || indexRecord.index !== index) {
    throw new StoreCorruptionError({
      filePath: indexList.pathOf(indexList.segmentStartOf(slotPos)),
      fileOffsetBytes: slotPos % indexList.segmentSizeBytes,
      what: `index record of entry ${index}`,
      expected: `a published record for index ${index}`,
      found: indexRecord === null ? 'no record (magic 0)' : `a record for index ${indexRecord.index}`,
    });
  }
  const segment = dataSegmentAt(dataList, indexRecord.pos, `entry ${index}`);
  const offsetBytes = indexRecord.pos - segment.startPos;
  const check = checkRecord(segment.view, segment.bytes, offsetBytes, {
    pos: indexRecord.pos,
    maxSizeBytes: segment.file.sizeBytes - offsetBytes,
    index,
    previousChainCrc,
  });
  if (!check.ok) {
    throw new StoreCorruptionError({ filePath: segment.file.path, fileOffsetBytes: offsetBytes, what: check.what, expected: check.expected, found: check.found });
  }
  const header = check.header;
  if (header.sizeBytes !== indexRecord.sizeBytes || header.term !== indexRecord.term || header.magic !== indexRecord.magic) {
    throw new StoreCorruptionError({
      filePath: segment.file.path,
      fileOffsetBytes: offsetBytes,
      what: `entry ${index} against its index record`,
      expected: `magic ${indexRecord.magic} size ${indexRecord.sizeBytes} term ${indexRecord.term}`,
      found: `magic ${header.magic} size ${header.sizeBytes} term ${header.term}`,
    });
  }
  return { segment, offsetBytes, header, indexRecord };
}
