// CRC-32/ISO-HDLC (polynomial 0x04C11DB7 reflected, the zlib/PNG/Ethernet CRC) via zlib.crc32,
// built into Node 20. It is what java.util.zip.CRC32 computes, which RocketMQ uses for its
// message BODYCRC, so a Java tool can check our files with the JDK alone. CRC32C would be
// slightly stronger and faster in hardware, but Node has no built-in for it and a JS table
// version is several times slower than zlib's SIMD code.
import { crc32 } from 'node:zlib';

export function crc32Of(bytes: Uint8Array, seed = 0): number {
  return crc32(bytes, seed) >>> 0;
}

// A table-driven CRC-32 for the few header bytes of the chain: for 44 bytes, a JS loop beats two
// calls into zlib (each a native call plus a subarray allocation). Same polynomial and
// conventions as zlib.crc32(data, seed): crc32Range over a range continues a CRC like zlib does.
const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** crc32 of bytes[fromBytes, toBytes), continuing from `seed` (a finished CRC, 0 to start). */
export function crc32Range(bytes: Uint8Array, fromBytes: number, toBytes: number, seed: number): number {
  let c = ~seed;
  for (let i = fromBytes; i < toBytes; i++) c = (CRC_TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
