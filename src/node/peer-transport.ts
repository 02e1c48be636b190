// TCP transport between the peers of one group. Each node dials every other peer (one outbound
// connection per peer carries this node's messages to it) and accepts inbound connections that
// introduce themselves with a hello frame. Raft tolerates loss, so the transport never blocks
// the caller: each peer has a bounded send queue, and messages that do not fit (or that arrive
// while the peer is unreachable) are dropped and counted. Reconnects back off exponentially with
// jitter, capped. A malformed frame closes that connection with a logged reason.
//
// Every connection first runs the authentication handshake (peer-auth.ts) under a small frame
// cap and a deadline; nothing else it sends is acted on before that. Outbound peers queue their
// Raft traffic until the acceptor has proven it holds the group secret.
import net from 'node:net';
import { encodeFrame, FrameDecoder, FrameError } from './peer-frame.js';
import { AcceptorHandshake, AuthError, DEFAULT_HELLO_TIMEOUT_MS, DialerHandshake, HELLO_MAX_FRAME_BYTES, type NodeSecrets } from './peer-auth.js';
import { WireMessageError } from './raft-message-wire.js';
import { assert } from '../util/assert.js';
import { ConnectionGuard, type ConnectionLimits, type GuardedConnection, type RefusalReason } from '../net/connection-guard.js';
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
   * Clients share the peer port (as in DLedger) and run the handshake as role 'client' (proving
   * the client secret); their later frames go to the session this returns.
   * Without a handler, client connections are refused.
   */
  readonly onClientConnection?: (socket: net.Socket) => ClientSession;
  readonly log: (line: string) => void;
  /** TLS for the peer port, both ways (accepted members and clients, dialed members); null: plaintext. */
  readonly tls?: PeerTls | null;
  /** A connection closed before its hello could be read: failed TLS handshake (counted in metrics). */
  readonly onRefused?: (remoteAddress: string, reason: string) => void;
  /** The group secret (peer connections) and client secret; null members = peerAuth=none. */
  readonly secrets: NodeSecrets;
  /** A connection that has not finished the handshake after this long is closed. */
  readonly helloTimeoutMs?: number;
  /** Called once per refused handshake (either direction) with a short reason label. */
  readonly onAuthFailure?: (reason: AuthFailureReason) => void;
  /** Connection caps, first-frame deadline, idleness and the partial-frame budget of the port. */
  readonly limits?: ConnectionLimits;
  /** Called once per connection the limits refused or closed, with the reason. */
  readonly onLimitRefusal?: (reason: RefusalReason) => void;
  /**
   * A client connection whose replies (written and not yet taken by the client, plus those
   * waiting for this turn's write) exceed this is not read further until they drain.
   */
  readonly clientReplyBacklogMaxBytes?: number;
}

/** The peer port's default bounds (node keys in src/node/config.ts override them). */
export const DEFAULT_PEER_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  firstFrameDeadlineMs: 5000,
  idleTimeoutMs: 120_000,
  partialFrameBudgetBytes: 256 * 1024 * 1024,
};
const DEFAULT_CLIENT_REPLY_BACKLOG_MAX_BYTES = 16 * 1024 * 1024;

export type AuthFailureReason = 'inbound' | 'outbound' | 'timeout' | 'from_mismatch';

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
  /** Handshakes refused: inbound (a dialer failed to prove) and outbound (an acceptor failed). */
  authFailures: number;
  /** Raft messages whose `from` was not the connection's authenticated peer (dropped). */
  fromMismatches: number;
}

/** A burst this long is written at once instead of waiting for the end of the task. */
const WRITE_BATCH_FRAMES = 64;

class OutboundPeer {
  socket: net.Socket | null = null;
  /** True once the acceptor has proven it holds the secret: only then does the queue flush. */
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
  readonly stats: PeerTransportStats = { framesSent: 0, framesReceived: 0, framesDropped: 0, connectionsOpened: 0, malformedFrames: 0, refusedHandshakes: 0, authFailures: 0, fromMismatches: 0 };
  private readonly outbound = new Map<string, OutboundPeer>();
  private readonly inbound = new Set<net.Socket>();
  private readonly pendingReplies = new Map<net.Socket, Buffer[]>();
  // Invariant: pendingReplyBytes.get(s) = total length of pendingReplies.get(s).
  private readonly pendingReplyBytes = new Map<net.Socket, number>();
  private readonly guard: ConnectionGuard;
  private server: net.Server | null = null;
  private closed = false;

  constructor(private readonly options: PeerTransportOptions) {
    assert(options.maxQueuedFramesPerPeer > 0, 'maxQueuedFramesPerPeer must be positive');
    this.guard = new ConnectionGuard({
      name: `peer port of ${options.group}/${options.selfId}`,
      limits: options.limits ?? DEFAULT_PEER_LIMITS,
      log: options.log,
      ...(options.onLimitRefusal === undefined ? {} : { onRefusal: options.onLimitRefusal }),
    });
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
        this.pendingReplyBytes.delete(socket);
        if (!socket.destroyed && frames.length > 0) socket.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames));
      });
    }
    const frame = encodeFrame(value, this.options.maxFrameBytes);
    pending.push(frame);
    this.pendingReplyBytes.set(socket, (this.pendingReplyBytes.get(socket) ?? 0) + frame.length);
  }

  /** Reply bytes produced for a client socket and not yet taken by it. */
  private replyBacklogBytes(socket: net.Socket): number {
    return socket.writableLength + (this.pendingReplyBytes.get(socket) ?? 0);
  }

  /** The limits' refusal counts by reason (also reported through onLimitRefusal). */
  get limitRefusals(): Readonly<Record<RefusalReason, number>> {
    return this.guard.refusals;
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
    this.guard.close();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private connect(peer: OutboundPeer): void {
    if (this.closed) return;
    // Ready after 'connect', or after the TLS handshake when the peer port runs TLS.
    const socket = dial(this.options.tls?.client ?? null, peer.address.host, peer.address.port, () => {
      if (this.outbound.get(peer.address.id) !== peer) return void socket.destroy();
      this.dialHandshake(peer, socket);
    });
    socket.setNoDelay(true);
    peer.socket = socket;
    socket.on('drain', () => {
      peer.blocked = false;
      this.flushQueue(peer);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (peer.socket !== socket) return;
      peer.socket = null;
      peer.connected = false;
      peer.blocked = false;
      this.scheduleReconnect(peer);
    });
  }

  /**
   * The dialer's half of the handshake on a connected socket: hello, verify the acceptor's proof,
   * send ours, then flush the queued Raft traffic. After that the acceptor sends nothing more on
   * this connection; anything it does send is read and discarded so the socket never stalls.
   */
  private dialHandshake(peer: OutboundPeer, socket: net.Socket): void {
    const handshake = new DialerHandshake({ role: 'peer', group: this.options.group, from: this.options.selfId, to: peer.address.id }, this.options.secrets.peer);
    const decoder = new FrameDecoder(HELLO_MAX_FRAME_BYTES);
    const deadline = setTimeout(() => fail('timeout', `no handshake answer within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
    deadline.unref();
    let done = false;
    const fail = (reason: 'outbound' | 'timeout', message: string): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      this.countAuthFailure(reason);
      this.options.log(`peer ${peer.address.id} (${peer.address.host}:${peer.address.port}): handshake failed: ${message}`);
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        decoder.feed(chunk);
        const next = decoder.next();
        if (next === null) return;
        const auth = handshake.answer(next.value);
        done = true;
        clearTimeout(deadline);
        socket.write(encodeFrame(auth, this.options.maxFrameBytes));
        peer.connected = true;
        peer.reconnectDelayMs = this.options.reconnectInitialDelayMs;
        this.stats.connectionsOpened++;
        this.flushQueue(peer);
      } catch (error) {
        if (error instanceof AuthError || error instanceof FrameError) return fail('outbound', error.message);
        throw error;
      }
    });
    socket.on('close', () => clearTimeout(deadline));
    socket.write(encodeFrame(handshake.hello(), this.options.maxFrameBytes));
  }

  private get helloTimeoutMs(): number {
    return this.options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  }

  private countAuthFailure(reason: AuthFailureReason): void {
    if (reason === 'from_mismatch') this.stats.fromMismatches++;
    else this.stats.authFailures++;
    this.options.onAuthFailure?.(reason);
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
    const guarded = this.guard.admit(socket);
    if (guarded === null) return;
    this.inbound.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => this.guard.release(guarded));
    this.acceptHandshake(socket, guarded);
  }

  /**
   * The acceptor's half of the handshake, then the connection's frames. Until the dialer has
   * proven it holds the secret, frames are capped at HELLO_MAX_FRAME_BYTES and the connection
   * has helloTimeoutMs to finish; nothing it sends is acted on.
   */
  private acceptHandshake(socket: net.Socket, guarded: GuardedConnection): void {
    const handshake = new AcceptorHandshake({
      group: this.options.group,
      selfId: this.options.selfId,
      isPeer: (id) => this.outbound.has(id),
      acceptsClients: this.options.onClientConnection !== undefined,
      secrets: this.options.secrets,
    });
    const decoder = new FrameDecoder(HELLO_MAX_FRAME_BYTES);
    let stage: 'hello' | 'auth' | 'open' = 'hello';
    let from: string | null = null;
    let client: ClientSession | null = null;
    const where = `${socket.remoteAddress}:${socket.remotePort}`;
    const reject = (reason: string): void => {
      this.stats.malformedFrames++;
      this.options.log(`closing inbound peer connection from ${where}: ${reason}`);
      socket.destroy();
    };
    const refuse = (reason: AuthFailureReason, message: string): void => {
      this.countAuthFailure(reason);
      this.options.log(`refusing inbound connection from ${where}: ${message}`);
      // The reason tells an honest but misconfigured dialer what is wrong; it holds no secret.
      if (!socket.destroyed) socket.end(encodeFrame({ refused: message }, HELLO_MAX_FRAME_BYTES));
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    const deadline = setTimeout(() => refuse('timeout', `no complete handshake within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
    deadline.unref();
    const onHandshakeFrame = (value: unknown): boolean => {
      try {
        if (stage === 'hello') {
          socket.write(encodeFrame(handshake.onHello(value), HELLO_MAX_FRAME_BYTES));
          stage = 'auth';
          return true;
        }
        const who = handshake.onAuth(value);
        clearTimeout(deadline);
        stage = 'open';
        decoder.setMaxFrameBytes(this.options.maxFrameBytes);
        if (who.role === 'client') client = (this.options.onClientConnection as (s: net.Socket) => ClientSession)(socket);
        else from = who.from;
        return true;
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        clearTimeout(deadline);
        refuse('inbound', error.message);
        return false;
      }
    };
    const backlogMaxBytes = this.options.clientReplyBacklogMaxBytes ?? DEFAULT_CLIENT_REPLY_BACKLOG_MAX_BYTES;
    // A client whose replies pile up (it does not read) is not read either: its requests wait,
    // undecoded, in the decoder and the kernel buffers until the replies drain.
    const clientBackedUp = (): boolean => client !== null && this.replyBacklogBytes(socket) > backlogMaxBytes;
    const drainFrames = (): void => {
      try {
        for (let next = clientBackedUp() ? null : decoder.next(); next !== null; next = clientBackedUp() ? null : decoder.next()) {
          this.guard.frameReceived(guarded);
          if (stage !== 'open') {
            if (!onHandshakeFrame(next.value)) return;
          } else if (client !== null) client.onFrame(next.value);
          else if (!this.onPeerFrame(from as string, next.value, reject)) return;
        }
        if (clientBackedUp()) {
          socket.pause();
          if (!waitingForReplies) waitForReplies();
          return;
        }
        if (!this.guard.holdPartial(guarded, decoder.bufferedBytes)) return;
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        clearTimeout(deadline);
        if (stage === 'open') return reject(error.message);
        refuse('inbound', error.message);
      }
    };
    // Replies leave in the setImmediate after they are produced, then through the kernel:
    // poll until the backlog is under the bound ('drain' alone misses replies not yet written).
    let waitingForReplies = false;
    const waitForReplies = (): void => {
      waitingForReplies = true;
      const timer = setTimeout(() => {
        if (socket.destroyed) return;
        if (this.replyBacklogBytes(socket) > backlogMaxBytes) return waitForReplies();
        waitingForReplies = false;
        socket.resume();
        drainFrames();
      }, 5);
      timer.unref();
    };
    socket.on('data', (chunk: Buffer) => {
      if (socket.destroyed || socket.writableEnded) return;
      try {
        decoder.feed(chunk);
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        clearTimeout(deadline);
        if (stage === 'open') return reject(error.message);
        return refuse('inbound', error.message);
      }
      drainFrames();
    });
    socket.on('close', () => {
      clearTimeout(deadline);
      this.inbound.delete(socket);
      client?.onClose();
    });
  }

  /** One frame from an authenticated peer; false when the connection was closed. */
  private onPeerFrame(from: string, value: unknown, reject: (reason: string) => void): boolean {
    const claimed = (value as { from?: unknown } | null)?.from;
    if (claimed !== from) {
      // The connection proved it is `from`; a message claiming another sender is dropped.
      this.countAuthFailure('from_mismatch');
      this.options.log(`dropping a message from authenticated peer ${from} that claims to be from "${String(claimed)}"`);
      return true;
    }
    this.stats.framesReceived++;
    try {
      this.options.onMessage(from, value);
    } catch (error) {
      // A well-framed but invalid message: this peer speaks something else; drop the link.
      if (error instanceof WireMessageError) {
        reject(`invalid message from ${from}: ${error.message}`);
        return false;
      }
      throw error;
    }
    return true;
  }
}
