// Goal: POP consumption with the official RocketMQ 5 Node.js client (rocketmq-client-nodejs 1.0.8,
// unchanged) against an in-process 3-member group (grpcMinInvisibleTimeMs=1000 and
// grpcConsumerMaxAttempts=3 so that redelivery and the DLQ take seconds):
//  - SimpleConsumer: receive gets the sent messages (body, tag, keys, properties, message id,
//    delivery attempt 1); a second receive during the invisible time gets none of them; ack ->
//    never seen again; an unacked message comes back after its invisible time with attempt 2 and a
//    new receipt handle, its old handle then refused (INVALID_RECEIPT_HANDLE); changeInvisibleDuration
//    pushes the redelivery later; a tag filter skips other tags; an invisible time below the minimum
//    is refused (ILLEGAL_INVISIBLE_TIME); after 3 deliveries the message is in %DLQ%<group>
//    (write-only, perm 2) with RETRY_TOPIC and ORIGIN_MESSAGE_ID, not delivered a 4th time;
//  - the followers hold the same POP state (in flight, next offsets) as the master;
//  - PushConsumer consumes a stream of 40 messages, each acked once; failed ones are redelivered.
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { decodeMessage, parseMessageProperties } from '../../src/broker/message-codec.js';
import { startCluster } from '../broker/broker-harness.js';
import { untilDefined } from '../quickstart/helpers.js';
import { rocketmq5, shutdownPushConsumer, silentLogger } from './client.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('SimpleConsumer and PushConsumer over POP', async (t) => {
  // Clients first, then the group (tap runs teardowns in the order they were added).
  const closers: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  });
  const cluster = await startCluster({ grpcMinInvisibleTimeMs: '1000', grpcConsumerMaxAttempts: '3', grpcMaxLongPollingMs: '3000' });
  t.teardown(() => cluster.close());
  const master = await untilDefined(async () => cluster.master(), 20_000, 'a master');
  for (const topic of ['TopicPop', 'TopicPush', 'TopicAckBatch']) {
    const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
    t.equal(created.code, ResponseCode.SUCCESS);
  }
  const grpcEndpoint = master.grpc;
  if (grpcEndpoint === null) throw new Error('the master serves no gRPC');
  const endpoints = `127.0.0.1:${grpcEndpoint.port}`;
  const producer = new rocketmq5.Producer({ endpoints, namespace: '', topics: ['TopicPop', 'TopicPush'], logger: silentLogger });
  await producer.startup();
  closers.push(() => producer.shutdown());

  const consumer = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: 'CG_simple', subscriptions: new Map([['TopicPop', '*']]), awaitDuration: 1500, logger: silentLogger });
  await consumer.startup();
  closers.push(() => consumer.shutdown());
  const receiveFrom = async (from: any, count: number, invisibleMs: number, withinMs: number): Promise<any[]> => {
    const got: any[] = [];
    const until = Date.now() + withinMs;
    while (got.length < count && Date.now() < until) got.push(...await from.receive(16, invisibleMs));
    return got;
  };
  const receiveAll = (count: number, invisibleMs: number, withinMs: number): Promise<any[]> => receiveFrom(consumer, count, invisibleMs, withinMs);

  const sent = [];
  for (let i = 0; i < 6; i++) sent.push(await producer.send({ topic: 'TopicPop', tag: i === 5 ? 'TagB' : 'TagA', keys: [`k${i}`], body: Buffer.from(`pop-${i}`), properties: new Map([['n', String(i)]]) }));
  const first = await receiveAll(6, 3000, 8000);
  t.equal(first.length, 6, 'six messages received');
  t.same(first.map((m: any) => m.body.toString()).sort(), ['pop-0', 'pop-1', 'pop-2', 'pop-3', 'pop-4', 'pop-5'], 'their bodies');
  const m0 = first.find((m: any) => m.body.toString() === 'pop-0');
  t.equal(m0.tag, 'TagA', 'tag');
  t.same(m0.keys, ['k0'], 'keys');
  t.equal(m0.properties.get('n'), '0', 'user property');
  t.equal(m0.messageId, sent[0].messageId, "the producer's message id");
  t.ok(first.every((m: any) => m.deliveryAttempt === 1), 'delivery attempt 1');
  t.equal(m0.corrupted, undefined, 'the body digest matches');
  t.same(await consumer.receive(16, 3000), [], 'nothing more while they are invisible');

  // Followers apply the same POP state.
  const followers = cluster.brokers.filter((b) => b !== master);
  await untilDefined(async () => (followers.every((f) => f.popState.inflightOf('CG_simple') === 6) ? true : undefined), 5000, 'the followers know 6 in flight');
  t.same(followers.map((f) => f.popState.snapshot()), followers.map(() => master.popState.snapshot()), 'followers hold the same POP state as the master');

  // Ack four, change one, leave one (pop-5).
  const byBody = new Map(first.map((m: any) => [m.body.toString(), m]));
  for (const body of ['pop-0', 'pop-1', 'pop-2', 'pop-3']) await consumer.ack(byBody.get(body));
  const changed = byBody.get('pop-4');
  const oldHandle = changed.receiptHandle;
  await consumer.changeInvisibleDuration(changed, 6000);
  t.not(changed.receiptHandle, oldHandle, 'changeInvisibleDuration gives a new receipt handle');
  const again = await receiveAll(1, 3000, 6000);
  t.same(again.map((m: any) => m.body.toString()), ['pop-5'], 'after the invisible time only the unacked, unchanged message comes back');
  t.equal(again[0]?.deliveryAttempt, 2, 'as delivery attempt 2');
  t.not(again[0]?.receiptHandle, byBody.get('pop-5').receiptHandle, 'with a new receipt handle');
  await t.rejects(consumer.ack(byBody.get('pop-5')), /INVALID_RECEIPT_HANDLE|receipt handle/, 'the old handle of a redelivered message is refused');
  await consumer.ack(again[0]);
  const late = await receiveAll(1, 3000, 6000);
  t.same(late.map((m: any) => m.body.toString()), ['pop-4'], 'the changed message comes back after its new invisible time');
  await consumer.ack(late[0]);
  t.same(await consumer.receive(16, 3000), [], 'everything acked: nothing more');
  await t.rejects(consumer.receive(1, 500), /ILLEGAL_INVISIBLE_TIME|invisible time/, 'an invisible time below grpcMinInvisibleTimeMs is refused');

  // Acks that arrive together share one ack command (pop-service.ts flushAcks): 24 AckMessage calls
  // at once and a 25th repeating one of them; each answered as if alone (the repeat refused).
  const batchConsumer = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: 'CG_ack_batch', subscriptions: new Map([['TopicAckBatch', '*']]), awaitDuration: 1000, logger: silentLogger });
  await batchConsumer.startup();
  closers.push(() => batchConsumer.shutdown());
  for (let i = 0; i < 24; i++) await producer.send({ topic: 'TopicAckBatch', body: Buffer.from(`batch-${i}`) });
  const batch = await receiveFrom(batchConsumer, 24, 10_000, 8000);
  t.equal(batch.length, 24, '24 messages received for the batched acks');
  let ackCommands = 0;
  const apply = master.popState.apply.bind(master.popState);
  master.popState.apply = (body: unknown, index: number): void => {
    const command = body as { op?: string; group?: string } | null;
    if (command?.op === 'ack' && command.group === 'CG_ack_batch') ackCommands++;
    apply(body, index);
  };
  const answers = await Promise.allSettled([...batch.map((m: any) => batchConsumer.ack(m)), batchConsumer.ack(batch[0])]);
  master.popState.apply = apply;
  t.equal(answers.filter((a) => a.status === 'fulfilled').length, 24, 'every message acked once');
  t.match(answers.filter((a) => a.status === 'rejected').map((a) => String((a as PromiseRejectedResult).reason)), [/INVALID_RECEIPT_HANDLE|receipt handle/], 'the repeated ack refused');
  t.ok(ackCommands >= 1 && ackCommands < 24, `24 acks in ${ackCommands} ack command(s)`);
  t.equal(master.popState.inflightOf('CG_ack_batch'), 0, 'nothing of the group in flight');

  // Tag filter.
  const tagged = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: 'CG_tag', subscriptions: new Map([['TopicPop', 'TagB']]), awaitDuration: 1000, logger: silentLogger });
  await tagged.startup();
  closers.push(() => tagged.shutdown());
  const onlyB = await receiveFrom(tagged, 1, 10_000, 8000);
  t.same(onlyB.map((m: any) => m.body.toString()), ['pop-5'], 'a TagB subscription gets only the TagB message');
  t.same(await tagged.receive(16, 10_000), [], 'and nothing else');
  t.same([0, 1].map((q) => master.popState.queue('CG_tag', 'TopicPop', q)?.next), [3, 3], 'the TagA messages were skipped over (next offset 3 on both queues)');

  // DLQ after grpcConsumerMaxAttempts (3) deliveries.
  const dlqSend = await producer.send({ topic: 'TopicPop', tag: 'TagA', keys: ['dead'], body: Buffer.from('never acked') });
  const attempts: number[] = [];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && master.commitLog.state.maxOffset('%DLQ%CG_simple', 0) === 0) {
    for (const m of await consumer.receive(16, 1000)) if (m.body.toString() === 'never acked') attempts.push(m.deliveryAttempt);
  }
  t.same(attempts, [1, 2, 3], 'delivered 3 times (attempts 1, 2, 3), never a 4th');
  t.equal(master.commitLog.state.maxOffset('%DLQ%CG_simple', 0), 1, 'then moved to %DLQ%CG_simple');
  t.equal(master.commitLog.state.topicConfig('%DLQ%CG_simple')?.perm, 2, 'the DLQ topic is write-only (perm 2) as the remoting path creates it');
  const [dlqBytes] = master.commitLog.readMessages('%DLQ%CG_simple', 0, 0, 1, 1 << 20);
  const dlqMessage = decodeMessage(dlqBytes as Uint8Array);
  const dlqProperties = parseMessageProperties(dlqMessage.properties);
  t.equal(Buffer.from(dlqMessage.body).toString(), 'never acked', 'the DLQ holds the body');
  t.equal(dlqProperties.get('RETRY_TOPIC'), 'TopicPop', 'RETRY_TOPIC = the original topic');
  t.equal(dlqProperties.get('ORIGIN_MESSAGE_ID'), dlqSend.messageId, 'ORIGIN_MESSAGE_ID = its message id');
  t.equal(dlqMessage.reconsumeTimes, 3, 'RECONSUMETIMES = the deliveries made');
  t.equal(master.popState.inflightOf('CG_simple'), 0, 'nothing left in flight');

  // PushConsumer: a stream; every 5th message fails its first delivery and comes back.
  const consumed = new Map<string, number>();
  const push = new rocketmq5.PushConsumer({
    endpoints, namespace: '', consumerGroup: 'CG_push', subscriptions: new Map([['TopicPush', '*']]), logger: silentLogger, longPollingTimeout: 2000,
    messageListener: {
      consume: (view: any) => {
        const body = view.body.toString();
        const seen = (consumed.get(body) ?? 0) + 1;
        consumed.set(body, seen);
        return Number(body.split('-')[1]) % 5 === 0 && seen === 1 ? rocketmq5.ConsumeResult.FAILURE : rocketmq5.ConsumeResult.SUCCESS;
      },
    },
  });
  await push.startup();
  closers.push(() => shutdownPushConsumer(push));
  for (let i = 0; i < 40; i++) await producer.send({ topic: 'TopicPush', body: Buffer.from(`push-${i}`) });
  await untilDefined(async () => (consumed.size === 40 && [...consumed].every(([body, n]) => n === (Number(body.split('-')[1]) % 5 === 0 ? 2 : 1)) ? true : undefined), 20_000, 'all 40 consumed, the failed ones twice');
  await untilDefined(async () => (master.popState.inflightOf('CG_push') === 0 ? true : undefined), 5000, 'every push delivery acked');
  await sleep(1500);
  t.equal([...consumed.values()].reduce((a, b) => a + b, 0), 48, '40 messages, 8 redelivered once after a failure, none more');
  t.equal(master.popState.inflightOf('CG_push'), 0, 'nothing in flight for the push group');
  for (const close of closers.splice(0).reverse()) await close();
});
