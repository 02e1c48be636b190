// Goal: remoting frames round-trip (JSON and ROCKETMQ headers, with and without bodies) across any
// chunking, recorded ali-ons bytes decode as Java would read them (scalar extFields become
// strings), and each malformed shape (short, oversized, bad JSON, wrong types, bad binary
// lengths) is a RemotingFrameError naming the problem.
// Method: encode/decode pairs, a recorded frame from reference §3.1, seeded random chunk splits,
// and hand-built malformed frames.
import t from 'tap';
import { createRequest, createResponse, RemotingFrameError, SerializeType, type RemotingCommand } from '../../src/remoting/command.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { decodeFrameContent, encodeCommand, FRAME_MAX_BYTES, RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { Prng } from '../../src/util/prng.js';

function frameOf(header: Buffer | string, body: Buffer = Buffer.alloc(0), type = 0): Buffer {
  const h = typeof header === 'string' ? Buffer.from(header, 'utf8') : header;
  const out = Buffer.alloc(8 + h.length + body.length);
  out.writeInt32BE(4 + h.length + body.length, 0);
  out.writeUInt32BE(((type << 24) | h.length) >>> 0, 4);
  h.copy(out, 8);
  body.copy(out, 8 + h.length);
  return out;
}

function decodeOne(bytes: Buffer): RemotingCommand {
  const got = new RemotingFrameDecoder().push(bytes);
  if (got.length !== 1) throw new Error(`expected one command, got ${got.length}`);
  return got[0]!;
}

t.test('the recorded ali-ons GET_ROUTEINFO_BY_TOPIC frame decodes as Java reads it', async (t) => {
  const header = '{"code":105,"language":"JAVA","opaque":1,"flag":0,"version":121,"extFields":{"topic":"TopicTest"}}';
  const bytes = frameOf(header);
  t.equal(bytes.readInt32BE(0), 0x66, 'length field as recorded (0x66)');
  t.equal(bytes.readInt32BE(4), 0x62, 'type byte 0 and header length as recorded (0x62)');
  const command = decodeOne(bytes);
  t.equal(command.code, RequestCode.GET_ROUTEINFO_BY_TOPIC);
  t.equal(command.opaque, 1);
  t.equal(command.version, 121);
  t.equal(command.extFields['topic'], 'TopicTest');
  t.equal(command.body, null);
});

t.test('scalar extFields of any JSON type become strings; null values are absent', async (t) => {
  const header = JSON.stringify({ code: 310, opaque: 7, flag: 0, extFields: { a: 'PG', d: 4, g: 1700000000123, k: false, x: null, f: 1.5 } });
  const command = decodeOne(frameOf(header, Buffer.from('hello')));
  t.same({ ...command.extFields }, { a: 'PG', d: '4', g: '1700000000123', k: 'false', f: '1.5' });
  t.equal(command.body?.toString(), 'hello');
  t.equal(command.language, 'JAVA', 'a missing language defaults to JAVA');
});

t.test('JSON and ROCKETMQ commands round-trip across random chunk splits', async (t) => {
  const prng = new Prng(5);
  const commands: RemotingCommand[] = [];
  for (let i = 0; i < 60; i++) {
    const request = createRequest(i % 2 === 0 ? RequestCode.SEND_MESSAGE_V2 : RequestCode.PULL_MESSAGE, {
      extFields: { topic: `T${i}`, queueId: i % 4, ['__proto__']: 'k', unicode: 'ü→雪' },
      body: i % 3 === 0 ? null : Buffer.alloc(prng.intBetween(1, 4000), i),
      remark: i % 5 === 0 ? `remark ${i}` : null,
    });
    request.serializeType = i % 2 === 0 ? SerializeType.JSON : SerializeType.ROCKETMQ;
    commands.push(i % 7 === 0 ? createResponse(request, ResponseCode.PULL_NOT_FOUND, { extFields: { nextBeginOffset: i } }) : request);
  }
  const stream = Buffer.concat(commands.map((c) => encodeCommand(c)));
  for (let trial = 0; trial < 10; trial++) {
    const decoder = new RemotingFrameDecoder();
    const got: RemotingCommand[] = [];
    for (let at = 0; at < stream.length; ) {
      const size = prng.intBetween(1, 700);
      got.push(...decoder.push(stream.subarray(at, at + size)));
      at += size;
    }
    t.equal(got.length, commands.length, `trial ${trial}: every command decoded`);
    t.equal(decoder.bufferedBytes, 0);
    for (let i = 0; i < commands.length; i++) {
      const want = commands[i]!;
      const have = got[i]!;
      const same = have.code === want.code && have.opaque === want.opaque && have.flag === want.flag && have.version === want.version
        && have.remark === want.remark && have.serializeType === want.serializeType && have.language === want.language
        && JSON.stringify({ ...have.extFields }) === JSON.stringify({ ...want.extFields })
        && (have.body === null ? want.body === null : want.body !== null && have.body.equals(want.body));
      if (!same) return t.fail(`trial ${trial}: command ${i} differs: ${JSON.stringify({ ...have, body: null })} vs ${JSON.stringify({ ...want, body: null })}`);
    }
  }
});

t.test('large frames are assembled in one buffer of their declared size, small and large mixed across random splits', async (t) => {
  const prng = new Prng(11);
  const bodies = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? Buffer.alloc(prng.intBetween(64 * 1024, 300 * 1024), i) : Buffer.alloc(prng.intBetween(1, 3000), i)));
  const commands = bodies.map((body, i) => createRequest(RequestCode.SEND_MESSAGE_V2, { extFields: { topic: `T${i}` }, body }));
  const stream = Buffer.concat(commands.map((c) => encodeCommand(c)));
  for (let trial = 0; trial < 6; trial++) {
    const decoder = new RemotingFrameDecoder();
    const got: RemotingCommand[] = [];
    for (let at = 0; at < stream.length; ) {
      const size = prng.intBetween(1, 200 * 1024);
      // The socket's chunk is scribbled over once pushed: nothing decoded may still point into it.
      const chunk = Buffer.from(stream.subarray(at, at + size));
      got.push(...decoder.push(chunk));
      chunk.fill(0xee);
      at += size;
    }
    t.equal(got.length, commands.length, `trial ${trial}: every command decoded`);
    t.equal(decoder.bufferedBytes, 0);
    t.ok(got.every((c, i) => c.extFields['topic'] === `T${i}` && c.body !== null && c.body.equals(bodies[i]!)), `trial ${trial}: same bodies in order`);
  }

  // From the first bytes of a 1 MiB frame on, the decoder holds (has allocated) the declared size.
  const big = encodeCommand(createRequest(RequestCode.SEND_MESSAGE_V2, { extFields: { topic: 'big' }, body: Buffer.alloc(1024 * 1024, 1) }));
  const decoder = new RemotingFrameDecoder();
  t.same(decoder.push(big.subarray(0, 100)), []);
  t.equal(decoder.bufferedBytes, big.length, 'held bytes are the declared frame size');
  t.same(decoder.push(big.subarray(100, big.length - 1)), []);
  t.equal(decoder.push(big.subarray(big.length - 1)).length, 1);
  t.equal(decoder.bufferedBytes, 0);
  // A small frame held in pieces counts what arrived.
  const small = encodeCommand(createRequest(RequestCode.SEND_MESSAGE_V2, { body: Buffer.alloc(1000, 2) }));
  decoder.push(small.subarray(0, 10));
  t.equal(decoder.bufferedBytes, 10);
});

t.test('malformed frames are RemotingFrameErrors naming the problem', async (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['length below the header-length field', Buffer.from([0, 0, 0, 3, 0, 0, 0]), /below the minimum/],
    ['negative length', Buffer.from([0xff, 0xff, 0xff, 0xff]), /below the minimum/],
    ['over the 16 MiB cap', (() => { const b = Buffer.alloc(8); b.writeInt32BE(FRAME_MAX_BYTES - 3, 0); return b; })(), /exceeds the maximum/],
    ['header longer than the frame', (() => { const b = frameOf('{}'); b.writeUInt32BE(100, 4); return b; })(), /header length 100 exceeds/],
    ['unknown serialize type', frameOf('{}', Buffer.alloc(0), 7), /unknown serialize type 7/],
    ['bad JSON', frameOf('{"code":'), /not valid JSON/],
    ['JSON array header', frameOf('[1,2]'), /expected an object/],
    ['code of the wrong type', frameOf('{"code":"105","opaque":3}'), /"code" is the string/],
    ['opaque beyond int32', frameOf('{"code":1,"opaque":4294967296}'), /"opaque".*32-bit/],
    ['extFields as an array', frameOf('{"code":1,"extFields":[1]}'), /"extFields" is an array/],
    ['nested extFields value', frameOf('{"code":1,"extFields":{"a":{"b":1}}}'), /extFields\["a"\] is an object/],
    ['remark of the wrong type', frameOf('{"code":1,"remark":5}'), /"remark" is number/],
    ['binary header too short', frameOf(Buffer.alloc(10), Buffer.alloc(0), 1), /shorter than the fixed/],
    ['binary remark length past the end', frameOf((() => { const b = Buffer.alloc(21); b.writeInt32BE(1000, 13); return b; })(), Buffer.alloc(0), 1), /remark length 1000/],
    ['binary ext length mismatch', frameOf((() => { const b = Buffer.alloc(21); b.writeInt32BE(5, 17); return b; })(), Buffer.alloc(0), 1), /extFields length 5/],
    ['binary ext key length past the end', frameOf((() => { const b = Buffer.alloc(25); b.writeInt32BE(4, 17); b.writeInt16BE(300, 21); return b; })(), Buffer.alloc(0), 1), /key length 300/],
  ];
  for (const [name, bytes, pattern] of cases) {
    try {
      new RemotingFrameDecoder().push(bytes);
      t.fail(`${name}: accepted`);
    } catch (error) {
      t.ok(error instanceof RemotingFrameError, `${name}: a RemotingFrameError`);
      t.match((error as Error).message, pattern, `${name}: ${(error as Error).message}`);
    }
  }
  const withOpaque = (() => { try { decodeFrameContent(frameOf('{"opaque":42,"code":"x"}').subarray(4)); } catch (e) { return e as RemotingFrameError; } return null; })();
  t.equal(withOpaque?.opaque, 42, 'the error carries the opaque when the header got that far');
});

t.test('encoding refuses a frame over the cap', async (t) => {
  const request = createRequest(RequestCode.SEND_MESSAGE, { body: Buffer.alloc(2000) });
  t.throws(() => encodeCommand(request, 1024), RemotingFrameError);
  t.ok(encodeCommand(request, 4096).length < 4096);
});
