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

  private dirty = true;

  /**
   * A new file, or with `existing` the file already at filePath: its header is read, or with
   * `existing.rollbackTo` (a header from headerBytes()) the entries added after it are undone.
   */
  constructor(readonly filePath: string, readonly hashSlotNum: number, readonly indexNum: number, existing?: { readonly rollbackTo: Buffer | null }) {
    assert(Number.isInteger(hashSlotNum) && hashSlotNum > 0 && Number.isInteger(indexNum) && indexNum > 1, `index file ${hashSlotNum} slots, ${indexNum} entries`);
    const sizeBytes = INDEX_HEADER_BYTES + hashSlotNum * SLOT_BYTES + indexNum * ENTRY_BYTES;
    if (existing === undefined) {
      this.fd = fs.openSync(filePath, fs.constants.O_RDWR | fs.constants.O_CREAT);
      fs.ftruncateSync(this.fd, sizeBytes);
      this.writeHeader();
      return;
    }
    this.fd = fs.openSync(filePath, fs.constants.O_RDWR);
    const actual = fs.fstatSync(this.fd).size;
    if (actual !== sizeBytes) {
      fs.closeSync(this.fd);
      throw new Error(`index file ${filePath} is ${actual} bytes, expected ${sizeBytes} (maxHashSlotNum ${hashSlotNum}, maxIndexNum ${indexNum})`);
    }
    const header = Buffer.alloc(INDEX_HEADER_BYTES);
    fs.readSync(this.fd, header, 0, INDEX_HEADER_BYTES, 0);
    this.loadHeader(header);
    if (existing.rollbackTo !== null) this.rollBackTo(existing.rollbackTo);
  }

  /** The 40-byte header as it is now (a mark to roll back to). */
  headerBytes(): Buffer {
    return this.encodeHeader();
  }

  /** fdatasync what was written since the last flush. */
  flush(): void {
    if (!this.dirty) return;
    this.dirty = false;
    fs.fdatasyncSync(this.fd);
  }

  private loadHeader(header: Buffer): void {
    this.beginTimestampMs = Number(header.readBigInt64BE(0));
    this.endTimestampMs = Number(header.readBigInt64BE(8));
    this.beginPhyOffset = Number(header.readBigInt64BE(16));
    this.endPhyOffset = Number(header.readBigInt64BE(24));
    this.hashSlotCount = header.readInt32BE(32);
    this.indexCount = header.readInt32BE(36);
    if (this.indexCount < 1 || this.indexCount > this.indexNum || this.hashSlotCount < 0) throw new Error(`index file ${this.filePath}: bad header (indexCount ${this.indexCount}, hashSlotCount ${this.hashSlotCount})`);
  }

  /**
   * Undo the entries added after `mark` (a header from headerBytes()): newest first, each slot
   * that points at an undone entry goes back to that entry's predecessor, which is exactly what
   * the slot held before the entry was added.
   */
  private rollBackTo(mark: Buffer): void {
    const markCount = mark.readInt32BE(36);
    if (markCount > this.indexCount) throw new Error(`index file ${this.filePath}: holds ${this.indexCount - 1} entries, the durable point ${markCount - 1}`);
    for (let at = this.indexCount - 1; at >= markCount; at--) {
      fs.readSync(this.fd, this.scratch, 0, ENTRY_BYTES, this.entryPos(at));
      const slotPos = INDEX_HEADER_BYTES + (this.scratch.readInt32BE(0) % this.hashSlotNum) * SLOT_BYTES;
      const prev = this.scratch.readInt32BE(16);
      if (this.readInt(slotPos) === at) {
        const slot = Buffer.alloc(SLOT_BYTES);
        slot.writeInt32BE(prev, 0);
        fs.writeSync(this.fd, slot, 0, SLOT_BYTES, slotPos);
      }
    }
    this.loadHeader(mark);
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
    const header = this.encodeHeader();
    this.dirty = true;
    fs.writeSync(this.fd, header, 0, INDEX_HEADER_BYTES, 0);
  }

  private encodeHeader(): Buffer {
    const header = Buffer.alloc(INDEX_HEADER_BYTES);
    header.writeBigInt64BE(BigInt(this.beginTimestampMs), 0);
    header.writeBigInt64BE(BigInt(this.endTimestampMs), 8);
    header.writeBigInt64BE(BigInt(this.beginPhyOffset), 16);
    header.writeBigInt64BE(BigInt(this.endPhyOffset), 24);
    header.writeInt32BE(this.hashSlotCount, 32);
    header.writeInt32BE(this.indexCount, 36);
    return header;
  }
}
