// Goal: what any client that reaches the broker can make it keep or send is bounded (issue 11):
// topic attributes <= topicAttributesMaxBytes (4 KiB), so REGISTER_BROKER bodies keep fitting and
// the group stays in the routes; offsets are stored only for existing topics and queue ids (the
// answers RocketMQ 5 gives: TOPIC_NOT_EXIST "Topic X not exist!", SYSTEM_ERROR "QueueId N is out
// of range, topic is X"); %RETRY% topics are created only for groups whose heartbeat subscribes
// to an existing topic, and at most autoCreateRetryTopicsMax of them; topicsMax,
// consumerOffsetEntriesMax and the consumer table bound what the replicated and local state hold;
// a pull's answer is bounded by maxTransferBytesOnMessageInMemory / maxTransferCountOnMessageInMemory
// whatever maxMsgBytes / maxMsgNums ask. Every refusal is counted (Broker.refusals).
// Method: one in-process group behind a name server (broker-harness.ts, real TCP), requests as
// ali-ons sends them; small bounds set through the broker conf where the defaults are large.
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const MIB = 1024 * 1024;
const TOPIC = 'BoundsTopic';

function heartbeat(clientId: string, groups: ReadonlyArray<{ group: string; topics: readonly string[] }>): Buffer {
  return Buffer.from(JSON.stringify({
    clientID: clientId,
    consumerDataSet: groups.map(({ group, topics }) => ({
      groupName: group, consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', unitMode: false,
      subscriptionDataSet: topics.map((topic) => ({ classFilterMode: false, codeSet: [], subString: '*', subVersion: Date.now(), tagsSet: [], topic })),
    })),
    producerDataSet: [{ groupName: 'PG-only' }],
  }));
}

t.test('broker state bounds', async (t) => {
  const cluster = await startCluster({
    maxMessageSize: String(8 * MIB),
    mappedFileSizeCommitLog: String(64 * MIB),
    topicsMax: '40',
    autoCreateRetryTopicsMax: '5',
    consumerOffsetEntriesMax: '6',
    consumerGroupsMax: '20',
    consumerSubscriptionsMax: '50',
  });
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.slice(-40).join('\n')); });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  const topicsAt = (): string[] => [...master.commitLog.state.topicConfigs().keys()].sort();
  const createTopic = (topic: string, extra: Record<string, string | number | boolean> = {}) =>
    cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, ...extra });
  t.equal((await createTopic(TOPIC)).code, ResponseCode.SUCCESS);

  await t.test('topic attributes over 4 KiB: refused, nothing stored, registration keeps fitting', async (t) => {
    const big = JSON.stringify({ '+junk': 'x'.repeat(4 * 1000 * 1000) });
    for (let i = 0; i < 5; i++) {
      const answer = await createTopic(`Attr${i}`, { attributes: big });
      t.not(answer.code, ResponseCode.SUCCESS, `4 MB attributes refused (${answer.code} ${answer.remark?.slice(0, 120)})`);
      if (i === 0) t.match(answer.remark, `attributes of ${Buffer.byteLength(big)} bytes exceed topicAttributesMaxBytes=4096`);
    }
    t.notOk(topicsAt().some((name) => name.startsWith('Attr')), 'no such topic stored');
    t.equal(master.refusals.count('topicAttributesMaxBytes'), 5, 'counted');
    const small = await createTopic('AttrSmall', { attributes: JSON.stringify({ '+queue.type': 'BatchCQ' }) });
    t.equal(small.code, ResponseCode.SUCCESS, 'small attributes are fine');
    t.equal((await createTopic('AfterAttr')).code, ResponseCode.SUCCESS);
    await until(() => cluster.namesrv.routeInfo.topicRoute('AfterAttr'), 10_000, 'a topic created afterwards reaches the name server (registration fits)');
    t.pass('registered');
  });

  await t.test('offsets only for existing topics and queue ids', async (t) => {
    const update = (topic: string, queueId: number, group = 'CG-off') => cluster.call(master.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId, commitOffset: 5 });
    const missing = await update('NoSuchTopic', 0);
    t.equal(missing.code, ResponseCode.TOPIC_NOT_EXIST);
    t.equal(missing.remark, 'Topic NoSuchTopic not exist!');
    const outOfRange = await update(TOPIC, 4);
    t.equal(outOfRange.code, ResponseCode.SYSTEM_ERROR);
    t.equal(outOfRange.remark, `QueueId 4 is out of range, topic is ${TOPIC}`);
    const huge = await update(TOPIC, 2_000_000_000);
    t.equal(huge.code, ResponseCode.SYSTEM_ERROR);
    t.equal((await update(TOPIC, 3)).code, ResponseCode.SUCCESS, 'an existing queue is fine');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stored = [...master.commitLog.state.consumerOffsets().keys()];
    t.notOk(stored.some((key) => key.startsWith('NoSuchTopic@')), 'nothing stored for the missing topic');
    t.same([...(master.commitLog.state.consumerOffsets().get(`${TOPIC}@CG-off`)?.keys() ?? [])], [3], 'only queue 3 stored');
    t.equal(master.refusals.count('offsetForMissingTopicOrQueue'), 3, 'counted');

    // consumerOffsetEntriesMax=6 (topic@group entries): one is taken above.
    for (let i = 0; i < 5; i++) t.equal((await update(TOPIC, 0, `CG-fill${i}`)).code, ResponseCode.SUCCESS, `group ${i} stored`);
    await until(() => master.commitLog.state.consumerOffsets().size >= 6 ? true : null, 5000, '6 entries');
    const over = await update(TOPIC, 0, 'CG-one-too-many');
    t.equal(over.code, ResponseCode.SYSTEM_ERROR);
    t.match(over.remark, 'consumerOffsetEntriesMax=6');
    t.equal((await update(TOPIC, 1, 'CG-fill0')).code, ResponseCode.SUCCESS, 'an existing entry may still move');
    t.equal(master.commitLog.state.consumerOffsets().size, 6);
  });

  await t.test('%RETRY% topics only for groups that subscribed, and bounded', async (t) => {
    const before = topicsAt();
    const noSubs = await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat('client-a', [{ group: 'CG-nosub', topics: [] }]));
    t.equal(noSubs.code, ResponseCode.SUCCESS);
    const missingTopic = await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat('client-b', [{ group: 'CG-missing', topics: ['NoSuchTopic'] }]));
    t.equal(missingTopic.code, ResponseCode.SUCCESS);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.same(topicsAt(), before, 'no retry topic for a group without subscriptions, or subscribed only to missing topics (nor for the producer group)');

    const subscribed = await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat('client-c', [{ group: 'CG-real', topics: [TOPIC] }]));
    t.equal(subscribed.code, ResponseCode.SUCCESS);
    await until(() => master.commitLog.state.topicConfig('%RETRY%CG-real'), 5000, 'the retry topic of a subscribed group');

    // A flood naming many subscribed groups: autoCreateRetryTopicsMax=5 (one used above).
    const flood = Array.from({ length: 30 }, (_, i) => ({ group: `CG-flood${i}`, topics: [TOPIC] }));
    for (let i = 0; i < flood.length; i += 10) {
      await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat(`client-flood${i}`, flood.slice(i, i + 10)));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const retryTopics = topicsAt().filter((name) => name.startsWith('%RETRY%'));
    t.equal(retryTopics.length, 5, `at most autoCreateRetryTopicsMax retry topics (${retryTopics.join(', ')})`);
    t.ok(master.refusals.count('autoCreateRetryTopicsMax') > 0, 'counted');
    // consumerGroupsMax=20: CG-nosub, CG-missing, CG-real and 17 flood groups fit, 13 do not.
    t.ok(master.refusals.count('consumerGroupsMax') > 0, 'the consumer table refused groups past its bound');
    // consumerSubscriptionsMax=50 over all clients; subscriptions with bad topic names are not kept.
    const many = await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat('client-many', [{ group: 'CG-real', topics: Array.from({ length: 60 }, (_, i) => `T${i}`) }]));
    t.equal(many.code, ResponseCode.SYSTEM_BUSY);
    t.match(many.remark, 'consumerSubscriptionsMax=50');
    const junk = await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat('client-junk', [{ group: 'CG-real', topics: Array.from({ length: 60 }, (_, i) => `bad topic ${i}/${'x'.repeat(200)}`) }]));
    t.equal(junk.code, ResponseCode.SUCCESS, 'invalid topic names are dropped, not held');
  });

  await t.test('topicsMax', async (t) => {
    const count = topicsAt().length;
    let created = 0;
    let refused: string | null = null;
    for (let i = 0; count + created < 45 && refused === null; i++) {
      const answer = await createTopic(`Fill${i}`);
      if (answer.code === ResponseCode.SUCCESS) created++;
      else refused = answer.remark;
    }
    t.equal(topicsAt().length, 40, 'the table stops at topicsMax');
    t.match(refused, 'topicsMax=40');
    t.equal((await createTopic(TOPIC, { topicFilterType: 'MULTI_TAG' })).code, ResponseCode.SUCCESS, 'an existing topic may still be updated');
  });

  await t.test('pull: the answer is bounded whatever maxMsgBytes / maxMsgNums ask', async (t) => {
    const send = (queueId: number, body: Buffer) => cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC, c: 'TBW102', d: 4, e: queueId, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, body);
    for (let i = 0; i < 8; i++) t.equal((await send(2, Buffer.alloc(100 * 1024, 0x61))).code, ResponseCode.SUCCESS);
    for (let i = 0; i < 40; i++) t.equal((await send(1, Buffer.from(`m${i}`))).code, ResponseCode.SUCCESS);
    const pull = (queueId: number) => cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG-pull', topic: TOPIC, queueId, queueOffset: 0, maxMsgNums: 100_000, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0, maxMsgBytes: 2_000_000_000 });
    const big = await pull(2);
    t.equal(big.code, ResponseCode.SUCCESS);
    t.ok((big.body?.length ?? 0) <= 256 * 1024, `answer of ${big.body?.length} bytes <= maxTransferBytesOnMessageInMemory (256 KiB) though 8 x 100 KiB were there and 2 GB asked`);
    t.equal(Number(big.extFields['nextBeginOffset']), 2, 'two 100 KiB messages fit');
    const many = await pull(1);
    t.equal(Number(many.extFields['nextBeginOffset']), 32, 'maxTransferCountOnMessageInMemory (32) messages though 100,000 asked');
    t.ok(master.refusals.count('maxTransferBytesOnMessageInMemory') >= 1, 'the clamp is counted');
  });
});
