// Goal: CONSUMER_SEND_MSG_BACK finds the message by its physical offset and re-puts it into
// %RETRY%<group> with RETRY_TOPIC, ORIGIN_MESSAGE_ID and RECONSUMETIMES + 1 (the topic created on
// first use) after the delay of level 3 + reconsumeTimes (parked in SCHEDULE_TOPIC_XXXX until then), into %DLQ%<group> once maxReconsumeTimes is reached or delayLevel < 0, refuses an
// offset where no message starts, and is refused by followers.
// Method: in-process name server + 3 brokers (broker-harness.ts); requests as ali-ons sends them.
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { decodeMessages, formatMessageProperties, parseMessageProperties } from '../../src/broker/message-codec.js';
import { startCluster } from './broker-harness.js';
import { until as untilAsync } from '../cluster/helpers.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicTest';

t.test('send back to the retry and dead-letter topics', async (t) => {
  // Level 3 (the first retry's) is 1 s here instead of 10 s.
  const cluster = await startCluster({ messageDelayLevel: '1s 1s 1s 2s' });
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  const follower = cluster.brokers.find((b) => b !== master)!;
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG' })).code, ResponseCode.SUCCESS);
  const sent = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA'], ['KEYS', 'k']]), j: 0, k: false }, Buffer.from('retry me'));
  t.equal(sent.code, ResponseCode.SUCCESS);
  const msgId = sent.extFields['msgId']!;
  const physicalOffset = Number(BigInt(`0x${msgId.slice(16)}`));
  const back = (addr: string, extra: Record<string, string | number | boolean> = {}) => cluster.call(addr, RequestCode.CONSUMER_SEND_MSG_BACK, { offset: physicalOffset, group: 'CG', delayLevel: 0, originMsgId: msgId, originTopic: TOPIC, unitMode: false, maxReconsumeTimes: 16, ...extra });

  t.equal((await back(follower.brokerAddr)).code, ResponseCode.SERVICE_NOT_AVAILABLE, 'a follower refuses');
  t.equal((await back(master.brokerAddr, { offset: physicalOffset + 1 })).code, ResponseCode.SYSTEM_ERROR, 'no message starts at that offset');
  const sentBackAt = Date.now();
  t.equal((await back(master.brokerAddr)).code, ResponseCode.SUCCESS);
  const pull = (topic: string) => cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic, queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 });
  t.equal(master.commitLog.state.maxOffset('SCHEDULE_TOPIC_XXXX', 2), 1, 'parked in the schedule queue of level 3');
  t.not((await pull('%RETRY%CG')).code, ResponseCode.SUCCESS, 'not in the retry topic before its delay');
  const retried = await untilAsync(async () => { const r = await pull('%RETRY%CG'); return r.code === ResponseCode.SUCCESS ? r : null; }, 5000, 'the retry after its delay');
  const waitedMs = Date.now() - sentBackAt;
  t.ok(waitedMs >= 1000 && waitedMs < 4000, `the retry arrived after its 1 s delay (${waitedMs} ms)`);
  const [message] = decodeMessages(retried.body!);
  t.equal(message!.body.toString(), 'retry me');
  t.equal(message!.reconsumeTimes, 1);
  const properties = parseMessageProperties(message!.properties);
  t.equal(properties.get('RETRY_TOPIC'), TOPIC);
  t.equal(properties.get('ORIGIN_MESSAGE_ID'), msgId);
  t.equal(properties.get('TAGS'), 'TagA', 'the original properties are kept');

  t.equal((await back(master.brokerAddr, { maxReconsumeTimes: 0 })).code, ResponseCode.SUCCESS);
  await until(() => master.commitLog.state.maxOffset('%DLQ%CG', 0) === 1 || null, 5000, 'the message in the DLQ');
  t.equal(master.commitLog.state.topicConfig('%DLQ%CG')?.perm, 2, 'the DLQ topic is write-only');
  t.equal((await back(master.brokerAddr, { delayLevel: -1 })).code, ResponseCode.SUCCESS);
  t.equal(master.commitLog.state.maxOffset('%DLQ%CG', 0), 2, 'delayLevel < 0 goes straight to the DLQ');
});
