// The verification of one data segment on its own, for a recovery that scans segments in
// parallel (threads=workers: the I/O pool's threads, src/node/recovery-scan.ts). It runs the
// checks recovery's serial scan runs (recovery.ts), record by record inside the segment, except
// what needs the previous segment: the first record's index, term order and chainCrc. recoverLog
// checks that first record itself, with the full context, and only then takes the scan's word for
// the records after it, up to where the scan stopped; from there on its own loop runs as always.
// So a stop (a torn or corrupted record) is found again by the serial code, with the same
// message, the same evidence search and the same cut or refusal.
import { BLANK_MIN_BYTES, checkRecord } from './entry-codec.js';
import type { IndexRecord } from './index-codec.js';
import { EntryMagic } from './types.js';

export interface SegmentScan {
  /** The segment's first byte's global position. */
  readonly startPos: number;
  /** Where the scan began in the segment (the first record's offset). */
  readonly fromOffsetBytes: number;
  /** Records that verified, the first one included (its index, term and chain unchecked here). */
  readonly verifiedRecords: number;
  /** The end of the last verified record (fromOffsetBytes when none verified). */
  readonly verifiedEndOffsetBytes: number;
  /** The last verified record's fields (null when none verified). */
  readonly last: { readonly index: number; readonly term: number; readonly chainCrc: number; readonly pos: number; readonly sizeBytes: number } | null;
  /**
   * Verified records after the first whose index record is missing or does not match the data
   * (recovery rewrites those); null when the scan could not read the index.
   */
  readonly indexMismatches: number | null;
}

/** The published index record of an entry, or null (none, or no index segment there). */
export type IndexLookup = (index: number) => IndexRecord | null;

/** Verify `bytes` (one whole data segment at startPos) from fromOffsetBytes until a record fails, a BLANK or the end. */
export function scanSegment(bytes: Uint8Array, startPos: number, fromOffsetBytes: number, indexOf: IndexLookup | null = null): SegmentScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizeBytes = bytes.byteLength;
  let offsetBytes = fromOffsetBytes;
  let verifiedRecords = 0;
  let previous: { index: number; term: number; chainCrc: number; pos: number; sizeBytes: number } | null = null;
  let indexMismatches = 0;
  for (;;) {
    const remainingBytes = sizeBytes - offsetBytes;
    // The serial scan's stops (recovery.ts), in its order: it finds them again from here.
    if (remainingBytes < BLANK_MIN_BYTES) break;
    const magic = view.getInt32(offsetBytes);
    const recordSizeBytes = view.getInt32(offsetBytes + 4);
    if ((magic === 0 && recordSizeBytes === 0) || magic === EntryMagic.Blank) break;
    const check = checkRecord(view, bytes, offsetBytes, {
      pos: startPos + offsetBytes,
      maxSizeBytes: remainingBytes - BLANK_MIN_BYTES,
      ...(previous === null ? {} : { index: previous.index + 1, minTerm: previous.term, previousChainCrc: previous.chainCrc }),
    });
    if (!check.ok) break;
    const header = check.header;
    // The same comparison recovery makes before it rewrites an index record.
    if (previous !== null && indexOf !== null) {
      const record = indexOf(header.index);
      if (record === null || record.magic !== header.magic || record.pos !== header.pos || record.sizeBytes !== header.sizeBytes || record.index !== header.index || record.term !== header.term) indexMismatches++;
    }
    previous = { index: header.index, term: header.term, chainCrc: header.chainCrc, pos: header.pos, sizeBytes: header.sizeBytes };
    offsetBytes += check.header.sizeBytes;
    verifiedRecords++;
  }
  return { startPos, fromOffsetBytes, verifiedRecords, verifiedEndOffsetBytes: offsetBytes, last: previous, indexMismatches: indexOf === null ? null : indexMismatches };
}


/** One segment to scan: its file, its start pos, where recovery will enter it. */
export interface SegmentScanTask {
  readonly filePath: string;
  readonly startPos: number;
  readonly sizeBytes: number;
  readonly fromOffsetBytes: number;
  /** The node's index directory and its segment size: the scan also compares the index records. */
  readonly indexDirPath: string;
  readonly indexSegmentSizeBytes: number;
}
