// Goal: the offset step-back rules (rocketmq-offset-rules.ts) allow exactly a lower commit equal
// to an offset the client resumed the queue from, and report every other step back (R1/R3 shape:
// a broker told the client to go back), per queue and group.
// Method: hand-made commit sequences.
import t from 'tap';
import type { LogOffsetCommit } from './rocketmq-checker.js';
import { offsetStepBacks } from './rocketmq-offset-rules.js';

const commit = (index: number, queueId: number, offset: number, group = 'G'): LogOffsetCommit => ({ index, group, topic: 'T', queueId, offset });

t.test('monotonic commits, other groups and other queues are not step backs', async (t) => {
  const commits = [commit(1, 0, 5), commit(2, 1, 3), commit(3, 0, 5), commit(4, 0, 9), commit(5, 0, 2, 'Other'), commit(6, 1, 4)];
  t.same(offsetStepBacks(commits, 'G', 'T', []), { allowed: [], violations: [] });
});

t.test('a step back is a violation unless the client resumed the queue from that offset', async (t) => {
  const commits = [commit(10, 0, 10396), commit(11, 0, 10394), commit(12, 1, 50), commit(13, 1, 40), commit(14, 2, 7), commit(15, 2, 0)];
  const result = offsetStepBacks(commits, 'G', 'T', [{ queueId: 1, offset: 40 }, { queueId: 0, offset: 10390 }]);
  t.same(result.violations, [
    'G T-0: committed 10396 at log index 10, then 10394 at 11',
    'G T-2: committed 7 at log index 14, then 0 at 15',
  ], 'the R3 shape (no resume at 10394) and a rewind to 0 without a read 0 are violations');
  t.equal(result.allowed.length, 1, 'the resume of queue 1 from 40 is allowed');
  t.match(result.allowed[0], /T-1: committed 50 at log index 12, then 40 at 13 \(the client resumed the queue from 40/);
});
