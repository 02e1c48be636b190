// FIFO consumption with rocketmq-client-nodejs 1.0.8 (unchanged) on a fast-try group (called from
// rocketmq5-producer.test.ts, on its group: no cluster of its own). The group CG_fifo is made a
// FIFO group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP with consumeMessageOrderly=true, as
// `mqadmin updateSubGroup -o true` sends it); 6 message groups x 5 messages go to a FIFO topic,
// interleaved. A SimpleConsumer receives with 3 receives in parallel (batches of up to 4):
//  - no message of a message group is received while an earlier one of it is in flight (received
//    by another receive and not acked): each group's messages come, batch by batch, in send order;
//  - the 3rd message of group G0 is not acked on its first delivery (nor what came after it in its
//    batch): nothing more of G0 comes until its invisible time (2.5 s) is over, then it comes again
//    first (attempt 2), then the rest of G0 in order;
//  - in the end every message is acked once per delivery and each group's acks are in send order.
// A FIFO PushConsumer (group CG_fifo_push, also consumeMessageOrderly) gets Telemetry settings
// fifo=true (1.0.8's FifoConsumeService) and consumes each group in send order, one at a time.
import type { Test } from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { rocketmq5, shutdownPushConsumer, silentLogger } from './client.js';
import type { FastTryGroup } from './fast-try-group.js';

const GROUPS = 6;
const PER_GROUP = 5;
const INVISIBLE_MS = 2500;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function checkFifoReceive(t: Test, fastTry: FastTryGroup, producer: any): Promise<void> {
  const { leader, grpcPorts, leaderIndex, remoting, closers } = fastTry;
  for (const group of ['CG_fifo', 'CG_fifo_push']) {
    const made = await remoting.invoke(leader.addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {
      body: Buffer.from(JSON.stringify({ groupName: group, consumeMessageOrderly: true })),
    }), 10_000);
    t.equal(made.code, ResponseCode.SUCCESS, `subscription group ${group} with consumeMessageOrderly=true: ${made.remark ?? ''}`);
  }
  const created = await fastTry.createTopic('TopicFifoRecv', { 'message.type': 'FIFO' });
  t.equal(created.code, ResponseCode.SUCCESS, 'FIFO topic TopicFifoRecv');
  // The new topic reaches the producer's follower endpoint once that member applied it: the first send retries (bounded).
  for (let attempt = 0; ; attempt++) {
    const first = await producer.send({ topic: 'TopicFifoRecv', messageGroup: 'G0', body: Buffer.from('G0:0') }).then(() => null, (error: Error) => error);
    if (first === null) break;
    if (attempt >= 50) throw first;
    await sleep(200);
  }
  for (let n = 0; n < PER_GROUP; n++) {
    for (let g = n === 0 ? 1 : 0; g < GROUPS; g++) await producer.send({ topic: 'TopicFifoRecv', messageGroup: `G${g}`, body: Buffer.from(`G${g}:${n}`) });
  }
  const endpoints = `127.0.0.1:${grpcPorts[leaderIndex]}`;
  const consumer = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: 'CG_fifo', subscriptions: new Map([['TopicFifoRecv', '*']]), awaitDuration: 1000, logger: silentLogger, requestTimeout: 5000 });
  await consumer.startup();
  closers.unshift(() => consumer.shutdown());

  const inflight = new Map<string, Set<number>>(); // message group -> seqs received, not acked
  const acked = new Map<string, number[]>();
  const received = new Map<string, number[]>(); // every delivery in receive order
  const violations: string[] = [];
  let failedAt = 0;
  let redeliveredAt = 0;
  let g0Between = 0;
  const done = (): boolean => [...Array(GROUPS).keys()].every((g) => (acked.get(`G${g}`) ?? []).length === PER_GROUP);
  const until = Date.now() + 25_000;
  const loop = async (): Promise<void> => {
    while (!done() && Date.now() < until) {
      let got: any[];
      try {
        got = await consumer.receive(4, INVISIBLE_MS);
      } catch (error) {
        violations.push(`receive failed: ${(error as Error).message.slice(0, 100)}`);
        await sleep(200);
        continue;
      }
      const batch = got.map((m) => {
        const [group, seq] = m.body.toString().split(':');
        return { m, group: group as string, seq: Number(seq), queue: String(String(m.receiptHandle).split(' ')[1]) };
      });
      const groupsHere = new Set(batch.map((b) => b.group));
      for (const group of groupsHere) {
        const busy = inflight.get(group);
        if (busy !== undefined && busy.size > 0) violations.push(`${group}: ${batch.filter((b) => b.group === group).map((b) => b.seq)} received while ${[...busy]} in flight`);
      }
      for (const b of batch) {
        const seen = received.get(b.group) ?? [];
        received.set(b.group, [...seen, b.seq]);
        if (!inflight.has(b.group)) inflight.set(b.group, new Set());
        inflight.get(b.group)?.add(b.seq);
        if (b.group === 'G0' && failedAt > 0 && redeliveredAt === 0) {
          if (b.seq === 2) redeliveredAt = Date.now();
          else g0Between++;
        }
      }
      const stoppedQueues = new Set<string>();
      for (const b of batch) {
        // The application stops at a failure: nothing after it in its queue is acked either.
        if (stoppedQueues.has(b.queue)) {
          inflight.get(b.group)?.delete(b.seq);
          continue;
        }
        if (b.group === 'G0' && b.seq === 2 && failedAt === 0) {
          failedAt = Date.now();
          t.equal(b.m.deliveryAttempt, 1, 'G0:2 first delivered as attempt 1; not acked');
          stoppedQueues.add(b.queue);
          inflight.get(b.group)?.delete(b.seq);
          continue;
        }
        if (b.group === 'G0' && b.seq === 2) t.equal(b.m.deliveryAttempt, 2, 'G0:2 again as attempt 2');
        await sleep(5);
        inflight.get(b.group)?.delete(b.seq);
        await consumer.ack(b.m);
        const list = acked.get(b.group) ?? [];
        if (list.length !== b.seq) violations.push(`${b.group}:${b.seq} acked after ${list}`);
        acked.set(b.group, [...list, b.seq]);
      }
    }
  };
  await Promise.all([loop(), loop(), loop()]);
  t.ok(done(), `all ${GROUPS * PER_GROUP} messages acked (${[...acked].map(([g, l]) => `${g}:${l.length}`).join(' ')})`);
  t.same(violations, [], 'no message group received while an earlier message of it was in flight, and acks in send order');
  for (let g = 0; g < GROUPS; g++) {
    t.same(acked.get(`G${g}`), [0, 1, 2, 3, 4], `G${g}: acked in send order`);
  }
  t.ok(failedAt > 0 && redeliveredAt > 0, 'G0:2 was not acked, then came again');
  t.ok(redeliveredAt - failedAt >= INVISIBLE_MS - 500, `G0:2 came again ${redeliveredAt - failedAt} ms later (invisible ${INVISIBLE_MS} ms)`);
  t.equal(g0Between, 0, 'nothing of G0 between its unacked message and that message again');
  const g0 = received.get('G0') ?? [];
  t.same(g0.slice(g0.indexOf(2) + 1).filter((s) => s !== 2 && s < 2), [], `G0 received ${g0}: the unacked one first again, then the rest`);
  await consumer.shutdown();
  closers.shift();

  // PushConsumer: fifo=true in its settings, one message of a group at a time, in order.
  const consumed = new Map<string, number[]>();
  const active = new Set<string>();
  const overlaps: string[] = [];
  const push = new rocketmq5.PushConsumer({
    endpoints, namespace: '', consumerGroup: 'CG_fifo_push', subscriptions: new Map([['TopicFifoRecv', '*']]), logger: silentLogger, longPollingTimeout: 1000,
    messageListener: {
      consume: async (view: any) => {
        const [group, seq] = view.body.toString().split(':');
        if (active.has(group)) overlaps.push(`${group}:${seq}`);
        active.add(group);
        await sleep(2);
        consumed.set(group, [...(consumed.get(group) ?? []), Number(seq)]);
        active.delete(group);
        return rocketmq5.ConsumeResult.SUCCESS;
      },
    },
  });
  await push.startup();
  closers.unshift(() => shutdownPushConsumer(push));
  const pushUntil = Date.now() + 15_000;
  while ([...consumed.values()].reduce((a, l) => a + l.length, 0) < GROUPS * PER_GROUP && Date.now() < pushUntil) await sleep(100);
  t.equal(push.getPushConsumerSettings().isFifo(), true, "the PushConsumer's settings say fifo (the group's consumeMessageOrderly)");
  t.equal(push.getConsumeService()?.constructor?.name, 'FifoConsumeService', "so 1.0.8 consumes with its FifoConsumeService");
  for (let g = 0; g < GROUPS; g++) t.same(consumed.get(`G${g}`), [0, 1, 2, 3, 4], `push: G${g} consumed in send order`);
  t.same(overlaps, [], 'never two messages of one group consumed at once');
  await shutdownPushConsumer(push);
  closers.shift();
}
