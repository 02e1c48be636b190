// The 32-byte index record of DLedger (reference/dledger.md §2.3), big-endian, at byte index*32 of
// the index file list:  magic:int32 | pos:int64 | size:int32 | index:int64 | term:int64.
//
// Publication protocol for readers in other threads that map the same files: the writer writes
// the data record first, then pos/size/index/term of the index record, and only then stores the
// magic word with Atomics.store (a sequentially consistent store, so every earlier write of this
// thread is visible to a thread that observes it with Atomics.load). A magic word of 0 means "no
// entry here"; a reader that sees a non-zero magic sees a whole entry. Clearing (truncation) goes
// the other way: magic first, then the rest.
import { bigEndianWord, readUint53BE, writeUint53BE } from './int64.js';
import { INDEX_RECORD_BYTES } from './types.js';

export const IndexOffset = { magic: 0, pos: 4, sizeBytes: 12, index: 16, term: 24 } as const;

export interface IndexRecord {
  readonly magic: number;
  readonly pos: number;
  readonly sizeBytes: number;
  readonly index: number;
  readonly term: number;
}

/** Write the record at `offsetBytes` (a multiple of 32) and publish it by storing its magic last. */
export function publishIndexRecord(
  view: DataView,
  words: Int32Array,
  offsetBytes: number,
  record: IndexRecord,
): void {
  writeUint53BE(view, offsetBytes + IndexOffset.pos, record.pos);
  view.setInt32(offsetBytes + IndexOffset.sizeBytes, record.sizeBytes);
  writeUint53BE(view, offsetBytes + IndexOffset.index, record.index);
  writeUint53BE(view, offsetBytes + IndexOffset.term, record.term);
  Atomics.store(words, offsetBytes >> 2, bigEndianWord(record.magic));
}

/** The published magic at `offsetBytes`, or 0 when no record is published there. */
export function loadIndexMagic(words: Int32Array, offsetBytes: number): number {
  const word = Atomics.load(words, offsetBytes >> 2);
  return word === 0 ? 0 : bigEndianWord(word);
}

/** Read a record, or null when its magic word is 0 (nothing published). */
export function readIndexRecord(view: DataView, words: Int32Array, offsetBytes: number): IndexRecord | null {
  const magic = loadIndexMagic(words, offsetBytes);
  if (magic === 0) return null;
  return {
    magic,
    pos: readUint53BE(view, offsetBytes + IndexOffset.pos),
    sizeBytes: view.getInt32(offsetBytes + IndexOffset.sizeBytes),
    index: readUint53BE(view, offsetBytes + IndexOffset.index),
    term: readUint53BE(view, offsetBytes + IndexOffset.term),
  };
}

/** Unpublish then zero one record. */
export function clearIndexRecord(bytes: Uint8Array, words: Int32Array, offsetBytes: number): void {
  Atomics.store(words, offsetBytes >> 2, 0);
  bytes.fill(0, offsetBytes, offsetBytes + INDEX_RECORD_BYTES);
}
