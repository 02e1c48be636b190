// Goal: the real ali-ons client (npm, reference §4) produces to and consumes from our broker
// group exactly as it would from RocketMQ: a Producer sends messages with tags and keys to the
// master and gets its msgIds; a CLUSTERING Consumer (CONSUME_FROM_FIRST_OFFSET) heartbeats,
// finds itself in the consumer list, pulls (long polling), decodes our stored messages and
// receives exactly the bodies sent; its offset commits reach every member through the log. A
// message the handler asks to retry (Consumer.ACTION_RETRY: ali-ons sends it back with delayLevel
// 0) comes back through %RETRY%<group> after its delay level (3 + reconsumeTimes), once; a message
// sent with Message.delayTimeLevel is consumed only after that level's delay.
// Method: in-process name server + 3 brokers on OS-assigned ports (broker-harness.ts, delay levels
// shortened to 1 s); ali-ons with nameSrv set and short loop intervals; bounded waits.
import t, { type Test } from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { awaitDeliveries, closeAll, consumeInto, ons, produce, SHORT_INTERVALS_MS, unexpectedErrors, type AliClient, type AliMessage } from '../quickstart/ali-ons-client.js';
import { startCluster, type Cluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicTest';
const COUNT = 200;

async function createTopic(t: Test, cluster: Cluster, topic: string): Promise<void> {
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr || null, 5000, 'the master registered as 0');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(created.code, ResponseCode.SUCCESS);
  await until(() => cluster.namesrv.routeInfo.topicRoute(topic), 5000, 'the topic route');
}

/** A group with 1 s delay levels and the topic created; closed (with the clients) in teardown. */
async function clusterWithTopic(t: Test, topic: string): Promise<{ cluster: Cluster; clients: AliClient[] }> {
  const cluster = await startCluster({ messageDelayLevel: '1s 1s 1s 1s' });
  const clients: AliClient[] = [];
  t.teardown(async () => {
    await closeAll(clients);
    await cluster.close();
  });
  await createTopic(t, cluster, topic);
  return { cluster, clients };
}

t.test('ali-ons Producer and Consumer against the broker group', async (t) => {
  const { cluster, clients } = await clusterWithTopic(t, TOPIC);

  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_alions', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const sent = await produce(producer, TOPIC, 'body', COUNT);
  const msgIds = new Set([...sent.values()].map((r) => r.msgId));
  t.equal(msgIds.size, COUNT, `${COUNT} sends acknowledged with distinct msgIds`);

  const received: AliMessage[] = [];
  const consumer = new ons.Consumer({ nameSrv: cluster.namesrvAddr, httpclient: {}, consumerGroup: 'CG_alions', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS });
  clients.push(consumer);
  consumer.on('error', (error) => errors.push(error));
  consumer.subscribe(TOPIC, '*', async (message) => {
    received.push(message);
  });
  await consumer.ready();
  await until(() => new Set(received.map((m) => m.body.toString())).size >= COUNT || null, 30_000, `the consumer to receive ${COUNT} messages (has ${received.length})`);
  const bodies = received.map((m) => m.body.toString());
  t.same(new Set(bodies), new Set(sent.keys()), 'exactly the bodies sent');
  t.equal(bodies.length, COUNT, 'each once');
  const sample = received.find((m) => m.body.toString() === 'body-3')!;
  t.equal(sample.tags, 'TagB', 'tags survive');
  t.equal(sample.keys, 'key-body-3', 'keys survive');
  t.ok(msgIds.has(sample.msgId), 'the consumer computes the msgId the producer was given');

  await until(() => cluster.brokers.every((b) => [0, 1, 2, 3].reduce((sum, q) => sum + (b.commitLog.state.consumerOffset('CG_alions', TOPIC, q) ?? 0), 0) === COUNT) || null, 10_000, 'the consumer offsets on every member');
  t.pass('ali-ons offset commits reached every member through the log');
  await closeAll(clients);
  clients.length = 0;
  t.same(unexpectedErrors(errors), [], 'no client errors');
});

t.test('ali-ons ACTION_RETRY: the message comes back through the retry topic after its delay', async (t) => {
  const { cluster, clients } = await clusterWithTopic(t, 'TopicRetry');
  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_retry', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const sent = await produce(producer, 'TopicRetry', 'retry', 10);

  const deliveries: Array<{ body: string; reconsumeTimes: number; topic: string; atMs: number }> = [];
  const consumer = new ons.Consumer({ nameSrv: cluster.namesrvAddr, httpclient: {}, consumerGroup: 'CG_retry', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS });
  clients.push(consumer);
  consumer.on('error', (error) => errors.push(error));
  const actionRetry = (ons.Consumer as unknown as { ACTION_RETRY: symbol }).ACTION_RETRY;
  consumer.subscribe('TopicRetry', '*', async (message) => {
    const body = message.body.toString();
    deliveries.push({ body, reconsumeTimes: (message as unknown as { reconsumeTimes: number }).reconsumeTimes, topic: message.topic, atMs: Date.now() });
    // retry-3 fails once; everything else is consumed.
    if (body === 'retry-3' && deliveries.filter((d) => d.body === body).length === 1) return actionRetry as unknown as void;
  });
  await consumer.ready();
  const deliveredAll = new Map<string, number>();
  await until(() => deliveries.filter((d) => d.body === 'retry-3').length >= 2 || null, 20_000, 'the retried message to come back');
  for (const d of deliveries) deliveredAll.set(d.body, (deliveredAll.get(d.body) ?? 0) + 1);
  t.same(await awaitDeliveries(deliveredAll, sent.keys(), 1), [], 'every message delivered');
  const [first, again] = deliveries.filter((d) => d.body === 'retry-3');
  t.equal(first!.reconsumeTimes, 0);
  t.equal(again!.reconsumeTimes, 1, 'redelivered with reconsumeTimes 1');
  t.equal(again!.topic, 'TopicRetry', 'ali-ons restores the original topic (RETRY_TOPIC)');
  const waitedMs = again!.atMs - first!.atMs;
  t.ok(waitedMs >= 1000, `after the delay of level 3 (1 s here): ${waitedMs} ms`);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // another delay period: no third delivery
  t.equal(deliveries.filter((d) => d.body === 'retry-3').length, 2, 'retried once');
  t.equal(deliveries.length, 11, '10 messages + 1 retry');
  await closeAll(clients);
  clients.length = 0;
  t.same(unexpectedErrors(errors), [], 'no client errors');
});

t.test('ali-ons Message.delayTimeLevel: consumed only after its level delay', async (t) => {
  const { cluster, clients } = await clusterWithTopic(t, 'TopicDelayed');
  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_delay', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const deliveries = new Map<string, number>();
  const consumer = consumeInto({ nameSrv: cluster.namesrvAddr, consumerGroup: 'CG_delay' }, 'TopicDelayed', deliveries, errors);
  clients.push(consumer);
  await consumer.ready();
  const message = new ons.Message('TopicDelayed', 'TagA', 'later');
  (message as unknown as { delayTimeLevel: number }).delayTimeLevel = 2; // levels are 1 s each here
  const sentAt = Date.now();
  t.equal((await producer.send(message)).sendStatus, 'SEND_OK');
  t.same(await awaitDeliveries(deliveries, ['later'], 500), ['later'], 'not delivered within 0.5 s');
  t.same(await awaitDeliveries(deliveries, ['later'], 10_000), [], 'delivered after its delay');
  const waitedMs = Date.now() - sentAt;
  t.ok(waitedMs >= 1000, `consumed ${waitedMs} ms after the send (level 2 = 1 s)`);
  t.equal(deliveries.get('later'), 1, 'once');
  await closeAll(clients);
  clients.length = 0;
  t.same(unexpectedErrors(errors), [], 'no client errors');
});
