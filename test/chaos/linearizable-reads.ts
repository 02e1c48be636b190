// Goal: the read half of a campaign's history — reader loops that call read-latest while the
// append loops (history.ts) write, recorded as invoke / ok {value, readIndex} / fail / unknown with
// the same monotonic clock — and the conversion of both halves into register ops for the checker.
// Method: each reader has its own DLedgerClient. A read is idempotent, so the client may retry it
// inside the call (every attempt lies inside the recorded [invoke, complete] interval, where the
// read's linearization point must be). A failed or unknown read constrains nothing.
// 'linearizable' readers ask the leader (ReadIndex barrier); 'local' readers ask the members given
// in `peers` for their own applied state without a barrier — stale by design, used to prove that
// the checker catches stale reads from a real group.
import { performance } from 'node:perf_hooks';
import { DLedgerClient } from '../../src/client/client.js';
import type { ReadConsistency } from '../../src/node/client-protocol.js';
import { classify, type History, type OpOutcome } from './history.js';
import type { RegisterOp } from './linearizable.js';
import { testSecretFile } from '../util/peer-secret.js';

export interface ReadOp {
  readonly reader: number;
  readonly invokeMs: number;
  completeMs: number | null;
  /** ok: the value read (null: the register was empty) and the read index it was served at. */
  outcome: { readonly type: 'ok'; readonly value: string | null; readonly readIndex: number } | Exclude<OpOutcome, { type: 'ok' }> | null;
}

export interface ReadLoopsOptions {
  readonly group: string;
  /** Members to ask ("n0-host:port;..."); a 'local' reader asks the first one. */
  readonly peers: string;
  readonly readers: number;
  readonly consistency: ReadConsistency;
  readonly retryTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly thinkMs: number;
  readonly maxOpsPerReader: number;
  /** Name prefix in reports (default "reader"). */
  readonly name?: string;
}

/** Running reader loops; stop() ends them and waits for the reads in flight. */
export class ReadLoops {
  readonly reads: ReadOp[] = [];
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(readonly options: ReadLoopsOptions) {
    const decoder = new TextDecoder();
    const loops = Array.from({ length: options.readers }, async (_, k) => {
      const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: options.group, peers: options.peers, retryTimeoutMs: options.retryTimeoutMs, requestTimeoutMs: options.requestTimeoutMs });
      try {
        for (let seq = 0; seq < options.maxOpsPerReader && !this.stopping; seq++) {
          const op: ReadOp = { reader: k, invokeMs: performance.now(), completeMs: null, outcome: null };
          this.reads.push(op);
          try {
            const { readIndex, latest } = await client.readLatest(options.consistency);
            op.outcome = { type: 'ok', value: latest === null ? null : decoder.decode(latest.body), readIndex };
          } catch (error) {
            const outcome = classify(error);
            op.outcome = outcome.type === 'ok' ? { type: 'unknown', error: 'unexpected ok' } : outcome;
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

  async stop(): Promise<ReadOp[]> {
    this.stopping = true;
    await this.done;
    return this.reads;
  }
}

export function summarizeReads(reads: readonly ReadOp[]): { reads: number; ok: number; fail: number; unknown: number } {
  let ok = 0;
  let fail = 0;
  for (const read of reads) {
    if (read.outcome?.type === 'ok') ok++;
    else if (read.outcome?.type === 'fail') fail++;
  }
  return { reads: reads.length, ok, fail, unknown: reads.length - ok - fail };
}

/** Appends become writes of their unique value, reads become reads; statuses carry over. */
export function toRegisterOps(history: History, reads: readonly ReadOp[], readerName = 'reader'): RegisterOp[] {
  const ops: RegisterOp[] = [];
  for (const a of history.ops) {
    const status = a.outcome?.type ?? 'unknown';
    ops.push({ kind: 'write', process: `c${a.client}`, value: a.value, invokeMs: a.invokeMs, completeMs: a.completeMs, status, note: a.outcome?.type === 'ok' ? `index ${a.outcome.index}` : undefined });
  }
  for (const r of reads) {
    const outcome = r.outcome;
    if (outcome?.type === 'ok') ops.push({ kind: 'read', process: `${readerName}${r.reader}`, value: outcome.value, invokeMs: r.invokeMs, completeMs: r.completeMs, status: 'ok', note: `read index ${outcome.readIndex}` });
    else ops.push({ kind: 'read', process: `${readerName}${r.reader}`, value: null, invokeMs: r.invokeMs, completeMs: r.completeMs, status: outcome?.type ?? 'unknown' });
  }
  return ops;
}
