// The loop-stall detector reports a tick later than its threshold, at most once per report
// interval, and says whether the process was busy or waiting for a CPU.
import t from 'tap';
import { describeStall, LoopStallDetector } from '../../src/node/loop-stall.js';

t.test('late ticks are reported with the CPU used meanwhile, rate-limited', async (t) => {
  const detector = new LoopStallDetector(50, 200, 1000);
  t.equal(detector.observe(0, 0), null, 'the first tick has nothing to compare with');
  t.equal(detector.observe(50, 1_000), null, 'on time');
  t.equal(detector.observe(290, 2_000), null, 'late by 190 ms: under the threshold');
  const busy = detector.observe(790, 452_000);
  t.same(busy, { lateMs: 450, cpuMs: 450 }, 'late by 450 ms with 450 ms of CPU');
  t.match(describeStall(busy as NonNullable<typeof busy>, 600), /stalled 450 ms \(450 ms of CPU used meanwhile: busy on its own work\); the election timeout is 600 ms/);
  t.equal(detector.observe(1340, 460_000), null, 'another stall within 1 s of the report: not reported');
  const starved = detector.observe(2390, 480_000);
  t.same(starved, { lateMs: 1000, cpuMs: 20 }, 'reported again after the interval');
  t.match(describeStall(starved as NonNullable<typeof starved>, 600), /waiting for a CPU/);
});
