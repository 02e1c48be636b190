// Goal (issue 14): the admin requests Java RocketMQ 4.9.x's mqadmin and orderly consumers write
// (fixtures/java-admin-requests.json: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, GET_TOPIC_STATS_INFO,
// GET_CONSUMER_CONNECTION_LIST, INVOKE_BROKER_TO_RESET_OFFSET, LOCK_BATCH_MQ, UNLOCK_BATCH_MQ,
// DELETE_SUBSCRIPTIONGROUP, DELETE_TOPIC_IN_BROKER, DELETE_TOPIC_IN_NAMESRV) decode as Java reads
// them, and a live name server + 3-broker DLedger group answers each once with Java 4.9's code,
// remark and body shape (fastjson MessageQueue-keyed maps included); a second client's lock of a
// held queue is refused and survives a failover to another master; truncated, header-corrupted
// and wrong-typed variants get an error answer or a closed connection, never a crash.
// Method: as java-frames.test.ts (frames built to Java's encoding by
// fixtures/make-java-admin-requests.cjs, raw sockets against broker-harness's cluster).
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { startCluster } from '../broker/broker-harness.js';
import { until } from '../broker/group-harness.js';
import { type Answer, exchange, frameOf, hexOf, type JavaFrame, loadJavaFrames, type Outcome } from './java-frame-exchange.js';

const frames = loadJavaFrames('java-admin-requests.json');
const byName = new Map(frames.map((f) => [f.name, f]));

/** A Java frame with a different body (same header). */
function withBody(frame: JavaFrame, body: string): Buffer {
  const bytes = hexOf(frame);
  const headerLength = bytes.readInt32BE(4) & 0xffffff;
  return frameOf(bytes.subarray(8, 8 + headerLength), Buffer.from(body, 'utf8'));
}

/** fastjson MessageQueue keys to strings "topic/brokerName/queueId", then JSON.parse. */
function parseMqMap(text: string): Record<string, unknown> {
  return JSON.parse(text.replace(/\{"brokerName":"([^"]*)","queueId":(\d+),"topic":"([^"]*)"\}(?=:)/g, (_m, b: string, q: string, tp: string) => JSON.stringify(`${tp}/${b}/${q}`))) as Record<string, unknown>;
}

t.test('every Java admin frame decodes as Java reads it', async (t) => {
  t.equal(frames.length, 9);
  for (const frame of frames) {
    const [command] = new RemotingFrameDecoder().push(hexOf(frame));
    t.same({ code: command?.code, opaque: command?.opaque, version: command?.version, language: command?.language }, { code: frame.code, opaque: frame.opaque, version: 401, language: 'JAVA' }, `${frame.name}: header`);
    t.same({ ...command?.extFields }, frame.extFields ?? {}, `${frame.name}: extFields as strings`);
    t.equal(command?.body?.toString('hex') ?? null, frame.bodyHex, `${frame.name}: body`);
  }
});

t.test('a live group answers each Java admin frame as Java 4.9 would', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  let master = await until(() => cluster.master(), 15_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr, 10_000, 'the master registered as 0');
  for (const topic of ['JavaTopic', 'JavaDelTopic']) {
    const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: 4, writeQueueNums: 4, perm: 6 });
    t.equal(created.code, ResponseCode.SUCCESS, `${topic} created`);
  }
  await until(() => cluster.namesrv.routeInfo.topicRoute('JavaDelTopic'), 10_000, 'JavaDelTopic routed');
  const send = (frame: string, addr = master.brokerAddr, bytes?: Buffer): Promise<Outcome> => exchange(addr, bytes ?? hexOf(byName.get(frame) as JavaFrame));
  const one = async (frame: string, addr?: string, bytes?: Buffer): Promise<Answer> => {
    const outcome = await send(frame, addr, bytes);
    t.equal(outcome.answers.length, 1, `${frame}: exactly one answer`);
    t.equal(outcome.answers[0]?.opaque, byName.get(frame)?.opaque, `${frame}: same opaque`);
    return outcome.answers[0] as Answer;
  };

  const created = await one('UPDATE_AND_CREATE_SUBSCRIPTIONGROUP');
  t.equal(created.code, ResponseCode.SUCCESS, `200: ${created.remark}`);
  for (const b of cluster.brokers) await until(() => b.commitLog.state.checkpoint().extensions?.['subscriptionGroups'] !== undefined && JSON.stringify(b.commitLog.state.checkpoint().extensions?.['subscriptionGroups']).includes('"retryMaxTimes":5') ? true : undefined, 5000, `${b.config.dLegerSelfId} holds JavaSubGroup`);

  const stats = await one('GET_TOPIC_STATS_INFO');
  t.equal(stats.code, ResponseCode.SUCCESS);
  const table = parseMqMap(stats.body?.toString('utf8') ?? '{}') as { offsetTable: Record<string, { minOffset: number; maxOffset: number; lastUpdateTimestamp: number }> };
  t.same(Object.keys(table.offsetTable), ['JavaTopic/RaftNode00/0', 'JavaTopic/RaftNode00/1', 'JavaTopic/RaftNode00/2', 'JavaTopic/RaftNode00/3'], 'TopicStatsTable: one MessageQueue key per write queue');
  t.same(table.offsetTable['JavaTopic/RaftNode00/0'], { lastUpdateTimestamp: 0, maxOffset: 0, minOffset: 0 }, 'TopicOffset fields, alphabetical');

  const connections = await one('GET_CONSUMER_CONNECTION_LIST');
  t.same([connections.code, connections.remark], [ResponseCode.CONSUMER_NOT_ONLINE, 'the consumer group[JavaSubGroup] not online']);

  const reset = await one('INVOKE_BROKER_TO_RESET_OFFSET');
  t.same([reset.code, reset.remark], [ResponseCode.SYSTEM_ERROR, 'THe consumer group <JavaSubGroup> not exist'], 'no committed offset: Java 4.9\'s remark (sic)');
  const missingTopic = await one('INVOKE_BROKER_TO_RESET_OFFSET', master.brokerAddr, hexOf(byName.get('INVOKE_BROKER_TO_RESET_OFFSET') as JavaFrame).toString('latin1').includes('JavaTopic') ? Buffer.from(hexOf(byName.get('INVOKE_BROKER_TO_RESET_OFFSET') as JavaFrame).toString('latin1').replace('"JavaTopic"', '"NoSuchTop"'), 'latin1') : undefined);
  t.same([missingTopic.code, missingTopic.remark], [ResponseCode.SYSTEM_ERROR, '[reset-offset] reset offset failed, no topic in this broker. topic=NoSuchTop']);
  // With an offset committed, nobody online: CONSUMER_NOT_ONLINE and Java's remark.
  const committed = await cluster.call(master.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'JavaSubGroup', topic: 'JavaTopic', queueId: 0, commitOffset: 0 });
  t.equal(committed.code, ResponseCode.SUCCESS);
  for (const q of [1, 2, 3]) await cluster.call(master.brokerAddr, RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'JavaSubGroup', topic: 'JavaTopic', queueId: q, commitOffset: 0 });
  const offline = await one('INVOKE_BROKER_TO_RESET_OFFSET');
  t.same([offline.code, offline.remark], [ResponseCode.CONSUMER_NOT_ONLINE, 'Consumer not online, so can not reset offset, Group: JavaSubGroup Topic: JavaTopic Timestamp: 1700000000000']);

  const locked = await one('LOCK_BATCH_MQ');
  t.equal(locked.code, ResponseCode.SUCCESS);
  t.same(JSON.parse(locked.body?.toString('utf8') ?? '{}'), { lockOKMQSet: [{ brokerName: 'RaftNode00', queueId: 0, topic: 'JavaTopic' }, { brokerName: 'RaftNode00', queueId: 1, topic: 'JavaTopic' }] }, 'LockBatchResponseBody: both queues');
  const otherBody = '{"clientId":"127.0.0.2@Other","consumerGroup":"JavaOrderlyGroup","mqSet":[{"brokerName":"RaftNode00","queueId":1,"topic":"JavaTopic"},{"brokerName":"RaftNode00","queueId":2,"topic":"JavaTopic"}]}';
  const other = await one('LOCK_BATCH_MQ', master.brokerAddr, withBody(byName.get('LOCK_BATCH_MQ') as JavaFrame, otherBody));
  t.same(JSON.parse(other.body?.toString('utf8') ?? '{}'), { lockOKMQSet: [{ brokerName: 'RaftNode00', queueId: 2, topic: 'JavaTopic' }] }, 'another client gets only the free queue');

  // Failover: the new master holds the same locks (replicated), so queue 1 stays the first client's.
  const old = master;
  const target = cluster.brokers.find((b) => b !== old) as typeof old;
  await target.commitLog.server.readBarrier().catch(() => undefined);
  await old.commitLog.server.transferLeadership(target.config.dLegerSelfId, 5000);
  master = await until(() => (cluster.master() === target ? target : undefined), 10_000, 'the new master');
  const afterFailover = await one('LOCK_BATCH_MQ', master.brokerAddr, withBody(byName.get('LOCK_BATCH_MQ') as JavaFrame, otherBody));
  t.same(JSON.parse(afterFailover.body?.toString('utf8') ?? '{}'), { lockOKMQSet: [{ brokerName: 'RaftNode00', queueId: 2, topic: 'JavaTopic' }] }, 'after the failover queue 1 is still the first client\'s');
  const slave = await one('LOCK_BATCH_MQ', old.brokerAddr);
  t.equal(slave.code, ResponseCode.SERVICE_NOT_AVAILABLE, 'a follower grants no lock');

  const unlocked = await one('UNLOCK_BATCH_MQ', master.brokerAddr);
  t.same([unlocked.code, unlocked.body], [ResponseCode.SUCCESS, null]);
  const relock = await one('LOCK_BATCH_MQ', master.brokerAddr, withBody(byName.get('LOCK_BATCH_MQ') as JavaFrame, otherBody));
  t.equal(JSON.parse(relock.body?.toString('utf8') ?? '{}').lockOKMQSet.length, 2, 'after the unlock the other client gets queue 1 too');

  const deleted = await one('DELETE_SUBSCRIPTIONGROUP', master.brokerAddr);
  t.equal(deleted.code, ResponseCode.SUCCESS);
  const fromSlave = await one('DELETE_SUBSCRIPTIONGROUP', old.brokerAddr);
  t.same([fromSlave.code, fromSlave.remark], [ResponseCode.SYSTEM_ERROR, "Can't modify topic or subscription group from slave broker, please execute it from master broker."], 'validateSlave\'s answer');

  const topicDeleted = await one('DELETE_TOPIC_IN_BROKER', master.brokerAddr);
  t.equal(topicDeleted.code, ResponseCode.SUCCESS);
  t.ok(cluster.namesrv.routeInfo.topicRoute('JavaDelTopic') !== null, 'the name server still routes it (brokers only add routes)');
  const nsDeleted = await one('DELETE_TOPIC_IN_NAMESRV', cluster.namesrvAddr);
  t.equal(nsDeleted.code, ResponseCode.SUCCESS);
  t.equal(cluster.namesrv.routeInfo.topicRoute('JavaDelTopic'), null, 'DELETE_TOPIC_IN_NAMESRV removed the route');
  const route = await cluster.call(cluster.namesrvAddr, RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'JavaDelTopic' });
  t.equal(route.code, ResponseCode.TOPIC_NOT_EXIST);
});

t.test('truncated, corrupted and wrong-typed admin frames: an error answer or a close, never a crash', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 15_000, 'a master');
  const probe = async (): Promise<void> => {
    const outcome = await exchange(master.brokerAddr, hexOf(byName.get('GET_TOPIC_STATS_INFO') as JavaFrame));
    t.equal(outcome.answers[0]?.code, ResponseCode.TOPIC_NOT_EXIST, 'the broker still answers');
  };
  for (const frame of frames) {
    const addr = frame.code === RequestCode.DELETE_TOPIC_IN_NAMESRV ? cluster.namesrvAddr : master.brokerAddr;
    const bytes = hexOf(frame);
    const headerLength = bytes.readInt32BE(4) & 0xffffff;
    for (const cut of [2, 6, 8 + Math.floor(headerLength / 2)]) {
      const outcome = await exchange(addr, bytes.subarray(0, cut), { endAfterWrite: true, waitMs: 1000 });
      t.ok(outcome.answers.length === 0 && outcome.closed, `${frame.name} cut at ${cut} then EOF: closed, no answer`);
    }
    const corrupted = Buffer.from(bytes);
    corrupted.writeInt32BE(headerLength + 1000, 4);
    const c = await exchange(addr, corrupted, { waitMs: 1000 });
    t.ok(c.closed || (c.answers[0] !== undefined && c.answers[0].code !== ResponseCode.SUCCESS), `${frame.name} header length past the frame: closed or refused`);
  }
  // Wrong types and hostile bodies: clear error answers.
  const cases: Array<[string, Buffer, RegExp]> = [
    ['timestamp not a number', Buffer.from(hexOf(byName.get('INVOKE_BROKER_TO_RESET_OFFSET') as JavaFrame).toString('latin1').replace('"1700000000000"', '"17000000000xx"'), 'latin1'), /timestamp/],
    ['SubscriptionGroupConfig not JSON', withBody(byName.get('UPDATE_AND_CREATE_SUBSCRIPTIONGROUP') as JavaFrame, '{"groupName":'), /bad SubscriptionGroupConfig/],
    ['groupName with a space', withBody(byName.get('UPDATE_AND_CREATE_SUBSCRIPTIONGROUP') as JavaFrame, '{"groupName":"a b"}'), /groupName "a b" must be/],
    ['retryMaxTimes a string', withBody(byName.get('UPDATE_AND_CREATE_SUBSCRIPTIONGROUP') as JavaFrame, '{"groupName":"G","retryMaxTimes":"16"}'), /retryMaxTimes "16" must be an integer/],
    ['lock body an array', withBody(byName.get('LOCK_BATCH_MQ') as JavaFrame, '[1,2]'), /bad LockBatchRequestBody: consumerGroup undefined/],
    ['lock of a bad queue id', withBody(byName.get('LOCK_BATCH_MQ') as JavaFrame, '{"clientId":"c","consumerGroup":"G","mqSet":[{"brokerName":"b","queueId":-1,"topic":"T"}]}'), /mqSet\[0\]\.queueId -1 is not a queue id/],
    ['lock of 5000 queues', withBody(byName.get('LOCK_BATCH_MQ') as JavaFrame, `{"clientId":"c","consumerGroup":"G","mqSet":[${Array.from({ length: 5000 }, (_, i) => `{"brokerName":"b","queueId":${i % 1000},"topic":"T"}`).join(',')}]}`), /mqSet holds 5000 queues, at most 4096/],
  ];
  for (const [what, bytes, remark] of cases) {
    const outcome = await exchange(master.brokerAddr, bytes);
    t.equal(outcome.answers.length, 1, `${what}: one answer`);
    t.not(outcome.answers[0]?.code, ResponseCode.SUCCESS, `${what}: refused`);
    t.match(outcome.answers[0]?.remark ?? '', remark, `${what}: ${outcome.answers[0]?.remark}`);
  }
  await probe();
  t.ok(cluster.brokers.every((b) => b.port > 0), 'brokers still up');
});
