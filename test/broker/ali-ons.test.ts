// Goal: the real ali-ons client (npm, reference §4) produces to and consumes from our broker
// group exactly as it would from RocketMQ: a Producer sends messages with tags and keys to the
// master and gets its msgIds; a CLUSTERING Consumer (CONSUME_FROM_FIRST_OFFSET) heartbeats,
// finds itself in the consumer list, pulls (long polling), decodes our stored messages and
// receives exactly the bodies sent; its offset commits reach every member through the log.
// Method: in-process name server + 3 brokers on OS-assigned ports (broker-harness.ts); ali-ons
// with nameSrv set and short loop intervals; bounded waits.
import { createRequire } from 'node:module';
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

interface AliMessage { topic: string; tags: string; keys: string; body: Buffer; msgId: string; queueOffset: number; properties: Record<string, string> }
interface AliClient {
  on(event: 'error', listener: (error: Error) => void): void;
  ready(): Promise<void>;
  close(): Promise<void>;
}
interface AliProducer extends AliClient { send(message: AliMessage): Promise<{ sendStatus: string; msgId: string; messageQueue: { queueId: number }; queueOffset: number }> }
interface AliConsumer extends AliClient { subscribe(topic: string, expression: string, handler: (message: AliMessage) => Promise<void>): void }
const require = createRequire(import.meta.url);
const ons = require('ali-ons') as {
  Producer: (new (options: Record<string, unknown>) => AliProducer) & { defaultProducer?: AliProducer };
  Consumer: new (options: Record<string, unknown>) => AliConsumer;
  Message: new (topic: string, tags: string, body: string) => AliMessage;
};

const TOPIC = 'TopicTest';
const COUNT = 200;

t.test('ali-ons Producer and Consumer against the broker group', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr || null, 5000, 'the master registered as 0');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(created.code, ResponseCode.SUCCESS);
  await until(() => cluster.namesrv.routeInfo.topicRoute(TOPIC), 5000, 'the topic route');

  const intervalsMs = { pollNameServerInteval: 500, heartbeatBrokerInterval: 500, persistConsumerOffsetInterval: 300, rebalanceInterval: 300 };
  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_alions', ...intervalsMs });
  producer.on('error', (error) => errors.push(error));
  await producer.ready();
  const sentBodies = new Set<string>();
  const msgIds = new Set<string>();
  for (let i = 0; i < COUNT; i++) {
    const message = new ons.Message(TOPIC, i % 2 === 0 ? 'TagA' : 'TagB', `body-${i}`);
    message.keys = [`key-${i}`] as unknown as string;
    const result = await producer.send(message);
    if (result.sendStatus !== 'SEND_OK') return t.fail(`send ${i}: ${JSON.stringify(result)}`);
    sentBodies.add(`body-${i}`);
    msgIds.add(result.msgId);
  }
  t.equal(msgIds.size, COUNT, `${COUNT} sends acknowledged with distinct msgIds`);

  const consumer = new ons.Consumer({ nameSrv: cluster.namesrvAddr, httpclient: {}, consumerGroup: 'CG_alions', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...intervalsMs });
  consumer.on('error', (error) => errors.push(error));
  const received: AliMessage[] = [];
  consumer.subscribe(TOPIC, '*', async (message) => {
    received.push(message);
  });
  await consumer.ready();
  await until(() => new Set(received.map((m) => m.body.toString())).size >= COUNT || null, 30_000, `the consumer to receive ${COUNT} messages (has ${received.length})`);
  const bodies = received.map((m) => m.body.toString());
  t.same(new Set(bodies), sentBodies, 'exactly the bodies sent');
  t.equal(bodies.length, COUNT, 'each once');
  const sample = received.find((m) => m.body.toString() === 'body-3')!;
  t.equal(sample.tags, 'TagB', 'tags survive');
  t.equal(sample.keys, 'key-3', 'keys survive');
  t.ok(msgIds.has(sample.msgId), 'the consumer computes the msgId the producer was given');

  await until(() => cluster.brokers.every((b) => [0, 1, 2, 3].reduce((sum, q) => sum + (b.commitLog.state.consumerOffset('CG_alions', TOPIC, q) ?? 0), 0) === COUNT) || null, 10_000, 'the consumer offsets on every member');
  t.pass('ali-ons offset commits reached every member through the log');
  await consumer.close();
  await producer.close();
  // The consumer's hidden inner producer (its own MQClient, ip@DEFAULT) keeps timers alive until closed.
  await ons.Producer.defaultProducer?.close();
  const unexpected = errors.filter((e) => !/%RETRY%/.test(e.message));
  t.same(unexpected.map((e) => e.message), [], 'no client errors');
});
