// Goal: `mqadmin queryMsgByOffset -t T -b brokerName -i queueId -o offset` prints the message at a
// queue offset (RocketMQ's QueryMsgByOffsetSubCommand: one pull, printed as queryMsgById prints),
// and SEARCH_OFFSET_BY_TIMESTAMP answers from the consume queue by store time with RocketMQ's
// boundary rules (LOWER/UPPER, before the first, after the last, exact store times), on the
// master, on a follower and, after the master stopped, on the new master with the same answers.
// Method: an in-process name server + 3-broker DLedger group (real sockets), SEND_MESSAGE_V2 as
// ali-ons sends, in 3 bursts 40 ms apart so store times differ; store times read back by pull.
import t from 'tap';
import { decodeMessage, formatMessageProperties } from '../../src/broker/message-codec.js';
import { main } from '../../src/cli/mqadmin.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'OffsetTopic';

async function mqadmin(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (text) => (out += text), (text) => (err += text));
  return { code, out, err };
}

t.test('queryMsgByOffset and SEARCH_OFFSET_BY_TIMESTAMP', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.slice(-40).join('\n')); });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr, 5000, 'the master registered as 0');
  const createTopic = { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, createTopic)).code, ResponseCode.SUCCESS);
  // 3 bursts of 4 messages to queue 1, 40 ms apart.
  for (let burst = 0; burst < 3; burst++) {
    for (let i = 0; i < 4; i++) {
      const n = burst * 4 + i;
      const fields = { a: 'PG', b: TOPIC, c: 'TBW102', d: 4, e: 1, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', `Tag${n}`], ['KEYS', `key-${n}`], ['WAIT', 'true']]), j: 0, k: false };
      t.equal((await cluster.call(master.brokerAddr, RequestCode.SEND_MESSAGE_V2, fields, Buffer.from(`offset body ${n}`))).code, ResponseCode.SUCCESS);
    }
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  await until(() => cluster.brokers.every((b) => b.commitLog.state.maxOffset(TOPIC, 1) === 12), 5000, 'every member applied the messages');

  // Store times as a pull returns them.
  const pulled = await cluster.call(master.brokerAddr, RequestCode.PULL_MESSAGE, { consumerGroup: 'TOOLS_CONSUMER', topic: TOPIC, queueId: 1, queueOffset: 0, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0, expressionType: 'TAG' });
  t.equal(pulled.code, ResponseCode.SUCCESS);
  const times: number[] = [];
  for (let at = 0; at < pulled.body!.length;) {
    const message = decodeMessage(pulled.body!, at);
    times.push(message.storeTimestampMs);
    at += pulled.body!.readInt32BE(at);
  }
  t.equal(times.length, 12);
  t.ok(times.every((time, i) => i === 0 || time >= times[i - 1]!), `store times do not decrease: ${times.join(',')}`);
  const firstOf = (time: number): number => times.indexOf(time);
  const lastOf = (time: number): number => times.lastIndexOf(time);
  const gap = times.findIndex((time, i) => i > 0 && time > times[i - 1]! + 1);
  t.ok(gap > 0, 'the bursts left a gap in store times');

  /** Every question and RocketMQ's answer for these times. */
  const cases: Array<[string, Record<string, string | number>, number]> = [
    ['before the first (LOWER)', { timestamp: times[0]! - 1000 }, 0],
    ['before the first (UPPER)', { timestamp: times[0]! - 1000, boundaryType: 'UPPER' }, 0],
    ['after the last (LOWER)', { timestamp: times[11]! + 1000 }, 12],
    ['after the last (UPPER)', { timestamp: times[11]! + 1000, boundaryType: 'UPPER' }, 11],
    ['exactly the 6th message\'s time (LOWER)', { timestamp: times[5]! }, firstOf(times[5]!)],
    ['exactly the 6th message\'s time (UPPER)', { timestamp: times[5]!, boundaryType: 'UPPER' }, lastOf(times[5]!)],
    ['inside the gap (LOWER)', { timestamp: times[gap - 1]! + 1 }, gap],
    ['inside the gap (UPPER)', { timestamp: times[gap - 1]! + 1, boundaryType: 'UPPER' }, gap - 1],
  ];
  const answersOf = async (addr: string): Promise<number[]> => {
    const answers: number[] = [];
    for (const [, fields] of cases) {
      const response = await cluster.call(addr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: TOPIC, queueId: 1, ...fields });
      answers.push(response.code === ResponseCode.SUCCESS ? Number(response.extFields['offset']) : -response.code);
    }
    return answers;
  };
  const want = cases.map(([, , offset]) => offset);
  const onMaster = await answersOf(master.brokerAddr);
  cases.forEach(([what], i) => t.equal(onMaster[i], want[i], `master: ${what} -> ${want[i]}`));
  const follower = cluster.brokers.find((b) => b !== master)!;
  t.same(await answersOf(follower.brokerAddr), want, 'a follower answers the same from its own queue');
  const empty = await cluster.call(master.brokerAddr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: TOPIC, queueId: 0, timestamp: times[0]! });
  t.equal(empty.extFields['offset'], '0', 'an empty queue: 0');
  const bad = await cluster.call(master.brokerAddr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: TOPIC, queueId: 1, timestamp: 5, boundaryType: 'MIDDLE' });
  t.equal(bad.code, ResponseCode.SYSTEM_ERROR);
  t.match(bad.remark, /boundaryType must be LOWER or UPPER/);

  const shown = await mqadmin('queryMsgByOffset', '-n', cluster.namesrvAddr, '-t', TOPIC, '-b', 'RaftNode00', '-i', '1', '-o', '6');
  t.equal(shown.code, 0, shown.err);
  t.match(shown.out, /OffsetID:\s+[0-9A-F]{32}\n/);
  t.match(shown.out, new RegExp(`Topic:\\s+${TOPIC}\\n`));
  t.match(shown.out, /Tags:\s+\[Tag6\]/);
  t.match(shown.out, /Keys:\s+\[key-6\]/);
  t.match(shown.out, /Queue ID:\s+1\n/);
  t.match(shown.out, /Queue Offset:\s+6\n/);
  t.match(shown.out, /Store Host:\s+127\.0\.0\.1:\d+\n/);
  t.match(shown.out, /Message Body:\s+offset body 6/);
  const offsetId = /OffsetID:\s+([0-9A-F]{32})/.exec(shown.out)![1]!;
  const byId = await mqadmin('queryMsgById', '-n', cluster.namesrvAddr, '-i', offsetId);
  t.equal(byId.code, 0, byId.err);
  t.equal(byId.out, shown.out, 'queryMsgById of its OffsetID prints the same');

  const past = await mqadmin('queryMsgByOffset', '-n', cluster.namesrvAddr, '-t', TOPIC, '-b', 'RaftNode00', '-i', '1', '-o', '12');
  t.equal(past.code, 0, 'no message there: exit 0 and nothing on stdout, as Java');
  t.equal(past.out, '');
  t.match(past.err, /no message at offset 12 of OffsetTopic-RaftNode00-1 .*NO_NEW_MSG \(the queue holds \[0, 12\)\)/);
  const wrongGroup = await mqadmin('queryMsgByOffset', '-n', cluster.namesrvAddr, '-t', TOPIC, '-b', 'NoSuchBroker', '-i', '1', '-o', '0');
  t.equal(wrongGroup.code, 1);
  t.match(wrongGroup.err, /broker group NoSuchBroker does not serve OffsetTopic \(route: RaftNode00\)/);
  const usage = await mqadmin('queryMsgByOffset', '-n', cluster.namesrvAddr, '-t', TOPIC, '-b', 'RaftNode00', '-i', '1');
  t.equal(usage.code, 2);
  t.match(usage.err, /queryMsgByOffset needs -o offset/);
  const badQueue = await mqadmin('queryMsgByOffset', '-n', cluster.namesrvAddr, '-t', TOPIC, '-b', 'RaftNode00', '-i', 'x', '-o', '0');
  t.equal(badQueue.code, 2);
  t.match(badQueue.err, /-i queueId must be an integer/);

  t.comment('failover: the old master stops; the new master answers the same');
  await master.close();
  const successor = await until(() => cluster.brokers.find((b) => b !== master && b.commitLog.isWritable()), 10_000, 'a new master');
  await until(() => cluster.brokerAddrs().get(0) === successor.brokerAddr, 10_000, 'the new master registered as 0');
  t.same(await answersOf(successor.brokerAddr), want, 'the new master: same search answers');
  const after = await mqadmin('queryMsgByOffset', '-n', cluster.namesrvAddr, '-t', TOPIC, '-b', 'RaftNode00', '-i', '1', '-o', '6');
  t.equal(after.code, 0, after.err);
  t.equal(after.out, shown.out, 'queryMsgByOffset through the new master prints the same message');
});
