// Goal: recordOutcome stores the call's outcome, or the verdict on what it threw, with a
// completion time on the invoke clock; countOutcomes counts a never-completed op as unknown.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { countOutcomes, recordOutcome, type Outcome, type TimedOp } from './op-outcome.js';

type O = Outcome<{ n: number }>;
const newOp = (): TimedOp<O> => ({ invokeMs: performance.now(), completeMs: null, outcome: null });

t.test('ok, thrown, and never completed', async (t) => {
  const ok = newOp();
  t.same(await recordOutcome<O>(ok, async () => ({ type: 'ok', n: 7 }), () => ({ type: 'unknown', error: 'unused' })), { type: 'ok', n: 7 });
  t.same(ok.outcome, { type: 'ok', n: 7 });
  t.ok(ok.completeMs !== null && ok.completeMs >= ok.invokeMs);

  const failed = newOp();
  await recordOutcome<O>(failed, async () => { throw new Error('refused'); }, (error) => ({ type: 'fail', error: (error as Error).message }));
  t.same(failed.outcome, { type: 'fail', error: 'refused' });
  t.ok(failed.completeMs !== null);

  const unknown = newOp();
  await recordOutcome<O>(unknown, async () => ({ type: 'unknown', error: 'timeout' }), () => ({ type: 'fail', error: 'unused' }));
  t.same(countOutcomes([ok, failed, unknown, newOp()]), { ok: 1, fail: 1, unknown: 2 });
});
