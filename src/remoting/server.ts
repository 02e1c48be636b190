// A RocketMQ remoting server over TCP: one handler per request code, and every request that is
// not oneway gets exactly one answer — the handler's response, REQUEST_CODE_NOT_SUPPORTED for a
// code nobody handles, SYSTEM_BUSY past the per-connection in-flight bound, or SYSTEM_ERROR with
// the reason when a handler fails. Malformed frames are answered with SYSTEM_ERROR (matched by
// opaque when the header got that far) and the connection is closed with a logged reason.
import net from 'node:net';
import { assert, AssertionError } from '../util/assert.js';
import { listenOn } from '../util/listen.js';
import { ConnectionGuard, type ConnectionLimits, type RefusalReason } from '../net/connection-guard.js';
import { createListener, type ListenerSecurity } from '../net/tls.js';
import { ResponseCode } from './codes.js';
import { createResponse, FLAG_RESPONSE, isOneway, isResponse, RemotingFrameError, SerializeType, type RemotingCommand } from './command.js';
import { RemotingConnection } from './connection.js';
import { FRAME_MAX_BYTES, RemotingFrameDecoder } from './frame.js';

export type RequestHandler = (request: RemotingCommand, connection: RemotingConnection) => RemotingCommand | Promise<RemotingCommand>;

/** An authorize hook's refusal: answered with this code and remark instead of dispatching. */
export interface Rejection {
  readonly code: number;
  readonly remark: string;
}

export interface RemotingServerOptions {
  /** Names this server in log lines ("namesrv", "broker RaftNode00/n0"). */
  readonly name: string;
  readonly log: (line: string) => void;
  readonly frameMaxBytes?: number;
  /** Requests of one connection being handled at once; more are answered SYSTEM_BUSY. */
  readonly maxInFlightPerConnection?: number;
  /** Output queued for a slow reader beyond which we stop reading its requests. */
  readonly writeBufferMaxBytes?: number;
  /** How long a closed connection may take to flush its last answer before it is destroyed. */
  readonly closeLingerMs?: number;
  /**
   * A connection with no traffic either way and nothing in flight for this long is closed
   * (Java: serverChannelMaxIdleTimeSeconds, 120 s), so abandoned connections do not pile up.
   * Brokers and clients talk every 30 s, well inside it.
   */
  readonly idleTimeoutMs?: number;
  /**
   * TLS (RocketMQ's tls.server.mode): disabled (absent/null), permissive (one port takes TLS and
   * plaintext: ali-ons speaks plaintext only), enforcing (plaintext refused).
   */
  readonly security?: ListenerSecurity | null;
  /** Checked before every request is dispatched (the ACL): null lets it through. */
  readonly authorize?: (request: RemotingCommand, connection: RemotingConnection) => Rejection | null;
  /**
   * Connection caps, first-frame deadline, partial-frame budget (src/net/connection-guard.ts);
   * its idleTimeoutMs is replaced by the option above. Defaults: DEFAULT_REMOTING_LIMITS.
   */
  readonly limits?: Partial<ConnectionLimits>;
  /** Called once per connection the bounds refused or closed (metrics). */
  readonly onLimitRefusal?: (reason: RefusalReason) => void;
}

/**
 * Why these: Java caps nothing but idleness (serverChannelMaxIdleTimeSeconds 120 s). A broker
 * serves thousands of clients, so the caps are generous; 1,000 from one address leaves room for
 * a host running many clients while one attacking host cannot take the whole table. 64 MiB of
 * partial frames is four 16 MiB frames at once (honest sends are 4 MiB at most by default).
 */
export const DEFAULT_REMOTING_LIMITS: Omit<ConnectionLimits, 'idleTimeoutMs'> = {
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1_000,
  firstFrameDeadlineMs: 10_000,
  partialFrameBudgetBytes: 64 * 1024 * 1024,
  // Each connection stops being served at 8 MiB unread (writeBufferMaxBytes) plus what its last
  // turn built; this bounds the sum when many connections do it (32 such at the default).
  unreadOutputBudgetBytes: 256 * 1024 * 1024,
};

export interface RemotingServerStats {
  /** Connections closed during or before the TLS handshake (plaintext on an enforcing port, bad client cert). */
  tlsRefused: number;
  /** Accepted connections by transport. */
  tlsConnections: number;
  plainConnections: number;
}

const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION = 1024;
const DEFAULT_WRITE_BUFFER_MAX_BYTES = 8 * 1024 * 1024;
const DEFAULT_CLOSE_LINGER_MS = 1000;
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** Handler time one connection's pending requests may take per turn of the event loop. */
const PUMP_TURN_BUDGET_MS = 5;

export class RemotingServer {
  readonly stats: RemotingServerStats = { tlsRefused: 0, tlsConnections: 0, plainConnections: 0 };
  private readonly handlers = new Map<number, RequestHandler>();
  private readonly connections = new Set<RemotingConnection>();
  private readonly closeListeners: Array<(connection: RemotingConnection) => void> = [];
  private readonly frameMaxBytes: number;
  private readonly maxInFlightPerConnection: number;
  private readonly writeBufferMaxBytes: number;
  private readonly closeLingerMs: number;
  private readonly idleTimeoutMs: number;
  private readonly guard: ConnectionGuard;
  private server: net.Server | null = null;
  private closing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: RemotingServerOptions) {
    this.frameMaxBytes = options.frameMaxBytes ?? FRAME_MAX_BYTES;
    this.maxInFlightPerConnection = options.maxInFlightPerConnection ?? DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION;
    this.writeBufferMaxBytes = options.writeBufferMaxBytes ?? DEFAULT_WRITE_BUFFER_MAX_BYTES;
    this.closeLingerMs = options.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    assert(Number.isInteger(this.maxInFlightPerConnection) && this.maxInFlightPerConnection > 0, 'maxInFlightPerConnection must be a positive integer');
    this.guard = new ConnectionGuard({
      name: options.name,
      limits: { ...DEFAULT_REMOTING_LIMITS, ...options.limits, idleTimeoutMs: this.idleTimeoutMs },
      log: options.log,
      ...(options.onLimitRefusal === undefined ? {} : { onRefusal: options.onLimitRefusal }),
    });
  }

  /** Refusals of the connection bounds, by reason. */
  get limitRefusals(): Readonly<Record<RefusalReason, number>> {
    return this.guard.refusals;
  }

  registerHandler(code: number, handler: RequestHandler): void {
    assert(!this.handlers.has(code), `a handler for request code ${code} is already registered`);
    this.handlers.set(code, handler);
  }

  /** Called once for every connection that closes, for whatever reason. */
  onConnectionClosed(listener: (connection: RemotingConnection) => void): void {
    this.closeListeners.push(listener);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Start listening (port 0 asks the OS for a free port); resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    assert(this.server === null, 'listen called twice');
    const server = createListener(this.options.security ?? null, {
      onSocket: (socket, secure) => {
        if (secure) this.stats.tlsConnections++;
        else this.stats.plainConnections++;
        this.accept(socket);
      },
      onRefused: (remote, reason) => {
        this.stats.tlsRefused++;
        this.options.log(`${this.options.name}: refusing connection from ${remote}: ${reason}`);
      },
    });
    this.server = server;
    return listenOn(server, host, port);
  }

  /**
   * Graceful close: stop accepting and reading, let requests in flight answer for up to
   * graceMs, then close every connection.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const server = this.server;
    const stopped = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of this.connections) connection.socket.pause();
    if (this.inFlightTotal() > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const allClosed = [...this.connections].map((connection) => new Promise<void>((resolve) => {
      if (connection.socket.closed) return resolve();
      connection.socket.once('close', () => resolve());
      connection.close(this.closeLingerMs);
    }));
    // Each socket closes within closeLingerMs (close() destroys it then).
    await Promise.all([stopped, ...allClosed]);
  }

  private inFlightTotal(): number {
    let total = 0;
    for (const connection of this.connections) total += connection.inFlight;
    return total;
  }

  private accept(socket: net.Socket): void {
    if (this.closing) return void socket.destroy();
    // A long poll in flight is not idleness: its answer will be traffic.
    const guarded = this.guard.admit(socket, () => connection.inFlight > 0);
    if (guarded === null) return;
    socket.setNoDelay(true);
    const connection = new RemotingConnection(socket, this.frameMaxBytes, this.writeBufferMaxBytes, (unreadBytes) => this.guard.holdOutput(guarded, unreadBytes));
    this.connections.add(connection);
    const decoder = new RemotingFrameDecoder(this.frameMaxBytes);
    socket.on('drain', () => {
      if (connection.closed) return;
      this.guard.holdOutput(guarded, socket.writableLength);
      this.pump(connection);
    });
    socket.on('data', (chunk: Buffer) => {
      if (connection.closed) return;
      let commands: RemotingCommand[];
      try {
        commands = decoder.push(chunk);
      } catch (error) {
        if (!(error instanceof RemotingFrameError)) throw error;
        this.rejectConnection(connection, error);
        return;
      }
      if (commands.length > 0) this.guard.frameReceived(guarded);
      if (!this.guard.holdPartial(guarded, decoder.bufferedBytes)) return;
      if (commands.length === 0) return;
      for (const command of commands) connection.pending.push(command);
      if (!connection.pumpScheduled) this.pump(connection);
    });
    socket.on('error', () => undefined); // 'close' follows and does the cleanup
    socket.on('close', () => {
      this.guard.release(guarded);
      connection.markClosed();
      this.connections.delete(connection);
      for (const listener of this.closeListeners) listener(connection);
      this.notifyIfIdle();
    });
  }

  /**
   * Dispatch pending requests, a few per turn, while the reader takes its answers. Pipelined
   * requests arrive many to a read (500 pulls of a 4 MiB message fit in a few packets): taken all
   * at once they would build every answer before the first write could show the reader is not
   * reading, and stall the loop (the broker's Raft heartbeats with it) for as long. A turn takes
   * at most the connection's share by answer size and PUMP_TURN_BUDGET_MS of handler time
   * (handlers do their reading synchronously); answers land within the turn, so the next turn
   * sees the backlog. Reads stay paused while requests wait: `pending` holds one read's worth.
   */
  private pump(connection: RemotingConnection): void {
    connection.pumpScheduled = false;
    let allowed = connection.dispatchesPerTurn(this.maxInFlightPerConnection);
    const turnStartedMs = performance.now();
    while (connection.pending.length > 0 && allowed-- > 0 && !connection.closed && !connection.outputBacklogged) {
      this.dispatch(connection, connection.pending.shift() as RemotingCommand);
      if (performance.now() - turnStartedMs >= PUMP_TURN_BUDGET_MS) break;
    }
    if (connection.closed) return;
    if (connection.pending.length > 0) {
      connection.socket.pause();
      // A backlog is taken up again by 'drain'; otherwise the next turn goes on.
      if (!connection.outputBacklogged) {
        connection.pumpScheduled = true;
        setImmediate(() => this.pump(connection));
      }
    } else if (!connection.outputBacklogged && !this.closing) {
      connection.socket.resume();
    }
  }

  private rejectConnection(connection: RemotingConnection, error: RemotingFrameError): void {
    this.options.log(`${this.options.name}: closing connection from ${connection.remoteAddress}: ${error.message}`);
    const answer: RemotingCommand = {
      code: ResponseCode.SYSTEM_ERROR,
      language: 'JAVA',
      version: 0,
      opaque: error.opaque ?? 0,
      flag: FLAG_RESPONSE,
      remark: `malformed frame: ${error.message}`,
      extFields: {},
      body: null,
      serializeType: SerializeType.JSON,
    };
    connection.send(answer);
    connection.close(this.closeLingerMs);
  }

  private dispatch(connection: RemotingConnection, command: RemotingCommand): void {
    if (isResponse(command)) {
      // This server sends no requests of its own, so no response can be expected.
      this.options.log(`${this.options.name}: dropping an unexpected response (opaque ${command.opaque}) from ${connection.remoteAddress}`);
      return;
    }
    if (this.closing) {
      // Read just before close() paused the socket: still one answer, telling the caller to retry elsewhere.
      this.answer(connection, command, createResponse(command, ResponseCode.SYSTEM_BUSY, { remark: `${this.options.name} is shutting down` }));
      return;
    }
    const rejection = this.options.authorize?.(command, connection) ?? null;
    if (rejection !== null) {
      this.answer(connection, command, createResponse(command, rejection.code, { remark: rejection.remark }));
      return;
    }
    const handler = this.handlers.get(command.code);
    if (handler === undefined) {
      this.answer(connection, command, createResponse(command, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, { remark: ` request type ${command.code} not supported` }));
      return;
    }
    if (connection.inFlight >= this.maxInFlightPerConnection) {
      this.answer(connection, command, createResponse(command, ResponseCode.SYSTEM_BUSY, {
        remark: `[OVERLOAD]system busy, ${connection.inFlight} requests of this connection in flight (limit ${this.maxInFlightPerConnection})`,
      }));
      return;
    }
    connection.inFlight++;
    void this.run(handler, connection, command).then((response) => {
      connection.inFlight--;
      this.answer(connection, command, response);
      this.notifyIfIdle();
    });
  }

  /** Never rejects: a failing handler becomes a SYSTEM_ERROR answer. */
  private async run(handler: RequestHandler, connection: RemotingConnection, request: RemotingCommand): Promise<RemotingCommand> {
    try {
      return await handler(request, connection);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if (err instanceof AssertionError) this.options.log(`${this.options.name}: BUG in the handler of request code ${request.code}: ${err.stack ?? err.message}`);
      return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `${err.name}: ${err.message}` });
    }
  }

  private answer(connection: RemotingConnection, request: RemotingCommand, response: RemotingCommand): void {
    if (isOneway(request)) return;
    // Whatever the handler built, the answer is a response to this request.
    const framed: RemotingCommand = { ...response, opaque: request.opaque, flag: response.flag | FLAG_RESPONSE, serializeType: request.serializeType };
    try {
      connection.send(framed);
    } catch (error) {
      if (!(error instanceof RemotingFrameError)) throw error;
      connection.send(createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `the response could not be encoded: ${error.message}` }));
    }
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || this.inFlightTotal() > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
