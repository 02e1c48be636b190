// Goal: the TPS reported to clusterList is the mean over the last 10 complete seconds, ignores the
// current second, and forgets seconds older than the window even after a long idle gap.
// Method: a RateMeter on a hand-driven clock.
import t from 'tap';
import { RateMeter } from '../../src/broker/rate-meter.js';

t.test('rate over the last ten whole seconds', async (t) => {
  let nowMs = 1_000_000;
  const meter = new RateMeter(() => nowMs);
  meter.add(50);
  t.equal(meter.perSecond(), 0, 'the current second does not count yet');
  nowMs += 1000;
  t.equal(meter.perSecond(), 5, '50 events in the last complete second: 5/s over 10 s');
  for (let s = 0; s < 9; s++) {
    meter.add(10);
    nowMs += 1000;
  }
  t.equal(meter.perSecond(), (50 + 90) / 10);
  nowMs += 1000;
  t.equal(meter.perSecond(), 90 / 10, 'the oldest second left the window');
  nowMs += 60_000;
  t.equal(meter.perSecond(), 0, 'after an idle minute');
  meter.add(7);
  nowMs += 1000;
  t.equal(meter.perSecond(), 0.7, 'no stale counts survive the gap');
});
