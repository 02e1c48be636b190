// Goal: index files in RocketMQ's layout ({storePathRootDir}/index/: 40-byte header, hash slots,
// 20-byte entries chained per slot, a new file when maxIndexNum is reached) find messages sent by
// the real ali-ons client by key: QUERY_MESSAGE (12) and `mqadmin queryMsgByKey -t T -k K` on the
// master, every follower, and the new master after the old one stopped; a key no message has
// answers QUERY_NOT_FOUND. Small files (8 slots, 40 entries) force hash collisions (the walk must
// skip other keys' entries) and several files.
// Method: in-process name server + 3-broker DLedger group (broker-harness.ts, real sockets); the
// index files are read back with plain fs reads and checked against the sends.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { decodeMessages, parseMessageProperties } from '../../src/broker/message-codec.js';
import { indexKeyHash, INDEX_HEADER_BYTES } from '../../src/broker/store/index-file.js';
import { main } from '../../src/cli/mqadmin.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { closeAll, ons, produce, SHORT_INTERVALS_MS, type AliClient } from '../quickstart/ali-ons-client.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const TOPIC = 'KeyTopic';
const COUNT = 60;
const SLOTS = 8;
const ENTRIES = 40;

async function mqadmin(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (text) => (out += text), (text) => (err += text));
  return { code, out, err };
}

t.test('queryMsgByKey through index files', async (t) => {
  const cluster = await startCluster({ maxHashSlotNum: String(SLOTS), maxIndexNum: String(ENTRIES) });
  const clients: AliClient[] = [];
  t.teardown(async () => {
    await closeAll(clients);
    await cluster.close();
  });
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.slice(-40).join('\n')); });
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr || null, 5000, 'the master registered as 0');
  const createTopic = { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
  t.equal((await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, createTopic)).code, ResponseCode.SUCCESS);
  await until(() => cluster.namesrv.routeInfo.topicRoute(TOPIC), 5000, 'the topic route');

  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_query_key', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const sent = await produce(producer, TOPIC, 'kb', COUNT);
  t.equal(sent.size, COUNT);
  const total = [...sent.values()].length;
  await until(() => cluster.brokers.every((b) => b.commitLog.state.maxOffset(TOPIC, 0) + b.commitLog.state.maxOffset(TOPIC, 1) === total) || null, 10_000, 'every member applied the messages');

  t.comment('the files on disk: RocketMQ layout, several files, every key present once per member');
  for (const broker of cluster.brokers) {
    const dir = path.join(broker.config.storePathRootDir, 'index');
    const names = fs.readdirSync(dir).sort();
    t.ok(names.length >= 2, `${broker.config.dLegerSelfId}: ${names.length} index files (maxIndexNum ${ENTRIES})`);
    t.ok(names.every((name) => /^\d{17}_*$/.test(name)), 'named by store time, yyyyMMddHHmmssSSS');
    let entries = 0;
    for (const name of names) {
      const bytes = fs.readFileSync(path.join(dir, name));
      t.equal(bytes.length, INDEX_HEADER_BYTES + SLOTS * 4 + ENTRIES * 20, 'header + slots + entries');
      const indexCount = bytes.readInt32BE(36);
      t.ok(indexCount >= 2 && indexCount <= ENTRIES, `indexCount ${indexCount}`);
      t.ok(bytes.readBigInt64BE(0) <= bytes.readBigInt64BE(8), 'beginTimestamp <= endTimestamp');
      t.ok(bytes.readBigInt64BE(16) <= bytes.readBigInt64BE(24), 'beginPhyOffset <= endPhyOffset');
      for (let i = 1; i < indexCount; i++) {
        const at = INDEX_HEADER_BYTES + SLOTS * 4 + i * 20;
        const prev = bytes.readInt32BE(at + 16);
        if (!(prev >= 0 && prev < i)) t.fail(`entry ${i} links to ${prev}, not an older entry`);
      }
      entries += indexCount - 1;
    }
    // ali-ons 3.x sets KEYS (one key) and no UNIQ_KEY: one entry per message.
    t.equal(entries, COUNT, `${broker.config.dLegerSelfId}: ${entries} index entries`);
  }

  const [body, result] = [...sent.entries()][37]!;
  const key = `key-${body}`;
  const listed = await mqadmin('queryMsgByKey', '-n', cluster.namesrvAddr, '-t', TOPIC, '-k', key);
  t.equal(listed.code, 0, listed.err);
  const rows = listed.out.trim().split('\n');
  t.match(rows[0], /^#Message ID\s+#QID\s+#Offset$/);
  t.equal(rows.length, 2, `exactly one message has ${key} (other keys share its slot)`);
  t.same(rows[1]!.trim().split(/\s+/).slice(1), [String(result.messageQueue.queueId), String(result.queueOffset)], 'its queue and offset as sent');

  for (const broker of cluster.brokers) {
    const answer = await cluster.call(broker.brokerAddr, RequestCode.QUERY_MESSAGE, { topic: TOPIC, key, maxNum: 32, beginTimestamp: 0, endTimestamp: Number.MAX_SAFE_INTEGER });
    t.equal(answer.code, ResponseCode.SUCCESS, `${broker.config.dLegerSelfId} answers`);
    const found = decodeMessages(answer.body!).filter((m) => parseMessageProperties(m.properties).get('KEYS') === key);
    t.equal(found.length, 1, 'the message, found by key');
    t.equal(Buffer.from(found[0]!.body).toString(), body);
    t.ok(Number(answer.extFields['indexLastUpdatePhyoffset']) >= found[0]!.physicalOffset, 'the header says how far the index got');
  }
  const storeTime = decodeMessages((await cluster.call(master.brokerAddr, RequestCode.QUERY_MESSAGE, { topic: TOPIC, key, maxNum: 64, beginTimestamp: 0, endTimestamp: Number.MAX_SAFE_INTEGER })).body!)
    .find((m) => parseMessageProperties(m.properties).get('KEYS') === key)!.storeTimestampMs;
  const tooEarly = await cluster.call(master.brokerAddr, RequestCode.QUERY_MESSAGE, { topic: TOPIC, key, maxNum: 64, beginTimestamp: 0, endTimestamp: storeTime - 5000 });
  t.notOk(tooEarly.code === ResponseCode.SUCCESS && decodeMessages(tooEarly.body!).some((m) => parseMessageProperties(m.properties).get('KEYS') === key), 'outside the time range: not returned');
  const none = await cluster.call(master.brokerAddr, RequestCode.QUERY_MESSAGE, { topic: TOPIC, key: 'no-such-key-at-all', maxNum: 64, beginTimestamp: 0, endTimestamp: Number.MAX_SAFE_INTEGER });
  t.ok(none.code === ResponseCode.QUERY_NOT_FOUND || decodeMessages(none.body!).every((m) => parseMessageProperties(m.properties).get('KEYS') !== 'no-such-key-at-all'), 'an unknown key finds nothing');
  const wrongTopic = await mqadmin('queryMsgByKey', '-n', cluster.namesrvAddr, '-t', TOPIC, '-k', 'no-such-key-at-all');
  t.equal(wrongTopic.code, 0);
  t.equal(wrongTopic.out.trim().split('\n').length, 1, 'mqadmin lists no message for an unknown key');
  t.equal(indexKeyHash('Aa'), indexKeyHash('BB'), 'Java String.hashCode collision (the walk must check more than the hash)');
  const usage = await mqadmin('queryMsgByKey', '-n', cluster.namesrvAddr, '-t', TOPIC);
  t.equal(usage.code, 2);
  t.match(usage.err, /queryMsgByKey needs -k key/);

  t.comment('failover: the old master stops, the new one finds the message by key');
  await closeAll(clients);
  clients.length = 0;
  await master.close();
  const successor = await until(() => cluster.brokers.find((b) => b !== master && b.commitLog.isWritable()), 10_000, 'a new master');
  await until(() => cluster.brokerAddrs().get(0) === successor.brokerAddr || null, 10_000, 'the new master registered as 0');
  const after = await mqadmin('queryMsgByKey', '-n', cluster.namesrvAddr, '-t', TOPIC, '-k', key);
  t.equal(after.code, 0, after.err);
  t.same(after.out.trim().split('\n').slice(1).map((row) => row.trim().split(/\s+/).slice(1)), [[String(result.messageQueue.queueId), String(result.queueOffset)]], 'the same message from the new master');
  t.same(errors.map((e) => e.message), [], 'ali-ons reported no error');
});
