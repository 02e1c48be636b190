// Goal: the drain's coverage check counts each queue offset below the max once, ignores others,
// and its wait gives up only when deliveries stop, not while they keep arriving.
import t from 'tap';
import { OffsetCoverage, waitForCoverage } from './offset-coverage.js';
import type { Delivery } from './rocketmq-clients.js';

const delivery = (queueId: number, queueOffset: number): Delivery => ({ body: `b${queueId}-${queueOffset}`, queueId, queueOffset, msgId: '', atMs: 0 });

t.test('missing offsets drop once per distinct offset below each queue max', async (t) => {
  const deliveries: Delivery[] = [];
  const coverage = new OffsetCoverage([2, 3], deliveries);
  t.equal(coverage.missingNow(), 5);
  deliveries.push(delivery(0, 0), delivery(0, 0), delivery(1, 2), delivery(1, 3), delivery(7, 0), delivery(0, -1));
  t.equal(coverage.missingNow(), 3, 'a duplicate, an offset at the max, an unknown queue and a negative offset count for nothing');
  deliveries.push(delivery(0, 1), delivery(1, 0), delivery(1, 1));
  t.equal(coverage.missingNow(), 0);
});

t.test('the wait resolves while deliveries keep coming, even past the idle bound in all', async (t) => {
  const deliveries: Delivery[] = [];
  const coverage = new OffsetCoverage([30], deliveries);
  let next = 0;
  const timer = setInterval(() => {
    if (next < 30) deliveries.push(delivery(0, next++));
  }, 10);
  try {
    // 30 deliveries 10 ms apart take ~300 ms: longer than the 150 ms idle bound, each gap shorter.
    await waitForCoverage(coverage, { idleTimeoutMs: 150, capMs: 10_000, pollMs: 5, what: 'test' });
    t.equal(coverage.missingNow(), 0);
  } finally {
    clearInterval(timer);
  }
});

t.test('the wait rejects when deliveries stop, naming how many are missing', async (t) => {
  const deliveries: Delivery[] = [delivery(0, 0)];
  const coverage = new OffsetCoverage([3], deliveries);
  await t.rejects(waitForCoverage(coverage, { idleTimeoutMs: 50, capMs: 10_000, pollMs: 5, what: 'drain' }), /drain: 2 offsets still missing, none received for 50 ms/);
  await t.rejects(waitForCoverage(new OffsetCoverage([3], []), { idleTimeoutMs: 10_000, capMs: 30, pollMs: 5, what: 'drain' }), /3 offsets still missing after 30 ms/);
});
