// Goal: consume queues on disk in RocketMQ's layout: consumequeue/{topic}/{queueId}/{20-digit byte
// offset} files of mappedFileSizeConsumeQueue bytes holding 20-byte big-endian units (commit-log
// offset int64, size int32, tags code int64); a queue that starts inside a file has RocketMQ's
// blank units before it; retention's truncateBelow deletes whole files below the new minimum.
// Method: MappedConsumeQueueStore over a temp directory with 10-unit files; the bytes read back
// with fs, not through the class.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { CQ_UNIT_BYTES } from '../../src/broker/state/consume-queue.js';
import { consumeQueueFileName, MappedConsumeQueue, MappedConsumeQueueStore } from '../../src/broker/store/mapped-consume-queue.js';
import { buildBrokerConfig, BrokerConfigError } from '../../src/broker/config.js';

const UNITS_PER_FILE = 10;

function unitAt(bytes: Buffer, slot: number): [number, number, number] {
  const at = slot * CQ_UNIT_BYTES;
  return [Number(bytes.readBigInt64BE(at)), bytes.readInt32BE(at + 8), Number(bytes.readBigInt64BE(at + 12))];
}

t.test('units land in RocketMQ-named files of the configured size, byte for byte', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cq-files-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new MappedConsumeQueueStore({ directoryPath: path.join(root, 'consumequeue'), fileSizeBytes: UNITS_PER_FILE * CQ_UNIT_BYTES });
  const queue = store.open('TopicA', 3) as MappedConsumeQueue;
  for (let i = 0; i < 25; i++) t.equal(queue.append(48 + i * 1000, 900 + i, i % 2 === 0 ? -5 : 7), i);
  const dir = path.join(root, 'consumequeue', 'TopicA', '3');
  t.same(fs.readdirSync(dir).sort(), ['00000000000000000000', '00000000000000000200', '00000000000000000400'], 'files named by the byte offset of their first unit');
  t.equal(consumeQueueFileName(6_000_000), '00000000000006000000');
  await store.flush();
  for (const name of fs.readdirSync(dir)) t.equal(fs.statSync(path.join(dir, name)).size, UNITS_PER_FILE * CQ_UNIT_BYTES, `${name} is one file size`);
  const second = fs.readFileSync(path.join(dir, '00000000000000000200'));
  t.same(unitAt(second, 0), [48 + 10 * 1000, 910, -5], 'unit 10: offset, size, negative tags code as int64');
  t.same(unitAt(second, 1), [48 + 11 * 1000, 911, 7]);
  t.same(unitAt(fs.readFileSync(path.join(dir, '00000000000000000400')), 4), [48 + 24 * 1000, 924, -5]);
  t.same(unitAt(fs.readFileSync(path.join(dir, '00000000000000000400')), 5), [0, 0, 0], 'past the end: zeros');
  t.same(queue.get(24), { queueOffset: 24, commitLogOffset: 48 + 24 * 1000, size: 924, tagsCode: -5 });
  t.equal(queue.rawUnits(8, 12).length, 4 * CQ_UNIT_BYTES, 'raw units across a file boundary');
  t.same(unitAt(queue.rawUnits(8, 12), 2), [48 + 10 * 1000, 910, -5]);

  // Retention: the log now starts at unit 13's message: files wholly below go, the one holding it stays.
  t.equal(queue.truncateBelow(48 + 13 * 1000), 13);
  t.equal(queue.minOffset, 13);
  t.equal(queue.maxOffset, 25);
  t.same(fs.readdirSync(dir).sort(), ['00000000000000000200', '00000000000000000400'], 'the first file is deleted');
  t.equal(queue.get(12), null);
  t.equal(queue.get(13)?.commitLogOffset, 48 + 13 * 1000);
  t.equal(queue.truncateBelow(48 + 20 * 1000), 7);
  t.same(fs.readdirSync(dir).sort(), ['00000000000000000400'], 'the file of units 10-19 is deleted once 20 is the minimum');
  t.throws(() => queue.append(48 + 24 * 1000, 1, 0), /offset 24048 after 24048/, 'offsets must grow');
  store.close();
});

t.test('a queue restarted inside a file has blank units before its first one', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cq-files-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new MappedConsumeQueueStore({ directoryPath: root, fileSizeBytes: UNITS_PER_FILE * CQ_UNIT_BYTES });
  const queue = store.open('%RETRY%group', 0);
  queue.restartAt(13);
  t.equal(queue.append(5048, 100, 0), 13);
  await store.flush();
  const bytes = fs.readFileSync(path.join(root, '%RETRY%group', '0', '00000000000000000200'));
  t.same(unitAt(bytes, 0), [0, 0x7fffffff, 0], 'blank: offset 0, size Integer.MAX_VALUE');
  t.same(unitAt(bytes, 2), [0, 0x7fffffff, 0]);
  t.same(unitAt(bytes, 3), [5048, 100, 0]);
  t.equal(queue.get(12), null, 'below the minimum');
  store.removeAll();
  t.same(fs.readdirSync(root), [], 'removeAll empties the directory');
});

t.test('mappedFileSizeConsumeQueue is validated and rounded up to whole units', async (t) => {
  const base = { brokerName: 'b', namesrvAddr: '127.0.0.1:9876', brokerIP1: '127.0.0.1', storePathRootDir: '/tmp/x', enableDLegerCommitLog: 'true', dLegerPeers: 'n0-127.0.0.1:40911', dLegerSelfId: 'n0', dLegerPeerAuth: 'none' };
  t.equal(buildBrokerConfig(base).mappedFileSizeConsumeQueue, 6_000_000, 'default: 300,000 units');
  t.equal(buildBrokerConfig({ ...base, mappedFileSizeConsumeQueue: '1001' }).mappedFileSizeConsumeQueue, 1020);
  t.throws(() => buildBrokerConfig({ ...base, mappedFileSizeConsumeQueue: '10' }), BrokerConfigError);
  t.throws(() => buildBrokerConfig({ ...base, mappedFileSizeConsumeQueue: 'big' }), /mappedFileSizeConsumeQueue/);
  t.throws(() => buildBrokerConfig({ ...base, flushIntervalConsumeQueue: '0' }), /flushIntervalConsumeQueue/);
});
