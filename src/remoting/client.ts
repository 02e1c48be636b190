// A RocketMQ remoting client (NettyRemotingClient's invokeSync/invokeOneway): one TCP connection
// per address, opened on first use and again after it closes; responses are matched to requests
// by opaque; every invoke ends in a response or a RemotingClientError (connect failure, timeout,
// connection closed, too many pending). Requests the server sends us are answered by onRequest,
// or with REQUEST_CODE_NOT_SUPPORTED.
import net from 'node:net';
import { assert } from '../util/assert.js';
import { dial, type TlsClientOptions } from '../net/tls.js';
import { ResponseCode } from './codes.js';
import { createResponse, FLAG_ONEWAY, isOneway, isResponse, RemotingFrameError, type RemotingCommand } from './command.js';
import { encodeCommand, FRAME_MAX_BYTES, RemotingFrameDecoder } from './frame.js';

export type RemotingClientErrorKind = 'address' | 'connect' | 'timeout' | 'closed' | 'busy' | 'encode';

export class RemotingClientError extends Error {
  override name = 'RemotingClientError';
  constructor(readonly kind: RemotingClientErrorKind, readonly address: string, message: string) {
    super(`${address}: ${message}`);
  }
}

export interface RemotingClientOptions {
  readonly connectTimeoutMs?: number;
  readonly frameMaxBytes?: number;
  /** Requests awaiting a response on one connection; more fail at once with kind 'busy'. */
  readonly maxPendingPerConnection?: number;
  /** Answers requests a server sends on our connection (e.g. NOTIFY_CONSUMER_IDS_CHANGED). */
  readonly onRequest?: (request: RemotingCommand, address: string) => RemotingCommand | Promise<RemotingCommand>;
  readonly log?: (line: string) => void;
  /** TLS to every server (RocketMQ's tls.enable with the tls.client.* settings); absent or null: plaintext. */
  readonly tls?: TlsClientOptions | null;
  /** Applied to every request before it is sent (RocketMQ's RPCHook.doBeforeRequest): e.g. ACL signing. */
  readonly beforeRequest?: (request: RemotingCommand) => RemotingCommand;
}

interface Pending {
  resolve(response: RemotingCommand): void;
  reject(error: RemotingClientError): void;
  timer: NodeJS.Timeout;
}

class ClientConnection {
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<void>;
  closed = false;

  readonly socket: net.Socket;

  /** `open` dials and calls its argument once the socket may be written (after the TLS handshake, with TLS). */
  constructor(readonly address: string, open: (onReady: () => void) => net.Socket, connectTimeoutMs: number) {
    let onReady: () => void = () => undefined;
    const socket = open(() => onReady());
    this.socket = socket;
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RemotingClientError('connect', address, `connect timed out after ${connectTimeoutMs} ms`));
        socket.destroy();
      }, connectTimeoutMs);
      onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      let cause = 'connection closed before it was established';
      socket.once('error', (error) => (cause = error.message));
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new RemotingClientError('connect', address, cause));
      });
    });
    this.ready.catch(() => undefined); // observed by invoke(); never an unhandled rejection
  }

  failAll(reason: string): void {
    this.closed = true;
    for (const [opaque, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(opaque);
      pending.reject(new RemotingClientError('closed', this.address, reason));
    }
  }
}

export class RemotingClient {
  private readonly connections = new Map<string, ClientConnection>();
  private readonly connectTimeoutMs: number;
  private readonly frameMaxBytes: number;
  private readonly maxPendingPerConnection: number;
  private closed = false;

  constructor(private readonly options: RemotingClientOptions = {}) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.frameMaxBytes = options.frameMaxBytes ?? FRAME_MAX_BYTES;
    this.maxPendingPerConnection = options.maxPendingPerConnection ?? 10_000;
  }

  /** Send a request and wait for its response (any response code; the caller interprets it). */
  async invoke(address: string, request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    assert(!isResponse(request) && !isOneway(request), 'invoke needs a two-way request');
    assert(timeoutMs > 0, `timeoutMs must be positive, got ${timeoutMs}`);
    const deadlineMs = Date.now() + timeoutMs;
    const connection = this.connectionTo(address);
    await this.ready(connection, timeoutMs);
    if (connection.closed) throw new RemotingClientError('closed', address, 'connection closed');
    if (connection.pending.size >= this.maxPendingPerConnection) {
      throw new RemotingClientError('busy', address, `${connection.pending.size} requests already awaiting a response`);
    }
    assert(!connection.pending.has(request.opaque), `opaque ${request.opaque} is already awaiting a response`);
    const frame = this.encode(address, this.options.beforeRequest?.(request) ?? request);
    return new Promise<RemotingCommand>((resolve, reject) => {
      const remainingMs = Math.max(1, deadlineMs - Date.now());
      const timer = setTimeout(() => {
        connection.pending.delete(request.opaque);
        reject(new RemotingClientError('timeout', address, `no response to request code ${request.code} (opaque ${request.opaque}) within ${timeoutMs} ms`));
      }, remainingMs);
      connection.pending.set(request.opaque, { resolve, reject, timer });
      connection.socket.write(frame);
    });
  }

  /** Send a request with the oneway flag; resolves once it is handed to the socket. */
  async invokeOneway(address: string, request: RemotingCommand, timeoutMs: number): Promise<void> {
    assert(!isResponse(request), 'invokeOneway needs a request');
    const connection = this.connectionTo(address);
    await this.ready(connection, timeoutMs);
    if (connection.closed) throw new RemotingClientError('closed', address, 'connection closed');
    const hooked = this.options.beforeRequest?.(request) ?? request;
    connection.socket.write(this.encode(address, { ...hooked, flag: hooked.flag | FLAG_ONEWAY }));
  }

  /** Drop the connection to one address (e.g. a broker that left); pending calls fail. */
  closeConnection(address: string): void {
    const connection = this.connections.get(address);
    if (connection === undefined) return;
    this.connections.delete(address);
    connection.failAll('connection closed by this client');
    connection.socket.destroy();
  }

  close(): void {
    this.closed = true;
    for (const address of [...this.connections.keys()]) this.closeConnection(address);
  }

  private encode(address: string, command: RemotingCommand): Buffer {
    try {
      return encodeCommand(command, this.frameMaxBytes);
    } catch (error) {
      if (error instanceof RemotingFrameError) throw new RemotingClientError('encode', address, error.message);
      throw error;
    }
  }

  private async ready(connection: ClientConnection, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connection.ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RemotingClientError('timeout', connection.address, `not connected within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private connectionTo(address: string): ClientConnection {
    if (this.closed) throw new RemotingClientError('closed', address, 'the client is closed');
    const existing = this.connections.get(address);
    if (existing !== undefined && !existing.closed) return existing;
    const { host, port } = parseAddress(address);
    const connection = new ClientConnection(address, (onReady) => dial(this.options.tls ?? null, host, port, onReady), this.connectTimeoutMs);
    const socket = connection.socket;
    socket.setNoDelay(true);
    this.connections.set(address, connection);
    const decoder = new RemotingFrameDecoder(this.frameMaxBytes);
    socket.on('data', (chunk: Buffer) => {
      let commands: RemotingCommand[];
      try {
        commands = decoder.push(chunk);
      } catch (error) {
        if (!(error instanceof RemotingFrameError)) throw error;
        this.options.log?.(`remoting client: closing the connection to ${address}: ${error.message}`);
        connection.failAll(`malformed frame from the server: ${error.message}`);
        socket.destroy();
        return;
      }
      for (const command of commands) this.onCommand(connection, command);
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      connection.failAll('connection closed');
      if (this.connections.get(address) === connection) this.connections.delete(address);
    });
    return connection;
  }

  private onCommand(connection: ClientConnection, command: RemotingCommand): void {
    if (isResponse(command)) {
      const pending = connection.pending.get(command.opaque);
      if (pending === undefined) return; // its caller timed out already
      connection.pending.delete(command.opaque);
      clearTimeout(pending.timer);
      pending.resolve(command);
      return;
    }
    void this.answerServerRequest(connection, command);
  }

  private async answerServerRequest(connection: ClientConnection, request: RemotingCommand): Promise<void> {
    let response: RemotingCommand;
    try {
      response = this.options.onRequest === undefined
        ? createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, { remark: ` request type ${request.code} not supported` })
        : await this.options.onRequest(request, connection.address);
    } catch (error) {
      response = createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: String(error) });
    }
    if (isOneway(request) || connection.closed) return;
    connection.socket.write(encodeCommand({ ...response, opaque: request.opaque, flag: response.flag | 1 }, this.frameMaxBytes));
  }
}

/** "host:port" or "[v6]:port", as RocketMQ writes addresses. */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const portText = address.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || host.length === 0 || !/^[0-9]+$/.test(portText) || port < 1 || port > 65535) {
    throw new RemotingClientError('address', address, 'not a host:port address');
  }
  return { host, port };
}
