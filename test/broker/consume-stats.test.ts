// Goal: GET_CONSUME_STATS answers what RocketMQ's mqadmin consumerProgress reads: per queue of the
// group's topics the broker offset, the committed offset (0 where none) and the store time of the
// last consumed message, the same on a follower as on the master (replicated state); a body in
// fastjson's form (MessageQueue objects as map keys, as Java writes it) parses back.
// Method: in-process name server + 3 brokers (broker-harness.ts); sends and an offset commit as
// ali-ons makes them; AdminClient.consumeStats against the master and a follower.
import t from 'tap';
import { AdminClient, parseConsumeStats } from '../../src/admin/admin-client.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from './broker-harness.js';
import { until as untilAsync } from '../cluster/helpers.js';
import { until } from './group-harness.js';

t.test('a recorded Java ConsumeStats body parses', async (t) => {
  const java = '{"consumeTps":1.5,"offsetTable":{{"brokerName":"RaftNode00","queueId":0,"topic":"TopicTest"}:{"brokerOffset":12,"consumerOffset":10,"lastTimestamp":1700000000000},{"brokerName":"RaftNode00","queueId":1,"topic":"%RETRY%CG"}:{"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0}}}';
  t.same(parseConsumeStats(java).queues, [
    { topic: 'TopicTest', brokerName: 'RaftNode00', queueId: 0, brokerOffset: 12, consumerOffset: 10, lastTimestamp: 1700000000000 },
    { topic: '%RETRY%CG', brokerName: 'RaftNode00', queueId: 1, brokerOffset: 0, consumerOffset: 0, lastTimestamp: 0 },
  ]);
  t.equal(parseConsumeStats(java).consumeTps, 1.5);
  t.same(parseConsumeStats('{"consumeTps":0.0,"offsetTable":{}}'), { consumeTps: 0, queues: [] });
  t.throws(() => parseConsumeStats('{"offsetTable":{'), /malformed/);
});

t.test('GET_CONSUME_STATS on the master and a follower', async (t) => {
  const cluster = await startCluster();
  const admin = new AdminClient([cluster.namesrvAddr]);
  t.teardown(async () => {
    admin.close();
    await cluster.close();
  });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  const follower = cluster.brokers.find((b) => b !== master)!;
  for (const topic of ['TopicA', 'TopicB']) {
    t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG' })).code, ResponseCode.SUCCESS);
  }
  const before = Date.now();
  for (let i = 0; i < 5; i++) {
    const sent = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: 'TopicA', c: 'TBW102', d: 4, e: 1, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'T']]), j: 0, k: false }, Buffer.from(`m${i}`));
    t.equal(sent.code, ResponseCode.SUCCESS);
  }
  const after = Date.now();
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'CG', topic: 'TopicA', queueId: 1, commitOffset: 3 })).code, ResponseCode.SUCCESS);
  // The follower applies the commit through the log.
  await until(() => follower.commitLog.state.consumerOffset('CG', 'TopicA', 1) === 3 || null, 5000, 'the commit on the follower');
  for (const broker of [master, follower]) {
    const { queues: stats } = await admin.consumeStats(broker.brokerAddr, 'CG', null);
    const byQueue = stats.map((q) => [q.topic, q.brokerName, q.queueId, q.brokerOffset, q.consumerOffset]);
    t.same(byQueue, [['TopicA', 'RaftNode00', 0, 0, 0], ['TopicA', 'RaftNode00', 1, 5, 3]], `${broker === master ? 'master' : 'follower'}: only the topic the group committed on, both queues`);
    const last = stats[1]!.lastTimestamp;
    t.ok(last >= before && last <= after, 'lastTimestamp = store time of the message at offset 2');
    t.equal(stats[0]!.lastTimestamp, 0, 'nothing consumed on queue 0');
  }
  t.same((await admin.consumeStats(master.brokerAddr, 'CG', 'TopicB')).queues.map((q) => q.consumerOffset), [0, 0], 'an asked topic without commits: zeros');
  t.same((await admin.consumeStats(master.brokerAddr, 'CG', 'NoSuchTopic')).queues, [], 'an unknown topic: nothing (as Java)');
  t.same((await admin.consumeStats(master.brokerAddr, 'OtherGroup', null)).queues, [], 'a group without commits: nothing');
  // consumeTps: the group's pulled messages per second over the last 10 complete seconds.
  t.equal((await admin.consumeStats(master.brokerAddr, 'CG', null)).consumeTps, 0, 'nothing pulled yet');
  const pulled = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: 'TopicA', queueId: 1, queueOffset: 0, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 });
  t.equal(pulled.code, ResponseCode.SUCCESS);
  await untilAsync(async () => (await admin.consumeStats(master.brokerAddr, 'CG', null)).consumeTps === 0.5, 3000, 'the pulled second to complete');
  t.pass('5 messages pulled in one second: consumeTps 0.5 over the 10 s window');
});
