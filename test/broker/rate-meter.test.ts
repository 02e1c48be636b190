// Goal: the TPS reported to clusterList is the mean over the last 10 complete seconds, ignores the
// current second, and forgets seconds older than the window even after a long idle gap.
// Method: a RateMeter on a hand-driven clock.
import t from 'tap';
import { KeyedRateMeters, RateMeter } from '../../src/broker/rate-meter.js';

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

t.test('per-key meters (a consumer group each), bounded', async (t) => {
  let nowMs = 1_000_000;
  const meters = new KeyedRateMeters(() => nowMs);
  meters.add('CG1', 20);
  meters.add('CG2', 10);
  nowMs += 1000;
  t.equal(meters.perSecond('CG1'), 2);
  t.equal(meters.perSecond('CG2'), 1);
  t.equal(meters.perSecond('never'), 0);
  for (let i = 0; i < 10_000; i++) meters.add(`G${i}`, 1);
  t.equal(meters.perSecond('CG1'), 0, 'the least recently counted group is forgotten beyond 10,000');
  t.equal(meters.perSecond('G9999'), 0, 'a current second does not count yet');
  nowMs += 1000;
  t.equal(meters.perSecond('G9999'), 0.1);
});
