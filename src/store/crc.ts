// CRC-32/ISO-HDLC (polynomial 0x04C11DB7 reflected, the zlib/PNG/Ethernet CRC) via zlib.crc32,
// built into Node 20. It is what java.util.zip.CRC32 computes, which RocketMQ uses for its
// message BODYCRC, so a Java tool can check our files with the JDK alone. CRC32C would be
// slightly stronger and faster in hardware, but Node has no built-in for it and a JS table
// version is several times slower than zlib's SIMD code.
import { crc32 } from 'node:zlib';

export function crc32Of(bytes: Uint8Array, seed = 0): number {
  return crc32(bytes, seed) >>> 0;
}
