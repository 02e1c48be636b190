// Goal: record what clients asked of the group and what they were told, so checkers can judge the
// final logs against it. Method: a few concurrent client loops, each with its own DLedgerClient
// (connections to every member's real port), append one unique value `c{client}-{seq}` at a time
// and record invoke / ok {index, term, pos} / fail / unknown with monotonic times. An answer that
// is not SUCCESS is "fail" only when the client was told so by a member (a DLedgerClientError
// whose code is not TIMEOUT); timeouts and connection losses are "unknown": the append may have
// happened. Neither is asserted absent by the checkers — only at most once.
import { performance } from 'node:perf_hooks';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { ResponseCode } from '../../src/node/client-protocol.js';

export type OpOutcome =
  | { readonly type: 'ok'; readonly index: number; readonly term: number; readonly pos: number }
  | { readonly type: 'fail'; readonly error: string }
  | { readonly type: 'unknown'; readonly error: string };

export interface AppendOp {
  readonly client: number;
  readonly value: string;
  readonly invokeMs: number;
  completeMs: number | null;
  outcome: OpOutcome | null;
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
}

export function classify(error: unknown): OpOutcome {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof DLedgerClientError && error.code !== ResponseCode.TIMEOUT) return { type: 'fail', error: message };
  return { type: 'unknown', error: message };
}

/** Running client loops; stop() ends them and waits for the calls in flight to resolve. */
export class ClientLoops {
  readonly history: History = { ops: [] };
  private stopping = false;
  private readonly done: Promise<void>;
  private readonly clients: DLedgerClient[] = [];

  constructor(private readonly options: ClientLoopsOptions) {
    const encoder = new TextEncoder();
    const loops = Array.from({ length: options.clients }, async (_, c) => {
      const client = new DLedgerClient({ group: options.group, peers: options.peers, retryTimeoutMs: options.retryTimeoutMs, requestTimeoutMs: options.requestTimeoutMs });
      this.clients.push(client);
      try {
        for (let seq = 0; seq < options.maxOpsPerClient && !this.stopping; seq++) {
          const op: AppendOp = { client: c, value: `c${c}-${seq}`, invokeMs: performance.now(), completeMs: null, outcome: null };
          this.history.ops.push(op);
          try {
            const [info] = await client.append(encoder.encode(op.value));
            if (info === undefined) throw new Error('append answered without an entry');
            op.outcome = { type: 'ok', index: info.index, term: info.term, pos: info.pos };
          } catch (error) {
            op.outcome = classify(error);
          }
          op.completeMs = performance.now();
          if (options.thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, options.thinkMs));
        }
      } finally {
        client.close();
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
  let ok = 0;
  let fail = 0;
  let unknown = 0;
  for (const op of history.ops) {
    if (op.outcome?.type === 'ok') ok++;
    else if (op.outcome?.type === 'fail') fail++;
    else unknown++;
  }
  return { operations: history.ops.length, ok, fail, unknown };
}
