// Goal: SEARCH_OFFSET_BY_TIMESTAMP's search (src/broker/store/offset-by-time.ts) answers as
// RocketMQ's ConsumeQueue.getOffsetInQueueByTime (binarySearchInQueueByTime) does at every
// boundary: empty queue, all before, all after, exact runs of equal store times, gaps, a queue whose
// minimum moved (retention), an unreadable unit; and checks its answers against a linear scan.
// Method: the pure function over arrays of store times; no broker.
import t from 'tap';
import { offsetInQueueByTime, parseBoundaryType, type BoundaryType } from '../../src/broker/store/offset-by-time.js';

/** times[i] is the store time of queue offset minOffset + i. */
function search(times: readonly number[], timestamp: number, boundary: BoundaryType, minOffset = 0): number {
  return offsetInQueueByTime(minOffset, minOffset + times.length, (offset) => times[offset - minOffset] ?? null, timestamp, boundary);
}

t.test('boundary rules', async (t) => {
  t.equal(search([], 5, 'LOWER'), 0, 'empty queue: 0');
  t.equal(search([], 5, 'UPPER'), 0, 'empty queue: 0 (UPPER)');
  const times = [10, 10, 10, 30, 30, 50];
  t.equal(search(times, 60, 'LOWER'), 6, 'all before: LOWER is maxOffset');
  t.equal(search(times, 60, 'UPPER'), 5, 'all before: UPPER is the last offset');
  t.equal(search(times, 5, 'LOWER'), 0, 'all after: LOWER is the first offset');
  t.equal(search(times, 5, 'UPPER'), 0, 'all after: UPPER is 0');
  t.equal(search(times, 10, 'LOWER'), 0, 'exact, first run: LOWER the first of the run');
  t.equal(search(times, 10, 'UPPER'), 2, 'exact, first run: UPPER the last of the run');
  t.equal(search(times, 30, 'LOWER'), 3);
  t.equal(search(times, 30, 'UPPER'), 4);
  t.equal(search(times, 50, 'LOWER'), 5, 'exact, the last message');
  t.equal(search(times, 50, 'UPPER'), 5);
  // Java's own example: t1 at 1,2,3, t3 at 4,5; t2 -> UPPER 3, LOWER 4 (here offsets 0-based).
  t.equal(search(times, 20, 'LOWER'), 3, 'gap: LOWER the first stored after');
  t.equal(search(times, 20, 'UPPER'), 2, 'gap: UPPER the last stored before');
  t.equal(search(times, 40, 'LOWER'), 5);
  t.equal(search(times, 40, 'UPPER'), 4);
});

t.test('a queue whose minimum moved: answers stay in [minOffset, maxOffset], except Java\'s UPPER 0 and an empty 0', async (t) => {
  const times = [100, 200, 300];
  t.equal(search(times, 50, 'LOWER', 1000), 1000, 'all after: the minimum, not 0');
  t.equal(search(times, 50, 'UPPER', 1000), 0, 'UPPER all after: 0 as Java');
  t.equal(search(times, 200, 'LOWER', 1000), 1001);
  t.equal(search(times, 250, 'UPPER', 1000), 1001);
  t.equal(search(times, 999, 'LOWER', 1000), 1003, 'all before: maxOffset');
  t.equal(offsetInQueueByTime(7, 7, () => null, 5, 'LOWER'), 0, 'empty after retention: 0');
});

t.test('an unreadable unit answers 0 (Java: storeTime < 0)', async (t) => {
  t.equal(offsetInQueueByTime(0, 10, (offset) => (offset === 9 ? null : offset * 10), 35, 'LOWER'), 0, 'the last unreadable');
  t.equal(offsetInQueueByTime(0, 10, (offset) => (offset === 0 ? null : offset * 10), 35, 'LOWER'), 0, 'the first unreadable');
  t.equal(offsetInQueueByTime(0, 10, (offset) => offset * 10, 35, 'LOWER'), 4, 'readable: the first at or after');
});

t.test('against a linear scan of random non-decreasing times', async (t) => {
  let seed = 20261207;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let checked = 0;
  for (let round = 0; round < 300; round++) {
    const length = 1 + random(40);
    const times: number[] = [];
    let now = random(5);
    for (let i = 0; i < length; i++) times.push((now += random(3)));
    for (let timestamp = times[0]! - 2; timestamp <= times[length - 1]! + 2; timestamp++) {
      let lower = times.findIndex((time) => time >= timestamp);
      if (lower === -1) lower = length;
      let upper = -1;
      for (let i = 0; i < length; i++) if (times[i]! <= timestamp) upper = i;
      if (upper === -1) upper = 0; // all after: UPPER 0
      const got = { lower: search(times, timestamp, 'LOWER'), upper: search(times, timestamp, 'UPPER') };
      if (got.lower !== lower || got.upper !== upper) t.fail(`times ${JSON.stringify(times)} at ${timestamp}: got ${JSON.stringify(got)}, want ${JSON.stringify({ lower, upper })}`);
      checked++;
    }
  }
  t.ok(checked > 1000, `${checked} searches agree with the scan`);
});

t.test('boundaryType', async (t) => {
  t.equal(parseBoundaryType(null), 'LOWER', 'default LOWER (RocketMQ 4 clients send none)');
  t.equal(parseBoundaryType('upper'), 'UPPER');
  t.throws(() => parseBoundaryType('MIDDLE'), /boundaryType must be LOWER or UPPER/);
});
