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

/** Decode one complete frame without its length prefix (`int32 type|headerLength | header | body`). */
export function decodeFrameContent(content: Buffer): RemotingCommand {
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
  // Java leaves body null when empty; copy out so the connection's buffers can be reused.
  return { ...header, body: body.length === 0 ? null : Buffer.from(body), serializeType };
}

/** Incremental decoder for one connection's byte stream. */
export class RemotingFrameDecoder {
  // Invariant: after push() returns, `queue` holds less than the next frame (complete frames are
  // decoded at once), so at most one partial frame (< frameMaxBytes) is ever held.
  private readonly queue = new ByteQueue();

  constructor(private readonly frameMaxBytes = FRAME_MAX_BYTES) {
    assert(Number.isInteger(frameMaxBytes) && frameMaxBytes >= LENGTH_BYTES + HEADER_TYPE_BYTES, `bad frameMaxBytes ${frameMaxBytes}`);
  }

  /** Bytes held of a frame not yet complete. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Feed bytes from the socket; returns every command completed by them. */
  push(chunk: Buffer): RemotingCommand[] {
    this.queue.push(chunk);
    const commands: RemotingCommand[] = [];
    while (this.queue.length >= LENGTH_BYTES) {
      const totalLength = this.queue.peek(LENGTH_BYTES).readInt32BE(0);
      if (totalLength < HEADER_TYPE_BYTES) throw new RemotingFrameError(`frame length ${totalLength} is below the minimum of ${HEADER_TYPE_BYTES}`);
      if (totalLength > this.frameMaxBytes - LENGTH_BYTES) {
        throw new RemotingFrameError(`frame of ${LENGTH_BYTES + totalLength} bytes exceeds the maximum of ${this.frameMaxBytes}`);
      }
      if (this.queue.length < LENGTH_BYTES + totalLength) break;
      const frame = this.queue.take(LENGTH_BYTES + totalLength);
      commands.push(decodeFrameContent(frame.subarray(LENGTH_BYTES)));
    }
    return commands;
  }
}
