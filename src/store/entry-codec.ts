// The 48-byte entry header of DLedger's data files, big-endian (reference/dledger.md §2.2):
//
//   0 magic:int32 | 4 size:int32 | 8 index:int64 | 16 term:int64 | 24 pos:int64 |
//   32 channel:int32 | 36 chainCrc:int32 | 40 bodyCrc:int32 | 44 bodyLength:int32 | 48 body
//
// DLedger writes chainCrc and bodyCrc as 0; we compute and verify both:
//   bodyCrc  = crc32(body)
//   chainCrc = crc32(header[0..36) ++ header[40..48), seeded with the previous entry's chainCrc)
// i.e. the fields magic..channel plus bodyCrc and bodyLength, chained. bodyCrc alone proves a body
// intact; the chain proves the *sequence*: a stale record left from before a truncation that sits
// exactly where the next record would go, or a record copied or moved out of order, has a valid
// bodyCrc but cannot carry the chainCrc that its true predecessor implies. The chain starts at 0
// before the first entry of a log.
//
// A BLANK filler is only magic=-1 and size=remaining (8 bytes); the rest of the segment is left
// as it is (zero in a fresh, fallocated file), so replicas stay byte-identical.
import { crc32Of, crc32Range } from './crc.js';
import { readUint53BE, writeUint53BE } from './int64.js';
import { ENTRY_HEADER_BYTES, EntryMagic } from './types.js';

export const HeaderOffset = {
  magic: 0,
  sizeBytes: 4,
  index: 8,
  term: 16,
  pos: 24,
  channel: 32,
  chainCrc: 36,
  bodyCrc: 40,
  bodyLength: 44,
} as const;

/** A BLANK filler needs its magic and size: a record goes to the next segment when len + 8 > remaining. */
export const BLANK_MIN_BYTES = 8;

export interface EntryHeader {
  readonly magic: number;
  readonly sizeBytes: number;
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly channel: number;
  readonly chainCrc: number;
  readonly bodyCrc: number;
  readonly bodyLength: number;
}

export function isEntryMagic(magic: number): magic is EntryMagic {
  return magic === EntryMagic.Normal || magic === EntryMagic.Noop;
}

/** The chainCrc of the header at `offsetBytes` of `bytes` (whose bodyCrc field is already written). */
export function computeChainCrc(bytes: Uint8Array, offsetBytes: number, previousChainCrc: number): number {
  const headCrc = crc32Range(bytes, offsetBytes, offsetBytes + HeaderOffset.chainCrc, previousChainCrc);
  return crc32Range(bytes, offsetBytes + HeaderOffset.bodyCrc, offsetBytes + ENTRY_HEADER_BYTES, headCrc);
}

export interface NewEntryHeader {
  readonly magic: EntryMagic;
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly bodyLength: number;
  readonly bodyCrc: number;
}

/**
 * Write a complete header at `offsetBytes` of the segment view/bytes (the body must follow at
 * +48) and return its chainCrc. Writes straight into the mapping: no intermediate buffer.
 */
export function writeEntryHeader(
  view: DataView,
  bytes: Uint8Array,
  offsetBytes: number,
  header: NewEntryHeader,
  previousChainCrc: number,
): number {
  view.setInt32(offsetBytes + HeaderOffset.magic, header.magic);
  view.setInt32(offsetBytes + HeaderOffset.sizeBytes, ENTRY_HEADER_BYTES + header.bodyLength);
  writeUint53BE(view, offsetBytes + HeaderOffset.index, header.index);
  writeUint53BE(view, offsetBytes + HeaderOffset.term, header.term);
  writeUint53BE(view, offsetBytes + HeaderOffset.pos, header.pos);
  view.setInt32(offsetBytes + HeaderOffset.channel, 0);
  view.setUint32(offsetBytes + HeaderOffset.bodyCrc, header.bodyCrc);
  view.setInt32(offsetBytes + HeaderOffset.bodyLength, header.bodyLength);
  const chainCrc = computeChainCrc(bytes, offsetBytes, previousChainCrc);
  view.setUint32(offsetBytes + HeaderOffset.chainCrc, chainCrc);
  return chainCrc;
}

export function writeBlank(view: DataView, offsetBytes: number, sizeBytes: number): void {
  view.setInt32(offsetBytes + HeaderOffset.magic, EntryMagic.Blank);
  view.setInt32(offsetBytes + HeaderOffset.sizeBytes, sizeBytes);
}

/** Decode a header; 64-bit fields that are negative or beyond 2^53 decode as NaN. */
export function readEntryHeader(view: DataView, offsetBytes: number): EntryHeader {
  return {
    magic: view.getInt32(offsetBytes + HeaderOffset.magic),
    sizeBytes: view.getInt32(offsetBytes + HeaderOffset.sizeBytes),
    index: readUint53BE(view, offsetBytes + HeaderOffset.index),
    term: readUint53BE(view, offsetBytes + HeaderOffset.term),
    pos: readUint53BE(view, offsetBytes + HeaderOffset.pos),
    channel: view.getInt32(offsetBytes + HeaderOffset.channel),
    chainCrc: view.getUint32(offsetBytes + HeaderOffset.chainCrc),
    bodyCrc: view.getUint32(offsetBytes + HeaderOffset.bodyCrc),
    bodyLength: view.getInt32(offsetBytes + HeaderOffset.bodyLength),
  };
}

/** What a record must be to be accepted at some place in the log. Omitted fields are not checked. */
export interface RecordExpectation {
  /** Global position where the record lies; its pos field must equal it. */
  readonly pos: number;
  /** Largest record size that may lie here (room left in the segment under the BLANK rule, or buffer end). */
  readonly maxSizeBytes: number;
  readonly index?: number;
  /** Terms never decrease along the log. */
  readonly minTerm?: number;
  /** Previous entry's chainCrc; null when unknown (first entry after a reset to a foreign prefix). */
  readonly previousChainCrc?: number | null;
}

export type RecordCheck =
  | { readonly ok: true; readonly header: EntryHeader }
  | { readonly ok: false; readonly what: string; readonly expected: string; readonly found: string };

/**
 * Verify one record in place: header fields, pos, index, term order, bodyCrc and chainCrc, in that
 * order, reporting the first failure with expected and found values.
 */
export function checkRecord(
  view: DataView,
  bytes: Uint8Array,
  offsetBytes: number,
  expectation: RecordExpectation,
): RecordCheck {
  if (expectation.maxSizeBytes < ENTRY_HEADER_BYTES) {
    return fail('room for a header', `>= ${ENTRY_HEADER_BYTES} bytes`, `${expectation.maxSizeBytes} bytes`);
  }
  const header = readEntryHeader(view, offsetBytes);
  if (!isEntryMagic(header.magic)) return fail('magic', '1 (NORMAL) or 2 (NOOP)', String(header.magic));
  if (header.sizeBytes < ENTRY_HEADER_BYTES || header.sizeBytes > expectation.maxSizeBytes) {
    return fail('size', `${ENTRY_HEADER_BYTES}..${expectation.maxSizeBytes}`, String(header.sizeBytes));
  }
  if (header.bodyLength !== header.sizeBytes - ENTRY_HEADER_BYTES) {
    return fail('bodyLength', String(header.sizeBytes - ENTRY_HEADER_BYTES), String(header.bodyLength));
  }
  if (header.pos !== expectation.pos) return fail('pos field', String(expectation.pos), String(header.pos));
  if (expectation.index !== undefined && header.index !== expectation.index) {
    return fail('index', String(expectation.index), String(header.index));
  }
  if (Number.isNaN(header.index)) return fail('index', 'a non-negative 53-bit integer', 'out of range');
  if (Number.isNaN(header.term)) return fail(`term of entry ${header.index}`, 'a non-negative 53-bit integer', 'out of range');
  if (expectation.minTerm !== undefined && header.term < expectation.minTerm) {
    return fail(`term of entry ${header.index}`, `>= ${expectation.minTerm}`, String(header.term));
  }
  const bodyStart = offsetBytes + ENTRY_HEADER_BYTES;
  const bodyCrc = crc32Of(bytes.subarray(bodyStart, bodyStart + header.bodyLength));
  if (bodyCrc !== header.bodyCrc) {
    return fail(`bodyCrc of entry ${header.index}`, hex(bodyCrc), hex(header.bodyCrc));
  }
  const previous = expectation.previousChainCrc;
  if (previous !== undefined && previous !== null) {
    const chainCrc = computeChainCrc(bytes, offsetBytes, previous);
    if (chainCrc !== header.chainCrc) {
      return fail(`chainCrc of entry ${header.index}`, hex(chainCrc), hex(header.chainCrc));
    }
  }
  return { ok: true, header };
}

export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

function fail(what: string, expected: string, found: string): RecordCheck {
  return { ok: false, what, expected, found };
}
