// Goal: the entry codec writes DLedger's 48-byte big-endian header, its CRCs are the ones the
// design names (bodyCrc = crc32(body); chainCrc = crc32 of the header fields seeded with the
// previous chainCrc), and verification catches every single-bit flip anywhere in a record, a
// record whose predecessor is not the one its chain was computed from, and wrong pos/index/term.
// Method: encode into a SharedArrayBuffer like a mapped segment, decode with an independent
// DataView reading, flip every header bit and sampled body bits, compare the JS CRC with zlib's.
import t from 'tap';
import { crc32 } from 'node:zlib';
import { Prng } from '../../src/util/prng.js';
import { crc32Range } from '../../src/store/crc.js';
import { checkRecord, computeChainCrc, readEntryHeader, writeBlank, writeEntryHeader } from '../../src/store/entry-codec.js';
import { readUint53BE, writeUint53BE, bigEndianWord } from '../../src/store/int64.js';
import { EntryMagic } from '../../src/store/types.js';

function encode(body: Uint8Array, fields: { index: number; term: number; pos: number; magic?: EntryMagic }, previousChainCrc: number, offset = 0) {
  const bytes = new Uint8Array(new SharedArrayBuffer(offset + 48 + body.length + 8));
  const view = new DataView(bytes.buffer);
  bytes.set(body, offset + 48);
  const chainCrc = writeEntryHeader(view, bytes, offset, { magic: fields.magic ?? EntryMagic.Normal, index: fields.index, term: fields.term, pos: fields.pos, bodyLength: body.length, bodyCrc: crc32(body) >>> 0 }, previousChainCrc);
  return { bytes, view, chainCrc };
}

t.test('header round trip, big-endian at DLedger offsets', async (t) => {
  const body = new TextEncoder().encode('hello dledger');
  const { bytes, view, chainCrc } = encode(body, { index: 2 ** 40 + 5, term: 7, pos: 3 * 2 ** 32 + 9, magic: EntryMagic.Noop }, 0xdeadbeef, 16);
  const at = 16;
  t.equal(view.getInt32(at), 2, 'magic at 0');
  t.equal(view.getInt32(at + 4), 48 + body.length, 'size at 4');
  t.equal(view.getBigInt64(at + 8), 2n ** 40n + 5n, 'index at 8, big-endian int64');
  t.equal(view.getBigInt64(at + 16), 7n, 'term at 16');
  t.equal(view.getBigInt64(at + 24), 3n * 2n ** 32n + 9n, 'pos at 24');
  t.equal(view.getInt32(at + 32), 0, 'channel at 32');
  t.equal(view.getUint32(at + 36), chainCrc, 'chainCrc at 36');
  t.equal(view.getUint32(at + 40), crc32(body) >>> 0, 'bodyCrc at 40 = crc32(body)');
  t.equal(view.getInt32(at + 44), body.length, 'bodyLength at 44');
  const expectedChain = crc32(bytes.subarray(at + 40, at + 48), crc32(bytes.subarray(at, at + 36), 0xdeadbeef)) >>> 0;
  t.equal(chainCrc, expectedChain, 'chainCrc = crc32(header[0..36) ++ header[40..48), seed previous)');
  const header = readEntryHeader(view, at);
  t.same(header, { magic: 2, sizeBytes: 61, index: 2 ** 40 + 5, term: 7, pos: 3 * 2 ** 32 + 9, channel: 0, chainCrc, bodyCrc: crc32(body) >>> 0, bodyLength: 13 });
  const check = checkRecord(view, bytes, at, { pos: 3 * 2 ** 32 + 9, maxSizeBytes: 100, index: 2 ** 40 + 5, minTerm: 7, previousChainCrc: 0xdeadbeef });
  t.ok(check.ok, 'verifies');
});

t.test('every single-bit flip in the header and the body is detected', async (t) => {
  const prng = new Prng(1);
  const body = Uint8Array.from({ length: 200 }, () => prng.nextUint32() & 0xff);
  const { bytes, view } = encode(body, { index: 41, term: 3, pos: 4096 }, 12345);
  const expectation = { pos: 4096, maxSizeBytes: 248, index: 41, minTerm: 3, previousChainCrc: 12345 };
  let undetected = 0;
  const bitsToFlip = [...Array.from({ length: 48 * 8 }, (_, i) => i), ...Array.from({ length: 200 }, (_, i) => 48 * 8 + i * 8 + (i % 8))];
  for (const bit of bitsToFlip) {
    const byte = bit >> 3;
    bytes[byte] = (bytes[byte] as number) ^ (1 << (bit & 7));
    if (checkRecord(view, bytes, 0, expectation).ok) undetected++;
    bytes[byte] = (bytes[byte] as number) ^ (1 << (bit & 7));
  }
  t.equal(undetected, 0, `${bitsToFlip.length} flips, all detected`);
  t.ok(checkRecord(view, bytes, 0, expectation).ok, 'restored record verifies');
});

t.test('failures name the field with expected and found values', async (t) => {
  const { bytes, view, chainCrc } = encode(new Uint8Array(10), { index: 5, term: 2, pos: 96 }, 0);
  const at = (e: Partial<Parameters<typeof checkRecord>[3]>) => checkRecord(view, bytes, 0, { pos: 96, maxSizeBytes: 58, ...e });
  t.match(at({ pos: 100 }), { ok: false, what: 'pos field', expected: '100', found: '96' });
  t.match(at({ index: 6 }), { ok: false, what: 'index', expected: '6', found: '5' });
  t.match(at({ minTerm: 3 }), { ok: false, what: 'term of entry 5', expected: '>= 3', found: '2' });
  t.match(at({ maxSizeBytes: 57 }), { ok: false, what: 'size', found: '58' });
  t.match(at({ previousChainCrc: 1 }), { ok: false, what: 'chainCrc of entry 5', found: `0x${chainCrc.toString(16).padStart(8, '0')}` });
  t.ok(at({ previousChainCrc: null }).ok, 'an unknown predecessor skips the chain check');
});

t.test('the chain rejects a stale record after a different predecessor and a reordering', async (t) => {
  // Entries 0,1,2 of one history; a second history shares entry 0 and differs at 1.
  const first = encode(new Uint8Array([1]), { index: 0, term: 1, pos: 0 }, 0);
  const oldSecond = encode(new Uint8Array([2]), { index: 1, term: 1, pos: 49 }, first.chainCrc);
  const newSecond = encode(new Uint8Array([3]), { index: 1, term: 2, pos: 49 }, first.chainCrc);
  const oldThird = encode(new Uint8Array([4]), { index: 2, term: 1, pos: 98 }, oldSecond.chainCrc);
  // The stale old entry 2 sits exactly where the new history's entry 2 would go, with a valid body.
  const stale = checkRecord(oldThird.view, oldThird.bytes, 0, { pos: 98, maxSizeBytes: 49, index: 2, previousChainCrc: newSecond.chainCrc });
  t.match(stale, { ok: false, what: 'chainCrc of entry 2' }, 'stale record rejected');
  t.ok(checkRecord(oldThird.view, oldThird.bytes, 0, { pos: 98, maxSizeBytes: 49, index: 2, previousChainCrc: oldSecond.chainCrc }).ok, 'accepted after its real predecessor');
  t.notOk(checkRecord(first.view, first.bytes, 0, { pos: 0, maxSizeBytes: 49, index: 0, previousChainCrc: oldSecond.chainCrc }).ok, 'a reordered record fails the chain');
});

t.test('BLANK filler is magic -1 and the size only', async (t) => {
  const bytes = new Uint8Array(64);
  writeBlank(new DataView(bytes.buffer), 8, 56);
  t.same([...bytes.subarray(8, 16)], [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 56]);
  t.equal(bytes.subarray(16).every((b) => b === 0), true, 'nothing else written');
});

t.test('crc32Range matches zlib.crc32, including continuation from a seed', async (t) => {
  const prng = new Prng(7);
  let mismatches = 0;
  for (let run = 0; run < 300; run++) {
    const data = Uint8Array.from({ length: prng.intBetween(0, 200) }, () => prng.nextUint32() & 0xff);
    const seed = prng.nextUint32();
    const from = prng.intBetween(0, data.length + 1);
    // zlib.crc32 of an empty input returns 0 rather than the seed (a Node quirk); the CRC of
    // nothing, continued from a seed, is the seed.
    if (from === data.length) {
      if (crc32Range(data, from, data.length, seed) !== seed) mismatches++;
      continue;
    }
    if (crc32Range(data, from, data.length, seed) !== crc32(data.subarray(from), seed) >>> 0) mismatches++;
  }
  t.equal(mismatches, 0);
  t.equal(crc32Range(new TextEncoder().encode('123456789'), 0, 9, 0), 0xcbf43926, 'the CRC-32/ISO-HDLC check value');
});

t.test('64-bit fields: safe integers round trip, out-of-range reads as NaN, Atomics word order', async (t) => {
  const view = new DataView(new ArrayBuffer(8));
  for (const value of [0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    writeUint53BE(view, 0, value);
    t.equal(readUint53BE(view, 0), value);
    t.equal(view.getBigUint64(0), BigInt(value), `${value} is big-endian`);
  }
  view.setBigUint64(0, 2n ** 60n);
  t.ok(Number.isNaN(readUint53BE(view, 0)), 'beyond 2^53');
  view.setBigInt64(0, -1n);
  t.ok(Number.isNaN(readUint53BE(view, 0)), 'negative');
  t.throws(() => writeUint53BE(view, 0, -1));
  const words = new Int32Array(1);
  Atomics.store(words, 0, bigEndianWord(1));
  t.same([...new Uint8Array(words.buffer)], [0, 0, 0, 1], 'an Atomics-stored magic reads big-endian');
});
