// Bounds one listener puts on the connections it accepts, whatever protocol they speak: how many
// at once (in total and per remote address), how long a connection may take to send its first
// complete frame (the hello), how long it may go without a complete frame (idleness counts
// frames, not bytes, so a slowloris trickling one byte a second is idle), and how many bytes all
// of its connections together may hold in frames not yet complete. Each refusal is counted by
// reason and logged, rate-limited (an attack of 2,000 connections must not write 2,000 lines).
//
// Timers: one sweep per listener (every sweepIntervalMs), not one timer per connection, and no
// clock read on the per-frame path: frameReceived() only sets a flag the sweep turns into a time.
import type net from 'node:net';
import { assert } from '../util/assert.js';

export interface ConnectionLimits {
  /** Connections open at once on this listener; more are closed at accept. */
  readonly maxConnections: number;
  /** Connections open at once from one remote IP address. */
  readonly maxConnectionsPerAddress: number;
  /** Time from accept to the first complete frame (the hello / first request). */
  readonly firstFrameDeadlineMs: number;
  /** Time without a complete frame received after which the connection is closed (0: never). */
  readonly idleTimeoutMs: number;
  /** Bytes held in partial frames by all connections of the listener together. */
  readonly partialFrameBudgetBytes: number;
  /**
   * Bytes of answers written and not yet taken by the readers, all connections together
   * (Infinity: not bounded here; the peer port bounds each client's backlog instead).
   */
  readonly unreadOutputBudgetBytes?: number;
}

export type RefusalReason = 'max-connections' | 'max-connections-per-address' | 'first-frame-deadline' | 'idle' | 'partial-frame-budget' | 'unread-output-budget';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['max-connections', 'max-connections-per-address', 'first-frame-deadline', 'idle', 'partial-frame-budget', 'unread-output-budget'];

/**
 * A connection whose own unread output is below this is never closed for the listener's output
 * budget: small answers (send results, heartbeats) always go, so a reader that keeps up is not
 * punished for a flood on other connections.
 */
export const UNREAD_OUTPUT_SPARED_BYTES = 1024 * 1024;

export interface ConnectionGuardOptions {
  /** Names the listener in log lines ("peer", "broker RaftNode00/n0", "namesrv"). */
  readonly name: string;
  readonly limits: ConnectionLimits;
  readonly log: (line: string) => void;
  /** Called for every refusal (metrics). */
  readonly onRefusal?: (reason: RefusalReason) => void;
  readonly sweepIntervalMs?: number;
  /** Log lines per refusal reason per 10 s window; the rest are counted and summarised. */
  readonly maxLogLinesPerWindow?: number;
}

const DEFAULT_SWEEP_INTERVAL_MS = 250;
const LOG_WINDOW_MS = 10_000;
const DEFAULT_MAX_LOG_LINES_PER_WINDOW = 5;

/** What the guard knows of one admitted connection. */
export class GuardedConnection {
  /** Bytes this connection holds in a partial frame, as last reported. */
  // Invariant: 0 <= partialBytes; the guard's total is the sum over its connections.
  partialBytes = 0;
  /** Bytes written to this connection and not yet taken by the reader, as last reported. */
  // Invariant: 0 <= outputBytes; the guard's total is the sum over its connections.
  outputBytes = 0;
  /** True once a complete frame arrived; the first-frame deadline no longer applies. */
  sawFirstFrame = false;
  /** A frame arrived since the last sweep. */
  frameSinceSweep = false;
  /** Sweep time (ms) when a frame was last seen, or the accept time. */
  lastFrameAtMs: number;
  released = false;

  constructor(
    readonly socket: net.Socket,
    readonly address: string,
    readonly acceptedAtMs: number,
    /** A connection busy on our side (e.g. a long poll in flight) is not idle. */
    readonly isBusy: () => boolean,
  ) {
    this.lastFrameAtMs = acceptedAtMs;
  }
}

export class ConnectionGuard {
  readonly refusals: Record<RefusalReason, number> = { 'max-connections': 0, 'max-connections-per-address': 0, 'first-frame-deadline': 0, idle: 0, 'partial-frame-budget': 0, 'unread-output-budget': 0 };
  private readonly connections = new Set<GuardedConnection>();
  // Invariant: perAddress.get(a) = number of unreleased connections from a (entries > 0 only).
  private readonly perAddress = new Map<string, number>();
  // Invariant: partialBytesTotal = sum of partialBytes over `connections`.
  private partialBytesTotal = 0;
  // Invariant: outputBytesTotal = sum of outputBytes over `connections`.
  private outputBytesTotal = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  // Rate limit per reason, so a flood of one kind does not hide the first lines of another.
  private logWindowStartMs = 0;
  private readonly logLinesInWindow = new Map<RefusalReason, number>();
  private suppressedInWindow = 0;

  constructor(private readonly options: ConnectionGuardOptions) {
    const l = options.limits;
    assert(Number.isInteger(l.maxConnections) && l.maxConnections > 0, 'maxConnections must be a positive integer');
    assert(Number.isInteger(l.maxConnectionsPerAddress) && l.maxConnectionsPerAddress > 0, 'maxConnectionsPerAddress must be a positive integer');
    assert(Number.isInteger(l.firstFrameDeadlineMs) && l.firstFrameDeadlineMs > 0, 'firstFrameDeadlineMs must be a positive integer');
    assert(Number.isInteger(l.idleTimeoutMs) && l.idleTimeoutMs >= 0, 'idleTimeoutMs must be a non-negative integer');
    assert(Number.isInteger(l.partialFrameBudgetBytes) && l.partialFrameBudgetBytes > 0, 'partialFrameBudgetBytes must be a positive integer');
    const output = l.unreadOutputBudgetBytes ?? Infinity;
    assert(output === Infinity || (Number.isInteger(output) && output > 0), 'unreadOutputBudgetBytes must be a positive integer or Infinity');
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get partialFrameBytes(): number {
    return this.partialBytesTotal;
  }

  /** Answers written and not yet read, over all connections, as last reported. */
  get unreadOutputBytes(): number {
    return this.outputBytesTotal;
  }

  /**
   * Admit an accepted socket, or destroy it and return null when a connection cap is reached.
   * The caller calls release() from the socket's 'close'.
   */
  admit(socket: net.Socket, isBusy: () => boolean = () => false): GuardedConnection | null {
    const address = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
    const limits = this.options.limits;
    let reason: RefusalReason | null = null;
    if (this.connections.size >= limits.maxConnections) reason = 'max-connections';
    else if ((this.perAddress.get(address) ?? 0) >= limits.maxConnectionsPerAddress) reason = 'max-connections-per-address';
    if (reason !== null) {
      this.refuse(reason, `${address}: ${reason === 'max-connections' ? `${this.connections.size} connections open (limit ${limits.maxConnections})` : `${this.perAddress.get(address)} connections from this address (limit ${limits.maxConnectionsPerAddress})`}`);
      socket.destroy();
      return null;
    }
    const connection = new GuardedConnection(socket, address, Date.now(), isBusy);
    this.connections.add(connection);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    this.startSweeping();
    return connection;
  }

  /** A complete frame arrived on the connection. Cheap: called per frame. */
  frameReceived(connection: GuardedConnection): void {
    connection.sawFirstFrame = true;
    connection.frameSinceSweep = true;
  }

  /**
   * The connection now holds `bytes` of a partial frame. Returns false (and counts, logs and
   * destroys the connection) when that takes the listener over its budget.
   */
  holdPartial(connection: GuardedConnection, bytes: number): boolean {
    if (connection.released) return false;
    const total = this.partialBytesTotal - connection.partialBytes + bytes;
    if (bytes > connection.partialBytes && total > this.options.limits.partialFrameBudgetBytes) {
      this.refuse('partial-frame-budget', `${connection.address}: would hold ${bytes} bytes of a partial frame, the listener's partial frames would total ${total} (budget ${this.options.limits.partialFrameBudgetBytes})`);
      this.close(connection);
      return false;
    }
    this.partialBytesTotal = total;
    connection.partialBytes = bytes;
    return true;
  }

  /**
   * The connection now has `bytes` of output its reader has not taken (the socket's
   * writableLength after a write, or after 'drain'). Returns false (and counts, logs and destroys
   * the connection) when that takes the listener over its unread-output budget and the connection
   * holds at least UNREAD_OUTPUT_SPARED_BYTES itself.
   */
  holdOutput(connection: GuardedConnection, bytes: number): boolean {
    if (connection.released) return false;
    const total = this.outputBytesTotal - connection.outputBytes + bytes;
    const budget = this.options.limits.unreadOutputBudgetBytes ?? Infinity;
    if (bytes > connection.outputBytes && total > budget && bytes >= UNREAD_OUTPUT_SPARED_BYTES) {
      this.refuse('unread-output-budget', `${connection.address}: has not read ${bytes} bytes of answers, the listener's unread answers would total ${total} (budget ${budget})`);
      this.close(connection);
      return false;
    }
    this.outputBytesTotal = total;
    connection.outputBytes = bytes;
    return true;
  }

  /** Forget the connection (its 'close'). Idempotent. */
  release(connection: GuardedConnection): void {
    if (connection.released) return;
    connection.released = true;
    this.partialBytesTotal -= connection.partialBytes;
    connection.partialBytes = 0;
    this.outputBytesTotal -= connection.outputBytes;
    connection.outputBytes = 0;
    this.connections.delete(connection);
    const count = (this.perAddress.get(connection.address) ?? 1) - 1;
    if (count <= 0) this.perAddress.delete(connection.address);
    else this.perAddress.set(connection.address, count);
    if (this.connections.size === 0) this.stopSweeping();
  }

  /** Stop the sweep and forget everything (listener closed). */
  close(connection?: GuardedConnection): void {
    if (connection !== undefined) {
      this.release(connection);
      connection.socket.destroy();
      return;
    }
    for (const c of [...this.connections]) this.release(c);
    this.stopSweeping();
  }

  /** One pass over the connections: deadlines and idleness. Exposed for tests. */
  sweep(nowMs = Date.now()): void {
    const limits = this.options.limits;
    for (const connection of [...this.connections]) {
      // The kernel takes output without an event until the buffer empties: refresh what is held.
      if (connection.outputBytes > 0) this.holdOutput(connection, connection.socket.writableLength);
      if (connection.frameSinceSweep) {
        connection.frameSinceSweep = false;
        connection.lastFrameAtMs = nowMs;
        continue;
      }
      if (!connection.sawFirstFrame && nowMs - connection.acceptedAtMs >= limits.firstFrameDeadlineMs) {
        this.refuse('first-frame-deadline', `${connection.address}: no complete frame within ${limits.firstFrameDeadlineMs} ms of connecting (holding ${connection.partialBytes} bytes)`);
        this.close(connection);
        continue;
      }
      // lastFrameAtMs is the accept time until a frame arrives: a silent connection is idle too.
      if (limits.idleTimeoutMs > 0 && nowMs - connection.lastFrameAtMs >= limits.idleTimeoutMs && !connection.isBusy()) {
        this.refuse('idle', `${connection.address}: no complete frame for ${limits.idleTimeoutMs} ms`);
        this.close(connection);
      }
    }
  }

  private refuse(reason: RefusalReason, detail: string): void {
    this.refusals[reason]++;
    this.options.onRefusal?.(reason);
    const now = Date.now();
    if (now - this.logWindowStartMs >= LOG_WINDOW_MS) {
      if (this.suppressedInWindow > 0) this.options.log(`${this.options.name}: ${this.suppressedInWindow} more connections refused or closed in the last ${LOG_WINDOW_MS / 1000} s (not logged one by one)`);
      this.logWindowStartMs = now;
      this.logLinesInWindow.clear();
      this.suppressedInWindow = 0;
    }
    const lines = this.logLinesInWindow.get(reason) ?? 0;
    if (lines < (this.options.maxLogLinesPerWindow ?? DEFAULT_MAX_LOG_LINES_PER_WINDOW)) {
      this.logLinesInWindow.set(reason, lines + 1);
      this.options.log(`${this.options.name}: closing connection from ${detail} [${reason}]`);
    } else {
      this.suppressedInWindow++;
    }
  }

  private startSweeping(): void {
    if (this.sweepTimer !== null) return;
    const l = this.options.limits;
    // A deadline is kept to within a quarter of itself (and 250 ms at most).
    const shortest = Math.min(l.firstFrameDeadlineMs, l.idleTimeoutMs === 0 ? Infinity : l.idleTimeoutMs);
    const intervalMs = this.options.sweepIntervalMs ?? Math.max(5, Math.min(DEFAULT_SWEEP_INTERVAL_MS, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), intervalMs);
    this.sweepTimer.unref();
  }

  private stopSweeping(): void {
    if (this.sweepTimer === null) return;
    clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }
}
