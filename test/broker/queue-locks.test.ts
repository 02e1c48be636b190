// Goal: the replicated queue-lock table (state/queue-locks.ts) decides as RocketMQ's
// RebalanceLockManager.tryLockBatch does, by the commands' own clocks only: a free queue goes to
// the asker, a held one stays with its holder until REBALANCE_LOCK_MAX_LIVE_MS (60 s) passed since
// its last renewal, a renewal extends it, unlock frees only the holder's; bad commands are ignored;
// a snapshot restores the same table; the bound holds.
import t from 'tap';
import { QUEUE_LOCKS_MAX, QueueLocks, REBALANCE_LOCK_MAX_LIVE_MS } from '../../src/broker/state/queue-locks.js';

const q = (queueId: number): { topic: string; brokerName: string; queueId: number } => ({ topic: 'T', brokerName: 'b', queueId });
const lock = (clientId: string, queues: number[], atMs: number): unknown => ({ op: 'lock', consumerGroup: 'G', clientId, queues: queues.map(q), atMs });
const unlock = (clientId: string, queues: number[]): unknown => ({ op: 'unlock', consumerGroup: 'G', clientId, queues: queues.map(q) });

t.test('grant, hold, expire, renew, unlock', async (t) => {
  const locks = new QueueLocks();
  locks.apply(lock('A', [0, 1], 1000), 1);
  t.same(locks.heldBy('G', 'A', [q(0), q(1)], 1000).map((x) => x.queueId), [0, 1], 'free queues go to A');
  locks.apply(lock('B', [1, 2], 2000), 2);
  t.same(locks.heldBy('G', 'B', [q(1), q(2)], 2000).map((x) => x.queueId), [2], 'B gets only the free one');
  locks.apply(lock('B', [1], 1000 + REBALANCE_LOCK_MAX_LIVE_MS), 3);
  t.equal(locks.holderOf('G', q(1), 1000 + REBALANCE_LOCK_MAX_LIVE_MS), 'A', 'exactly 60 s after the renewal: still A');
  locks.apply(lock('A', [1], 30_000), 4);
  locks.apply(lock('B', [1], 1000 + REBALANCE_LOCK_MAX_LIVE_MS + 1), 5);
  t.equal(locks.holderOf('G', q(1), 1000 + REBALANCE_LOCK_MAX_LIVE_MS + 1), 'A', 'A\'s renewal at 30 s keeps it past 61 s (60 s after its first lock)');
  locks.apply(lock('B', [0], 1000 + REBALANCE_LOCK_MAX_LIVE_MS + 1), 6);
  t.equal(locks.holderOf('G', q(0), 1000 + REBALANCE_LOCK_MAX_LIVE_MS + 1), 'B', 'A\'s unrenewed lock on 0 expired: B takes it');
  locks.apply(unlock('B', [1]), 7);
  t.equal(locks.holderOf('G', q(1), 31_000), 'A', 'B cannot unlock A\'s queue');
  locks.apply(unlock('A', [1]), 8);
  t.equal(locks.holderOf('G', q(1), 31_000), null, 'A\'s unlock frees it');
  t.equal(locks.size, 2);
  const copy = new QueueLocks();
  copy.restore(JSON.parse(JSON.stringify(locks.snapshot())));
  t.same(copy.snapshot(), locks.snapshot(), 'a snapshot restores the same table');
  for (const bad of [null, 7, { op: 'lock', consumerGroup: 'G', clientId: 'A', queues: [q(5)] }, { op: 'lock', consumerGroup: 'bad group', clientId: 'A', queues: [], atMs: 1 }, { op: 'steal', consumerGroup: 'G', clientId: 'A', queues: [], atMs: 1 }, lock('A', [-1], 1)]) locks.apply(bad, 9);
  t.equal(locks.size, 2, 'malformed commands change nothing');
  const expiredHolder = new QueueLocks();
  expiredHolder.apply(lock('A', [0], 0), 1);
  t.same(expiredHolder.heldBy('G', 'A', [q(0)], REBALANCE_LOCK_MAX_LIVE_MS + 1), [], 'heldBy is false for the holder\'s own expired lock');
});

t.test('expired locks of a group are dropped by its next lock request', async (t) => {
  const locks = new QueueLocks();
  locks.apply(lock('gone', [0, 1, 2], 0), 1);
  t.equal(locks.size, 3);
  locks.apply(lock('B', [5], REBALANCE_LOCK_MAX_LIVE_MS), 2);
  t.equal(locks.size, 4, 'not expired yet at exactly 60 s');
  locks.apply(lock('B', [5], REBALANCE_LOCK_MAX_LIVE_MS + 1), 3);
  t.equal(locks.size, 1, 'the departed client\'s 3 expired locks went, B\'s renewed one stays');
  t.equal(locks.holderOf('G', q(5), REBALANCE_LOCK_MAX_LIVE_MS + 1), 'B');
});

t.test('the table is bounded', async (t) => {
  const locks = new QueueLocks();
  for (let i = 0; i * 4096 < QUEUE_LOCKS_MAX + 4096; i++) locks.apply({ op: 'lock', consumerGroup: `G${i}`, clientId: 'A', queues: Array.from({ length: 4096 }, (_, j) => q(j)), atMs: 1 }, i);
  t.equal(locks.size, QUEUE_LOCKS_MAX, `at most ${QUEUE_LOCKS_MAX} locked queues`);
});
