// Goal: the durability waiter queue resolves exactly the waiters at or below the durable index,
// in index order, keeps itself sorted when a waiter for an earlier index arrives late, and rejects
// only the waiters a truncate removed. Method: drive DurabilityWaiters directly and record the
// order in which promises settle.
import t from 'tap';
import { DurabilityWaiters } from '../../src/store/group-commit.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('resolve through an index, in order, late earlier waiters included', async (t) => {
  const waiters = new DurabilityWaiters();
  const settled: string[] = [];
  for (const index of [3, 5, 5, 9, 4]) {
    waiters.add(index).then(
      () => settled.push(`ok ${index}`),
      () => settled.push(`fail ${index}`),
    );
  }
  t.equal(waiters.size, 5);
  waiters.resolveThrough(4);
  await settle();
  t.same(settled, ['ok 3', 'ok 4'], 'only <= 4, in index order');
  waiters.rejectFrom(9, (index) => new Error(`truncated ${index}`));
  await settle();
  t.same(settled.slice(2), ['fail 9'], 'only >= 9 rejected');
  waiters.resolveThrough(100);
  await settle();
  t.same(settled.slice(3), ['ok 5', 'ok 5']);
  t.equal(waiters.size, 0);
});

t.test('rejectAll fails every pending waiter and leaves the queue empty', async (t) => {
  const waiters = new DurabilityWaiters();
  const results = Promise.allSettled([waiters.add(1), waiters.add(2)]);
  waiters.rejectAll(new Error('flush failed'));
  t.same((await results).map((r) => r.status), ['rejected', 'rejected']);
  t.equal(waiters.size, 0);
});

t.test('a long run stays bounded by what is pending', async (t) => {
  const waiters = new DurabilityWaiters();
  let resolved = 0;
  for (let index = 0; index < 10_000; index++) {
    void waiters.add(index).then(() => resolved++);
    if (index % 7 === 0) waiters.resolveThrough(index - 3);
  }
  waiters.resolveThrough(10_000);
  await settle();
  t.equal(resolved, 10_000);
  t.equal(waiters.size, 0);
});
