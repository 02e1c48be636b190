// Goal: the official RocketMQ 5 Node.js client (rocketmq-client-nodejs 1.0.8, unchanged) produces
// against fast-try's group through the brokers' gRPC endpoints (grpcServerPort). Checked against
// the stored messages, read back over remoting from the master (PULL_MESSAGE): a Producer started
// on a FOLLOWER's endpoint gets the master's endpoint in its route (QueryRoute) and its Telemetry
// settings (its startup waits for them); normal messages are stored with their tag, keys, user
// properties and the client's message id (UNIQ_KEY) at the offsets the receipts name; FIFO
// messages of one message group all land in one queue in send order, the queue Guava's
// consistent hash of the group picks; a message with a delivery timestamp 2.5 s ahead reaches
// its topic no earlier than that; the topic's message.type attribute is enforced (a FIFO message
// to a NORMAL topic is refused by the client from the route's accept types, a NORMAL one to a
// FIFO topic by the broker). On the same group, FIFO consumption (fifo-receive.ts: a FIFO
// consumer group's order per message group with parallel receives, an unacked message blocking its
// group until its invisible time). Runs fast-try for real (3 brokers + name server), ~30-40 s.
import t from 'tap';
import { ResponseCode } from '../../src/remoting/codes.js';
import { parseMessageProperties, type StoredMessage } from '../../src/broker/message-codec.js';
import { queueOfMessageGroup } from '../../src/grpc/queue-selection.js';
import { requireDist } from '../quickstart/helpers.js';
import { rocketmq5, silentLogger } from './client.js';
import { checkFifoReceive } from './fifo-receive.js';
import { startFastTryGroup } from './fast-try-group.js';

t.before(requireDist);

t.test('rocketmq-client-nodejs Producer: normal, FIFO, delay through a follower-routed endpoint', async (t) => {
  const fastTry = await startFastTryGroup(t, 'grpc-producer-', 'grpcMinInvisibleTimeMs=1000');
  const { leaderIndex, followerIndex, grpcPorts, closers, pull } = fastTry;
  const createTopic = async (topic: string, attributes: Record<string, string>): Promise<void> => {
    const answer = await fastTry.createTopic(topic, attributes);
    t.equal(answer.code, ResponseCode.SUCCESS, `topic ${topic} created: ${answer.remark ?? ''}`);
  };
  await createTopic('TopicNormal', {});
  await createTopic('TopicFifo', { 'message.type': 'FIFO' });
  await createTopic('TopicDelay', { 'message.type': 'DELAY' });

  t.comment(`the producer's endpoint is the follower n${followerIndex} (gRPC ${grpcPorts[followerIndex]}); the master is n${leaderIndex}`);
  const producer = new rocketmq5.Producer({ endpoints: `127.0.0.1:${grpcPorts[followerIndex]}`, namespace: '', topics: ['TopicNormal', 'TopicFifo', 'TopicDelay'], logger: silentLogger, requestTimeout: 5000 });
  closers.push(() => producer.shutdown());
  await producer.startup();

  // Normal messages.
  const normal = [];
  for (let i = 0; i < 6; i++) {
    normal.push(await producer.send({ topic: 'TopicNormal', tag: 'TagA', keys: [`key-${i}`], body: Buffer.from(`normal-${i}`), properties: new Map([['color', 'blue']]) }));
  }
  const masterGrpc = `127.0.0.1:${grpcPorts[leaderIndex]}`;
  t.ok(normal.every((r) => r.endpoints.facade.endsWith(`:${grpcPorts[leaderIndex]}`)), `every send went to the master's endpoint (${masterGrpc} port), routed by the follower`);
  const stored: StoredMessage[] = [];
  for (let q = 0; q < 4; q++) stored.push(...await pull('TopicNormal', q));
  t.equal(stored.length, 6, 'six normal messages stored');
  for (const [i, receipt] of normal.entries()) {
    const found = stored.find((m) => parseMessageProperties(m.properties).get('UNIQ_KEY') === receipt.messageId);
    t.ok(found, `normal-${i} stored under its message id ${receipt.messageId}`);
    if (found === undefined) continue;
    const props = parseMessageProperties(found.properties);
    t.equal(Buffer.from(found.body).toString(), `normal-${i}`);
    t.equal(props.get('TAGS'), 'TagA');
    t.equal(props.get('KEYS'), `key-${i}`);
    t.equal(props.get('color'), 'blue', 'user property kept');
    t.equal(found.queueOffset, receipt.offset, 'receipt offset = queue offset');
  }
  t.ok(new Set(stored.map((m) => m.queueId)).size > 1, 'normal messages spread over queues (round-robin)');

  // FIFO: two groups, interleaved sends; each group's messages in one queue, in order.
  for (let i = 0; i < 8; i++) {
    const group = i % 2 === 0 ? 'order-A' : 'order-B';
    await producer.send({ topic: 'TopicFifo', messageGroup: group, body: Buffer.from(`${group}-${Math.floor(i / 2)}`) });
  }
  for (const group of ['order-A', 'order-B']) {
    const queueId = queueOfMessageGroup(group, 4);
    const inQueue = (await pull('TopicFifo', queueId)).filter((m) => parseMessageProperties(m.properties).get('__SHARDINGKEY') === group);
    t.same(inQueue.map((m) => Buffer.from(m.body).toString()), [0, 1, 2, 3].map((n) => `${group}-${n}`), `${group}: 4 messages in queue ${queueId}, in send order`);
  }
  await t.rejects(producer.send({ topic: 'TopicNormal', messageGroup: 'g', body: Buffer.from('x') }), /message type not match/i, 'a FIFO message to a NORMAL topic: refused (the route accepts NORMAL only)');
  const typeClash = await producer.send({ topic: 'TopicFifo', body: Buffer.from('x') }).then(() => 'sent', (error: Error) => error.message);
  t.match(typeClash, /message type not match|MESSAGE_PROPERTY_CONFLICT_WITH_TYPE|accepts FIFO/i, 'a NORMAL message to a FIFO topic: refused');

  // Delay by delivery timestamp.
  const sentAt = Date.now();
  const deliverAt = new Date(sentAt + 2500);
  const delayed = await producer.send({ topic: 'TopicDelay', body: Buffer.from('later'), deliveryTimestamp: deliverAt });
  const findDelayed = async (): Promise<StoredMessage | undefined> => {
    for (let q = 0; q < 4; q++) {
      const hit = (await pull('TopicDelay', q)).find((m) => parseMessageProperties(m.properties).get('UNIQ_KEY') === delayed.messageId);
      if (hit !== undefined) return hit;
    }
    return undefined;
  };
  t.equal(await findDelayed(), undefined, 'not in its topic right after the send');
  let arrived: StoredMessage | undefined;
  const deadline = Date.now() + 15_000;
  while (arrived === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    arrived = await findDelayed();
  }
  t.ok(arrived, 'the delayed message reached its topic');
  if (arrived !== undefined) {
    t.ok(arrived.storeTimestampMs >= deliverAt.getTime(), `stored in its topic ${arrived.storeTimestampMs - deliverAt.getTime()} ms after its delivery timestamp (not before)`);
    t.ok(arrived.storeTimestampMs - deliverAt.getTime() < 2000, 'and within 2 s of it (the 5 s level would be 2.5 s late)');
  }
  await t.test('FIFO consumption (a consumeMessageOrderly group)', (t) => checkFifoReceive(t, fastTry, producer));

  // The client before the brokers: its Telemetry streams re-open 1 s after their server goes away.
  await producer.shutdown();
  closers.length = 0;
  const stop = await fastTry.stop();
  t.equal(stop.code, 0, stop.stdout + stop.stderr);
});

// 1.0.8's FifoConsumeService opens egg-logger's default file logger in a private field
// (shutdownPushConsumer cannot close it), whose flush interval keeps the process alive: once every
// test here has ended and reported, stop.
t.teardown(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
