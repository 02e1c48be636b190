// Goal: the replicated POP state (src/grpc/pop-state.ts) applies logged commands deterministically:
// a pop records its deliveries at the logged time + invisible time and moves the next offset; a pop
// from a stale start is ignored; a revival is accepted only when due by the logged time and at the
// attempt the master saw; acks and changes need the exact handle; bounds ignore a pop whole;
// malformed bodies are ignored; snapshot/restore round-trips (a member restored from a checkpoint
// holds the same state as one that applied every command).
import t from 'tap';
import { parsePopCommand, popCommandBody, POP_INFLIGHT_PER_GROUP_MAX, PopState, type PopCommand } from '../../src/grpc/pop-state.js';

const body = (command: PopCommand): unknown => JSON.parse(JSON.stringify(popCommandBody(command)));
const pop = (from: number, to: number, offsets: number[], atMs: number, revive: Array<[number, number]> = []): unknown => body({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from, to, offsets, revive, atMs, invisibleMs: 1000 });

t.test('pop, revive, ack, change', async (t) => {
  const state = new PopState();
  let index = 0;
  state.apply(pop(0, 3, [0, 2], 10_000), index++);
  t.equal(state.queue('G', 'T', 0)?.next, 3, 'next offset after the scanned range');
  t.same([...state.queue('G', 'T', 0)!.inflight], [[0, { attempt: 1, visibleAtMs: 11_000 }], [2, { attempt: 1, visibleAtMs: 11_000 }]], 'offset 1 did not match: not in flight');
  state.apply(pop(0, 2, [0, 1], 10_500), index++);
  t.equal(state.stats.ignored, 1, 'a pop from a stale start is ignored');
  t.equal(state.inflightOf('G'), 2);
  state.apply(pop(3, 3, [], 10_900, [[0, 1]]), index++);
  t.equal(state.queue('G', 'T', 0)!.inflight.get(0)?.attempt, 1, 'a revival before the visible time is ignored');
  state.apply(pop(3, 3, [], 11_000, [[0, 2]]), index++);
  t.equal(state.queue('G', 'T', 0)!.inflight.get(0)?.attempt, 1, 'a revival at another attempt is ignored');
  state.apply(pop(3, 3, [], 11_000, [[0, 1]]), index++);
  t.same(state.queue('G', 'T', 0)!.inflight.get(0), { attempt: 2, visibleAtMs: 12_000 }, 'revived at the logged time: attempt 2, visible again 1 s later');
  state.apply(body({ op: 'ack', group: 'G', receipts: [{ topic: 'T', queueId: 0, offset: 0, attempt: 1, visibleAtMs: 11_000 }], dlq: false }), index++);
  t.equal(state.inflightOf('G'), 2, "the old delivery's handle acks nothing");
  state.apply(body({ op: 'change', group: 'G', receipt: { topic: 'T', queueId: 0, offset: 2, attempt: 1, visibleAtMs: 11_000 }, visibleAtMs: 20_000 }), index++);
  t.same(state.queue('G', 'T', 0)!.inflight.get(2), { attempt: 1, visibleAtMs: 20_000 }, 'changed');
  state.apply(body({ op: 'ack', group: 'G', receipts: [{ topic: 'T', queueId: 0, offset: 2, attempt: 1, visibleAtMs: 11_000 }], dlq: false }), index++);
  t.equal(state.inflightOf('G'), 2, 'the handle from before the change acks nothing');
  const copy = new PopState();
  copy.restore(JSON.parse(JSON.stringify(state.snapshot())));
  t.same(copy.snapshot(), state.snapshot(), 'snapshot/restore round-trips');
  t.equal(copy.inflightOf('G'), 2, 'and counts what is in flight');
  state.apply(body({ op: 'ack', group: 'G', receipts: [{ topic: 'T', queueId: 0, offset: 0, attempt: 2, visibleAtMs: 12_000 }, { topic: 'T', queueId: 0, offset: 2, attempt: 1, visibleAtMs: 20_000 }], dlq: false }), index++);
  t.equal(state.inflightOf('G'), 0, 'the current handles ack');
  t.equal(state.inflightCount, 0);
  for (const bad of [null, 7, { op: 'pop', group: 'G' }, { op: 'ack', group: 'bad group', receipts: [] }, { op: 'pop', group: 'G', topic: 'T', queueId: 0, from: 5, to: 3, offsets: [], revive: [], atMs: 0, invisibleMs: 0 }, { op: 'pop', group: 'G', topic: 'T', queueId: 0, from: 0, to: 3, offsets: [4], revive: [], atMs: 0, invisibleMs: 0 }]) {
    t.equal(parsePopCommand(bad), null, `malformed: ${JSON.stringify(bad)}`);
    state.apply(bad, index++);
  }
  t.same(state.queue('G', 'T', 0)?.next, 3, 'malformed commands change nothing');
});

t.test('bounds: a pop over the in-flight bound is ignored whole', async (t) => {
  const state = new PopState();
  const offsets = Array.from({ length: 1000 }, (_, i) => i);
  let from = 0;
  for (let i = 0; i < POP_INFLIGHT_PER_GROUP_MAX / 1000; i++) {
    state.apply(body({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from, to: from + 1000, offsets: offsets.map((o) => o + from), revive: [], atMs: 0, invisibleMs: 1000 }), i);
    from += 1000;
  }
  t.equal(state.inflightOf('G'), POP_INFLIGHT_PER_GROUP_MAX, 'filled to the bound');
  state.apply(body({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from, to: from + 1, offsets: [from], revive: [], atMs: 0, invisibleMs: 1000 }), 99);
  t.equal(state.inflightOf('G'), POP_INFLIGHT_PER_GROUP_MAX, 'one more is refused');
  t.equal(state.queue('G', 'T', 0)?.next, from, 'and the next offset stays');
});

t.test('FIFO: a queue is the order lock', async (t) => {
  const state = new PopState();
  const fifoPop = (from: number, to: number, offsets: number[], atMs: number, revive: Array<[number, number]> = []): unknown => body({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from, to, offsets, revive, atMs, invisibleMs: 1000, fifo: true });
  state.apply(fifoPop(0, 2, [0, 1], 10_000), 0);
  t.equal(state.inflightOf('G'), 2, 'the first batch of the queue');
  t.equal(state.lockedUntil('G', 'T', 0, 10_500), 11_000, 'locked until the batch is visible again');
  state.apply(fifoPop(2, 3, [2], 10_500), 1);
  t.equal(state.queue('G', 'T', 0)?.next, 2, 'a FIFO pop of newer offsets while the queue is locked is ignored');
  state.apply(body({ op: 'ack', group: 'G', receipts: [{ topic: 'T', queueId: 0, offset: 0, attempt: 1, visibleAtMs: 11_000 }], dlq: false }), 2);
  state.apply(fifoPop(2, 3, [2], 10_600), 3);
  t.equal(state.queue('G', 'T', 0)?.next, 2, 'still ignored while offset 1 is in flight and invisible');
  state.apply(fifoPop(2, 3, [2], 11_000), 4);
  t.equal(state.queue('G', 'T', 0)?.next, 2, 'and once offset 1 is due: not newer ones while it is in flight');
  t.equal(state.lockedUntil('G', 'T', 0, 11_000), null, 'due at 11,000: unlocked for its redelivery');
  state.apply(fifoPop(2, 2, [], 11_000, [[1, 1]]), 5);
  t.same(state.queue('G', 'T', 0)?.inflight.get(1), { attempt: 2, visibleAtMs: 12_000 }, 'redelivered first, attempt 2');
  state.apply(body({ op: 'ack', group: 'G', receipts: [{ topic: 'T', queueId: 0, offset: 1, attempt: 2, visibleAtMs: 12_000 }], dlq: false }), 6);
  state.apply(fifoPop(2, 3, [2], 11_100), 7);
  t.equal(state.queue('G', 'T', 0)?.next, 3, 'every older one acked: the next one is handed out');
  state.apply(pop(3, 4, [3], 11_200), 8);
  t.equal(state.queue('G', 'T', 0)?.next, 4, 'a pop without fifo (not a FIFO group) is not locked');
  t.equal(parsePopCommand(JSON.parse(JSON.stringify({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from: 0, to: 0, offsets: [], revive: [], atMs: 0, invisibleMs: 0, fifo: true })))?.op, 'pop');
});

t.test('FIFO: redeliveries are the lowest in-flight offsets, in order, or the pop is ignored whole', async (t) => {
  const state = new PopState();
  const fifoPop = (from: number, to: number, offsets: number[], atMs: number, revive: Array<[number, number]> = []): unknown => body({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from, to, offsets, revive, atMs, invisibleMs: 1000, fifo: true });
  state.apply(fifoPop(0, 3, [0, 1, 2], 10_000), 0);
  const before = JSON.stringify(state.snapshot());
  state.apply(fifoPop(3, 3, [], 11_000, [[1, 1], [2, 1]]), 1);
  t.equal(JSON.stringify(state.snapshot()), before, 'offsets 1 and 2 without offset 0 (a gap): ignored');
  state.apply(fifoPop(3, 3, [], 11_000, [[1, 1], [0, 1]]), 2);
  t.equal(JSON.stringify(state.snapshot()), before, 'out of order: ignored');
  state.apply(fifoPop(3, 3, [], 11_000, [[0, 1], [1, 2]]), 3);
  t.equal(JSON.stringify(state.snapshot()), before, 'a stale attempt for offset 1: ignored whole (not offset 0 alone)');
  state.apply(fifoPop(3, 3, [], 11_000, [[0, 1], [1, 1]]), 4);
  t.same([...(state.queue('G', 'T', 0)?.inflight ?? [])], [[0, { attempt: 2, visibleAtMs: 12_000 }], [1, { attempt: 2, visibleAtMs: 12_000 }], [2, { attempt: 1, visibleAtMs: 11_000 }]], 'the lowest two, in order: redelivered (the third waits)');
  state.apply(fifoPop(3, 3, [], 12_000, [[2, 1]]), 5);
  t.equal(state.queue('G', 'T', 0)?.inflight.get(2)?.attempt, 1, 'offset 2 alone while 0 and 1 are in flight (due again): ignored');
  const restored = new PopState();
  restored.restore(JSON.parse(JSON.stringify(state.snapshot())));
  t.equal(restored.lockedUntil('G', 'T', 0, 11_500), 12_000, "a new master's restored state keeps the lock");
});
