// Goal: our stored-message bytes are RocketMQ's (field offsets, V1/V2 magic, BODYCRC, hosts,
// properties string), msgIds and tagsCodes match what Java computes, the physical-offset patch
// writes pos + 48, and the decoder never reads out of range: any malformed input is a
// MessageFormatError. Method: a hand-checked layout of one message, Java reference values
// computed by hand/known constants, then a seeded fuzz of truncations, bit flips and random bytes.
import t from 'tap';
import {
  bodyCrcOf, createMessageId, decodeMessage, decodeMessages, encodeMessage, formatMessageProperties, ipv4Bytes,
  javaStringHashCode, MESSAGE_MAGIC_V1, MESSAGE_MAGIC_V2, MessageFormatError, type MessageFields, MessageSysFlag,
  parseMessageProperties, patchPhysicalOffset, patchQueueOffset,
} from '../../src/broker/message-codec.js';
import { Prng } from '../../src/util/prng.js';

function sample(overrides: Partial<MessageFields> = {}): MessageFields {
  return {
    topic: 'TopicTest',
    queueId: 3,
    flag: 7,
    queueOffset: 41,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestampMs: 1_700_000_000_123,
    bornHost: { ip: Uint8Array.of(10, 0, 0, 2), port: 51234 },
    storeTimestampMs: 1_700_000_000_456,
    storeHost: { ip: Uint8Array.of(192, 168, 1, 10), port: 30911 },
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: new TextEncoder().encode('Hello RocketMQ'),
    properties: formatMessageProperties([['TAGS', 'TagA'], ['KEYS', 'k1'], ['WAIT', 'true']]),
    ...overrides,
  };
}

t.test('layout: every field at RocketMQ\'s offset', async (t) => {
  const fields = sample();
  const bytes = encodeMessage(fields);
  const view = new DataView(bytes.buffer);
  const topicLength = 9;
  const propsLength = new TextEncoder().encode(fields.properties).length;
  t.equal(bytes.length, 91 + fields.body.length + topicLength + propsLength, 'TOTALSIZE = 91 + body + topic + properties (IPv4, V1)');
  t.equal(view.getInt32(0), bytes.length);
  t.equal(view.getInt32(4), -626843481, 'MAGICCODE 0xDAA320A7');
  t.equal(view.getInt32(8), bodyCrcOf(fields.body));
  t.equal(view.getInt32(12), 3);
  t.equal(view.getInt32(16), 7);
  t.equal(view.getBigInt64(20), 41n);
  t.equal(view.getBigInt64(28), 0n);
  t.equal(view.getInt32(36), 0);
  t.equal(view.getBigInt64(40), 1_700_000_000_123n);
  t.same([...bytes.subarray(48, 52)], [10, 0, 0, 2]);
  t.equal(view.getInt32(52), 51234);
  t.equal(view.getBigInt64(56), 1_700_000_000_456n);
  t.same([...bytes.subarray(64, 68)], [192, 168, 1, 10]);
  t.equal(view.getInt32(68), 30911);
  t.equal(view.getInt32(72), 0);
  t.equal(view.getBigInt64(76), 0n);
  t.equal(view.getInt32(84), fields.body.length);
  t.equal(Buffer.from(bytes.subarray(88, 88 + 14)).toString(), 'Hello RocketMQ');
  t.equal(bytes[102], topicLength);
  t.equal(Buffer.from(bytes.subarray(103, 112)).toString(), 'TopicTest');
  t.equal(view.getInt16(112), propsLength);
  t.equal(Buffer.from(bytes.subarray(114)).toString(), 'TAGS\u0001TagA\u0002KEYS\u0001k1\u0002WAIT\u0001true\u0002');
  const decoded = decodeMessage(bytes);
  t.same({ ...decoded, body: [...decoded.body], bornHost: { ...decoded.bornHost, ip: [...decoded.bornHost.ip] }, storeHost: { ...decoded.storeHost, ip: [...decoded.storeHost.ip] } }, {
    ...fields, body: [...fields.body], bornHost: { ip: [10, 0, 0, 2], port: 51234 }, storeHost: { ip: [192, 168, 1, 10], port: 30911 },
    totalSize: bytes.length, magic: MESSAGE_MAGIC_V1, bodyCrc: bodyCrcOf(fields.body),
  }, 'decode inverts encode');
});

t.test('known CRC, hash and msgId values', async (t) => {
  // CRC32("123456789") = 0xCBF43926 (the CRC-32 check value); masked with 0x7FFFFFFF.
  t.equal(bodyCrcOf(new TextEncoder().encode('123456789')), 0xcbf43926 & 0x7fffffff);
  // Java: "TagA".hashCode() == 2598919, "".hashCode() == 0, "hello world".hashCode() == 1794106052.
  t.equal(javaStringHashCode('TagA'), 2598919);
  t.equal(javaStringHashCode(''), 0);
  t.equal(javaStringHashCode('hello world'), 1794106052);
  t.equal(javaStringHashCode('polygenelubricants'), -2147483648, 'wraps like a Java int');
  // 192.168.1.10 = C0A8010A, port 30911 = 000078BF, offset 0x1234.
  t.equal(createMessageId({ ip: ipv4Bytes('192.168.1.10'), port: 30911 }, 0x1234), 'C0A8010A000078BF0000000000001234');
  t.same([...ipv4Bytes('::ffff:127.0.0.1')], [127, 0, 0, 1], 'dual-stack socket addresses map to IPv4');
  t.throws(() => ipv4Bytes('::1'), MessageFormatError);
});

t.test('patches: physical offset = pos + 48, queue offset', async (t) => {
  const bytes = encodeMessage(sample());
  patchPhysicalOffset(bytes, 1000);
  patchQueueOffset(bytes, 77);
  const decoded = decodeMessage(bytes);
  t.equal(decoded.physicalOffset, 1048);
  t.equal(decoded.queueOffset, 77);
  const notMessage = Uint8Array.from({ length: 64 }, (_, i) => i);
  patchPhysicalOffset(notMessage, 5);
  t.same([...notMessage], Array.from({ length: 64 }, (_, i) => i), 'bytes that are not a message are left alone');
});

t.test('IPv6 hosts, V2 topics, properties', async (t) => {
  const v6 = sample({ bornHost: { ip: new Uint8Array(16).fill(1), port: 1 }, topic: 'T'.repeat(200) });
  const bytes = encodeMessage(v6);
  const decoded = decodeMessage(bytes);
  t.equal(decoded.magic, MESSAGE_MAGIC_V2, 'a topic over 127 bytes needs V2');
  t.equal(decoded.sysFlag & MessageSysFlag.BORNHOST_V6, MessageSysFlag.BORNHOST_V6, 'the born-host flag follows the address');
  t.equal(decoded.sysFlag & MessageSysFlag.STOREHOST_V6, 0);
  t.equal(decoded.topic, v6.topic);
  t.same([...decoded.bornHost.ip], [...v6.bornHost.ip]);
  t.same([...parseMessageProperties('TAGS\u0001a\u0002KEYS\u0001k\u0002junk\u0002')], [['TAGS', 'a'], ['KEYS', 'k']]);
  t.throws(() => formatMessageProperties([['a\u0001', 'b']]), MessageFormatError);
  t.throws(() => encodeMessage(sample({ properties: 'x'.repeat(40000) })), /properties of 40000 bytes/);
  t.throws(() => encodeMessage(sample({ queueId: 2 ** 31 })), /queueId/);
  t.throws(() => encodeMessage(sample({ storeHost: { ip: new Uint8Array(5), port: 1 } })), /storeHost/);
});

t.test('decode errors name the problem', async (t) => {
  const good = encodeMessage(sample());
  t.throws(() => decodeMessage(good.subarray(0, 5)), /a message header needs at least 8/);
  t.throws(() => decodeMessage(good.subarray(0, good.length - 1)), /runs past the end of the buffer/);
  const badCrc = good.slice();
  badCrc[90] = (badCrc[90] as number) ^ 1;
  t.throws(() => decodeMessage(badCrc), /BODYCRC/);
  t.doesNotThrow(() => decodeMessage(badCrc, 0, { verifyBodyCrc: false }));
  const badMagic = good.slice();
  badMagic[5] = 0;
  t.throws(() => decodeMessage(badMagic), /MAGICCODE/);
  const longBody = good.slice();
  new DataView(longBody.buffer).setInt32(84, 1_000_000);
  t.throws(() => decodeMessage(longBody), /BODY of 1000000 bytes at \+88 runs past TOTALSIZE/);
  const negativeBody = good.slice();
  new DataView(negativeBody.buffer).setInt32(84, -5);
  t.throws(() => decodeMessage(negativeBody), MessageFormatError);
  const two = new Uint8Array(good.length * 2);
  two.set(good);
  two.set(good, good.length);
  t.equal(decodeMessages(two).length, 2, 'back-to-back records (a pull body)');
});

t.test('fuzz: malformed input is a MessageFormatError, never a crash', async (t) => {
  const prng = new Prng(20261125);
  const bases = [encodeMessage(sample()), encodeMessage(sample({ topic: 'x'.repeat(300), body: new Uint8Array(0), properties: '' })),
    encodeMessage(sample({ storeHost: { ip: new Uint8Array(16), port: 9 }, body: new Uint8Array(3000) }))];
  let decoded = 0;
  let rejected = 0;
  for (let round = 0; round < 20_000; round++) {
    const base = prng.pick(bases);
    let bytes: Uint8Array;
    switch (prng.intBetween(0, 4)) {
      case 0: bytes = base.subarray(0, prng.intBetween(0, base.length)); break;
      case 1: {
        bytes = base.slice();
        for (let flips = prng.intBetween(1, 4); flips > 0; flips--) {
          const at = prng.intBetween(0, bytes.length);
          bytes[at] = (bytes[at] as number) ^ (1 << prng.intBetween(0, 8));
        }
        break;
      }
      case 2: {
        bytes = base.slice();
        // Overwrite a length-bearing int with a random value.
        const at = prng.pick([0, 84, 36]);
        new DataView(bytes.buffer).setInt32(at, prng.intBetween(-(2 ** 31), 2 ** 31));
        break;
      }
      default: bytes = Uint8Array.from({ length: prng.intBetween(0, 200) }, () => prng.intBetween(0, 256));
    }
    try {
      const message = decodeMessage(bytes, 0, { verifyBodyCrc: prng.chance(0.5) });
      if (message.totalSize > bytes.length) {
        t.fail(`round ${round}: decoded a record longer than its buffer`);
        return;
      }
      decoded++;
    } catch (error) {
      if (!(error instanceof MessageFormatError)) {
        t.fail(`round ${round}: ${(error as Error).name}: ${(error as Error).message}`);
        return;
      }
      rejected++;
    }
  }
  t.ok(rejected > 10_000, `${rejected} rejected with MessageFormatError`);
  t.ok(decoded > 100, `${decoded} mutated records still decoded (flips in data fields)`);
});
