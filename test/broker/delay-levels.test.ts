// Goal: delay levels as RocketMQ has them (messageDelayLevel, SCHEDULE_TOPIC_XXXX): a message sent
// with a DELAY level reaches its topic only after that level's delay (clamped to the last level),
// carrying REAL_TOPIC / REAL_QID and no DELAY; producers cannot write SCHEDULE_TOPIC_XXXX; a bad
// messageDelayLevel is a config error naming the key; and the schedule's progress survives a
// failover: a message delivered before the master dies is not delivered again, one due after it
// is delivered once by the new master.
// Method: in-process name server + 3 brokers (broker-harness.ts) with messageDelayLevel
// "1s 2s 3s"; sends as ali-ons makes them; the master closed to fail over; bounded waits.
import t from 'tap';
import { buildBrokerConfig } from '../../src/broker/config.js';
import { decodeMessages, formatMessageProperties, parseMessageProperties } from '../../src/broker/message-codec.js';
import { parseDelayLevels, SCHEDULE_OFFSET_GROUP, SCHEDULE_TOPIC } from '../../src/broker/schedule/delay-levels.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { until as untilAsync } from '../cluster/helpers.js';
import { startCluster, type Cluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicDelay';

t.test('messageDelayLevel parsing and validation', async (t) => {
  t.same(parseDelayLevels('1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h').slice(-3), [1_800_000, 3_600_000, 7_200_000], "RocketMQ's default");
  t.same(parseDelayLevels(' 2s  1d '), [2000, 86_400_000]);
  for (const bad of ['', '1x', '0s', '1.5s', 's']) t.throws(() => parseDelayLevels(bad), /./, JSON.stringify(bad));
  t.throws(() => buildBrokerConfig({ namesrvAddr: '127.0.0.1:9876', enableDLegerCommitLog: 'true', dLegerPeers: 'n0-127.0.0.1:40911', dLegerSelfId: 'n0', storePathRootDir: '/tmp/x', brokerIP1: '127.0.0.1', messageDelayLevel: '1s 5q' }), /messageDelayLevel.*"5q"/);
});

function send(cluster: Cluster, addr: string, body: string, queueId: number, delayLevel: number) {
  const properties = formatMessageProperties([['TAGS', 'T'], ['DELAY', String(delayLevel)]]);
  return cluster.call(addr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC, c: 'TBW102', d: 4, e: queueId, f: 0, g: Date.now(), h: 0, i: properties, j: 0, k: false }, Buffer.from(body));
}

/** Bodies in the topic's queue, in order (from the given member's replicated queue). */
async function bodiesIn(cluster: Cluster, addr: string, queueId: number): Promise<string[]> {
  const pull = await cluster.call(addr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: TOPIC, queueId, queueOffset: 0, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 });
  return pull.code === ResponseCode.SUCCESS ? decodeMessages(pull.body!).map((m) => m.body.toString()) : [];
}

t.test('DELAY messages wait their level, then reach their topic; progress survives a failover', async (t) => {
  const cluster = await startCluster({ messageDelayLevel: '1s 2s 3s' });
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG' })).code, ResponseCode.SUCCESS);
  const forbidden = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: SCHEDULE_TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, Buffer.from('x'));
  t.equal(forbidden.code, ResponseCode.NO_PERMISSION, 'producers cannot write the schedule topic');

  const sentAt = Date.now();
  const sent = await send(cluster, master.brokerAddr, 'two seconds', 1, 2);
  t.equal(sent.code, ResponseCode.SUCCESS);
  t.equal(sent.extFields['queueId'], '1', 'the answer names the queue asked for');
  t.equal(master.commitLog.state.maxOffset(SCHEDULE_TOPIC, 1), 1, 'parked in the schedule queue of level 2');
  t.same(await bodiesIn(cluster, master.brokerAddr, 1), [], 'not in its topic yet');
  await untilAsync(async () => (await bodiesIn(cluster, master.brokerAddr, 1)).length > 0, 6000, 'delivery');
  const waitedMs = Date.now() - sentAt;
  t.ok(waitedMs >= 2000 && waitedMs < 5000, `delivered after its 2 s level (${waitedMs} ms)`);
  const pulled = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: TOPIC, queueId: 1, queueOffset: 0, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 });
  const [delivered] = decodeMessages(pulled.body!);
  const properties = parseMessageProperties(delivered!.properties);
  t.equal(delivered!.body.toString(), 'two seconds');
  t.equal(properties.get('REAL_TOPIC'), TOPIC);
  t.equal(properties.get('REAL_QID'), '1');
  t.notOk(properties.has('DELAY'), 'DELAY removed');
  t.equal(properties.get('TAGS'), 'T', 'other properties kept');

  t.equal((await send(cluster, master.brokerAddr, 'clamped', 2, 99)).code, ResponseCode.SUCCESS);
  t.equal(master.commitLog.state.maxOffset(SCHEDULE_TOPIC, 2), 1, 'level 99 is clamped to the last level (3)');

  // Failover: "before" is delivered by the old master; "after" is due once the old master is gone.
  t.equal((await send(cluster, master.brokerAddr, 'before', 0, 1)).code, ResponseCode.SUCCESS);
  await untilAsync(async () => (await bodiesIn(cluster, master.brokerAddr, 0)).includes('before'), 5000, 'the first delivery');
  t.equal((await send(cluster, master.brokerAddr, 'after', 0, 2)).code, ResponseCode.SUCCESS);
  await master.close();
  const next = await until(() => cluster.master(), 15_000, 'a new master');
  t.not(next, master, 'another member leads');
  await untilAsync(async () => (await bodiesIn(cluster, next.brokerAddr, 0)).includes('after'), 8000, 'the delivery by the new master');
  const clampedDone = await untilAsync(async () => (await bodiesIn(cluster, next.brokerAddr, 2)).length > 0, 8000, 'the clamped message');
  t.ok(clampedDone);
  await new Promise((resolve) => setTimeout(resolve, 500)); // a few more schedule ticks: nothing else may appear
  t.same(await bodiesIn(cluster, next.brokerAddr, 0), ['before', 'after'], 'each delivered once across the failover');
  t.same(await bodiesIn(cluster, next.brokerAddr, 1), ['two seconds'], 'no earlier delivery repeated');
  t.same([0, 1, 2].map((q) => next.commitLog.state.consumerOffset(SCHEDULE_OFFSET_GROUP, SCHEDULE_TOPIC, q)), [1, 2, 1], 'the schedule progress (per level: 1, 2 and 1 delivered) is replicated state');
});
