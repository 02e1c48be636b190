// Peer-to-peer frames: a 4-byte big-endian length (of what follows), a 1-byte protocol version,
// then one msgpack value. Binary fields (entry bytes as stored) travel as msgpack bin, so
// entries are not re-encoded. The decoder checks every length before it reads, caps the frame
// size, and turns anything malformed into a FrameError (the caller closes that connection and
// logs the reason); it never throws anything else and never buffers more than one frame.
import { Packr, Unpackr } from 'msgpackr';
import { assert } from '../util/assert.js';
import { ByteQueue } from '../util/byte-queue.js';

// 2: every connection starts with the authentication handshake (peer-auth.ts). A version-1
// peer's hello is refused by the decoder with a message naming both versions.
export const PEER_PROTOCOL_VERSION = 2;
const LENGTH_BYTES = 4;
const VERSION_BYTES = 1;

export class FrameError extends Error {
  override name = 'FrameError';
}

// useRecords:false keeps frames self-describing (no shared structure state between the two ends
// of a connection, which would break on reconnect); Uint8Array round-trips as Uint8Array.
const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodeFrame(value: unknown, maxFrameBytes: number): Buffer {
  const payload = packr.pack(value);
  const frameBytes = VERSION_BYTES + payload.length;
  if (frameBytes > maxFrameBytes) throw new FrameError(`frame of ${frameBytes} bytes exceeds the maximum of ${maxFrameBytes}`);
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + frameBytes);
  frame.writeUInt32BE(frameBytes, 0);
  frame.writeUInt8(PEER_PROTOCOL_VERSION, LENGTH_BYTES);
  payload.copy(frame, LENGTH_BYTES + VERSION_BYTES);
  return frame;
}

/** Incremental decoder for one connection's byte stream. */
export class FrameDecoder {
  // Invariant: holds less than LENGTH_BYTES + maxFrameBytes (a frame is decoded once complete).
  private readonly pending = new ByteQueue();

  constructor(private maxFrameBytes: number) {
    assert(Number.isInteger(maxFrameBytes) && maxFrameBytes > VERSION_BYTES, `bad maxFrameBytes ${maxFrameBytes}`);
  }

  /** Bytes held of a frame not yet complete (the listener's partial-frame budget counts them). */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** A connection starts with a small cap (the handshake) and raises it once authenticated. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    assert(Number.isInteger(maxFrameBytes) && maxFrameBytes > VERSION_BYTES, `bad maxFrameBytes ${maxFrameBytes}`);
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Feed bytes from the socket; returns the values of every frame completed by them. */
  push(chunk: Buffer): unknown[] {
    this.feed(chunk);
    const values: unknown[] = [];
    for (let next = this.next(); next !== null; next = this.next()) values.push(next.value);
    return values;
  }

  /** Buffer bytes without decoding (then call next() until it returns null). */
  feed(chunk: Buffer): void {
    this.pending.push(chunk);
    // Check the length of the frame at the head now, so an oversized frame is refused before it
    // is buffered, whatever the caller does next.
    this.checkHead();
  }

  /** The next complete frame's value, or null when no complete frame is buffered. */
  next(): { value: unknown } | null {
    if (!this.checkHead()) return null;
    const frameBytes = this.pending.peek(LENGTH_BYTES).readUInt32BE(0);
    if (this.pending.length < LENGTH_BYTES + frameBytes) return null;
    const frame = this.pending.take(LENGTH_BYTES + frameBytes);
    const version = frame.readUInt8(LENGTH_BYTES);
    if (version !== PEER_PROTOCOL_VERSION) {
      throw new FrameError(`unsupported peer protocol version ${version} (this node speaks ${PEER_PROTOCOL_VERSION})`);
    }
    // The following frame's length is checked by the next call, under the cap then in force.
    return { value: decodePayload(frame.subarray(LENGTH_BYTES + VERSION_BYTES)) };
  }

  /** True when a frame length is buffered; throws FrameError if that length is out of bounds. */
  private checkHead(): boolean {
    if (this.pending.length < LENGTH_BYTES) return false;
    const frameBytes = this.pending.peek(LENGTH_BYTES).readUInt32BE(0);
    if (frameBytes > this.maxFrameBytes) throw new FrameError(`frame length ${frameBytes} exceeds the maximum of ${this.maxFrameBytes}`);
    if (frameBytes < VERSION_BYTES + 1) throw new FrameError(`frame length ${frameBytes} is too short`);
    return true;
  }
}

function decodePayload(payload: Buffer): unknown {
  try {
    // unpackMultiple would accept trailing values; a frame carries exactly one.
    const values = unpackr.unpackMultiple(payload) as unknown[];
    if (values.length !== 1) throw new FrameError(`frame carries ${values.length} values, expected 1`);
    return values[0];
  } catch (error) {
    if (error instanceof FrameError) throw error;
    throw new FrameError(`malformed msgpack payload: ${(error as Error).message}`);
  }
}
