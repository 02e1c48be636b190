// Remoting frames (RemotingCommand.encode/decode + Netty's LengthFieldBasedFrameDecoder):
//   int32 totalLength (what follows, not itself) | int32 serializeType<<24 | headerLength |
//   header | body
// The whole frame, length field included, is capped at 16 MiB as Java's decoder caps it. The
// decoder checks each length before reading, holds at most one partial frame, and reports
// anything malformed as a RemotingFrameError (the caller closes the connection); it throws
// nothing else.
import { assert } from '../util/assert.js';
import { ByteQueue } from '../util/byte-queue.js';
import { RemotingFrameError, SerializeType, type RemotingCommand } from './command.js';
import { decodeBinaryHeader, encodeBinaryHeader } from './binary-header.js';
import { decodeJsonHeader, encodeJsonHeader } from './json-header.js';

export const FRAME_MAX_BYTES = 16 * 1024 * 1024;
const LENGTH_BYTES = 4;
const HEADER_TYPE_BYTES = 4;
const HEADER_LENGTH_MAX = 0xffffff;

/**
 * Encode one command as its head (length, header type and length, header) and its body, so a
 * large body is written as it is instead of copied into one frame buffer. A frame over the cap
 * is a RemotingFrameError (e.g. an oversized body).
 */
export function encodeCommandParts(command: RemotingCommand, frameMaxBytes = FRAME_MAX_BYTES): { head: Buffer; body: Buffer | null } {
  const header = command.serializeType === SerializeType.ROCKETMQ ? encodeBinaryHeader(command) : encodeJsonHeader(command);
  const bodyBytes = command.body?.length ?? 0;
  const frameBytes = LENGTH_BYTES + HEADER_TYPE_BYTES + header.length + bodyBytes;
  if (header.length > HEADER_LENGTH_MAX) throw new RemotingFrameError(`header of ${header.length} bytes exceeds the 24-bit header length`, command.opaque);
  if (frameBytes > frameMaxBytes) throw new RemotingFrameError(`frame of ${frameBytes} bytes exceeds the maximum of ${frameMaxBytes}`, command.opaque);
  const head = Buffer.allocUnsafe(LENGTH_BYTES + HEADER_TYPE_BYTES + header.length);
  head.writeInt32BE(frameBytes - LENGTH_BYTES, 0);
  head.writeUInt32BE(((command.serializeType << 24) | header.length) >>> 0, LENGTH_BYTES);
  header.copy(head, LENGTH_BYTES + HEADER_TYPE_BYTES);
  return { head, body: bodyBytes === 0 ? null : (command.body as Buffer) };
}

/** Encode one command into one buffer; a frame over the cap is a RemotingFrameError. */
export function encodeCommand(command: RemotingCommand, frameMaxBytes = FRAME_MAX_BYTES): Buffer {
  const { head, body } = encodeCommandParts(command, frameMaxBytes);
  return body === null ? head : Buffer.concat([head, body], head.length + body.length);
}

/**
 * Decode one complete frame without its length prefix (`int32 type|headerLength | header | body`).
 * `ownsContent`: the buffer is this frame's alone, so the body may stay a view of it; otherwise
 * (a view of the connection's read chunks) the body is copied out so those chunks can go.
 */
export function decodeFrameContent(content: Buffer, ownsContent = false): RemotingCommand {
  if (content.length < HEADER_TYPE_BYTES) throw new RemotingFrameError(`frame of ${content.length} bytes has no header length`);
  const typeAndLength = content.readUInt32BE(0);
  const serializeType = typeAndLength >>> 24;
  const headerLength = typeAndLength & HEADER_LENGTH_MAX;
  if (headerLength > content.length - HEADER_TYPE_BYTES) {
    throw new RemotingFrameError(`header length ${headerLength} exceeds the ${content.length - HEADER_TYPE_BYTES} bytes of the frame`);
  }
  const headerBytes = content.subarray(HEADER_TYPE_BYTES, HEADER_TYPE_BYTES + headerLength);
  let header;
  if (serializeType === SerializeType.JSON) header = decodeJsonHeader(headerBytes);
  else if (serializeType === SerializeType.ROCKETMQ) header = decodeBinaryHeader(headerBytes);
  else throw new RemotingFrameError(`unknown serialize type ${serializeType} (0 = JSON, 1 = ROCKETMQ)`);
  const body = content.subarray(HEADER_TYPE_BYTES + headerLength);
  // Java leaves body null when empty.
  return { ...header, body: body.length === 0 ? null : ownsContent ? body : Buffer.from(body), serializeType };
}

/**
 * A frame at least this long (length prefix included) is assembled in one buffer of its declared
 * size, allocated when its length arrives: each read chunk is copied in once and dropped, the
 * body is a view of that buffer, and the connection's held bytes are the declared size from the
 * first chunk on. Smaller frames stay as the chunks they came in (most fit in one read).
 */
const ASSEMBLED_FRAME_MIN_BYTES = 64 * 1024;

/** Incremental decoder for one connection's byte stream. */
export class RemotingFrameDecoder {
  // Invariant: after push() returns, `queue` holds less than the next frame (complete frames are
  // decoded at once) and at most ASSEMBLED_FRAME_MIN_BYTES; at most one partial frame is held,
  // in `queue` or in `assembling`, never both.
  private readonly queue = new ByteQueue();
  /** The frame being assembled (whole declared length, prefix included), or null. */
  private assembling: Buffer | null = null;
  // Invariant: 0 <= assembledBytes < assembling.length while assembling !== null, else 0.
  private assembledBytes = 0;

  constructor(private readonly frameMaxBytes = FRAME_MAX_BYTES) {
    assert(Number.isInteger(frameMaxBytes) && frameMaxBytes >= LENGTH_BYTES + HEADER_TYPE_BYTES, `bad frameMaxBytes ${frameMaxBytes}`);
  }

  /**
   * Bytes held for a frame not yet complete: the declared size of a frame being assembled (it is
   * allocated), else the bytes queued. The listener's partial-frame budget counts these, so a
   * frame that would not fit the budget is refused at its length, before its bytes arrive.
   */
  get bufferedBytes(): number {
    return this.assembling?.length ?? this.queue.length;
  }

  /** Feed bytes from the socket; returns every command completed by them. */
  push(chunk: Buffer): RemotingCommand[] {
    const commands: RemotingCommand[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.assembling === null) {
        this.queue.push(at === 0 ? chunk : chunk.subarray(at));
        at = chunk.length;
        this.decodeQueued(commands);
        continue;
      }
      const frame = this.assembling;
      const copied = chunk.copy(frame, this.assembledBytes, at, Math.min(chunk.length, at + frame.length - this.assembledBytes));
      this.assembledBytes += copied;
      at += copied;
      if (this.assembledBytes < frame.length) continue;
      this.assembling = null;
      this.assembledBytes = 0;
      commands.push(decodeFrameContent(frame.subarray(LENGTH_BYTES), true));
    }
    return commands;
  }

  private decodeQueued(commands: RemotingCommand[]): void {
    while (this.queue.length >= LENGTH_BYTES) {
      const totalLength = this.queue.peek(LENGTH_BYTES).readInt32BE(0);
      if (totalLength < HEADER_TYPE_BYTES) throw new RemotingFrameError(`frame length ${totalLength} is below the minimum of ${HEADER_TYPE_BYTES}`);
      if (totalLength > this.frameMaxBytes - LENGTH_BYTES) {
        throw new RemotingFrameError(`frame of ${LENGTH_BYTES + totalLength} bytes exceeds the maximum of ${this.frameMaxBytes}`);
      }
      const frameBytes = LENGTH_BYTES + totalLength;
      if (this.queue.length >= frameBytes) {
        commands.push(decodeFrameContent(this.queue.take(frameBytes).subarray(LENGTH_BYTES)));
        continue;
      }
      if (frameBytes >= ASSEMBLED_FRAME_MIN_BYTES) {
        // Not zero-filled: every byte is written from the stream before the frame is decoded.
        const frame = Buffer.allocUnsafeSlow(frameBytes);
        const queued = this.queue.take(this.queue.length);
        queued.copy(frame, 0);
        this.assembling = frame;
        this.assembledBytes = queued.length;
      }
      return;
    }
  }
}
