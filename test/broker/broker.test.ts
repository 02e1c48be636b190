// Goal: three broker processes' worth of Broker (in one process) with a name server behave as the
// quick start needs: one registers as brokerId 0 and the others as selfId digits + 1; a leader
// change moves BID 0 at once; requests shaped as ali-ons sends them (numbers and booleans in
// extFields) work: UPDATE_AND_CREATE_TOPIC, SEND_MESSAGE_V2/SEND_MESSAGE/SEND_BATCH_MESSAGE,
// PULL_MESSAGE (statuses, long polling woken by a send and timing out), consumer offsets,
// HEART_BEAT + GET_CONSUMER_LIST_BY_GROUP, GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP; and
// followers answer writes with SERVICE_NOT_AVAILABLE but serve pulls and offset queries.
// Method: real TCP on OS-assigned ports (broker-harness.ts), RemotingClient requests, bounded waits.
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { decodeMessages, formatMessageProperties, parseMessageProperties } from '../../src/broker/message-codec.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicTest';

function v2Send(topic: string, queueId: number, tags: string, keys: string): Record<string, string | number | boolean> {
  // The extFields ali-ons 3.12 sends with SEND_MESSAGE_V2 (JSON numbers and booleans included).
  return { a: 'PG', b: topic, c: 'TBW102', d: 4, e: queueId, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', tags], ['KEYS', keys], ['WAIT', 'true']]), j: 0, k: false };
}

function pullFields(queueId: number, queueOffset: number, extra: Record<string, string | number | boolean> = {}): Record<string, string | number | boolean> {
  return { consumerGroup: 'CG', topic: TOPIC, queueId, queueOffset, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 15000, subscription: '*', subVersion: Date.now(), ...extra };
}

t.test('broker group behind a name server', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.slice(-40).join('\n')); });

  const master = await until(() => cluster.master(), 10_000, 'a master');
  const followers = cluster.brokers.filter((b) => b !== master);
  const registered = await until(() => {
    const addrs = cluster.brokerAddrs();
    return addrs.size === 3 && addrs.get(0) === master.brokerAddr ? addrs : null;
  }, 5000, 'all three brokers registered, the master as 0');
  for (const follower of followers) {
    const id = Number(follower.config.dLegerSelfId.slice(1)) + 1;
    t.equal(registered.get(id), follower.brokerAddr, `${follower.config.dLegerSelfId} registered as brokerId ${id}`);
  }

  t.comment('topics');
  const createTopic = { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
  const onFollower = await cluster.call(followers[0]!.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, createTopic);
  t.equal(onFollower.code, ResponseCode.SERVICE_NOT_AVAILABLE, 'a follower refuses to create a topic');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, createTopic)).code, ResponseCode.SUCCESS);
  const route = await until(() => cluster.namesrv.routeInfo.topicRoute(TOPIC), 5000, 'the topic route at the name server');
  t.equal(route.queueDatas[0]?.writeQueueNums, 4, 'the master re-registered with the new topic at once');
  await until(() => cluster.brokers.every((b) => b.commitLog.state.topicConfig(TOPIC) !== null), 5000, 'the topic on every member');

  t.comment('sends');
  const refused = await cluster.call(followers[0]!.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send(TOPIC, 0, 'TagA', 'k0'), Buffer.from('to a follower'));
  t.equal(refused.code, ResponseCode.SERVICE_NOT_AVAILABLE, `a follower refuses a send: ${refused.remark}`);
  const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send(TOPIC, i % 2, i % 2 === 0 ? 'TagA' : 'TagB', `k${i}`), Buffer.from(`body-${i}`))));
  t.ok(sent.every((r) => r.code === ResponseCode.SUCCESS), 'every V2 send succeeds');
  t.same(sent.filter((r) => r.extFields['queueId'] === '0').map((r) => Number(r.extFields['queueOffset'])).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'queue 0 got offsets 0-9');
  t.match(sent[0]!.extFields['msgId'], /^7F000001[0-9A-F]{24}$/, 'msgId = 127.0.0.1 + port + physical offset');
  const v1 = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE, { producerGroup: 'PG', topic: TOPIC, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 2, sysFlag: 0, bornTimestamp: Date.now(), flag: 0, properties: formatMessageProperties([['TAGS', 'TagC']]) }, Buffer.from('v1 body'));
  t.equal(v1.code, ResponseCode.SUCCESS, 'SEND_MESSAGE (v1 header) works');
  const batchRecord = (body: string, props: string): Buffer => {
    const b = Buffer.from(body);
    const p = Buffer.from(props);
    const out = Buffer.alloc(20 + b.length + 2 + p.length);
    out.writeInt32BE(out.length, 0);
    // MAGICCODE, BODYCRC and FLAG (bytes 4-15) stay 0 as clients send them.
    out.writeInt32BE(b.length, 16);
    b.copy(out, 20);
    out.writeInt16BE(p.length, 20 + b.length);
    p.copy(out, 22 + b.length);
    return out;
  };
  const batch = await cluster.call(master.brokerAddr, RequestCode.SEND_BATCH_MESSAGE, v2Send(TOPIC, 3, 'x', 'y'), Buffer.concat([batchRecord('b0', formatMessageProperties([['KEYS', 'b0']])), batchRecord('b1', '')]));
  t.equal(batch.code, ResponseCode.SUCCESS, `batch send: ${batch.remark}`);
  t.equal(batch.extFields['msgId']?.split(',').length, 2, 'a batch answers one msgId per message');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send('NoSuchTopic', 0, 'a', 'b'), Buffer.from('x'))).code, ResponseCode.TOPIC_NOT_EXIST);
  t.equal((await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send('RMQ_SYS_DLEDGER_BROKER_STATE', 0, 'a', 'b'), Buffer.from('{}'))).code, ResponseCode.NO_PERMISSION, 'the internal state topic cannot be written by clients');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send(TOPIC, 9, 'a', 'b'), Buffer.from('x'))).code, ResponseCode.SYSTEM_ERROR, 'queueId beyond the topic');
  const missing = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC });
  t.equal(missing.code, ResponseCode.SYSTEM_ERROR, 'a send without its required header fields');

  t.comment('pulls (from a follower too)');
  await until(() => followers.every((f) => f.commitLog.state.maxOffset(TOPIC, 0) === 10), 5000, 'followers to index queue 0');
  for (const broker of [master, followers[0]!]) {
    const pulled = await cluster.call(broker.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(0, 0));
    t.equal(pulled.code, ResponseCode.SUCCESS);
    const messages = decodeMessages(pulled.body!);
    t.equal(messages.length, 10, `${broker.config.dLegerSelfId}: 10 messages from queue 0`);
    t.same(messages.map((m) => m.queueOffset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    t.ok(messages.every((m) => parseMessageProperties(m.properties).get('TAGS') === 'TagA'));
    t.same({ next: pulled.extFields['nextBeginOffset'], min: pulled.extFields['minOffset'], max: pulled.extFields['maxOffset'], suggest: pulled.extFields['suggestWhichBrokerId'] }, { next: '10', min: '0', max: '10', suggest: '0' });
  }
  const filtered = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(0, 0, { subscription: 'TagZ' }));
  t.equal(filtered.code, ResponseCode.PULL_RETRY_IMMEDIATELY, 'nothing matches the tag: PULL_RETRY_IMMEDIATELY');
  t.equal(filtered.extFields['nextBeginOffset'], '10');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(0, 99))).code, ResponseCode.PULL_OFFSET_MOVED, 'beyond the end: PULL_OFFSET_MOVED');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(0, 10, { sysFlag: 4 }))).code, ResponseCode.PULL_NOT_FOUND, 'at the end without suspend: PULL_NOT_FOUND at once');

  t.comment('long polling');
  const started = Date.now();
  const held = cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(1, 10, { sysFlag: 6 }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal((await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send(TOPIC, 1, 'TagB', 'late'), Buffer.from('late'))).code, ResponseCode.SUCCESS);
  const woken = await held;
  t.equal(woken.code, ResponseCode.SUCCESS, 'the held pull is answered with the new message');
  t.equal(decodeMessages(woken.body!)[0]?.queueOffset, 10);
  t.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms, well before the 15 s suspend timeout`);
  const timedStart = Date.now();
  const timedOut = await cluster.call(followers[1]!.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(2, 1, { sysFlag: 6, suspendTimeoutMillis: 300 }));
  t.equal(timedOut.code, ResponseCode.PULL_NOT_FOUND, 'a held pull with nothing new times out with PULL_NOT_FOUND');
  t.ok(Date.now() - timedStart >= 280, `held ${Date.now() - timedStart} ms (suspendTimeoutMillis 300)`);

  t.comment('offsets');
  const query = { consumerGroup: 'CG', topic: TOPIC, queueId: 0 };
  t.same(((r) => [r.code, r.extFields['offset']])(await cluster.call(master.brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, query)), [ResponseCode.SUCCESS, '0'], 'a new group starts at 0 while the queue starts at 0');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, { ...query, setZeroIfNotFound: false })).code, ResponseCode.QUERY_NOT_FOUND);
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { ...query, commitOffset: 6 })).code, ResponseCode.SUCCESS);
  t.equal((await cluster.call(followers[0]!.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { ...query, commitOffset: 7 })).code, ResponseCode.SERVICE_NOT_AVAILABLE, 'offsets are committed through the master');
  await until(() => followers.every((f) => f.commitLog.state.consumerOffset('CG', TOPIC, 0) === 6), 5000, 'the offset on the followers');
  t.equal((await cluster.call(followers[1]!.brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, query)).extFields['offset'], '6', 'a follower answers the replicated offset');
  await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, pullFields(1, 0, { sysFlag: 5, commitOffset: 4 }));
  await until(() => master.commitLog.state.consumerOffset('CG', TOPIC, 1) === 4, 5000, 'the commit offset piggybacked on a pull');
  t.pass('a pull with the commit-offset flag commits the offset');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.GET_MAX_OFFSET, { topic: TOPIC, queueId: 0 })).extFields['offset'], '10');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.GET_MIN_OFFSET, { topic: TOPIC, queueId: 0 })).extFields['offset'], '0');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: TOPIC, queueId: 0, timestamp: 0 })).extFields['offset'], '0', 'search: everything is after timestamp 0');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: TOPIC, queueId: 0, timestamp: Date.now() + 60_000 })).extFields['offset'], '10', 'search: nothing is after the future');

  t.comment('clients');
  const clientID = '127.0.0.1@4242';
  const heartbeat = Buffer.from(JSON.stringify({ clientID, producerDataSet: [], consumerDataSet: [{ groupName: 'CG', consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', subscriptionDataSet: [{ topic: TOPIC, subString: '*', tagsSet: [], codeSet: [], subVersion: Date.now(), classFilterMode: false }], unitMode: false }] }));
  t.equal((await cluster.call(master.brokerAddr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG' })).code, ResponseCode.SYSTEM_ERROR, 'no consumer yet');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, heartbeat)).code, ResponseCode.SUCCESS);
  const list = await cluster.call(master.brokerAddr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG' });
  t.same(JSON.parse(list.body!.toString()), { consumerIdList: [clientID] }, 'the heartbeating client is listed');
  await until(() => cluster.namesrv.routeInfo.topicRoute('%RETRY%CG'), 5000, 'the retry topic of the group at the name server');
  t.pass('a consumer heartbeat creates and registers %RETRY%CG');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, Buffer.from('{"clientID":'))).code, ResponseCode.SYSTEM_ERROR, 'a malformed heartbeat is an error answer');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UNREGISTER_CLIENT, { clientID, consumerGroup: 'CG' })).code, ResponseCode.SUCCESS);
  t.equal((await cluster.call(master.brokerAddr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'CG' })).code, ResponseCode.SYSTEM_ERROR, 'unregistered');
  const info = await cluster.call(master.brokerAddr, RequestCode.GET_BROKER_RUNTIME_INFO);
  const table = (JSON.parse(info.body!.toString()) as { table: Record<string, string> }).table;
  t.match(table, { brokerVersionDesc: 'V4_9_4', dLegerRole: 'leader', putTps: /^[0-9]+\.[0-9]{2}$/ });
  t.same(Object.keys(JSON.parse(table['dLegerPeerProgress']!) as object).sort(), followers.map((f) => f.config.dLegerSelfId).sort(), 'the leader reports its view of each follower');

  t.comment('leader change moves BID 0');
  const target = followers[0]!;
  const changeStarted = Date.now();
  await master.commitLog.server.transferLeadership(target.config.dLegerSelfId);
  await until(() => cluster.brokerAddrs().get(0) === target.brokerAddr ? true : null, 5000, 'the new master registered as 0');
  t.pass(`BID 0 moved to ${target.config.dLegerSelfId} ${Date.now() - changeStarted} ms after the transfer started`);
  await until(() => cluster.brokerAddrs().get(Number(master.config.dLegerSelfId.slice(1)) + 1) === master.brokerAddr ? true : null, 5000, 'the old master registered as a follower');
  t.equal(cluster.brokerAddrs().size, 3, 'still three addresses, one per member');
  const afterChange = await cluster.call(target.brokerAddr, RequestCode.SEND_MESSAGE_V2, v2Send(TOPIC, 0, 'TagA', 'after'), Buffer.from('after the change'));
  t.equal(afterChange.code, ResponseCode.SUCCESS);
  t.equal(afterChange.extFields['queueOffset'], '10', 'queue offsets continue on the new master');
  t.equal((await cluster.call(target.brokerAddr, RequestCode.QUERY_CONSUMER_OFFSET, query)).extFields['offset'], '6', 'consumer offsets survive the change');
});
