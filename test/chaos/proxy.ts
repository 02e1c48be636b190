// Goal: a fault-injecting TCP proxy for one directed peer link i→j of a DLedger group.
// Method: node i's --peers string names this proxy's port as j's address, so i's outbound
// connection to j (which carries i's Raft messages to j) passes through here. The fault is
// switchable at run time and applies to both byte directions of every connection it carries:
//   pass  — forward bytes in order;
//   drop  — keep connections open but discard every byte (a black hole; new connections accepted);
//   delay — forward each chunk `ms` after it arrived, in order;
//   cut   — close every connection now and refuse new ones until the fault changes;
//   duplicate — forward every peer frame twice in a row (the first frame of a connection, the
//           hello, once). The proxy sees a byte stream, so it follows the frame boundaries of
//           src/node/peer-frame.ts (4-byte big-endian length prefix) at all times and inserts the
//           copy right after the frame's last byte.
// Memory is bounded: each direction of each connection queues at most `maxBufferedBytes`; a
// connection that exceeds it (slow peer under delay) is closed, which Raft tolerates.
import net from 'node:net';

export type LinkFault =
  | { readonly kind: 'pass' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'cut' }
  | { readonly kind: 'duplicate' };

export const PASS: LinkFault = { kind: 'pass' };

export interface LinkProxyStats {
  accepted: number;
  refused: number;
  bytesForwarded: number;
  bytesDropped: number;
  overflowCloses: number;
  framesDuplicated: number;
}

const FRAME_LENGTH_BYTES = 4;

/** Splits one direction's byte stream at peer-frame boundaries (length prefix, then that many bytes). */
export class FrameBoundaries {
  private readonly header = Buffer.alloc(FRAME_LENGTH_BYTES);
  private headerHave = 0;
  private bodyLeft = 0;
  // Invariant: the pieces of the frame in progress (views of the chunks, not copies).
  private parts: Buffer[] = [];
  framesCompleted = 0;

  /**
   * The chunk cut after each frame end; `completed` is that whole frame's views and `frameNumber`
   * its 1-based place in the stream.
   */
  split(chunk: Buffer): Array<{ piece: Buffer; completed: Buffer[] | null; frameNumber: number }> {
    const out: Array<{ piece: Buffer; completed: Buffer[] | null; frameNumber: number }> = [];
    let pieceStart = 0;
    let offset = 0;
    while (offset < chunk.length) {
      let take: number;
      if (this.headerHave < FRAME_LENGTH_BYTES) {
        take = Math.min(FRAME_LENGTH_BYTES - this.headerHave, chunk.length - offset);
        chunk.copy(this.header, this.headerHave, offset, offset + take);
        this.headerHave += take;
        if (this.headerHave === FRAME_LENGTH_BYTES) this.bodyLeft = this.header.readUInt32BE(0);
      } else {
        take = Math.min(this.bodyLeft, chunk.length - offset);
        this.bodyLeft -= take;
      }
      this.parts.push(chunk.subarray(offset, offset + take));
      offset += take;
      if (this.headerHave === FRAME_LENGTH_BYTES && this.bodyLeft === 0) {
        this.framesCompleted++;
        out.push({ piece: chunk.subarray(pieceStart, offset), completed: this.parts, frameNumber: this.framesCompleted });
        pieceStart = offset;
        this.parts = [];
        this.headerHave = 0;
      }
    }
    if (pieceStart < chunk.length) out.push({ piece: chunk.subarray(pieceStart), completed: null, frameNumber: this.framesCompleted + 1 });
    return out;
  }
}

interface Pending {
  readonly due: number;
  readonly chunk: Buffer;
}

/** One direction of one proxied connection: an ordered queue released at each chunk's due time. */
class Pipe {
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly frames = new FrameBoundaries();
  private closed = false;

  constructor(
    private readonly to: net.Socket,
    private readonly proxy: LinkProxy,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.closed) return;
    // Frame boundaries are followed under every fault, so duplicate can start at any moment.
    const pieces = this.frames.split(chunk);
    if (this.proxy.fault.kind !== 'duplicate') return this.enqueue(chunk);
    for (const { piece, completed, frameNumber } of pieces) {
      this.enqueue(piece);
      if (this.closed) return;
      // The first frame of a connection is the hello; a second hello would be a protocol error.
      if (completed !== null && this.proxy.fault.kind === 'duplicate' && frameNumber > 1) {
        this.proxy.stats.framesDuplicated++;
        this.enqueue(Buffer.concat(completed));
      }
    }
  }

  private enqueue(chunk: Buffer): void {
    const fault = this.proxy.fault;
    if (fault.kind === 'drop' || fault.kind === 'cut') {
      this.proxy.stats.bytesDropped += chunk.length;
      return;
    }
    const delay = fault.kind === 'delay' ? fault.ms : 0;
    if (this.queuedBytes + chunk.length > this.proxy.maxBufferedBytes) {
      this.proxy.stats.overflowCloses++;
      this.onOverflow();
      return;
    }
    this.queue.push({ due: Date.now() + delay, chunk });
    this.queuedBytes += chunk.length;
    this.pump();
  }

  private pump(): void {
    if (this.timer !== null) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.chunk.length;
      if (this.proxy.fault.kind === 'drop' || this.proxy.fault.kind === 'cut') {
        this.proxy.stats.bytesDropped += head.chunk.length;
        continue;
      }
      if (this.to.destroyed) continue;
      this.proxy.stats.bytesForwarded += head.chunk.length;
      // The socket's own buffer is bounded by pausing the source (see LinkProxy.onConnection).
      this.to.write(head.chunk);
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

export class LinkProxy {
  fault: LinkFault = PASS;
  readonly stats: LinkProxyStats = { accepted: 0, refused: 0, bytesForwarded: 0, bytesDropped: 0, overflowCloses: 0, framesDuplicated: 0 };
  private readonly server: net.Server;
  private readonly connections = new Set<{ close(): void }>();
  private listening = false;

  constructor(
    readonly name: string,
    readonly listenPort: number,
    readonly targetPort: number,
    readonly maxBufferedBytes = 8 * 1024 * 1024,
    readonly host = '127.0.0.1',
  ) {
    this.server = net.createServer((socket) => this.onConnection(socket));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
  }

  /** Switch the fault; `cut` also closes every open connection at once. */
  setFault(fault: LinkFault): void {
    if (fault.kind === 'delay' && !(Number.isFinite(fault.ms) && fault.ms >= 0)) throw new Error(`${this.name}: delay must be a finite ms >= 0, got ${fault.ms}`);
    this.fault = fault;
    if (fault.kind === 'cut') for (const connection of [...this.connections]) connection.close();
  }

  get openConnections(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    for (const connection of [...this.connections]) connection.close();
    if (!this.listening) return;
    this.listening = false;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(downstream: net.Socket): void {
    if (this.fault.kind === 'cut') {
      this.stats.refused++;
      downstream.destroy();
      return;
    }
    this.stats.accepted++;
    downstream.setNoDelay(true);
    const upstream = net.connect({ host: this.host, port: this.targetPort });
    upstream.setNoDelay(true);
    let closed = false;
    const connection = {
      close: (): void => {
        if (closed) return;
        closed = true;
        this.connections.delete(connection);
        toUpstream.close();
        toDownstream.close();
        downstream.destroy();
        upstream.destroy();
      },
    };
    const toUpstream = new Pipe(upstream, this, connection.close);
    const toDownstream = new Pipe(downstream, this, connection.close);
    this.connections.add(connection);
    // Backpressure: a destination whose kernel buffer is full pauses its source.
    const relay = (from: net.Socket, to: net.Socket, pipe: Pipe): void => {
      from.on('data', (chunk: Buffer) => {
        pipe.push(chunk);
        if (to.writableLength > this.maxBufferedBytes) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('error', connection.close);
      from.on('close', connection.close);
    };
    relay(downstream, upstream, toUpstream);
    relay(upstream, downstream, toDownstream);
  }
}
