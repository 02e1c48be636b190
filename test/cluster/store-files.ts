// What a member's store directory holds, read from its files (by another process, after or while
// the member runs): the decoded entries, and a byte-for-byte comparison of the data and index
// segments of several members up to what each has written. Caught-up replicas must be identical
// on disk, not only entry by entry: followers write the leader's records at the leader's
// positions, BLANK fillers included.
import fs from 'node:fs';
import path from 'node:path';
import { DATA_DIR_NAME, INDEX_DIR_NAME, INDEX_RECORD_BYTES, openLogReader, type StoredEntry } from '../../src/store/index.js';
import { SMALL_SEGMENTS } from './helpers.js';

export interface SegmentSizes {
  readonly dataSegmentSizeBytes: number;
  readonly indexSegmentSizeBytes: number;
}

/** Every entry of a member's log, in index order (empty when the directory has none). */
export function readEntries(nodeDir: string, sizes: SegmentSizes = SMALL_SEGMENTS): StoredEntry[] {
  const reader = openLogReader({ nodeDir, ...sizes });
  try {
    const entries: StoredEntry[] = [];
    const last = reader.lastIndex();
    for (let index = 0; index <= last; index++) {
      const entry = reader.get(index);
      if (entry === null) throw new Error(`${nodeDir}: entry ${index} of [0, ${last}] unreadable`);
      entries.push(entry);
    }
    return entries;
  } finally {
    reader.close();
  }
}

export function lastIndexOf(nodeDir: string, sizes: SegmentSizes = SMALL_SEGMENTS): number {
  if (!fs.existsSync(nodeDir)) return -1;
  const reader = openLogReader({ nodeDir, ...sizes });
  try {
    return reader.lastIndex();
  } finally {
    reader.close();
  }
}

export interface WrittenExtent {
  readonly lastIndex: number;
  /** End of the last record: the data files hold [0, dataEndPos). */
  readonly dataEndPos: number;
  /** (lastIndex + 1) * 32: the index files hold [0, indexEndPos). */
  readonly indexEndPos: number;
}

export function writtenExtent(nodeDir: string, sizes: SegmentSizes = SMALL_SEGMENTS): WrittenExtent {
  const reader = openLogReader({ nodeDir, ...sizes });
  try {
    const lastIndex = reader.lastIndex();
    const last = lastIndex < 0 ? null : reader.get(lastIndex);
    if (lastIndex >= 0 && last === null) throw new Error(`${nodeDir}: last entry ${lastIndex} unreadable`);
    return { lastIndex, dataEndPos: last === null ? 0 : last.pos + last.sizeBytes, indexEndPos: (lastIndex + 1) * INDEX_RECORD_BYTES };
  } finally {
    reader.close();
  }
}

export interface ComparedBytes {
  readonly extent: WrittenExtent;
  readonly dataFiles: number;
  readonly dataBytes: number;
  readonly indexFiles: number;
  readonly indexBytes: number;
}

/**
 * Compare the members' data and index segment files byte for byte over [0, written end). Throws,
 * naming the file and the first differing offset, when the extents or any byte differ. Bytes past
 * the written end (a segment prepared ahead, a stale tail left by a truncation) are not compared.
 */
export function compareStoreFiles(nodeDirs: readonly string[], sizes: SegmentSizes = SMALL_SEGMENTS): ComparedBytes {
  const extents = nodeDirs.map((dir) => writtenExtent(dir, sizes));
  const first = extents[0];
  if (first === undefined) throw new Error('no member to compare');
  extents.forEach((extent, i) => {
    if (extent.lastIndex !== first.lastIndex || extent.dataEndPos !== first.dataEndPos) {
      throw new Error(`${nodeDirs[i]} written to index ${extent.lastIndex} / data pos ${extent.dataEndPos}, ${nodeDirs[0]} to ${first.lastIndex} / ${first.dataEndPos}`);
    }
  });
  const data = compareDirectory(nodeDirs.map((dir) => path.join(dir, DATA_DIR_NAME)), sizes.dataSegmentSizeBytes, first.dataEndPos);
  const index = compareDirectory(nodeDirs.map((dir) => path.join(dir, INDEX_DIR_NAME)), sizes.indexSegmentSizeBytes, first.indexEndPos);
  return { extent: first, dataFiles: data.files, dataBytes: data.bytes, indexFiles: index.files, indexBytes: index.bytes };
}

function compareDirectory(dirs: readonly string[], segmentSizeBytes: number, endPos: number): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (let startPos = 0; startPos < endPos; startPos += segmentSizeBytes) {
    const name = String(startPos).padStart(20, '0');
    const length = Math.min(segmentSizeBytes, endPos - startPos);
    const contents = dirs.map((dir) => {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) throw new Error(`${file} missing (written end ${endPos})`);
      const buffer = fs.readFileSync(file);
      if (buffer.length < length) throw new Error(`${file} is ${buffer.length} bytes, expected at least ${length}`);
      return buffer.subarray(0, length);
    });
    const reference = contents[0]!;
    contents.forEach((content, i) => {
      if (content.equals(reference)) return;
      let offset = 0;
      while (offset < length && content[offset] === reference[offset]) offset++;
      throw new Error(`${path.join(dirs[i]!, name)} differs from ${path.join(dirs[0]!, name)} at byte ${offset} (0x${content[offset]?.toString(16)} vs 0x${reference[offset]?.toString(16)})`);
    });
    files++;
    bytes += length;
  }
  return { files, bytes };
}
