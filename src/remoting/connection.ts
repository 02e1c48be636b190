// One accepted remoting connection (Java's Channel): what handlers see of their caller, and
// what the name server keys broker liveness by. It also keeps what the server needs to stop a
// reader that does not take its answers from growing our memory: the requests read and not yet
// dispatched, and an estimate of how large this caller's answers are.
import type net from 'node:net';
import { encodeCommandParts } from './frame.js';
import type { RemotingCommand } from './command.js';

let nextConnectionId = 1;

/** Answer bytes one turn of the event loop may start computing for one connection. */
const ANSWER_BYTES_PER_TURN = 4 * 1024 * 1024;
/**
 * The answer size assumed before any answer was seen: a pull answer's cap
 * (maxTransferBytesOnMessageInMemory), so 16 requests go in the first turn.
 */
const INITIAL_ANSWER_ESTIMATE_BYTES = 256 * 1024;
const MIN_ANSWER_ESTIMATE_BYTES = 256;
/** Bodies up to this size are copied behind the head (one write beats two for small frames). */
const COPY_BODY_MAX_BYTES = 64 * 1024;

export class RemotingConnection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  /** Requests read from this connection and not yet answered. */
  // Invariant: 0 <= inFlight <= the server's maxInFlightPerConnection.
  inFlight = 0;
  /** Requests read and not yet dispatched (the server takes them a few per turn). */
  // Invariant: non-empty only while the socket's reads are paused.
  readonly pending: RemotingCommand[] = [];
  /** A pump of `pending` is scheduled for the next turn. */
  pumpScheduled = false;
  /**
   * The largest recent answer, decaying by 1/16 per answer: one huge answer makes the next turns
   * careful at once, a run of small ones lets a pipelining caller go at full speed again.
   */
  // Invariant: MIN_ANSWER_ESTIMATE_BYTES <= answerEstimateBytes.
  private answerEstimateBytes = INITIAL_ANSWER_ESTIMATE_BYTES;
  private closedFlag = false;

  constructor(
    readonly socket: net.Socket,
    private readonly frameMaxBytes: number,
    private readonly writeBufferMaxBytes: number,
    /** After each write, with the bytes the reader has not taken; false: the connection was closed for it. */
    private readonly onOutput: (unreadBytes: number) => boolean = () => true,
  ) {
    // Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; RocketMQ addresses are IPv4.
    const host = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    this.remoteAddress = `${host}:${socket.remotePort ?? 0}`;
  }

  get closed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  markClosed(): void {
    this.closedFlag = true;
  }

  /** More answers are queued for this reader than the write buffer allows: dispatch nothing more. */
  get outputBacklogged(): boolean {
    return this.socket.writableLength > this.writeBufferMaxBytes;
  }

  /** How many pending requests the server may dispatch in one turn. */
  dispatchesPerTurn(maxInFlight: number): number {
    return Math.max(1, Math.min(maxInFlight, Math.floor(ANSWER_BYTES_PER_TURN / this.answerEstimateBytes)));
  }

  /** Write one command; false if the connection is gone. An unencodable command throws RemotingFrameError. */
  send(command: RemotingCommand): boolean {
    if (this.closed) return false;
    const { head, body } = encodeCommandParts(command, this.frameMaxBytes);
    const frameBytes = head.length + (body?.length ?? 0);
    this.answerEstimateBytes = Math.max(MIN_ANSWER_ESTIMATE_BYTES, frameBytes, this.answerEstimateBytes - (this.answerEstimateBytes >> 4));
    // Small bodies join the head (one write); a large one is written as it is, not copied.
    let flushed: boolean;
    if (body === null) flushed = this.socket.write(head);
    else if (body.length <= COPY_BODY_MAX_BYTES) flushed = this.socket.write(Buffer.concat([head, body], frameBytes));
    else {
      this.socket.cork();
      this.socket.write(head);
      flushed = this.socket.write(body);
      this.socket.uncork();
    }
    if (!flushed && this.outputBacklogged) this.socket.pause();
    return this.onOutput(this.socket.writableLength);
  }

  /** End the connection after what is queued has been written; destroy it if that takes too long. */
  close(lingerMs: number): void {
    if (this.closed) return;
    this.closedFlag = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), lingerMs).unref();
  }
}
