// Peer frames must round-trip any message split at any byte boundary, and every malformed input
// (oversize length, wrong version, garbage payload, random bytes) must end in a FrameError, never
// another exception or a hang. Method: seeded splits and a seeded fuzz loop.
import t from 'tap';
import { encodeFrame, FrameDecoder, FrameError, PEER_PROTOCOL_VERSION } from '../../src/node/peer-frame.js';
import { Prng } from '../../src/util/prng.js';

const MAX = 1024 * 1024;

t.test('round-trips messages with binary entries across arbitrary chunk splits', async (t) => {
  const prng = new Prng(11);
  const messages = Array.from({ length: 50 }, (_, i) => ({
    type: 'Append',
    from: 'n0',
    to: 'n1',
    term: i,
    prevLogIndex: i - 1,
    records: new Uint8Array(prng.intBetween(0, 5000)).map((_, j) => (i + j) & 0xff),
  }));
  const stream = Buffer.concat(messages.map((m) => encodeFrame(m, MAX)));
  for (let trial = 0; trial < 20; trial++) {
    const decoder = new FrameDecoder(MAX);
    const got: unknown[] = [];
    for (let offset = 0; offset < stream.length; ) {
      const size = prng.intBetween(1, 3000);
      got.push(...decoder.push(stream.subarray(offset, offset + size)));
      offset += size;
    }
    t.equal(got.length, messages.length);
    for (let i = 0; i < messages.length; i++) {
      const value = got[i] as { term: number; records: Uint8Array };
      const expected = messages[i]!;
      if (value.term !== expected.term || Buffer.compare(Buffer.from(value.records), Buffer.from(expected.records)) !== 0) {
        return t.fail(`trial ${trial}: message ${i} differs`);
      }
    }
  }
});

t.test('refuses oversize frames on both ends, wrong versions and garbage', async (t) => {
  t.throws(() => encodeFrame({ data: new Uint8Array(2000) }, 1000), FrameError);
  const big = Buffer.alloc(8);
  big.writeUInt32BE(MAX + 1, 0);
  t.throws(() => new FrameDecoder(MAX).push(big), /exceeds the maximum/);
  const wrongVersion = encodeFrame({ a: 1 }, MAX);
  wrongVersion.writeUInt8(PEER_PROTOCOL_VERSION + 1, 4);
  t.throws(() => new FrameDecoder(MAX).push(wrongVersion), /unsupported peer protocol version/);
  const garbage = Buffer.from([0, 0, 0, 3, PEER_PROTOCOL_VERSION, 0xc1, 0xc1]);
  t.throws(() => new FrameDecoder(MAX).push(garbage), FrameError);
  const two = Buffer.concat([Buffer.from([0, 0, 0, 3, PEER_PROTOCOL_VERSION]), Buffer.from([1, 2])]);
  t.throws(() => new FrameDecoder(MAX).push(two), /carries 2 values/);
});

t.test('fuzz: random byte streams only ever yield values or FrameError', async (t) => {
  const prng = new Prng(99);
  let frameErrors = 0;
  for (let i = 0; i < 3000; i++) {
    const decoder = new FrameDecoder(4096);
    const valid = encodeFrame({ i, body: new Uint8Array(prng.intBetween(0, 100)) }, 4096);
    // Mutate a valid frame so that many inputs get past the length check.
    const input = Buffer.from(valid);
    const flips = prng.intBetween(1, 6);
    for (let f = 0; f < flips; f++) input[prng.intBetween(0, input.length)] = prng.nextUint32() & 0xff;
    try {
      decoder.push(input);
    } catch (error) {
      if (!(error instanceof FrameError)) return t.fail(`iteration ${i}: ${String(error)}`);
      frameErrors++;
    }
  }
  t.ok(frameErrors > 0, `${frameErrors} malformed frames were refused with FrameError`);
});
