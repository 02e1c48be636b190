// Bytes received from a stream, kept as the chunks they arrived in until a whole frame is there:
// the frame decoders (peer frames, RocketMQ remoting) read a length prefix, wait for the rest,
// then take the frame. Chunks are joined only when a read spans them.

export class ByteQueue {
  private chunks: Buffer[] = [];
  // Invariant: lengthBytes is the sum of the lengths of `chunks`.
  private lengthBytes = 0;

  get length(): number {
    return this.lengthBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.lengthBytes += chunk.length;
  }

  /** The first `length` bytes (and maybe more) as one buffer, without consuming them. */
  peek(length: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= length) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  /** Remove and return exactly the first `length` bytes. */
  take(length: number): Buffer {
    const joined = this.peek(length);
    const taken = joined.subarray(0, length);
    const rest = joined.subarray(length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.lengthBytes -= length;
    return taken;
  }
}
