// One index file in RocketMQ's layout (IndexFile + IndexHeader): a 40-byte header (beginTimestamp,
// endTimestamp, beginPhyOffset, endPhyOffset int64; hashSlotCount, indexCount int32), hashSlotNum
// slots of 4 bytes (the number of the newest entry with that hash), then indexNum entries of 20
// bytes (keyHash int32, phyOffset int64, timeDiff int32 = seconds after beginTimestamp, prevIndex
// int32 = the previous entry of the same slot, 0 for none). indexCount starts at 1: entry 0 is
// never used. Written with pwrite, read with pread (the file is sparse: 420 MB at RocketMQ's defaults).
import fs from 'node:fs';
import { assert } from '../../util/assert.js';
import { javaStringHashCode } from '../message-codec.js';

export const INDEX_HEADER_BYTES = 40;
const SLOT_BYTES = 4;
const ENTRY_BYTES = 20;

/** Java's indexKeyHashMethod: abs(String.hashCode()), 0 for Integer.MIN_VALUE. */
export function indexKeyHash(key: string): number {
  const hash = javaStringHashCode(key);
  return hash === -2147483648 ? 0 : Math.abs(hash);
}

export class IndexFile {
  private readonly fd: number;
  private beginTimestampMs = 0;
  private endTimestampMs = 0;
  private beginPhyOffset = 0;
  private endPhyOffset = 0;
  private hashSlotCount = 0;
  // Invariant: entries [1, indexCount) are written; indexCount <= indexNum.
  private indexCount = 1;
  private readonly scratch = Buffer.alloc(ENTRY_BYTES);

  constructor(readonly filePath: string, readonly hashSlotNum: number, readonly indexNum: number) {
    assert(Number.isInteger(hashSlotNum) && hashSlotNum > 0 && Number.isInteger(indexNum) && indexNum > 1, `index file ${hashSlotNum} slots, ${indexNum} entries`);
    this.fd = fs.openSync(filePath, fs.constants.O_RDWR | fs.constants.O_CREAT);
    fs.ftruncateSync(this.fd, INDEX_HEADER_BYTES + hashSlotNum * SLOT_BYTES + indexNum * ENTRY_BYTES);
    this.writeHeader();
  }

  get isFull(): boolean {
    return this.indexCount >= this.indexNum;
  }

  get endTimestamp(): number {
    return this.endTimestampMs;
  }

  get lastPhyOffset(): number {
    return this.endPhyOffset;
  }

  get entries(): number {
    return this.indexCount - 1;
  }

  /** Add `key` for the message at phyOffset stored at storeTimestampMs; false when the file is full. */
  putKey(key: string, phyOffset: number, storeTimestampMs: number): boolean {
    if (this.isFull) return false;
    const keyHash = indexKeyHash(key);
    const slotPos = INDEX_HEADER_BYTES + (keyHash % this.hashSlotNum) * SLOT_BYTES;
    let slotValue = this.readInt(slotPos);
    if (slotValue <= 0 || slotValue >= this.indexCount) slotValue = 0;
    if (this.indexCount === 1) {
      this.beginTimestampMs = storeTimestampMs;
      this.beginPhyOffset = phyOffset;
    }
    const timeDiffSeconds = Math.max(0, Math.min(2 ** 31 - 1, Math.floor((storeTimestampMs - this.beginTimestampMs) / 1000)));
    const entry = this.scratch;
    entry.writeInt32BE(keyHash, 0);
    entry.writeBigInt64BE(BigInt(phyOffset), 4);
    entry.writeInt32BE(timeDiffSeconds, 12);
    entry.writeInt32BE(slotValue, 16);
    fs.writeSync(this.fd, entry, 0, ENTRY_BYTES, this.entryPos(this.indexCount));
    const slot = Buffer.alloc(SLOT_BYTES);
    slot.writeInt32BE(this.indexCount, 0);
    fs.writeSync(this.fd, slot, 0, SLOT_BYTES, slotPos);
    if (slotValue === 0) this.hashSlotCount++;
    this.indexCount++;
    this.endPhyOffset = phyOffset;
    this.endTimestampMs = storeTimestampMs;
    this.writeHeader();
    return true;
  }

  /**
   * Physical offsets of the entries for `key` stored in [beginMs, endMs], newest first, at most
   * maxNum (same hash: the caller checks the message's keys, as RocketMQ's does).
   */
  selectPhyOffsets(key: string, maxNum: number, beginMs: number, endMs: number): number[] {
    const out: number[] = [];
    const keyHash = indexKeyHash(key);
    let at = this.readInt(INDEX_HEADER_BYTES + (keyHash % this.hashSlotNum) * SLOT_BYTES);
    // Invariant: prevIndex always points to an older entry, so the walk ends within indexCount steps.
    for (let steps = 0; at > 0 && at < this.indexCount && out.length < maxNum && steps < this.indexCount; steps++) {
      fs.readSync(this.fd, this.scratch, 0, ENTRY_BYTES, this.entryPos(at));
      const hash = this.scratch.readInt32BE(0);
      const phyOffset = Number(this.scratch.readBigInt64BE(4));
      const timeMs = this.beginTimestampMs + this.scratch.readInt32BE(12) * 1000;
      const prev = this.scratch.readInt32BE(16);
      // timeDiff is whole seconds: an entry matches when its second overlaps the range.
      if (hash === keyHash && timeMs + 999 >= beginMs && timeMs <= endMs) out.push(phyOffset);
      if (prev <= 0 || prev >= at) break;
      at = prev;
    }
    return out;
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private entryPos(index: number): number {
    return INDEX_HEADER_BYTES + this.hashSlotNum * SLOT_BYTES + index * ENTRY_BYTES;
  }

  private readInt(pos: number): number {
    fs.readSync(this.fd, this.scratch, 0, 4, pos);
    return this.scratch.readInt32BE(0);
  }

  private writeHeader(): void {
    const header = Buffer.alloc(INDEX_HEADER_BYTES);
    header.writeBigInt64BE(BigInt(this.beginTimestampMs), 0);
    header.writeBigInt64BE(BigInt(this.endTimestampMs), 8);
    header.writeBigInt64BE(BigInt(this.beginPhyOffset), 16);
    header.writeBigInt64BE(BigInt(this.endPhyOffset), 24);
    header.writeInt32BE(this.hashSlotCount, 32);
    header.writeInt32BE(this.indexCount, 36);
    fs.writeSync(this.fd, header, 0, INDEX_HEADER_BYTES, 0);
  }
}
