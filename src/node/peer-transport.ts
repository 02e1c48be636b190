// TCP transport between the peers of one group. Each node dials every other peer (one outbound
// connection per peer carries this node's messages to it) and accepts inbound connections that
// introduce themselves with a hello frame. Raft tolerates loss, so the transport never blocks
// the caller: each peer has a bounded send queue, and messages that do not fit (or that arrive
// while the peer is unreachable) are dropped and counted. Reconnects back off exponentially with
// jitter, capped. A malformed frame closes that connection with a logged reason.
import net from 'node:net';
import { encodeFrame, FrameDecoder, FrameError } from './peer-frame.js';
import { WireMessageError } from './raft-message-wire.js';
import { assert } from '../util/assert.js';
import { listenOn } from '../util/listen.js';
import { createListener, dial } from '../net/tls.js';
import type { PeerTls } from '../net/tls-config.js';
import type { PeerAddress } from './config.js';

export interface PeerTransportOptions {
  readonly group: string;
  readonly selfId: string;
  readonly peers: readonly PeerAddress[];
  readonly maxFrameBytes: number;
  /** Messages queued per peer while its socket is busy or connecting; beyond that they are dropped. */
  readonly maxQueuedFramesPerPeer: number;
  readonly reconnectInitialDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly onMessage: (from: string, message: unknown) => void;
  /**
   * Clients share the peer port (as in DLedger) and introduce themselves with
   * {hello: 1, group, client: true}; their later frames go to the session this returns.
   * Without a handler, client connections are refused.
   */
  readonly onClientConnection?: (socket: net.Socket) => ClientSession;
  readonly log: (line: string) => void;
  /** TLS for the peer port, both ways (accepted members and clients, dialed members); null: plaintext. */
  readonly tls?: PeerTls | null;
  /** A connection closed before its hello could be read: failed TLS handshake (counted in metrics). */
  readonly onRefused?: (remoteAddress: string, reason: string) => void;
}

/** One client connection's frames after its hello. */
export interface ClientSession {
  onFrame(value: unknown): void;
  onClose(): void;
}

export interface PeerTransportStats {
  framesSent: number;
  framesReceived: number;
  framesDropped: number;
  connectionsOpened: number;
  malformedFrames: number;
  /** Inbound connections closed before the hello (TLS handshake failed, plaintext on a TLS port). */
  refusedHandshakes: number;
}

/** A burst this long is written at once instead of waiting for the end of the task. */
const WRITE_BATCH_FRAMES = 64;

interface Hello {
  readonly hello: 1;
  readonly group: string;
  readonly from?: string;
  readonly client?: boolean;
}

class OutboundPeer {
  socket: net.Socket | null = null;
  connected = false;
  /** True after socket.write returned false, until 'drain': later frames wait in the queue. */
  blocked = false;
  flushScheduled = false;
  // Invariant: queue.length <= maxQueuedFramesPerPeer.
  queue: Buffer[] = [];
  reconnectDelayMs: number;
  reconnectTimer: NodeJS.Timeout | null = null;

  constructor(readonly address: PeerAddress, initialDelayMs: number) {
    this.reconnectDelayMs = initialDelayMs;
  }
}

export class PeerTransport {
  readonly stats: PeerTransportStats = { framesSent: 0, framesReceived: 0, framesDropped: 0, connectionsOpened: 0, malformedFrames: 0, refusedHandshakes: 0 };
  private readonly outbound = new Map<string, OutboundPeer>();
  private readonly inbound = new Set<net.Socket>();
  private readonly pendingReplies = new Map<net.Socket, Buffer[]>();
  private server: net.Server | null = null;
  private closed = false;

  constructor(private readonly options: PeerTransportOptions) {
    assert(options.maxQueuedFramesPerPeer > 0, 'maxQueuedFramesPerPeer must be positive');
    for (const peer of options.peers) {
      if (peer.id !== options.selfId) this.outbound.set(peer.id, new OutboundPeer(peer, options.reconnectInitialDelayMs));
    }
  }

  /** Start listening (port 0 asks the OS for a free port); resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const tls = this.options.tls ?? null;
    const server = createListener(tls === null ? null : { mode: 'enforcing', tls: tls.server }, {
      onSocket: (socket) => this.acceptInbound(socket),
      onRefused: (remote, reason) => {
        this.stats.refusedHandshakes++;
        this.options.log(`refusing inbound peer connection from ${remote}: ${reason}`);
        this.options.onRefused?.(remote, reason);
      },
    });
    this.server = server;
    return listenOn(server, host, port);
  }


  /** Tests bind to OS-assigned ports, so they learn peer addresses after construction. */
  setPeerAddress(address: PeerAddress): void {
    const peer = this.outbound.get(address.id);
    assert(peer !== undefined, `unknown peer ${address.id}`);
    const fresh = new OutboundPeer(address, this.options.reconnectInitialDelayMs);
    this.dropConnection(peer);
    this.outbound.set(address.id, fresh);
  }

  /** Raw frames (e.g. client responses) on a socket this transport accepted. */
  writeFrame(socket: net.Socket, value: unknown): void {
    if (socket.destroyed) return;
    let pending = this.pendingReplies.get(socket);
    if (pending === undefined) {
      pending = [];
      this.pendingReplies.set(socket, pending);
      // Replies resolved in one turn (a committed batch) leave in one write.
      setImmediate(() => {
        const frames = this.pendingReplies.get(socket) ?? [];
        this.pendingReplies.delete(socket);
        if (!socket.destroyed && frames.length > 0) socket.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames));
      });
    }
    pending.push(encodeFrame(value, this.options.maxFrameBytes));
  }

  /** Queue a message for a peer. Never throws for an unreachable peer: the message is dropped. */
  send(to: string, message: unknown): void {
    const peer = this.outbound.get(to);
    assert(peer !== undefined, `send to unknown peer ${to}`);
    if (this.closed) return;
    if (peer.queue.length >= this.options.maxQueuedFramesPerPeer) {
      this.stats.framesDropped++;
      return;
    }
    // Frames wait for the end of the current task, then go out in one write per peer: a Ready's
    // messages (and everything else sent in the same task) cost one syscall, not one each.
    peer.queue.push(encodeFrame(message, this.options.maxFrameBytes));
    if (peer.socket === null && peer.reconnectTimer === null) this.connect(peer);
    else if (peer.queue.length >= WRITE_BATCH_FRAMES) this.flushQueue(peer);
    else this.scheduleFlush(peer);
  }

  private scheduleFlush(peer: OutboundPeer): void {
    if (peer.flushScheduled || !peer.connected || peer.blocked) return;
    peer.flushScheduled = true;
    queueMicrotask(() => {
      peer.flushScheduled = false;
      this.flushQueue(peer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const peer of this.outbound.values()) this.dropConnection(peer);
    for (const socket of this.inbound) socket.destroy();
    this.inbound.clear();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private connect(peer: OutboundPeer): void {
    if (this.closed) return;
    // Ready after 'connect', or after the TLS handshake when the peer port runs TLS.
    const socket = dial(this.options.tls?.client ?? null, peer.address.host, peer.address.port, () => {
      if (this.outbound.get(peer.address.id) !== peer) return void socket.destroy();
      peer.connected = true;
      peer.reconnectDelayMs = this.options.reconnectInitialDelayMs;
      this.stats.connectionsOpened++;
      const hello: Hello = { hello: 1, group: this.options.group, from: this.options.selfId };
      socket.write(encodeFrame(hello, this.options.maxFrameBytes));
      this.flushQueue(peer);
    });
    socket.setNoDelay(true);
    peer.socket = socket;
    socket.on('drain', () => {
      peer.blocked = false;
      this.flushQueue(peer);
    });
    // Outbound connections carry no inbound traffic; read and discard so the socket never stalls.
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (peer.socket !== socket) return;
      peer.socket = null;
      peer.connected = false;
      peer.blocked = false;
      this.scheduleReconnect(peer);
    });
  }

  private scheduleReconnect(peer: OutboundPeer): void {
    if (this.closed || this.outbound.get(peer.address.id) !== peer) return;
    // Full jitter keeps two nodes that restarted together from reconnecting in lock-step.
    const delayMs = Math.ceil(peer.reconnectDelayMs * (0.5 + Math.random() / 2));
    peer.reconnectDelayMs = Math.min(peer.reconnectDelayMs * 2, this.options.reconnectMaxDelayMs);
    peer.reconnectTimer = setTimeout(() => {
      peer.reconnectTimer = null;
      if (peer.socket === null) this.connect(peer);
    }, delayMs);
    peer.reconnectTimer.unref();
  }

  private flushQueue(peer: OutboundPeer): void {
    const socket = peer.socket;
    if (socket === null || !peer.connected || peer.blocked || peer.queue.length === 0) return;
    const batch = peer.queue;
    peer.queue = [];
    peer.blocked = !socket.write(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch));
    this.stats.framesSent += batch.length;
  }

  private dropConnection(peer: OutboundPeer): void {
    if (peer.reconnectTimer !== null) clearTimeout(peer.reconnectTimer);
    peer.reconnectTimer = null;
    peer.socket?.destroy();
    peer.socket = null;
    peer.connected = false;
    peer.blocked = false;
    peer.queue = [];
  }

  private acceptInbound(socket: net.Socket): void {
    if (this.closed) return void socket.destroy();
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.options.maxFrameBytes);
    let from: string | null = null;
    let client: ClientSession | null = null;
    const reject = (reason: string): void => {
      this.stats.malformedFrames++;
      this.options.log(`closing inbound peer connection from ${socket.remoteAddress}:${socket.remotePort}: ${reason}`);
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      let values: unknown[];
      try {
        values = decoder.push(chunk);
      } catch (error) {
        if (error instanceof FrameError) return reject(error.message);
        throw error;
      }
      for (const value of values) {
        if (client !== null) {
          client.onFrame(value);
          continue;
        }
        if (from === null) {
          const hello = value as Partial<Hello> | null;
          if (hello === null || typeof hello !== 'object' || hello.hello !== 1) return reject('first frame is not a hello');
          if (hello.group !== this.options.group) return reject(`hello from group "${String(hello.group)}", this is group "${this.options.group}"`);
          if (hello.client === true) {
            if (this.options.onClientConnection === undefined) return reject('this node accepts no client connections');
            client = this.options.onClientConnection(socket);
            continue;
          }
          if (typeof hello.from !== 'string' || !this.outbound.has(hello.from)) return reject(`hello from unknown peer "${String(hello.from)}"`);
          from = hello.from;
          continue;
        }
        this.stats.framesReceived++;
        try {
          this.options.onMessage(from, value);
        } catch (error) {
          // A well-framed but invalid message: this peer speaks something else; drop the link.
          if (error instanceof WireMessageError) return reject(`invalid message from ${from}: ${error.message}`);
          throw error;
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.inbound.delete(socket);
      client?.onClose();
    });
  }
}
