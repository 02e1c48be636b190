// Checks a whole recovered log from outside the store, against the deterministic contents of
// entry-content.ts: every index from the first to lastIndex is present (a dense prefix), holds
// exactly the expected body, and its CRCs verify — recomputed here independently of the store's
// codec: bodyCrc = crc32(body); chainCrc = crc32(header[0..36) ++ header[40..48)) seeded with the
// previous entry's chainCrc (0 before entry 0), as src/store/entry-codec.ts documents.
// Throws an Error naming the index, position and the expected and found values.

import { crc32 } from 'node:zlib';
import { ENTRY_HEADER_BYTES, type LogStore } from '../../../src/store/types.js';
import { firstDifference, type ExpectedBodies } from './entry-content.js';

export interface VerifiedLog {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly endPos: number;
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

/** Verifies entries [beforeBeginIndex + 1, lastIndex] with get() and readRaw(). */
export function verifyLog(store: LogStore, bodies: ExpectedBodies): VerifiedLog {
  const firstIndex = store.beforeBeginIndex + 1;
  const lastIndex = store.lastIndex;
  if (lastIndex < firstIndex - 1) throw new Error(`lastIndex ${lastIndex} < beforeBeginIndex ${store.beforeBeginIndex}`);
  verifyByGet(store, bodies, firstIndex, lastIndex);
  if (firstIndex === 0) verifyRawChain(store, firstIndex, lastIndex);
  return { firstIndex, lastIndex, endPos: store.endPos };
}

function verifyByGet(store: LogStore, bodies: ExpectedBodies, firstIndex: number, lastIndex: number): void {
  let previousEnd = -1;
  for (let index = firstIndex; index <= lastIndex; index++) {
    const entry = store.get(index);
    if (entry === null) throw new Error(`entry ${index} is missing (log claims ${firstIndex}..${lastIndex})`);
    if (entry.index !== index) throw new Error(`get(${index}) returned entry ${entry.index}`);
    const expected = bodies.of(index);
    const at = firstDifference(entry.body, expected);
    if (at !== -1) {
      throw new Error(
        `entry ${index} at pos ${entry.pos}: body differs at byte ${at} ` +
          `(expected ${expected.length} bytes, found ${entry.body.length}; byte expected ${expected[at]}, found ${entry.body[at]})`,
      );
    }
    const bodyCrc = crc32(entry.body) >>> 0;
    if (bodyCrc !== entry.bodyCrc >>> 0) {
      throw new Error(`entry ${index} at pos ${entry.pos}: bodyCrc expected ${hex(bodyCrc)}, found ${hex(entry.bodyCrc)}`);
    }
    if (entry.sizeBytes !== ENTRY_HEADER_BYTES + expected.length) {
      throw new Error(`entry ${index}: sizeBytes expected ${ENTRY_HEADER_BYTES + expected.length}, found ${entry.sizeBytes}`);
    }
    // Positions only grow; equal to the previous end unless a BLANK filler moved this entry to the
    // next segment.
    if (entry.pos < previousEnd) throw new Error(`entry ${index}: pos ${entry.pos} overlaps the previous entry ending at ${previousEnd}`);
    previousEnd = entry.pos + entry.sizeBytes;
  }
}

/** Walks the raw records (what replication ships) and recomputes both CRCs, chain included. */
function verifyRawChain(store: LogStore, firstIndex: number, lastIndex: number): void {
  let previousChainCrc = 0;
  let next = firstIndex;
  while (next <= lastIndex) {
    const raw = store.readRaw(next, 1 << 20);
    if (raw === null) throw new Error(`readRaw(${next}) returned null (lastIndex ${lastIndex})`);
    if (raw.firstIndex !== next) throw new Error(`readRaw(${next}) started at ${raw.firstIndex}`);
    const view = new DataView(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength);
    let offset = 0;
    let index = raw.firstIndex;
    while (offset < raw.bytes.length) {
      const pos = raw.pos + offset;
      if (raw.bytes.length - offset < ENTRY_HEADER_BYTES) throw new Error(`raw records from ${raw.firstIndex}: partial header at pos ${pos}`);
      const sizeBytes = view.getInt32(offset + 4);
      const recordIndex = view.getUint32(offset + 8) * 2 ** 32 + view.getUint32(offset + 12);
      const recordPos = view.getUint32(offset + 24) * 2 ** 32 + view.getUint32(offset + 28);
      const chainCrc = view.getUint32(offset + 36);
      const bodyCrc = view.getUint32(offset + 40);
      const bodyLength = view.getInt32(offset + 44);
      if (recordIndex !== index) throw new Error(`raw record at pos ${pos}: index expected ${index}, found ${recordIndex}`);
      if (recordPos !== pos) throw new Error(`raw record ${index}: pos field expected ${pos}, found ${recordPos}`);
      if (sizeBytes !== ENTRY_HEADER_BYTES + bodyLength || offset + sizeBytes > raw.bytes.length) {
        throw new Error(`raw record ${index} at pos ${pos}: size ${sizeBytes} / bodyLength ${bodyLength} inconsistent`);
      }
      const body = raw.bytes.subarray(offset + ENTRY_HEADER_BYTES, offset + sizeBytes);
      const computedBodyCrc = crc32(body) >>> 0;
      if (computedBodyCrc !== bodyCrc) throw new Error(`raw record ${index} at pos ${pos}: bodyCrc expected ${hex(computedBodyCrc)}, found ${hex(bodyCrc)}`);
      const head = raw.bytes.subarray(offset, offset + 36);
      const tail = raw.bytes.subarray(offset + 40, offset + ENTRY_HEADER_BYTES);
      const computedChainCrc = crc32(tail, crc32(head, previousChainCrc)) >>> 0;
      if (computedChainCrc !== chainCrc) {
        throw new Error(`raw record ${index} at pos ${pos}: chainCrc expected ${hex(computedChainCrc)}, found ${hex(chainCrc)}`);
      }
      previousChainCrc = chainCrc;
      offset += sizeBytes;
      index++;
    }
    if (index - 1 !== raw.lastIndex) throw new Error(`readRaw(${next}) claims lastIndex ${raw.lastIndex}, holds up to ${index - 1}`);
    next = index;
  }
}
