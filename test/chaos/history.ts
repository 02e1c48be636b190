// Goal: record what clients asked of the group and what they were told, so checkers can judge the
// final logs against it. Method: a few concurrent client loops, each with its own DLedgerClient
// append one unique value `c{client}-{seq}` at a time and record invoke / ok {index, term, pos} /
// fail / unknown with monotonic times.
// Two client modes:
//   'single-attempt' (default): one DLedgerClient per member with retryTimeoutMs -1 (its deadline
//     has passed before the first answer), so each call is exactly one request. A value is re-sent (to the next member) only after a definite rejection
//     (NOT_LEADER, LEADER_NOT_READY, LEADER_TRANSFERRING: nothing was appended); after a timeout or
//     a lost connection it is recorded "unknown" and never re-sent, and when the request was
//     never written (connection refused) "fail". A value then reaches a leader at most once, so a
//     duplicate in a log is the server's doing.
//   'library-retry': one DLedgerClient over all members with its own retries, as an application
//     would use it. Since F2's fix it re-sends an append only after a definite refusal or a
//     failure before the write (see FINDINGS.md F2).
// "fail" means the append cannot be in any log: every attempt was definitely refused (NOT_LEADER,
// LEADER_NOT_READY, LEADER_TRANSFERRING: the node appended nothing; in library-retry mode the
// client re-sends an append only after such refusals or unsent attempts, never after a timeout
// or a TIMEOUT answer), or the client proved the request was never written to
// a socket (DLedgerClientError.notSent: connect refused, connection lost before the write). The
// checkers treat a failed value found in a log as a violation. "unknown" means the append may
// have happened (a timeout or lost connection after the write, a quorum wait that timed out, any
// other error): present at most once, or absent.
import { performance } from 'node:perf_hooks';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { ResponseCode } from '../../src/node/client-protocol.js';
import { countOutcomes, recordOutcome, type Outcome, type TimedOp } from './op-outcome.js';
import { testSecretFile } from '../util/peer-secret.js';

export type OpOutcome = Outcome<{ index: number; term: number; pos: number }>;

export interface AppendOp extends TimedOp<OpOutcome> {
  readonly client: number;
  readonly value: string;
}

export interface History {
  readonly ops: AppendOp[];
}

export interface ClientLoopsOptions {
  readonly group: string;
  readonly peers: string;
  readonly clients: number;
  /** Per-call retry budget; an append that exhausts it is recorded as fail/unknown. */
  readonly retryTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Pause between one client's appends (keeps 2 shared cores usable). */
  readonly thinkMs: number;
  /** Hard upper bound on operations per client. */
  readonly maxOpsPerClient: number;
  readonly mode?: 'single-attempt' | 'library-retry';
}

const DEFINITE_REJECTIONS = new Set<number>([ResponseCode.NOT_LEADER, ResponseCode.LEADER_NOT_READY, ResponseCode.LEADER_TRANSFERRING]);

/** One append per value, re-sent only after definite rejections, rotating over members. */
class SingleAttemptAppender {
  private readonly members: DLedgerClient[];
  private current = 0;

  constructor(options: ClientLoopsOptions) {
    this.members = options.peers.split(';').map((peer) => new DLedgerClient({ clientSecretFile: testSecretFile(), group: options.group, peers: peer, retryTimeoutMs: -1, requestTimeoutMs: options.requestTimeoutMs }));
  }

  async append(body: Uint8Array, retryTimeoutMs: number, stopping: () => boolean): Promise<{ index: number; term: number; pos: number }> {
    const deadline = performance.now() + retryTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const [info] = await this.members[this.current]!.append(body);
        if (info === undefined) throw new Error('append answered without an entry');
        return info;
      } catch (error) {
        if (error instanceof DLedgerClientError && DEFINITE_REJECTIONS.has(error.code) && performance.now() < deadline && !stopping()) {
          this.current = (this.current + 1) % this.members.length;
          await new Promise((resolve) => setTimeout(resolve, Math.min(100, 5 * 2 ** Math.min(attempt, 5))));
          continue;
        }
        if (!(error instanceof DLedgerClientError && DEFINITE_REJECTIONS.has(error.code))) this.current = (this.current + 1) % this.members.length;
        throw error;
      }
    }
  }

  close(): void {
    for (const member of this.members) member.close();
  }
}

/** fail: provably not applied (see the header); unknown otherwise. Also used for reads. */
export function classify(error: unknown): OpOutcome {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof DLedgerClientError && error.notSent) return { type: 'fail', error: `not sent: ${message}` };
  if (error instanceof DLedgerClientError && DEFINITE_REJECTIONS.has(error.code)) return { type: 'fail', error: message };
  return { type: 'unknown', error: message };
}

/** Running client loops; stop() ends them and waits for the calls in flight to resolve. */
export class ClientLoops {
  readonly history: History = { ops: [] };
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(private readonly options: ClientLoopsOptions) {
    const encoder = new TextEncoder();
    const loops = Array.from({ length: options.clients }, async (_, c) => {
      const single = options.mode !== 'library-retry' ? new SingleAttemptAppender(options) : null;
      const client = single === null ? new DLedgerClient({ clientSecretFile: testSecretFile(), group: options.group, peers: options.peers, retryTimeoutMs: options.retryTimeoutMs, requestTimeoutMs: options.requestTimeoutMs }) : null;
      try {
        for (let seq = 0; seq < options.maxOpsPerClient && !this.stopping; seq++) {
          const op: AppendOp = { client: c, value: `c${c}-${seq}`, invokeMs: performance.now(), completeMs: null, outcome: null };
          this.history.ops.push(op);
          await recordOutcome<OpOutcome>(op, async () => {
            const body = encoder.encode(op.value);
            const info = single !== null ? await single.append(body, options.retryTimeoutMs, () => this.stopping) : (await client!.append(body))[0];
            if (info === undefined) throw new Error('append answered without an entry');
            return { type: 'ok', index: info.index, term: info.term, pos: info.pos };
          }, classify);
          if (options.thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, options.thinkMs));
        }
      } finally {
        single?.close();
        client?.close();
      }
    });
    this.done = Promise.all(loops).then(() => undefined);
  }

  async stop(): Promise<History> {
    this.stopping = true;
    await this.done;
    return this.history;
  }
}

export function summarize(history: History): { operations: number; ok: number; fail: number; unknown: number } {
  return { operations: history.ops.length, ...countOutcomes(history.ops) };
}
