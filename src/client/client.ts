// DLedgerClient: talks to a running group. It keeps one connection per member it has used, sends
// each request to the member it believes leads, and on NOT_LEADER (or a dead connection) follows
// the leader hint or tries the next member, with a short backoff, until `retryTimeoutMs` runs out.
// Requests in flight on one connection are bounded (maxInflightRequests) so a caller cannot grow
// memory without bound. Every connection first runs the peer-port handshake as role 'client'
// (peer-auth.ts): the client proves it holds the client secret and checks the node's proof.
import net from 'node:net';
import { encodeFrame, FrameDecoder, FrameError } from '../node/peer-frame.js';
import { parsePeers, type PeerAddress } from '../node/config.js';
import { type AppendedInfo, type ClientRequest, type ClientResponse, type EntryInfo, type Metadata, type ReadConsistency, ResponseCode, ResponseCodeName } from '../node/client-protocol.js';
import { assert } from '../util/assert.js';
import { dial, type TlsClientOptions } from '../net/tls.js';
import { type AuthSecrets, AuthError, DialerHandshake, HELLO_MAX_FRAME_BYTES, loadSecretFile } from '../node/peer-auth.js';

export interface DLedgerClientOptions {
  readonly group: string;
  /** DLedger syntax "n0-host:port;n1-host:port;..." or parsed addresses. */
  readonly peers: string | readonly PeerAddress[];
  /** How long one call keeps retrying NOT_LEADER and connection failures. */
  readonly retryTimeoutMs?: number;
  /** Per-request time limit on one connection. */
  readonly requestTimeoutMs?: number;
  readonly maxInflightRequests?: number;
  /** TLS to the members (loadClientTls in src/net/tls-config.ts reads the files); absent or null: plaintext. */
  readonly tls?: TlsClientOptions | null;
  /**
   * The client secret the nodes accept (their clientSecretFile, or their peer secret file when
   * they set none). Without either option the client speaks the handshake without a proof, which
   * only a node with peerAuth=none accepts.
   */
  readonly clientSecret?: string;
  /** A file holding the client secret (first line proves), as the nodes' secret files. */
  readonly clientSecretFile?: string;
}

export class DLedgerClientError extends Error {
  override name = 'DLedgerClientError';
  constructor(
    readonly code: number,
    message: string,
    /**
     * True when the request reached a node and no answer came back (timeout, lost connection):
     * an append may or may not have been applied. The client never re-sends such an append by
     * itself, since that could store it twice.
     */
    readonly outcomeUnknown = false,
    /**
     * True only when the client can prove that no byte of the request was handed to any socket
     * during the whole call, over every attempt and member (the connection was refused or lost
     * before the write, the call gave up before trying, the in-flight limit refused it): the
     * request cannot have been applied. Any doubt (a write happened, then a timeout, a reset, or a
     * refusal by a node) leaves it false. A chaos history records such an append as failed, and
     * its checker then treats the value in any log as a violation.
     */
    readonly notSent = false,
  ) {
    super(`${ResponseCodeName[code] ?? `code ${code}`}: ${message}`);
  }
}

const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const RETRYABLE = new Set<number>([ResponseCode.NOT_LEADER, ResponseCode.LEADER_TRANSFERRING, ResponseCode.LEADER_NOT_READY, ResponseCode.TIMEOUT]);

type Waiter = { resolve: (r: ClientResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
/**
 * Whether any attempt of one call handed its request to a socket. Shared by the attempts of a call.
 * Invariant: `written` goes false -> true only, set just before socket.write of a frame holding
 * the request, and never otherwise.
 */
type SendRecord = { written: boolean };
type Outgoing = { readonly frame: Buffer; readonly sent: SendRecord };
type RequestBody = ClientRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

class Connection {
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder(MAX_FRAME_BYTES);
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 1;
  private failure: Error | null = null;
  // Invariant: outgoing holds frames of requests made in the current task, not yet written.
  private outgoing: Outgoing[] = [];
  private writeScheduled = false;
  readonly ready: Promise<void>;

  constructor(
    readonly peer: PeerAddress,
    group: string,
    private readonly requestTimeoutMs: number,
    private readonly maxInflight: number,
    tls: TlsClientOptions | null,
    secrets: AuthSecrets | null,
  ) {
    let onReady: () => void = () => undefined;
    // Writable after 'connect', or after the TLS handshake.
    this.socket = dial(tls, peer.host, peer.port, () => onReady());
    this.socket.setNoDelay(true);
    const handshake = new DialerHandshake({ role: 'client', group, from: 'client', to: peer.id }, secrets);
    let authenticated = false;
    this.decoder.setMaxFrameBytes(HELLO_MAX_FRAME_BYTES);
    this.ready = new Promise((resolve, reject) => {
      this.rejectReady = reject;
      // Connected (TCP, or TLS handshake done): the peer-port handshake starts.
      onReady = () => this.socket.write(encodeFrame(handshake.hello(), MAX_FRAME_BYTES));
      // Until the node has answered the handshake, frames are handshake frames.
      this.onHandshake = (value: unknown): void => {
        try {
          this.socket.write(encodeFrame(handshake.answer(value), MAX_FRAME_BYTES));
        } catch (error) {
          if (!(error instanceof AuthError)) throw error;
          const failure = new Error(`authentication with ${peer.id} (${peer.host}:${peer.port}) failed: ${error.message}`);
          this.fail(failure);
          return;
        }
        authenticated = true;
        clearTimeout(this.handshakeTimer);
        this.decoder.setMaxFrameBytes(MAX_FRAME_BYTES);
        resolve();
      };
    });
    this.ready.catch(() => undefined);
    // The request timer starts only after the handshake, so the handshake has a deadline of its
    // own: a listener that accepts and never answers (a stopped process, a black-holing proxy)
    // would otherwise hold the call forever. Only the hello was written: the request was not.
    this.handshakeTimer = setTimeout(() => {
      this.fail(new Error(`no handshake answer from ${peer.id} (${peer.host}:${peer.port}) within ${requestTimeoutMs} ms`));
    }, requestTimeoutMs);
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.feed(chunk);
        for (let next = this.decoder.next(); next !== null; next = this.decoder.next()) {
          if (authenticated) this.onResponse(next.value as ClientResponse);
          else this.onHandshake(next.value);
          if (this.failure !== null) return;
        }
      } catch (error) {
        if (!(error instanceof FrameError)) throw error;
        this.fail(new Error(`malformed response from ${peer.id}: ${error.message}`));
      }
    });
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error(`connection to ${peer.id} (${peer.host}:${peer.port}) closed${authenticated ? '' : ' during the handshake'}`)));
  }

  private onHandshake: (value: unknown) => void = () => undefined;
  // Rejects `ready` on any failure before the handshake is done (a no-op once it resolved).
  private rejectReady: (error: Error) => void = () => undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;

  get broken(): boolean {
    return this.failure !== null;
  }

  /**
   * One attempt. Errors before the request is written (connect refused, connection already
   * failed) are plain Errors; `sent.written` tells the caller whether the write happened.
   */
  async request(body: RequestBody, sent: SendRecord): Promise<ClientResponse> {
    await this.ready;
    if (this.failure !== null) throw this.failure;
    if (this.waiters.size >= this.maxInflight) throw new DLedgerClientError(ResponseCode.LEADER_PENDING_FULL, `${this.waiters.size} requests in flight to ${this.peer.id} (maxInflightRequests)`, false, !sent.written);
    const id = this.nextId++;
    return new Promise<ClientResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new DLedgerClientError(ResponseCode.TIMEOUT, `no answer from ${this.peer.id} within ${this.requestTimeoutMs} ms`, true));
      }, this.requestTimeoutMs);
      // Once written, a failure of the connection leaves the outcome unknown; a frame the
      // connection failed before writing was dropped and never will be written (see enqueue).
      const onFailure = (error: Error): void => reject(sent.written ? new DLedgerClientError(ResponseCode.TIMEOUT, `${error.message} after the request was sent`, true) : error);
      this.waiters.set(id, { resolve, reject: onFailure, timer });
      this.enqueue({ frame: encodeFrame({ ...body, id }, MAX_FRAME_BYTES), sent });
    });
  }

  /**
   * Requests made in one task (a caller with many appends in flight answers a whole batch of
   * responses in one turn) leave in one socket write: each loopback write costs the sender and the
   * server tens of microseconds of syscall and wake-up, which dominated at concurrency 128.
   */
  private enqueue(request: Outgoing): void {
    this.outgoing.push(request);
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    queueMicrotask(() => {
      this.writeScheduled = false;
      const batch = this.outgoing;
      this.outgoing = [];
      // A failed connection drops the batch: fail() has already rejected its waiters.
      if (this.failure !== null || batch.length === 0) return;
      for (const { sent } of batch) sent.written = true;
      this.socket.write(batch.length === 1 ? (batch[0] as Outgoing).frame : Buffer.concat(batch.map((b) => b.frame)));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onResponse(response: ClientResponse): void {
    const waiter = this.waiters.get(response.id);
    if (waiter === undefined) return;
    this.waiters.delete(response.id);
    clearTimeout(waiter.timer);
    waiter.resolve(response);
  }

  private fail(error: Error): void {
    if (this.failure === null) this.failure = error;
    clearTimeout(this.handshakeTimer);
    this.rejectReady(error);
    for (const [id, waiter] of this.waiters) {
      this.waiters.delete(id);
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.socket.destroy();
  }
}

export class DLedgerClient {
  private readonly peers: readonly PeerAddress[];
  private readonly connections = new Map<string, Connection>();
  private leaderId: string | null = null;
  private readonly retryTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxInflight: number;
  private readonly secrets: AuthSecrets | null;
  private closed = false;

  constructor(private readonly options: DLedgerClientOptions) {
    this.peers = typeof options.peers === 'string' ? parsePeers(options.peers) : options.peers;
    assert(this.peers.length > 0, 'DLedgerClient needs at least one peer');
    this.retryTimeoutMs = options.retryTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.maxInflight = options.maxInflightRequests ?? 10_000;
    assert(options.clientSecret === undefined || options.clientSecretFile === undefined, 'DLedgerClient: give clientSecret or clientSecretFile, not both');
    if (options.clientSecretFile !== undefined) this.secrets = loadSecretFile(options.clientSecretFile, 'clientSecretFile');
    else if (options.clientSecret !== undefined) {
      assert(options.clientSecret.trim().length > 0, 'DLedgerClient: clientSecret is empty');
      this.secrets = { secrets: [Buffer.from(options.clientSecret.trim(), 'utf8')] };
    } else this.secrets = null;
  }

  /** Append one body or a batch; resolves with index, term and pos of each once committed. */
  async append(bodies: Uint8Array | readonly Uint8Array[]): Promise<AppendedInfo[]> {
    const list = bodies instanceof Uint8Array ? [bodies] : [...bodies];
    const response = await this.call({ op: 'append', bodies: list }, true, false);
    return [...(response.appended ?? [])];
  }

  /** A committed entry, read from the leader. */
  async get(index: number): Promise<EntryInfo> {
    const response = await this.call({ op: 'get', index }, true);
    assert(response.entry !== undefined, 'get response without entry');
    return response.entry;
  }

  async metadata(): Promise<Metadata> {
    const response = await this.call({ op: 'metadata' }, false);
    assert(response.metadata !== undefined, 'metadata response without metadata');
    return response.metadata;
  }

  /** Ask the leader to hand leadership to `transfereeId`; resolves once it has. */
  async transferLeadership(transfereeId: string): Promise<void> {
    await this.call({ op: 'transfer', to: transfereeId }, true, false);
  }

  /** The index a linearizable read may be served at (the leader has applied up to it). */
  async readBarrier(): Promise<number> {
    const response = await this.call({ op: 'read-barrier' }, true);
    return response.readIndex ?? -1;
  }

  /**
   * The register view: the latest committed normal entry at or before the read index (null when
   * there is none). 'linearizable' asks the leader, which answers after a ReadIndex barrier;
   * 'local' asks whichever member is tried first (the first peer given) for its own applied
   * state, without a barrier, so it may be stale.
   */
  async readLatest(consistency: ReadConsistency = 'linearizable'): Promise<{ readIndex: number; latest: EntryInfo | null }> {
    const response = await this.call({ op: 'read-latest', consistency }, consistency === 'linearizable');
    assert(response.readIndex !== undefined && response.latest !== undefined, 'read-latest response without readIndex or latest');
    return { readIndex: response.readIndex, latest: response.latest };
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private async call(body: RequestBody, needsLeader: boolean, idempotent = true): Promise<ClientResponse> {
    const deadline = Date.now() + this.retryTimeoutMs;
    const sent: SendRecord = { written: false };
    let attempt = 0;
    let lastError: Error = new Error('no attempt made');
    while (!this.closed) {
      const target = this.pickTarget(needsLeader, attempt);
      try {
        const response = await this.connection(target).request(body, sent);
        if (response.code === ResponseCode.SUCCESS) {
          if (needsLeader) this.leaderId = target.id;
          return response;
        }
        // A TIMEOUT answer does not say the node did nothing: an append is not re-sent after it
        // (so a library-retry call that gives up has only been refused or never sent).
        if (response.code === ResponseCode.TIMEOUT && !idempotent) throw new DLedgerClientError(response.code, `${response.error ?? 'timed out'} (answered by ${target.id})`, true);
        lastError = new DLedgerClientError(response.code, response.error ?? 'request failed');
        // A follower serves reads from what it has applied, which may lag the leader's commit: an
        // index it does not have yet is asked again at the leader it names (read-your-writes).
        const behindLeader = needsLeader && response.code === ResponseCode.INDEX_OUT_OF_RANGE && response.leaderId !== null && response.leaderId !== target.id;
        if (!RETRYABLE.has(response.code) && !behindLeader) throw lastError;
        this.leaderId = response.leaderId !== null && response.leaderId !== target.id ? response.leaderId : null;
      } catch (error) {
        // An append that reached a node and got no answer is not re-sent: that could store it
        // twice (reads and metadata are safe to repeat). The caller learns the outcome is unknown.
        if (error instanceof DLedgerClientError && error.outcomeUnknown && !idempotent) throw error;
        if (error instanceof DLedgerClientError && !error.outcomeUnknown && !RETRYABLE.has(error.code)) throw error;
        lastError = error as Error;
        this.dropConnection(target.id);
        if (this.leaderId === target.id) this.leaderId = null;
      }
      attempt++;
      if (Date.now() > deadline) break;
      // Back off a little while an election is under way; never longer than 100 ms.
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, 5 * 2 ** Math.min(attempt, 5))));
    }
    throw new DLedgerClientError(lastError instanceof DLedgerClientError ? lastError.code : ResponseCode.TIMEOUT, `gave up after ${this.retryTimeoutMs} ms: ${lastError.message}`, false, !sent.written);
  }

  private pickTarget(needsLeader: boolean, attempt: number): PeerAddress {
    if (needsLeader && this.leaderId !== null) {
      const leader = this.peers.find((peer) => peer.id === this.leaderId);
      if (leader !== undefined) return leader;
    }
    return this.peers[attempt % this.peers.length] as PeerAddress;
  }

  private connection(peer: PeerAddress): Connection {
    let connection = this.connections.get(peer.id);
    if (connection === undefined || connection.broken) {
      connection = new Connection(peer, this.options.group, this.requestTimeoutMs, this.maxInflight, this.options.tls ?? null, this.secrets);
      this.connections.set(peer.id, connection);
    }
    return connection;
  }

  private dropConnection(id: string): void {
    this.connections.get(id)?.close();
    this.connections.delete(id);
  }
}
