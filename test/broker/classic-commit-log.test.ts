// Goal: the classic single-node commit log (enableDLegerCommitLog=false) stores messages in
// RocketMQ's format in full-size files named by their 20-digit start offset, a message that does
// not fit goes to the next file behind a BLANK, and a restart rebuilds the same consume queues,
// topics and consumer offsets from the files; a torn tail is cut (and the next message lands where
// the torn one started), damage before the tail refuses the open.
// Method: ClassicCommitLog on real mapped files in a temp dir (64 KiB files), closed and reopened.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BLANK_MAGIC_CODE } from '../../src/broker/classic-files.js';
import { ClassicCommitLog } from '../../src/broker/classic-commit-log.js';
import type { MessageToPut } from '../../src/broker/dledger-commit-log.js';
import { createMessageId, decodeMessage, formatMessageProperties } from '../../src/broker/message-codec.js';
import { StoreCorruptionError } from '../../src/store/errors.js';

const FILE_BYTES = 64 * 1024;
const HOST = { ip: Uint8Array.of(127, 0, 0, 1), port: 10911 };

function open(dir: string, flushDiskType: 'SYNC_FLUSH' | 'ASYNC_FLUSH' = 'SYNC_FLUSH'): ClassicCommitLog {
  return new ClassicCommitLog({ directoryPath: dir, fileSizeBytes: FILE_BYTES, maxMessageBytes: 16 * 1024, flushDiskType, storeHost: HOST, log: () => undefined });
}

function message(topic: string, queueId: number, body: string): MessageToPut {
  return { topic, queueId, flag: 0, sysFlag: 0, bornTimestampMs: Date.now(), bornHost: HOST, reconsumeTimes: 0, body: Buffer.from(body), properties: formatMessageProperties([['TAGS', 'TagA']]) };
}

t.test('write, read, files, restart, torn tail', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classic-log-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let log = open(dir);
  await log.start();
  t.equal(log.role.role, 'master', 'a classic broker is the master');
  await log.proposeCommand({ type: 'upsertTopic', topic: { topicName: 'T', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
  const results = [];
  // ~1 KiB messages over 64 KiB files: several files, each ended by a BLANK.
  for (let i = 0; i < 200; i++) results.push(...await log.putMessages([message('T', i % 2, `body-${i}-${'x'.repeat(900)}`)]));
  await log.proposeCommand({ type: 'commitOffsets', group: 'CG', offsets: [{ topic: 'T', queueId: 0, offset: 42 }] });
  t.same(results.filter((r) => r.queueId === 0).map((r) => r.queueOffset), Array.from({ length: 100 }, (_, i) => i), 'queue 0 offsets 0-99');
  t.equal(results[0]?.msgId, createMessageId(HOST, results[0]?.physicalOffset ?? -1), 'msgId = store host + physical offset');

  const files = fs.readdirSync(dir).sort();
  t.ok(files.length >= 3, `${files.length} files`);
  files.forEach((name, i) => {
    t.equal(name, String(i * FILE_BYTES).padStart(20, '0'), `file ${i} named by its start offset`);
    t.equal(fs.statSync(path.join(dir, name)).size, FILE_BYTES, `${name} is full size`);
  });
  // The first file ends with a BLANK whose TOTALSIZE is the bytes left in it.
  const lastInFirst = results.filter((r) => r.physicalOffset < FILE_BYTES).at(-1);
  t.ok(lastInFirst !== undefined);
  const firstFile = fs.readFileSync(path.join(dir, files[0] as string));
  const blankAt = (lastInFirst?.physicalOffset ?? 0) + firstFile.readInt32BE(lastInFirst?.physicalOffset ?? 0);
  t.equal(firstFile.readInt32BE(blankAt + 4), BLANK_MAGIC_CODE, 'BLANK magic after the last message of file 0');
  t.equal(firstFile.readInt32BE(blankAt), FILE_BYTES - blankAt, 'BLANK size = rest of the file');

  const readAll = (l: ClassicCommitLog, queueId: number): string[] => l.readMessages('T', queueId, 0, 1000, 1 << 30).map((bytes) => Buffer.from(decodeMessage(bytes).body).toString());
  const before = [readAll(log, 0), readAll(log, 1)];
  t.equal(before[0]?.length, 100);
  const someMessage = results[137];
  const byOffset = log.readByPhysicalOffset(someMessage?.physicalOffset ?? -1);
  t.equal(byOffset === null ? null : decodeMessage(byOffset).queueOffset, someMessage?.queueOffset, 'readByPhysicalOffset finds a message by its offset (msgId lookup)');
  t.equal(log.readByPhysicalOffset((someMessage?.physicalOffset ?? 0) + 1), null, 'no message starts inside another');
  const end = log.files.endOffset;
  await log.close();

  t.comment('restart');
  log = open(dir);
  await log.start();
  t.equal(log.recovery?.messages, 202, '200 messages and 2 commands recovered');
  t.equal(log.recovery?.cutBytes, 0, 'clean tail');
  t.same([readAll(log, 0), readAll(log, 1)], before, 'the same queues after a restart');
  t.equal(log.state.consumerOffset('CG', 'T', 0), 42, 'consumer offset recovered');
  t.equal(log.state.topicConfig('T')?.writeQueueNums, 2, 'topic config recovered');
  const [next] = await log.putMessages([message('T', 0, 'after restart')]);
  t.equal(next?.queueOffset, 100, 'queue offsets continue');
  t.equal(next?.physicalOffset, end, 'the next message goes where the log ended');
  await log.close();

  t.comment('torn tail: half a message after the end');
  const nextOffset = next?.physicalOffset ?? 0;
  const lastFile = path.join(dir, String(nextOffset - (nextOffset % FILE_BYTES)).padStart(20, '0'));
  const fileBytes = fs.readFileSync(lastFile);
  const size = fileBytes.readInt32BE(nextOffset % FILE_BYTES);
  const tornAt = nextOffset + size;
  t.ok((tornAt % FILE_BYTES) + size < FILE_BYTES, 'room for the torn copy in the same file');
  // A copy of the last message placed after it (a plausible header at the right offset), cut short.
  const torn = Buffer.from(fileBytes.subarray(nextOffset % FILE_BYTES, (nextOffset % FILE_BYTES) + size));
  torn.writeBigInt64BE(BigInt(tornAt), 28);
  const fd = fs.openSync(lastFile, 'r+');
  fs.writeSync(fd, torn, 0, size - 20, tornAt % FILE_BYTES);
  fs.closeSync(fd);
  log = open(dir);
  await log.start();
  t.equal(log.recovery?.messages, 203, 'every complete message kept');
  t.ok((log.recovery?.cutBytes ?? 0) > 0, `torn tail of ${log.recovery?.cutBytes} bytes cut (${log.recovery?.stopReason})`);
  t.equal(log.files.endOffset, tornAt, 'the log ends before the torn message');
  const [afterTear] = await log.putMessages([message('T', 1, 'after the tear')]);
  t.equal(afterTear?.physicalOffset, tornAt, 'the next message replaces the torn one');
  t.equal(afterTear?.queueOffset, 100, 'queue 1 continues at 100');
  await log.close();
  log = open(dir);
  await log.start();
  t.equal(log.recovery?.cutBytes, 0, 'nothing left to cut');
  t.equal(readAll(log, 1).at(-1), 'after the tear');
  await log.close();

  t.comment('damage before the tail');
  const first = path.join(dir, files[0] as string);
  const bytes = fs.readFileSync(first);
  bytes[200] = (bytes[200] ?? 0) ^ 0xff; // inside the first message's fields
  fs.writeFileSync(first, bytes);
  log = open(dir);
  await t.rejects(log.start(), StoreCorruptionError, 'a valid later file after a broken record is refused, not cut');
});

t.test('ASYNC_FLUSH acknowledges from the page cache and survives a reopen', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classic-log-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = open(dir, 'ASYNC_FLUSH');
  await log.start();
  const put = await log.putMessages([message('A', 0, 'one'), message('A', 0, 'two')]);
  t.same(put.map((r) => r.queueOffset), [0, 1], 'a batch gets consecutive offsets');
  await log.close();
  const again = open(dir);
  await again.start();
  t.same(again.readMessages('A', 0, 0, 10, 1 << 20).map((b) => Buffer.from(decodeMessage(b).body).toString()), ['one', 'two']);
  await again.close();
});
