// Goal: VIEW_MESSAGE_BY_ID (33) and `mqadmin queryMsgById -i <offset msgId>` find a message by the
// msgId its send answered, on the master, on a follower, and on a new master after the old one
// stopped (replicated bytes, same commit-log offset); a bad offset or id gives a clear error.
// Method: an in-process name server + 3-broker DLedger group (real sockets), sends as ali-ons
// sends them (SEND_MESSAGE_V2), then mqadmin's main() against the name server.
import t from 'tap';
import { decodeMessage, decodeMessageId, formatMessageProperties, parseMessageProperties } from '../../src/broker/message-codec.js';
import { main } from '../../src/cli/mqadmin.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'QueryTopic';

async function mqadmin(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (text) => (out += text), (text) => (err += text));
  return { code, out, err };
}

t.test('queryMsgById and VIEW_MESSAGE_BY_ID', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.slice(-40).join('\n')); });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  const createTopic = { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, createTopic)).code, ResponseCode.SUCCESS);
  const msgIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const fields = { a: 'PG', b: TOPIC, c: 'TBW102', d: 4, e: i % 2, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', `Tag${i}`], ['KEYS', `key-${i}`], ['WAIT', 'true']]), j: 0, k: false };
    const sent = await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, fields, Buffer.from(`query body ${i}`));
    t.equal(sent.code, ResponseCode.SUCCESS);
    msgIds.push(sent.extFields['msgId'] as string);
  }
  await until(() => cluster.brokers.every((b) => b.commitLog.state.maxOffset(TOPIC, 0) === 3), 5000, 'every member applied the messages');

  const listed = await mqadmin('queryMsgById', '-n', cluster.namesrvAddr, '-i', msgIds[3]!);
  t.equal(listed.code, 0, listed.err);
  t.match(listed.out, new RegExp(`OffsetID:\\s+${msgIds[3]}`));
  t.match(listed.out, new RegExp(`Topic:\\s+${TOPIC}\\n`));
  t.match(listed.out, /Tags:\s+\[Tag3\]/);
  t.match(listed.out, /Keys:\s+\[key-3\]/);
  t.match(listed.out, /Queue ID:\s+1\n/);
  t.match(listed.out, /Queue Offset:\s+1\n/);
  t.match(listed.out, /Message Body:\s+query body 3/);

  const { physicalOffset } = decodeMessageId(msgIds[2]!);
  const bodies = [];
  for (const broker of cluster.brokers) {
    const viewed = await cluster.call(broker.brokerAddr, RequestCode.VIEW_MESSAGE_BY_ID, { offset: physicalOffset });
    t.equal(viewed.code, ResponseCode.SUCCESS, `${broker.config.dLegerSelfId} answers`);
    bodies.push(Buffer.from(viewed.body!).toString('hex'));
  }
  t.equal(new Set(bodies).size, 1, 'every member holds the same stored bytes at that offset');
  const message = decodeMessage(Buffer.from(bodies[0]!, 'hex'));
  t.equal(message.physicalOffset, physicalOffset);
  t.equal(parseMessageProperties(message.properties).get('KEYS'), 'key-2');

  const missing = await cluster.call(master.brokerAddr, RequestCode.VIEW_MESSAGE_BY_ID, { offset: physicalOffset + 1 });
  t.equal(missing.code, ResponseCode.SYSTEM_ERROR, 'no message starts there');
  t.equal(missing.remark, `can not find message by the offset, ${physicalOffset + 1}`);
  const badId = await mqadmin('queryMsgById', '-n', cluster.namesrvAddr, '-i', 'not-an-id');
  t.equal(badId.code, 1);
  t.match(badId.err, /is not 32 hex digits/);
  const usage = await mqadmin('queryMsgById', '-n', cluster.namesrvAddr);
  t.equal(usage.code, 2);
  t.match(usage.err, /queryMsgById needs -i msgId/);

  t.comment('failover: the old master stops, the new one answers for the same offset');
  await master.close();
  const successor = await until(() => cluster.brokers.find((b) => b !== master && b.commitLog.isWritable()), 10_000, 'a new master');
  const after = await cluster.call(successor.brokerAddr, RequestCode.VIEW_MESSAGE_BY_ID, { offset: physicalOffset });
  t.equal(after.code, ResponseCode.SUCCESS);
  t.equal(Buffer.from(after.body!).toString('hex'), bodies[0], 'the new master serves the same bytes');
});
