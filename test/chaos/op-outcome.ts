// Goal: one shape for what every chaos client loop records of an operation — invoke time, then
// complete time and outcome: ok (with what the system answered), fail (it provably did not take
// effect) or unknown (it may have) — and one way to record and count it, for the DLedger append
// loops (history.ts) and the ali-ons producers (rocketmq-clients.ts).
import { performance } from 'node:perf_hooks';

export type Outcome<Ok extends object> =
  | ({ readonly type: 'ok' } & Readonly<Ok>)
  | { readonly type: 'fail'; readonly error: string }
  | { readonly type: 'unknown'; readonly error: string };

/** An operation as recorded: both completeMs and outcome stay null until it returns. */
export interface TimedOp<O> {
  /** performance.now() when the call was made. */
  readonly invokeMs: number;
  completeMs: number | null;
  outcome: O | null;
}

/**
 * Runs `call` for `op` and records its outcome — or `onError`'s verdict on what it threw — and the
 * completion time (performance.now(), the clock of invokeMs).
 */
export async function recordOutcome<O>(op: TimedOp<O>, call: () => Promise<O>, onError: (error: unknown) => O): Promise<O> {
  let outcome: O;
  try {
    outcome = await call();
  } catch (error) {
    outcome = onError(error);
  }
  op.outcome = outcome;
  op.completeMs = performance.now();
  return outcome;
}

/** ok / fail / unknown counts; an op that never completed counts as unknown. */
export function countOutcomes(ops: readonly TimedOp<{ readonly type: string }>[]): { ok: number; fail: number; unknown: number } {
  let ok = 0;
  let fail = 0;
  for (const op of ops) {
    if (op.outcome?.type === 'ok') ok++;
    else if (op.outcome?.type === 'fail') fail++;
  }
  return { ok, fail, unknown: ops.length - ok - fail };
}
