// Goal: a follower that lags never moves a consumer's offset (chaos R1). A pull beyond a
// follower's queue (it has not applied those messages yet), below its first offset, or into a
// queue it has not indexed yet keeps the requested offset and answers PULL_RETRY_IMMEDIATELY
// suggesting the master (brokerId 0), as a Java slave with offsetCheckInSlave=false does; the
// master still answers PULL_OFFSET_MOVED with the corrected offset. Before the fix the follower
// answered PULL_OFFSET_MOVED with its own (stale) max offset, ali-ons adopted it and committed it:
// the group's offset went back ~90 messages per queue in a 5-minute chaos run.
// Method: the in-process broker group (broker-harness.ts), RemotingClient pulls; bounded waits.
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicPullFollower';

t.test('followers keep the requested offset where the master would move it', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  const follower = cluster.brokers.find((b) => b !== master)!;
  const create = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(create.code, ResponseCode.SUCCESS);
  for (let i = 0; i < 3; i++) {
    const sent = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC, c: 'TBW102', d: 2, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'A']]), j: 0, k: false }, Buffer.from(`m${i}`));
    t.equal(sent.code, ResponseCode.SUCCESS);
  }
  await until(() => follower.commitLog.state.maxOffset(TOPIC, 0) === 3 || null, 5000, 'the follower to index queue 0');
  const pull = (addr: string, queueId: number, queueOffset: number) => cluster.call(addr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic: TOPIC, queueId, queueOffset, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 1000, subscription: '*', subVersion: 0 });

  const onMaster = await pull(master.brokerAddr, 0, 99);
  t.same([onMaster.code, onMaster.extFields['nextBeginOffset']], [ResponseCode.PULL_OFFSET_MOVED, '3'], 'master: beyond the end moves the offset to its max');
  const beyond = await pull(follower.brokerAddr, 0, 99);
  t.same([beyond.code, beyond.extFields['nextBeginOffset'], beyond.extFields['suggestWhichBrokerId']], [ResponseCode.PULL_RETRY_IMMEDIATELY, '99', '0'], 'follower: beyond its end keeps the offset and suggests the master');
  const emptyQueue = await pull(follower.brokerAddr, 1, 5);
  t.same([emptyQueue.code, emptyQueue.extFields['nextBeginOffset']], [ResponseCode.PULL_RETRY_IMMEDIATELY, '5'], 'follower: a queue it holds nothing of keeps the offset (not moved to 0)');
  const emptyOnMaster = await pull(master.brokerAddr, 1, 5);
  t.same([emptyOnMaster.code, emptyOnMaster.extFields['nextBeginOffset']], [ResponseCode.PULL_OFFSET_MOVED, '0'], 'master: the same pull is moved to 0');
  const found = await pull(follower.brokerAddr, 0, 1);
  t.same([found.code, found.extFields['nextBeginOffset']], [ResponseCode.SUCCESS, '3'], 'follower: pulls within its queue are served as before');
});
