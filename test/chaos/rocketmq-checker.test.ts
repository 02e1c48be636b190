// Goal: the RocketMQ chaos checker bites — a clean history passes, and each kind of violation
// (lost, moved, phantom, unexplained duplicate, queue gap, drain gap, live skip, offset going back)
// planted into it is reported, while duplicates its send attempts explain are only counted.
// Method: hand-made histories, logs and deliveries; pure functions, no processes.
import t from 'tap';
import { checkRocketMQ, physicalOffsetOfMsgId, type LogMessage, type LogOffsetCommit, type RocketMQCheckInput } from './rocketmq-checker.js';
import type { AttemptResult, Delivery, SendOp, SendOutcome } from './rocketmq-clients.js';

const TOPIC = 'T';
const msgId = (physicalOffset: number): string => `7F00000100002A9F${physicalOffset.toString(16).toUpperCase().padStart(16, '0')}`;

function op(body: string, outcome: SendOutcome, attempts: AttemptResult[]): SendOp {
  return { producer: 0, body, invokeMs: 0, completeMs: 1, outcome, attempts };
}

/** Three acknowledged messages on queue 0 (physical offsets 100, 200, 300), consumed by both groups. */
function clean(): { ops: SendOp[]; logMessages: LogMessage[]; drain: Delivery[]; live: Delivery[]; offsetCommits: LogOffsetCommit[] } {
  const bodies = ['a', 'b', 'c'];
  const ops = bodies.map((body, i) => op(body, { type: 'ok', msgId: msgId(100 * (i + 1)), queueId: 0, queueOffset: i }, ['stored']));
  const logMessages = bodies.map((body, i) => ({ index: i + 1, physicalOffset: 100 * (i + 1), topic: TOPIC, queueId: 0, queueOffset: i, body }));
  const delivered = bodies.map((body, i) => ({ body, queueId: 0, queueOffset: i, msgId: msgId(100 * (i + 1)), atMs: 10 + i }));
  const offsetCommits = [1, 3].map((offset, i) => ({ index: 10 + i, group: 'live', topic: TOPIC, queueId: 0, offset }));
  return { ops, logMessages, drain: delivered, live: [...delivered], offsetCommits };
}

const input = (parts: ReturnType<typeof clean>, faultTimesMs: number[] = []): RocketMQCheckInput => ({ topic: TOPIC, liveGroup: 'live', faultTimesMs, ...parts });

t.test('a clean history passes', async (t) => {
  const result = checkRocketMQ(input(clean()));
  t.same(result.violations, []);
  t.equal(result.acknowledged, 3);
  t.equal(result.consumedDistinct, 3);
  t.equal(physicalOffsetOfMsgId(msgId(300)), 300);
});

t.test('each planted violation is reported', async (t) => {
  const cases: Array<[string, (h: ReturnType<typeof clean>) => void]> = [
    ['lost', (h) => h.drain.splice(1, 1)],
    ['moved', (h) => { h.logMessages[2] = { ...h.logMessages[2]!, physicalOffset: 333 }; }],
    ['phantom', (h) => h.drain.push({ body: 'zzz', queueId: 1, queueOffset: 0, msgId: msgId(900), atMs: 50 })],
    ['duplicate', (h) => h.logMessages.push({ index: 4, physicalOffset: 400, topic: TOPIC, queueId: 0, queueOffset: 3, body: 'b' })],
    ['queue', (h) => { h.logMessages[1] = { ...h.logMessages[1]!, queueOffset: 5 }; }],
    ['live-skip', (h) => h.live.splice(0, 1)],
    ['offset-back', (h) => h.offsetCommits.push({ index: 20, group: 'live', topic: TOPIC, queueId: 0, offset: 2 })],
  ];
  for (const [kind, plant] of cases) {
    const h = clean();
    plant(h);
    const result = checkRocketMQ(input(h));
    t.ok(result.violations.some((v) => v.startsWith(`${kind}:`)), `${kind} caught: ${result.violations.join(' | ')}`);
  }
  // A message in the log that the drain group never received.
  const h = clean();
  h.logMessages.push({ index: 4, physicalOffset: 400, topic: TOPIC, queueId: 0, queueOffset: 3, body: 'd' });
  h.ops.push(op('d', { type: 'unknown', error: 'timeout' }, ['maybe']));
  const gap = checkRocketMQ(input(h));
  t.ok(gap.violations.some((v) => v.startsWith('drain-gap:')), 'drain-gap caught');
  t.equal(gap.unacknowledgedStored, 1, 'an unknown send that was stored is counted');
});

t.test('duplicates explained by attempts are counted, not violations', async (t) => {
  const h = clean();
  // 'b' was acknowledged on a second attempt after one with an unknown outcome: two copies allowed.
  h.ops[1] = op('b', { type: 'ok', msgId: msgId(200), queueId: 0, queueOffset: 1 }, ['maybe', 'stored']);
  h.logMessages.push({ index: 4, physicalOffset: 400, topic: TOPIC, queueId: 0, queueOffset: 3, body: 'b' });
  h.drain.push({ body: 'b', queueId: 0, queueOffset: 3, msgId: msgId(400), atMs: 20 });
  h.live.push({ body: 'b', queueId: 0, queueOffset: 3, msgId: msgId(400), atMs: 20 });
  const result = checkRocketMQ(input(h));
  t.same(result.violations, []);
  t.equal(result.duplicatesAckedAfterRetry, 1);
  t.equal(result.retriedInternally, 1);
  // A refused attempt stored nothing, so it explains no copy.
  h.ops[1] = op('b', { type: 'ok', msgId: msgId(200), queueId: 0, queueOffset: 1 }, ['refused', 'stored']);
  t.ok(checkRocketMQ(input(h)).violations.some((v) => v.startsWith('duplicate:')), 'a refused attempt does not excuse a copy');
});

t.test('live redeliveries are counted, and attributed to a fault between the two deliveries', async (t) => {
  const h = clean();
  h.live.push({ ...h.live[0]!, atMs: 100 });
  h.live.push({ ...h.live[1]!, atMs: 101 });
  const result = checkRocketMQ(input(h, [50]));
  t.same(result.violations, []);
  t.equal(result.liveRedeliveries, 2);
  t.equal(result.liveRedeliveriesAcrossFaults, 2);
  t.equal(checkRocketMQ(input(h, [500])).liveRedeliveriesAcrossFaults, 0, 'a fault after both deliveries explains nothing');
});

t.test('retention: messages before the retained log start are expired (if old enough); from it on they must be there', async (t) => {
  // Retention deleted the entries of 'a' and 'b' (physical offsets 100, 200) on every replica: the log starts at 'c' (300, index 3).
  const h = clean();
  h.logMessages.splice(0, 2);
  h.drain.splice(0, 2); // the drain group started at 0 and was moved to offset 2 (PULL_OFFSET_MOVED)
  h.live.splice(0, 2); // the live group was behind the minimum too
  const retention = { reservedMs: 2000, checkedAtMs: 5000, slackMs: 100, forced: false, retainedFromIndex: 3, retainedFromPhysicalOffset: 300 };
  const result = checkRocketMQ({ ...input(h), retention });
  t.same(result.violations, [], 'sent 5 s before the check, 2 s reserved: expired, not lost, not skipped');
  t.equal(result.expired, 2);
  t.equal(result.expiredNotLive, 2, 'the live group never got them');
  t.same(result.retainedFirstOffsets, [2], 'queue 0 retained from offset 2');
  t.match(checkRocketMQ(input(h)).violations.join('\n'), /lost: a/, 'without retention the same data is a loss');
  const young = checkRocketMQ({ ...input(h), retention: { ...retention, checkedAtMs: 1500 } });
  t.match(young.violations.join('\n'), /retention: a acknowledged at 0@0 is below the retained minimum 2 of queue 0, but was sent only 1500 ms before the check/, 'too young to have expired');
  t.same(checkRocketMQ({ ...input(h), retention: { ...retention, checkedAtMs: 1500, forced: true } }).violations, [], 'forced cleaning deletes unexpired segments');
  // 'c' is retained: missing from the drain or the live group it is lost / skipped as before.
  const missing = clean();
  missing.logMessages.splice(0, 2);
  missing.drain.splice(0, 3);
  missing.live.splice(0, 3);
  const bad = checkRocketMQ({ ...input(missing), retention });
  t.match(bad.violations.join('\n'), /lost: c/, 'a retained message not drained is lost');
  t.match(bad.violations.join('\n'), /live-skip: c/, 'and skipped by the live group');
  t.notMatch(bad.violations.join('\n'), /lost: [ab] /);
  // A queue whose front vanished inside the retained range is not passed off as expired.
  const hole = clean();
  hole.logMessages.splice(0, 2);
  hole.drain.splice(0, 2);
  hole.live.splice(0, 2);
  const inside = checkRocketMQ({ ...input(hole), retention: { ...retention, retainedFromPhysicalOffset: 150 } });
  t.match(inside.violations.join('\n'), /moved: b .* no message there/, "'b' at 200 lies in the retained range: moved/lost, not expired");
  t.match(inside.violations.join('\n'), /lost: b/);
  // Queue offsets stay dense from the first retained one.
  const gap = clean();
  gap.logMessages.splice(0, 1);
  gap.logMessages.splice(1, 0, { index: 9, physicalOffset: 250, topic: TOPIC, queueId: 0, queueOffset: 5, body: 'b' });
  t.match(checkRocketMQ({ ...input(gap), retention: { ...retention, retainedFromPhysicalOffset: 200, retainedFromIndex: 2 } }).violations.join('\n'), /queue: T-0: the 1th message in log order has queue offset 5 \(expected 2/);
});
