// Goal: POP receives read the group's retry topics as RocketMQ 5 does (src/grpc/pop-retry.ts), on
// an in-process 3-member group with rocketmq-client-nodejs 1.0.8 (unchanged):
//  - a message a remoting consumer of the same group sent back (CONSUMER_SEND_MSG_BACK, delay
//    level 1 = 1 s) comes through the SimpleConsumer's receive of the original topic, shown as
//    that topic with delivery attempt 2 (RECONSUMETIMES 1 + 1); its ack (a handle naming
//    %RETRY%<group>) is answered OK and it never comes again; unacked, it comes back after its
//    invisible time as attempt 3, then goes to %DLQ%<group> (grpcConsumerMaxAttempts=3);
//  - %RETRY%<group>'s retry of another topic of the group is not delivered to this topic's receive;
//  - POP acks move the group's consumer offset past the contiguous acked prefix: GET_CONSUME_STATS
//    (mqadmin consumerProgress) on the master and on a follower shows lag 3 with 3 in flight, still
//    2 after acking offsets 0 and 2 (offset 1 in flight), 0 after acking 1;
//  - which topics are read and in what order (the 20 % retry-first draw).
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { decodeMessage } from '../../src/broker/message-codec.js';
import { groupRetryTopic, handleTopicAllowed, popRetryTopic, popSources } from '../../src/grpc/pop-retry.js';
import { startCluster } from '../broker/broker-harness.js';
import { untilDefined } from '../quickstart/helpers.js';
import { parseConsumeStats } from '../../src/admin/admin-client.js';
import { rocketmq5, silentLogger } from './client.js';

t.test('retry sources and their order', async (t) => {
  t.same(popSources('G', 'T', 50, false).map((s) => s.topic), ['T', '%RETRY%G_T', '%RETRY%G'], 'topic first for 80 of 100 draws');
  t.same(popSources('G', 'T', 19.9, false).map((s) => s.topic), ['%RETRY%G_T', '%RETRY%G', 'T'], 'retry first for the other 20 (popFromRetryProbability)');
  t.same(popSources('G', 'T', 5, true).map((s) => s.topic), ['T'], 'a FIFO pop reads no retry topic (5.x: !isOrder)');
  t.same(popSources('G', '%RETRY%G', 5, false).map((s) => s.topic), ['%RETRY%G'], 'a retry topic asked directly has no retry topics');
  t.ok(handleTopicAllowed('G', 'T', popRetryTopic('G', 'T')) && handleTopicAllowed('G', 'T', groupRetryTopic('G')) && handleTopicAllowed('G', 'T', 'T'), "the topic's and the group's retry handles");
  t.notOk(handleTopicAllowed('G', 'T', '%RETRY%H') || handleTopicAllowed('G', 'T', 'U') || handleTopicAllowed('G', 'T', '%RETRY%G_U'), "another group's or topic's handle is not");
});

t.test('a message sent back by a remoting consumer comes through POP', async (t) => {
  const closers: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  });
  const cluster = await startCluster({ grpcMinInvisibleTimeMs: '1000', grpcConsumerMaxAttempts: '3', grpcMaxLongPollingMs: '2000' });
  t.teardown(() => cluster.close());
  const master = await untilDefined(async () => cluster.master(), 20_000, 'a master');
  for (const topic of ['TopicRetryA', 'TopicRetryB']) {
    const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
    t.equal(created.code, ResponseCode.SUCCESS);
  }
  const grpcEndpoint = master.grpc;
  if (grpcEndpoint === null) throw new Error('the master serves no gRPC');
  const endpoints = `127.0.0.1:${grpcEndpoint.port}`;
  const producer = new rocketmq5.Producer({ endpoints, namespace: '', topics: ['TopicRetryA', 'TopicRetryB'], logger: silentLogger });
  await producer.startup();
  closers.push(() => producer.shutdown());
  const consumer = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: 'CG_mix', subscriptions: new Map([['TopicRetryA', '*']]), awaitDuration: 1500, logger: silentLogger });
  await consumer.startup();
  closers.push(() => consumer.shutdown());
  const receive = async (count: number, invisibleMs: number, withinMs: number): Promise<any[]> => {
    const got: any[] = [];
    const until = Date.now() + withinMs;
    while (got.length < count && Date.now() < until) got.push(...await consumer.receive(16, invisibleMs));
    return got;
  };

  for (let i = 0; i < 3; i++) await producer.send({ topic: 'TopicRetryA', body: Buffer.from(`a-${i}`) });
  await producer.send({ topic: 'TopicRetryB', body: Buffer.from('b-0') });
  const first = await receive(3, 5000, 6000);
  t.same(first.map((m: any) => m.body.toString()).sort(), ['a-0', 'a-1', 'a-2'], 'the three sends, once each');
  // Progress as mqadmin consumerProgress sees it, on the master and on a follower (replicated).
  const follower = cluster.brokers.find((b) => b !== master) as typeof master;
  const progress = async (addr: string): Promise<Array<[string, number, number]>> => {
    const response = await cluster.call(addr, RequestCode.GET_CONSUME_STATS, { consumerGroup: 'CG_mix', topic: 'TopicRetryA' });
    if (response.code !== ResponseCode.SUCCESS) throw new Error(`GET_CONSUME_STATS: ${response.code} ${response.remark ?? ''}`);
    return parseConsumeStats(response.body?.toString('utf8') ?? '').queues.map((q) => [q.topic, q.consumerOffset, q.brokerOffset - q.consumerOffset]);
  };
  const lagEverywhere = async (want: number, why: string): Promise<void> => {
    const rows = await untilDefined(async () => {
      const both = [await progress(master.brokerAddr), await progress(follower.brokerAddr)];
      return both.every((r) => r.length === 1 && r[0]?.[2] === want) ? both : undefined;
    }, 5000, `lag ${want} on the master and a follower`).catch(async () => [await progress(master.brokerAddr), await progress(follower.brokerAddr)]);
    t.same(rows, [[['TopicRetryA', 3 - want, want]], [['TopicRetryA', 3 - want, want]]], why);
  };
  await lagEverywhere(3, 'received, none acked: consumer offset 0, lag 3');
  const byBody = new Map(first.map((m: any) => [m.body.toString(), m]));
  await consumer.ack(byBody.get('a-0'));
  await consumer.ack(byBody.get('a-2'));
  await lagEverywhere(2, 'offsets 0 and 2 acked, 1 in flight: consumer offset 1, lag 2');
  await consumer.ack(byBody.get('a-1'));
  await lagEverywhere(0, 'all acked: consumer offset 3, lag 0');

  // A remoting consumer of CG_mix could not process a-1 and b-0: it sends them back (1 s delay).
  const physicalOf = (topic: string, offset: number): number => decodeMessage(master.commitLog.readMessages(topic, 0, offset, 1, 1 << 20)[0] as Uint8Array).physicalOffset;
  for (const [topic, offset] of [['TopicRetryA', 1], ['TopicRetryB', 0]] as const) {
    const back = await cluster.call(master.brokerAddr, RequestCode.CONSUMER_SEND_MSG_BACK, { offset: physicalOf(topic, offset), group: 'CG_mix', delayLevel: 1, originTopic: topic, maxReconsumeTimes: 16 });
    t.equal(back.code, ResponseCode.SUCCESS, `${topic}:${offset} sent back`);
  }
  const retried = await receive(1, 1000, 8000);
  t.same(retried.map((m: any) => m.body.toString()), ['a-1'], "the sent-back a-1 comes through the topic's receive (b-0 of the other topic does not)");
  const r = retried[0];
  t.equal(r.topic, 'TopicRetryA', 'shown as its original topic');
  t.equal(r.deliveryAttempt, 2, 'delivery attempt 2 (RECONSUMETIMES 1 + this delivery)');
  t.match(String(r.receiptHandle), /^%RETRY%CG_mix /, 'its handle names the retry topic it lives in');
  // Not acked: back after its invisible time (1 s) as attempt 3.
  const again = await receive(1, 1000, 6000);
  t.same(again.map((m: any) => [m.body.toString(), m.deliveryAttempt]), [['a-1', 3]], 'unacked, it comes back as attempt 3');
  // grpcConsumerMaxAttempts=3: the next due time moves it to %DLQ%CG_mix instead.
  const deadline = Date.now() + 6000;
  const extra: any[] = [];
  while (Date.now() < deadline && master.commitLog.state.maxOffset('%DLQ%CG_mix', 0) === 0) extra.push(...await consumer.receive(16, 1000));
  t.same(extra.map((m: any) => m.body.toString()), [], 'not delivered a 4th time');
  t.equal(master.commitLog.state.maxOffset('%DLQ%CG_mix', 0), 1, 'moved to %DLQ%CG_mix after 3 deliveries');
  const dlq = decodeMessage(master.commitLog.readMessages('%DLQ%CG_mix', 0, 0, 1, 1 << 20)[0] as Uint8Array);
  t.equal(Buffer.from(dlq.body).toString(), 'a-1', 'the DLQ holds it');

  // The other topic's receive of the same group gets b-0, and its ack with a %RETRY%CG_mix handle is OK.
  const other = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: 'CG_mix', subscriptions: new Map([['TopicRetryB', '*']]), awaitDuration: 1500, logger: silentLogger });
  await other.startup();
  closers.push(() => other.shutdown());
  const b: any[] = [];
  const until = Date.now() + 6000;
  while (b.length < 2 && Date.now() < until) b.push(...await other.receive(16, 5000));
  t.same(b.map((m: any) => m.body.toString()).sort(), ['b-0', 'b-0'], "TopicRetryB's receive gets b-0 from the topic and its retry from %RETRY%CG_mix");
  t.same(b.map((m: any) => m.deliveryAttempt).sort(), [1, 2], 'attempts 1 (never consumed by this group over POP) and 2 (sent back once)');
  for (const m of b) await other.ack(m);
  t.same(await other.receive(16, 1000), [], 'acked: nothing more');
  t.equal(master.popState.inflightOf('CG_mix'), 0, 'nothing of CG_mix in flight');
  for (const close of closers.splice(0).reverse()) await close();
});
