// One accepted remoting connection (Java's Channel): what handlers see of their caller, and
// what the name server keys broker liveness by. Writes pause the socket's reads while the
// peer is not taking our output, so a client that does not read cannot grow our memory.
import type net from 'node:net';
import { encodeCommand } from './frame.js';
import type { RemotingCommand } from './command.js';

let nextConnectionId = 1;

export class RemotingConnection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  /** Requests read from this connection and not yet answered. */
  // Invariant: 0 <= inFlight <= the server's maxInFlightPerConnection.
  inFlight = 0;
  private closedFlag = false;

  constructor(
    readonly socket: net.Socket,
    private readonly frameMaxBytes: number,
    private readonly writeBufferMaxBytes: number,
  ) {
    // Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; RocketMQ addresses are IPv4.
    const host = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    this.remoteAddress = `${host}:${socket.remotePort ?? 0}`;
    socket.on('drain', () => {
      if (!this.closedFlag) socket.resume();
    });
  }

  get closed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  markClosed(): void {
    this.closedFlag = true;
  }

  /** Write one command; false if the connection is gone. An unencodable command throws RemotingFrameError. */
  send(command: RemotingCommand): boolean {
    if (this.closed) return false;
    const frame = encodeCommand(command, this.frameMaxBytes);
    if (!this.socket.write(frame) && this.socket.writableLength > this.writeBufferMaxBytes) this.socket.pause();
    return true;
  }

  /** End the connection after what is queued has been written; destroy it if that takes too long. */
  close(lingerMs: number): void {
    if (this.closed) return;
    this.closedFlag = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), lingerMs).unref();
  }
}
