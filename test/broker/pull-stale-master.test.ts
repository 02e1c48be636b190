// Goal: a deposed master that has not heard of its successor never moves a consumer's offset back
// (chaos R3). The old leader, cut off from its peers, still believes it is the master while the
// other two elect a new one and store more messages; a consumer that already read those pulls
// from the old master beyond its (stale) queue end. Before the fix the old master answered
// PULL_OFFSET_MOVED with its stale max offset, which ali-ons adopts (and commits): redeliveries
// and a committed offset that steps back. Now a master confirms its leadership (ReadIndex barrier,
// at most 1 s) before telling a consumer to move; the cut-off one cannot and keeps the offset
// (PULL_RETRY_IMMEDIATELY, suggesting brokerId 0), while the real master still moves a consumer
// that is truly beyond the end.
// Method: the in-process broker group (broker-harness.ts) with checkQuorum off, so the cut-off
// leader stays leader; its peer links are cut by pointing every DLedger peer address involving
// it at a closed port (127.0.0.1:1). RemotingClient pulls; bounded waits.
import t from 'tap';
import type { Broker } from '../../src/broker/broker.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicStaleMaster';
const CLOSED_PORT = 1;

t.test('a cut-off master keeps the requested offset instead of moving it to its stale end', async (t) => {
  const cluster = await startCluster({ registerNameServerPeriod: '1000' }, { checkQuorum: false });
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.filter((l) => !/heartbeat|registered/.test(l)).slice(-40).join('\n')); });
  const old = await until(() => cluster.master(), 10_000, 'a master');
  t.equal((await cluster.call(old.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false })).code, ResponseCode.SUCCESS);
  const send = (broker: Broker, i: number) => cluster.call(broker.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC, c: 'TBW102', d: 1, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'A']]), j: 0, k: false }, Buffer.from(`m${i}`));
  for (let i = 0; i < 3; i++) t.equal((await send(old, i)).code, ResponseCode.SUCCESS, `message ${i} stored through the first master`);
  const others = cluster.brokers.filter((b) => b !== old);
  await until(() => others.every((b) => b.commitLog.state.maxOffset(TOPIC, 0) === 3) || null, 5000, 'the followers to index the 3 messages');

  t.comment(`cut ${old.config.dLegerSelfId} off from its peers`);
  for (const other of others) {
    old.commitLog.server.setPeerPort(other.config.dLegerSelfId, '127.0.0.1', CLOSED_PORT);
    other.commitLog.server.setPeerPort(old.config.dLegerSelfId, '127.0.0.1', CLOSED_PORT);
  }
  const fresh = await until(() => others.find((b) => b.commitLog.isWritable()), 15_000, 'a new master among the other two');
  for (let i = 3; i < 6; i++) t.equal((await send(fresh, i)).code, ResponseCode.SUCCESS, `message ${i} stored through the new master`);
  t.equal(old.commitLog.role.role, 'master', 'the cut-off member still believes it is the master');
  await until(() => cluster.brokerAddrs().get(0) === fresh.brokerAddr || null, 5000, 'the new master registered as brokerId 0');
  const flips: string[] = [];
  const watchUntil = Date.now() + 2500; // 2 registration periods of the cut-off master
  while (Date.now() < watchUntil) {
    const id0 = cluster.brokerAddrs().get(0);
    if (id0 !== fresh.brokerAddr) flips.push(`${Date.now() - watchUntil + 2500} ms: brokerId 0 = ${id0 ?? 'none'}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.same(flips, [], 'the cut-off master never takes brokerId 0 back at the name server (its periodic registration is not confirmed)');
  t.equal(old.commitLog.state.maxOffset(TOPIC, 0), 3, 'its queue ends at 3');

  const pull = (broker: Broker, queueOffset: number) => cluster.call(broker.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: TOPIC, queueId: 0, queueOffset, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 1000, subscription: '*', subVersion: 0 });
  const started = Date.now();
  const stale = await pull(old, 5);
  const tookMs = Date.now() - started;
  t.equal(stale.code, ResponseCode.PULL_RETRY_IMMEDIATELY, `the cut-off master does not answer PULL_OFFSET_MOVED (${stale.remark ?? ''})`);
  t.equal(stale.extFields['nextBeginOffset'], '5', 'the consumer keeps offset 5');
  t.equal(stale.extFields['suggestWhichBrokerId'], '0', 'and is sent to brokerId 0');
  t.ok(tookMs < 5000, `answered within the confirmation bound (${tookMs} ms)`);

  const beyond = await pull(fresh, 9);
  t.equal(beyond.code, ResponseCode.PULL_OFFSET_MOVED, 'the confirmed master still moves a consumer beyond its end');
  t.equal(beyond.extFields['nextBeginOffset'], '6', 'to its max offset');
  const found = await pull(fresh, 5);
  t.equal(found.code, ResponseCode.SUCCESS, 'the new master serves offset 5');
});
