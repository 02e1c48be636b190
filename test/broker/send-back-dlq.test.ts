// Goal: CONSUMER_SEND_MSG_BACK (36) moves a message to %DLQ%<group> exactly when Java 4.9's
// SendMessageProcessor does: when the message's RECONSUMETIMES >= maxReconsumeTimes (ali-ons sends
// 16, RocketMQ's default), not one retry earlier: a message consumed 15 times goes to
// %RETRY%<group> with RECONSUMETIMES 16, one consumed 16 times to the DLQ with RECONSUMETIMES 17
// (and no DELAY: it is not parked in SCHEDULE_TOPIC_XXXX). The messages are sent as a 4.x retry
// carries its count (SEND_MESSAGE_V2 field j = reconsumeTimes) and sent back with the header
// ali-ons writes; a request with no maxReconsumeTimes uses 16 as well.
// Method: in-process name server + 3 brokers (broker-harness.ts).
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { decodeMessage, formatMessageProperties, parseMessageProperties } from '../../src/broker/message-codec.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'TopicDlqEdge';

t.test('the DLQ after maxReconsumeTimes (16) reconsumptions, as Java 4.9', async (t) => {
  const cluster = await startCluster({ messageDelayLevel: '1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s' });
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG' })).code, ResponseCode.SUCCESS);
  const sendWithReconsumeTimes = async (body: string, reconsumeTimes: number): Promise<{ msgId: string; physicalOffset: number }> => {
    const sent = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA']]), j: reconsumeTimes, k: false }, Buffer.from(body));
    t.equal(sent.code, ResponseCode.SUCCESS, `sent ${body}`);
    const msgId = sent.extFields['msgId'] as string;
    return { msgId, physicalOffset: Number(BigInt(`0x${msgId.slice(16)}`)) };
  };
  const back = (sent: { msgId: string; physicalOffset: number }, extra: Record<string, number> = { maxReconsumeTimes: 16 }) => cluster.call(master.brokerAddr, RequestCode.CONSUMER_SEND_MSG_BACK, { offset: sent.physicalOffset, group: 'CG_edge', delayLevel: 0, originMsgId: sent.msgId, originTopic: TOPIC, unitMode: false, ...extra });

  const fifteen = await sendWithReconsumeTimes('consumed 15 times', 15);
  t.equal(master.commitLog.state.maxOffset(TOPIC, 0), 1);
  const stored = decodeMessage(master.commitLog.readMessages(TOPIC, 0, 0, 1, 1 << 20)[0] as Uint8Array);
  t.equal(stored.reconsumeTimes, 15, 'the stored message carries RECONSUMETIMES 15 (field j)');
  t.equal((await back(fifteen)).code, ResponseCode.SUCCESS);
  t.equal(master.commitLog.state.maxOffset('%DLQ%CG_edge', 0), 0, '15 < 16: not to the DLQ');
  const retried = await until(() => (master.commitLog.state.maxOffset('%RETRY%CG_edge', 0) === 1 ? master.commitLog.readMessages('%RETRY%CG_edge', 0, 0, 1, 1 << 20)[0] : null), 10_000, 'the retry after its delay');
  t.equal(decodeMessage(retried as Uint8Array).reconsumeTimes, 16, 'to %RETRY%CG_edge with RECONSUMETIMES 16');

  const sixteen = await sendWithReconsumeTimes('consumed 16 times', 16);
  const scheduledBefore = master.commitLog.state.maxOffset('SCHEDULE_TOPIC_XXXX', 18);
  t.equal((await back(sixteen)).code, ResponseCode.SUCCESS);
  t.equal(master.commitLog.state.maxOffset('%DLQ%CG_edge', 0), 1, '16 >= 16: to %DLQ%CG_edge at once');
  const dead = decodeMessage(master.commitLog.readMessages('%DLQ%CG_edge', 0, 0, 1, 1 << 20)[0] as Uint8Array);
  const properties = parseMessageProperties(dead.properties);
  t.equal(Buffer.from(dead.body).toString(), 'consumed 16 times');
  t.equal(dead.reconsumeTimes, 17, 'RECONSUMETIMES 17');
  t.equal(properties.get('RETRY_TOPIC'), TOPIC, 'RETRY_TOPIC');
  t.equal(properties.get('ORIGIN_MESSAGE_ID'), sixteen.msgId, 'ORIGIN_MESSAGE_ID');
  t.notOk(properties.has('DELAY'), 'no DELAY: not parked');
  t.equal(master.commitLog.state.maxOffset('SCHEDULE_TOPIC_XXXX', 18), scheduledBefore, 'nothing scheduled for it');
  t.equal(master.commitLog.state.topicConfig('%DLQ%CG_edge')?.perm, 2, 'the DLQ topic is write-only (PermName.PERM_WRITE, as 4.9 creates it)');

  const noHeader = await sendWithReconsumeTimes('no maxReconsumeTimes in the header', 16);
  t.equal((await back(noHeader, {})).code, ResponseCode.SUCCESS);
  t.equal(master.commitLog.state.maxOffset('%DLQ%CG_edge', 0), 2, 'without maxReconsumeTimes the default 16 applies');
});
