// Recovery on open: verify the log forward from the checkpoint, cut a torn tail, rebuild a lagging
// index tail from the data (the data is the source of truth), and refuse to open when the damage
// is not at the tail.
//
// Every record is checked: magic, size (and the BLANK rule), bodyLength, pos == where it lies,
// index == previous + 1, term never decreasing, bodyCrc, chainCrc. The scan stops at the first
// record that fails. What follows decides between two very different situations:
//   - a torn tail: the process or machine died while the last records were being written. Nothing
//     after the stop point verifies, and those records were never reported durable (durability is
//     reported for a prefix only). They are cut (zeroed) — legitimately lost.
//   - corruption before the tail (a bit flip, a zeroed page, a lost write in the middle): records
//     after the stop point still verify — the next record in line, an index record pointing at a
//     verifying record, or the first record of a later segment. Cutting would silently drop data
//     that verifiably was there, so recovery refuses to open and names the file, offset, expected
//     and found values. An operator decides (restore the replica from a peer).
// After SIGKILL the page cache holds every byte written, in program order (record, then index
// record), so a kill can only leave a partial last record followed by zeros: always a tail. A power
// loss under flush=async may persist pages out of order inside the unflushed window; if that leaves
// a hole before verifying records, this refuses rather than guesses (see README).
import { StoreCorruptionError } from './errors.js';
import { BLANK_MIN_BYTES, checkRecord, hex, isEntryMagic, readEntryHeader } from './entry-codec.js';
import type { Checkpoint } from './checkpoint.js';
import { clearIndexFrom, dataSegmentAt, indexSlotPos, publishIndexOf, readIndexOf } from './log-access.js';
import type { Segment, SegmentList } from './segment-list.js';
import type { SegmentScan } from './segment-scan.js';
import { ENTRY_HEADER_BYTES, EntryMagic } from './types.js';

/** How many index records past the stop point are examined for evidence of later valid entries. */
const INDEX_EVIDENCE_RECORDS_MAX = 4096;
/** Zeroing at a cut works in chunks, so untouched zero pages are never dirtied. */
const ZERO_CHUNK_BYTES = 4096;
const ZERO_CHUNK = new Uint8Array(ZERO_CHUNK_BYTES);

export interface RecoveryReport {
  readonly startedFrom: 'checkpoint' | 'log start';
  /** Entries whose records were verified by this recovery. */
  readonly verifiedEntries: number;
  /** Index records rewritten from the data (a lagging or stale index tail). */
  readonly rebuiltIndexRecords: number;
  /** Stale index records past the end cleared. */
  readonly clearedIndexRecords: number;
  /** Of verifiedEntries, those whose CRCs a parallel segment scan verified (segment-scan.ts). */
  readonly verifiedByScans: number;
  /** Where a torn tail was cut, and why; null when the log ended cleanly. */
  readonly cutAtPos: number | null;
  readonly cutReason: string | null;
  /** Segment files removed (past the end, or before the log's first segment). */
  readonly removedSegments: readonly string[];
}

export interface RecoveredLog {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly lastChainCrc: number | null;
  /** pos and size of the last entry's record (-1 and 0 when the log is empty). */
  readonly lastEntryPos: number;
  readonly lastEntrySizeBytes: number;
  readonly endPos: number;
  readonly report: RecoveryReport;
}

interface ScanStop {
  readonly pos: number;
  readonly segment: Segment;
  readonly offsetBytes: number;
  readonly what: string;
  readonly expected: string;
  readonly found: string;
  /** The stop record's header is all zeros: the ordinary end of a log (or a tear at a header). */
  readonly isZeroHeader: boolean;
}

/**
 * `scans` (by segment start pos): segments verified beforehand, in parallel (segment-scan.ts). A
 * scan is used only where this loop enters its segment at the scan's first record and that record
 * verifies here with the full context; the records after it up to the scan's stop are then taken
 * as verified instead of checked again: skipped over when the scan also found all their index
 * records in place, else their headers read and their index records checked here. Results are
 * the same with or without scans: every stop is still found by this loop.
 */
export function recoverLog(dataList: SegmentList, indexList: SegmentList, checkpoint: Checkpoint, maxRecordBytes: number, scans?: ReadonlyMap<number, SegmentScan>): RecoveredLog {
  let lastIndex = checkpoint.beforeBeginIndex;
  let lastTerm = checkpoint.beforeBeginTerm;
  let lastChainCrc = checkpoint.beforeBeginChainCrc;
  let lastEntryPos = -1;
  let lastEntrySizeBytes = 0;
  let pos = checkpoint.firstPos;
  let startedFrom: RecoveryReport['startedFrom'] = 'log start';

  const verified = checkpoint.verified;
  if (verified !== null && verified.index > checkpoint.beforeBeginIndex) {
    // The checkpoint vouches that this record was durable and verified: if it no longer verifies,
    // acknowledged data is damaged, which is corruption, never a torn tail.
    const segment = dataSegmentAt(dataList, verified.pos, `checkpointed entry ${verified.index}`);
    const offsetBytes = verified.pos - segment.startPos;
    const check = checkRecord(segment.view, segment.bytes, offsetBytes, { pos: verified.pos, maxSizeBytes: segment.file.sizeBytes - offsetBytes, index: verified.index });
    const header = readEntryHeader(segment.view, offsetBytes);
    const describe = (h: { index: number; term: number; sizeBytes: number; chainCrc: number; pos: number }): string =>
      `index ${h.index} term ${h.term} size ${h.sizeBytes} chainCrc ${hex(h.chainCrc)} pos ${h.pos}`;
    if (!check.ok) {
      throw new StoreCorruptionError({ filePath: segment.file.path, fileOffsetBytes: offsetBytes, what: check.what, expected: check.expected, found: check.found, detail: `entry ${verified.index} is recorded as durable in the checkpoint` });
    }
    if (header.term !== verified.term || header.sizeBytes !== verified.sizeBytes || header.chainCrc !== verified.chainCrc) {
      throw new StoreCorruptionError({
        filePath: segment.file.path,
        fileOffsetBytes: offsetBytes,
        what: `entry ${verified.index} recorded in the checkpoint`,
        expected: describe(verified),
        found: describe(header),
      });
    }
    lastIndex = verified.index;
    lastTerm = verified.term;
    lastChainCrc = verified.chainCrc;
    lastEntryPos = verified.pos;
    lastEntrySizeBytes = verified.sizeBytes;
    pos = verified.pos + verified.sizeBytes;
    startedFrom = 'checkpoint';
  }
  if (!dataList.isEmpty && pos < dataList.firstStartPos) {
    throw new StoreCorruptionError({
      filePath: dataList.pathOf(dataList.segmentStartOf(pos)),
      fileOffsetBytes: pos % dataList.segmentSizeBytes,
      what: 'data segment holding the start of the log',
      expected: 'the file to exist',
      found: `no such segment; the first segment is ${dataList.pathOf(dataList.firstStartPos)}`,
    });
  }
  const scanStartPos = pos;
  const scanStartIndex = lastIndex + 1;

  let verifiedEntries = 0;
  let verifiedByScans = 0;
  let rebuiltIndexRecords = 0;
  let stop: ScanStop | null = null;
  // Invariant: records starting before trustedEndPos (in the current segment, after its scan's
  // first record) were verified by that segment's scan with their predecessor's fields.
  let trustedEndPos = -1;
  let skipTo: SegmentScan | null = null;
  for (;;) {
    const segment = dataList.find(pos);
    if (segment === undefined) break;
    const offsetBytes = pos - segment.startPos;
    const remainingBytes = segment.file.sizeBytes - offsetBytes;
    const stopHere = (what: string, expected: string, found: string, isZeroHeader = false): ScanStop => ({ pos, segment, offsetBytes, what, expected, found, isZeroHeader });
    if (remainingBytes < BLANK_MIN_BYTES) {
      stop = stopHere('room left at the segment end', `0 or >= ${BLANK_MIN_BYTES} bytes`, `${remainingBytes} bytes`);
      break;
    }
    const magic = segment.view.getInt32(offsetBytes);
    const sizeBytes = segment.view.getInt32(offsetBytes + 4);
    if (magic === 0 && sizeBytes === 0) {
      stop = stopHere(`record header of entry ${lastIndex + 1}`, 'magic 1 or 2', 'zeros', true);
      break;
    }
    if (magic === EntryMagic.Blank) {
      if (sizeBytes === remainingBytes) {
        pos = segment.endPos;
        continue;
      }
      stop = stopHere('BLANK filler size', `${remainingBytes} (the rest of the segment)`, String(sizeBytes));
      break;
    }
    let header: ReturnType<typeof readEntryHeader>;
    if (pos < trustedEndPos) {
      header = readEntryHeader(segment.view, offsetBytes);
      verifiedByScans++;
    } else {
      const check = checkRecord(segment.view, segment.bytes, offsetBytes, {
        pos,
        maxSizeBytes: remainingBytes - BLANK_MIN_BYTES,
        index: lastIndex + 1,
        minTerm: lastTerm,
        previousChainCrc: lastChainCrc,
      });
      if (!check.ok) {
        stop = stopHere(check.what, check.expected, check.found);
        break;
      }
      header = check.header;
      const scan = scans?.get(segment.startPos);
      if (scan !== undefined && scan.fromOffsetBytes === offsetBytes && scan.verifiedRecords > 1) {
        trustedEndPos = segment.startPos + scan.verifiedEndOffsetBytes;
        // Every index record after this one matched too: nothing in between needs this loop.
        if (scan.indexMismatches === 0 && scan.last !== null) skipTo = scan;
      }
    }
    const indexRecord = readIndexOf(indexList, header.index);
    if (indexRecord === null || indexRecord.magic !== header.magic || indexRecord.pos !== pos || indexRecord.sizeBytes !== header.sizeBytes || indexRecord.index !== header.index || indexRecord.term !== header.term) {
      publishIndexOf(indexList, { magic: header.magic, pos, sizeBytes: header.sizeBytes, index: header.index, term: header.term });
      rebuiltIndexRecords++;
    }
    lastIndex = header.index;
    lastTerm = header.term;
    lastChainCrc = header.chainCrc;
    lastEntryPos = pos;
    lastEntrySizeBytes = header.sizeBytes;
    pos += header.sizeBytes;
    verifiedEntries++;
    if (skipTo !== null && skipTo.last !== null) {
      const skipped = skipTo.verifiedRecords - 1;
      lastIndex = skipTo.last.index;
      lastTerm = skipTo.last.term;
      lastChainCrc = skipTo.last.chainCrc;
      lastEntryPos = skipTo.last.pos;
      lastEntrySizeBytes = skipTo.last.sizeBytes;
      pos = trustedEndPos;
      verifiedEntries += skipped;
      verifiedByScans += skipped;
      skipTo = null;
    }
  }
  const endPos = pos;

  let cutAtPos: number | null = null;
  let cutReason: string | null = null;
  if (stop !== null) {
    const evidence = findLaterValidEntry(dataList, indexList, stop, lastIndex);
    if (evidence !== null) {
      throw new StoreCorruptionError({
        filePath: stop.segment.file.path,
        fileOffsetBytes: stop.offsetBytes,
        what: stop.what,
        expected: stop.expected,
        found: stop.found,
        detail: `not a torn tail: ${evidence} still verifies, so cutting here would drop verified data; the log ends verified at entry ${lastIndex}`,
      });
    }
    const zeroedBytes = zeroNonZeroChunks(stop.segment, stop.offsetBytes, Math.min(stop.segment.file.sizeBytes, stop.offsetBytes + maxRecordBytes + BLANK_MIN_BYTES));
    if (!stop.isZeroHeader || zeroedBytes > 0) {
      cutAtPos = stop.pos;
      cutReason = `${stop.what}: expected ${stop.expected}, found ${stop.found}`;
    }
  }

  // Past the end: later data segments (checked above to hold nothing that verifies) and stale
  // index records. Before the start: segments a crash left behind after the checkpoint moved on.
  const removedSegments: string[] = [];
  const endSegment = dataList.find(endPos);
  removedSegments.push(...dataList.removeFrom(endSegment === undefined ? endPos : endSegment.startPos + dataList.segmentSizeBytes).map((name) => `data/${name}`));
  // Stale index records past the end: every one in the window the evidence search examined (a
  // power loss can leave holes), then on until the first empty one.
  const clearedIndexRecords =
    clearIndexFrom(indexList, lastIndex + 1, lastIndex + INDEX_EVIDENCE_RECORDS_MAX) +
    clearIndexFrom(indexList, lastIndex + INDEX_EVIDENCE_RECORDS_MAX + 1, null);
  const endIndexSegmentStart = indexList.segmentStartOf(indexSlotPos(lastIndex + 1));
  removedSegments.push(...indexList.removeFrom(endIndexSegmentStart + indexList.segmentSizeBytes).map((name) => `index/${name}`));
  removedSegments.push(...dataList.removeEndingBy(dataList.segmentStartOf(checkpoint.firstPos)).map((name) => `data/${name}`));
  removedSegments.push(...indexList.removeEndingBy(indexList.segmentStartOf(indexSlotPos(checkpoint.beforeBeginIndex + 1))).map((name) => `index/${name}`));

  // What was read back may still be only in the page cache (after a SIGKILL nothing reached the
  // disk yet): make the verified range and the rebuilt index durable before anything relies on it.
  markRangeDirty(dataList, scanStartPos, endPos);
  markRangeDirty(indexList, indexSlotPos(scanStartIndex), indexSlotPos(lastIndex + 1));
  dataList.flushDirty();
  indexList.flushDirty();
  if (removedSegments.length > 0) {
    dataList.syncDirectory();
    indexList.syncDirectory();
  }

  return {
    lastIndex,
    lastTerm,
    lastChainCrc,
    lastEntryPos,
    lastEntrySizeBytes,
    endPos,
    report: { startedFrom, verifiedEntries, verifiedByScans, rebuiltIndexRecords, clearedIndexRecords, cutAtPos, cutReason, removedSegments },
  };
}

/** A description of a verifying entry after the stop point, or null when there is none. */
function findLaterValidEntry(dataList: SegmentList, indexList: SegmentList, stop: ScanStop, lastIndex: number): string | null {
  // The record right after the bad one, if the bad one's header still gives its size.
  const segmentBytes = stop.segment.file.sizeBytes;
  const header = stop.offsetBytes + ENTRY_HEADER_BYTES <= segmentBytes ? readEntryHeader(stop.segment.view, stop.offsetBytes) : null;
  if (header !== null && isEntryMagic(header.magic) && header.sizeBytes >= ENTRY_HEADER_BYTES && stop.offsetBytes + header.sizeBytes + ENTRY_HEADER_BYTES <= segmentBytes) {
    const found = verifiesStandalone(stop.segment, stop.offsetBytes + header.sizeBytes, lastIndex + 2);
    if (found !== null) return found;
  }
  // Entries the index still points at, past the stop point.
  for (let index = lastIndex + 1; index <= lastIndex + INDEX_EVIDENCE_RECORDS_MAX; index++) {
    const slotPos = indexSlotPos(index);
    if (indexList.find(slotPos) === undefined) break;
    const record = readIndexOf(indexList, index);
    if (record === null || !(record.pos > stop.pos)) continue;
    const segment = dataList.find(record.pos);
    if (segment === undefined) continue;
    const found = verifiesStandalone(segment, record.pos - segment.startPos, index);
    if (found !== null) return `${found} (pointed at by the index record of entry ${index})`;
  }
  // The first record of every later data segment.
  for (const segment of dataList.segments) {
    if (segment.startPos <= stop.segment.startPos) continue;
    const found = verifiesStandalone(segment, 0, undefined);
    if (found !== null) return found;
  }
  return null;
}

function verifiesStandalone(segment: Segment, offsetBytes: number, index: number | undefined): string | null {
  if (offsetBytes + ENTRY_HEADER_BYTES > segment.file.sizeBytes) return null;
  const check = checkRecord(segment.view, segment.bytes, offsetBytes, {
    pos: segment.startPos + offsetBytes,
    maxSizeBytes: segment.file.sizeBytes - offsetBytes,
    ...(index === undefined ? {} : { index }),
  });
  return check.ok ? `entry ${check.header.index} at ${segment.file.path} offset ${offsetBytes}` : null;
}

/** Zero [fromBytes, toBytes) of a segment, writing only chunks that hold a non-zero byte. */
function zeroNonZeroChunks(segment: Segment, fromBytes: number, toBytes: number): number {
  let zeroedBytes = 0;
  for (let chunkStart = fromBytes; chunkStart < toBytes; ) {
    const chunkEnd = Math.min(toBytes, chunkStart - (chunkStart % ZERO_CHUNK_BYTES) + ZERO_CHUNK_BYTES);
    const chunk = segment.bytes.subarray(chunkStart, chunkEnd);
    if (Buffer.compare(chunk, ZERO_CHUNK.subarray(0, chunk.length)) !== 0) {
      chunk.fill(0);
      segment.markDirty(chunkStart, chunkEnd);
      zeroedBytes += chunkEnd - chunkStart;
    }
    chunkStart = chunkEnd;
  }
  return zeroedBytes;
}

function markRangeDirty(list: SegmentList, fromPos: number, toPos: number): void {
  for (const segment of list.segments) {
    const from = Math.max(fromPos, segment.startPos);
    const to = Math.min(toPos, segment.endPos);
    if (from < to) segment.markDirty(from - segment.startPos, to - segment.startPos);
  }
}
