// Goal: server-side tag filtering on pull as RocketMQ's ExpressionMessageFilter does it
// (issue 12 item 1): a real ali-ons consumer subscribing to "TagA" on a topic with mixed tags
// gets exactly the TagA messages, and the brokers transfer only those (msgGetTotalTodayNow: the
// others are skipped by their consume-queue tag hash, never read or sent); "TagB || TagC" gets
// both; untagged messages match no tag subscription. Raw pulls pin the edges: "TagA || *" is TagA
// and a tag named "*" (Java subscribes to all only for exactly "*"), maxMsgNums counts matching
// messages only and nextBeginOffset stops after the last one taken, a pull where nothing matches
// answers PULL_RETRY_IMMEDIATELY with nextBeginOffset past the units scanned, and an SQL92
// expressionType is refused with RocketMQ's remark.
// Method: in-process name server + 3 brokers (broker-harness.ts), ali-ons with short intervals,
// 160 messages (TagA, TagB, TagC, untagged, TagD in turn); bounded waits.
import t from 'tap';
import { decodeMessages, parseMessageProperties } from '../../src/broker/message-codec.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { closeAll, ons, SHORT_INTERVALS_MS, type AliClient, type AliMessage } from '../quickstart/ali-ons-client.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicTags';
const COUNT = 160;
// An odd cycle over 2 queues: each queue holds every tag.
const TAGS = ['TagA', 'TagB', 'TagC', '', 'TagD'] as const;
const SUBSCRIPTION_FLAG = 4;

t.test('tag filtering on pull: ali-ons consumers of one tag, and the pull edges', async (t) => {
  const cluster = await startCluster();
  const clients: AliClient[] = [];
  t.teardown(async () => {
    await closeAll(clients);
    await cluster.close();
  });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr || null, 5000, 'the master registered as 0');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(created.code, ResponseCode.SUCCESS);
  await until(() => cluster.namesrv.routeInfo.topicRoute(TOPIC), 5000, 'the topic route');

  const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_tags', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', () => undefined);
  const tagOf = new Map<string, string>();
  for (let i = 0; i < COUNT; i++) {
    const tag = TAGS[i % TAGS.length] as string;
    const body = `m-${i}`;
    const result = await producer.send(new ons.Message(TOPIC, tag, body));
    t.equal(result.sendStatus, 'SEND_OK', body, { diagnostic: false });
    tagOf.set(body, tag);
  }
  const bodiesWith = (...tags: string[]): string[] => [...tagOf].filter(([, tag]) => tags.includes(tag)).map(([body]) => body).sort();

  const pulledTotal = async (): Promise<number> => {
    let sum = 0;
    for (const broker of cluster.brokers) {
      const info = await cluster.call(broker.brokerAddr, RequestCode.GET_BROKER_RUNTIME_INFO);
      sum += Number((JSON.parse(info.body?.toString() ?? '{}') as { table: Record<string, string> }).table['msgGetTotalTodayNow']);
    }
    return sum;
  };
  const consume = async (group: string, expression: string, expected: readonly string[]): Promise<AliMessage[]> => {
    const received: AliMessage[] = [];
    const consumer = new ons.Consumer({ nameSrv: cluster.namesrvAddr, httpclient: {}, consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS });
    clients.push(consumer);
    consumer.on('error', () => undefined);
    consumer.subscribe(TOPIC, expression, async (m) => {
      received.push(m);
    });
    await consumer.ready();
    await until(() => received.length >= expected.length || null, 30_000, `${group} to receive ${expected.length} messages (has ${received.length})`);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // time for anything else to arrive
    await consumer.close();
    return received;
  };

  const pulledBefore = await pulledTotal();
  const tagA = await consume('CG_tagA', 'TagA', bodiesWith('TagA'));
  t.same(tagA.map((m) => m.body.toString()).sort(), bodiesWith('TagA'), `"TagA": exactly the ${bodiesWith('TagA').length} TagA messages`);
  t.ok(tagA.every((m) => m.tags === 'TagA'));
  t.equal(await pulledTotal() - pulledBefore, bodiesWith('TagA').length, 'the brokers transferred only the TagA messages (the rest skipped by tag hash code on the server)');

  const pulledBefore2 = await pulledTotal();
  const tagBC = await consume('CG_tagBC', 'TagB || TagC', bodiesWith('TagB', 'TagC'));
  t.same(tagBC.map((m) => m.body.toString()).sort(), bodiesWith('TagB', 'TagC'), '"TagB || TagC": both tags, no untagged message');
  t.equal(await pulledTotal() - pulledBefore2, bodiesWith('TagB', 'TagC').length, 'and only those transferred');

  // Raw pulls to the master: queue 0's units as [offset, tag].
  const pull = async (queueOffset: number, subscription: string, maxMsgNums = 32, extra: Record<string, string> = {}) => {
    const response = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG_raw', topic: TOPIC, queueId: 0, queueOffset, maxMsgNums, sysFlag: SUBSCRIPTION_FLAG, commitOffset: 0, suspendTimeoutMillis: 0, subscription, subVersion: 0, ...extra });
    const messages = response.body === null ? [] : decodeMessages(response.body).map((m) => [m.queueOffset, parseMessageProperties(m.properties).get('TAGS') ?? ''] as const);
    return { code: response.code, remark: response.remark, next: Number(response.extFields['nextBeginOffset']), messages };
  };
  const all: Array<readonly [number, string]> = [];
  for (let offset = 0; ;) {
    const page = await pull(offset, '*');
    if (page.code !== ResponseCode.SUCCESS) break;
    all.push(...page.messages);
    offset = page.next;
  }
  t.equal(all.length, master.commitLog.state.maxOffset(TOPIC, 0), '"*": every message of queue 0');
  const starred = await pull(0, 'TagA || *');
  t.same(starred.messages, all.filter(([, tag]) => tag === 'TagA').slice(0, 32), '"TagA || *": only TagA (a tag named "*", not all)');
  t.ok(starred.messages.length > 0);
  const two = await pull(0, 'TagA', 2);
  const tagAOffsets = all.filter(([, tag]) => tag === 'TagA').map(([offset]) => offset);
  t.same(two.messages.map(([offset]) => offset), tagAOffsets.slice(0, 2), 'maxMsgNums 2: the first two TagA messages, the others skipped');
  t.equal(two.next, (tagAOffsets[1] as number) + 1, 'nextBeginOffset: right after the last message taken');
  const none = await pull(0, 'NoSuchTag');
  t.equal(none.code, ResponseCode.PULL_RETRY_IMMEDIATELY, 'nothing matched: PULL_RETRY_IMMEDIATELY');
  t.equal(none.remark, 'NO_MATCHED_MESSAGE');
  t.equal(none.next, all.length, 'nextBeginOffset past every unit scanned (here the queue end)');
  t.equal((await pull(none.next, 'NoSuchTag')).code, ResponseCode.PULL_NOT_FOUND, 'from there: PULL_NOT_FOUND');
  const sql = await pull(0, 'a > 1', 32, { expressionType: 'SQL92' });
  t.equal(sql.code, ResponseCode.SYSTEM_ERROR);
  t.equal(sql.remark, 'The broker does not support consumer to filter message by SQL92', 'SQL92 refused with RocketMQ\'s remark');
  t.equal((await pull(0, 'TagA', 32, { expressionType: 'TAG' })).code, ResponseCode.SUCCESS, 'expressionType TAG accepted');
});
