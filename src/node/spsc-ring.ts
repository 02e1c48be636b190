// A single-producer / single-consumer ring of length-prefixed records over a SharedArrayBuffer.
// It carries batches between the main thread, the Raft worker and the storage worker without
// postMessage's structured clone. Bounded by construction: a full ring refuses the write
// (back-pressure), it never grows.
//
// Layout of the SharedArrayBuffer:
//   Int32 words [0..CONTROL_WORDS): control block
//     [WRITE_POS]   total bytes ever published by the producer (mod 2^32)
//     [READ_POS]    total bytes ever consumed by the consumer (mod 2^32)
//     [WAITERS]     1 while the consumer is (about to be) asleep on WRITE_POS
//   then `capacityBytes` of data. Each record is a 4-byte little-endian length followed by the
//   payload, padded to 4 bytes. A length of WRAP_MARKER means "the rest of the ring up to its
//   end is padding; continue at offset 0".
//
// Positions run freely as 32-bit counters and are reduced modulo the capacity (a power of two),
// so "used = write - read" stays right across wrap-around of the counters themselves.
import { assert } from '../util/assert.js';

const CONTROL_WORDS = 16; // 64 bytes: keeps the data on its own cache line.
const WRITE_POS = 0;
const READ_POS = 1;
const WAITERS = 2;
const HEADER_BYTES = 4;
const WRAP_MARKER = -1;

export class SpscRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacityBytes: number;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly dataView: DataView;

  static create(capacityBytes: number): SpscRing {
    assert(Number.isInteger(capacityBytes) && capacityBytes >= 64, `ring capacityBytes must be an integer >= 64, got ${capacityBytes}`);
    assert((capacityBytes & (capacityBytes - 1)) === 0, `ring capacityBytes must be a power of two, got ${capacityBytes}`);
    assert(capacityBytes <= 2 ** 30, `ring capacityBytes must be <= 1 GiB, got ${capacityBytes}`);
    return new SpscRing(new SharedArrayBuffer(CONTROL_WORDS * 4 + capacityBytes));
  }

  /** Attach to a ring created elsewhere (the SharedArrayBuffer was posted to this thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.capacityBytes = buffer.byteLength - CONTROL_WORDS * 4;
    assert(this.capacityBytes >= 64 && (this.capacityBytes & (this.capacityBytes - 1)) === 0, 'not a ring buffer');
    this.control = new Int32Array(buffer, 0, CONTROL_WORDS);
    this.data = new Uint8Array(buffer, CONTROL_WORDS * 4, this.capacityBytes);
    this.dataView = new DataView(buffer, CONTROL_WORDS * 4, this.capacityBytes);
  }

  /** Largest payload a single record may carry. */
  get maxRecordBytes(): number {
    return this.capacityBytes / 2 - HEADER_BYTES;
  }

  usedBytes(): number {
    return (Atomics.load(this.control, WRITE_POS) - Atomics.load(this.control, READ_POS)) >>> 0;
  }

  /**
   * Producer side: publish one record made of `parts` (concatenated, so a header and a body need
   * no joining copy). Returns false when the ring is too full; the caller applies back-pressure.
   */
  tryWrite(...parts: Uint8Array[]): boolean {
    let length = 0;
    for (const part of parts) length += part.byteLength;
    assert(length <= this.maxRecordBytes, `record of ${length} bytes exceeds the ring's maximum of ${this.maxRecordBytes}`);
    const padded = align4(HEADER_BYTES + length);
    const writePos = Atomics.load(this.control, WRITE_POS) >>> 0;
    const readPos = Atomics.load(this.control, READ_POS) >>> 0;
    const free = this.capacityBytes - ((writePos - readPos) >>> 0);
    let offset = writePos & (this.capacityBytes - 1);
    const tailRoom = this.capacityBytes - offset;
    // A record never straddles the end: if it does not fit before the end, pad to the end.
    const needed = tailRoom < padded ? tailRoom + padded : padded;
    if (needed > free) return false;
    let published = writePos;
    if (tailRoom < padded) {
      this.dataView.setInt32(offset, WRAP_MARKER, true);
      published = (published + tailRoom) >>> 0;
      offset = 0;
    }
    this.dataView.setInt32(offset, length, true);
    let cursor = offset + HEADER_BYTES;
    for (const part of parts) {
      this.data.set(part, cursor);
      cursor += part.byteLength;
    }
    // Invariant: the record's bytes are written before WRITE_POS moves past them (Atomics.store
    // is sequentially consistent, so the consumer that sees the new position sees the bytes).
    Atomics.store(this.control, WRITE_POS, (published + padded) | 0);
    if (Atomics.load(this.control, WAITERS) !== 0) Atomics.notify(this.control, WRITE_POS);
    return true;
  }

  /**
   * Consumer side: take the next record, copied out (the slot is free for the producer at once).
   * Returns null when the ring is empty.
   */
  tryRead(): Uint8Array | null {
    let readPos = Atomics.load(this.control, READ_POS) >>> 0;
    const writePos = Atomics.load(this.control, WRITE_POS) >>> 0;
    if (readPos === writePos) return null;
    let offset = readPos & (this.capacityBytes - 1);
    let length = this.dataView.getInt32(offset, true);
    if (length === WRAP_MARKER) {
      readPos = (readPos + (this.capacityBytes - offset)) >>> 0;
      offset = 0;
      assert(readPos !== writePos, 'ring corrupted: wrap marker with nothing after it');
      length = this.dataView.getInt32(0, true);
    }
    assert(length >= 0 && length <= this.maxRecordBytes, `ring corrupted: record length ${length} at offset ${offset}`);
    const record = this.data.slice(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
    Atomics.store(this.control, READ_POS, (readPos + align4(HEADER_BYTES + length)) | 0);
    return record;
  }

  /**
   * Consumer in a worker thread: sleep until a record may be available or `timeoutMs` passes.
   * Never call this on the main thread (Atomics.wait would block the event loop); use waitAsync.
   */
  waitForData(timeoutMs: number): void {
    const seen = Atomics.load(this.control, WRITE_POS);
    if (seen !== Atomics.load(this.control, READ_POS)) return;
    Atomics.store(this.control, WAITERS, 1);
    Atomics.wait(this.control, WRITE_POS, seen, timeoutMs);
    Atomics.store(this.control, WAITERS, 0);
  }

  /** Consumer on an event-loop thread: resolves when a record may be available or after timeoutMs. */
  async waitForDataAsync(timeoutMs: number): Promise<void> {
    const seen = Atomics.load(this.control, WRITE_POS);
    if (seen !== Atomics.load(this.control, READ_POS)) return;
    Atomics.store(this.control, WAITERS, 1);
    const result = Atomics.waitAsync(this.control, WRITE_POS, seen, timeoutMs);
    if (result.async) await result.value;
    Atomics.store(this.control, WAITERS, 0);
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
