// A segment held in memory, for the in-memory store and for tests. It keeps a second copy of the
// bytes that were flushed, so a test can simulate a power loss (`loseUnflushedWrites`): every byte
// written since the last flush of its range reverts to what was durable.
import { assert } from '../util/assert.js';
import type { SegmentFile } from './segment-file.js';

export class MemorySegmentFile implements SegmentFile {
  readonly bytes: Uint8Array;
  // Invariant: durableBytes holds, for every range ever flushed, the bytes as of that flush; other
  // bytes are as of creation (zero) or of the last loseUnflushedWrites().
  private readonly durableBytes: Uint8Array | null;
  flushCount = 0;

  constructor(
    readonly path: string,
    readonly sizeBytes: number,
    options: { trackDurability: boolean } = { trackDurability: false },
  ) {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, `segment size must be positive, got ${sizeBytes}`);
    // A SharedArrayBuffer, like the mmap'd segments, so Atomics and worker sharing behave alike.
    this.bytes = new Uint8Array(new SharedArrayBuffer(sizeBytes));
    this.durableBytes = options.trackDurability ? new Uint8Array(sizeBytes) : null;
  }

  flush(offsetBytes: number, lengthBytes: number): void {
    assert(offsetBytes >= 0 && lengthBytes >= 0 && offsetBytes + lengthBytes <= this.sizeBytes, `flush range out of ${this.path}`);
    this.flushCount++;
    this.durableBytes?.set(this.bytes.subarray(offsetBytes, offsetBytes + lengthBytes), offsetBytes);
  }

  /** Simulated power loss: unflushed writes vanish. Only with trackDurability. */
  loseUnflushedWrites(): void {
    assert(this.durableBytes !== null, `${this.path} does not track durability`);
    this.bytes.set(this.durableBytes);
  }

  close(): void {
    // Nothing to release: the bytes live as long as the medium that owns this file.
  }
}
