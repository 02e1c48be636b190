// Big-endian 64-bit fields as JS numbers. DLedger stores index, term and pos as Java longs; all
// three are non-negative and stay far below 2^53 in practice, so two 32-bit halves avoid a BigInt
// allocation per field on the append and read paths.
import { assert } from '../util/assert.js';

const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word of a safe integer (2^53 - 1 >> 32). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

export function writeUint53BE(view: DataView, offsetBytes: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `64-bit field must be a safe non-negative integer, got ${value}`);
  view.setUint32(offsetBytes, Math.floor(value / TWO_POW_32));
  view.setUint32(offsetBytes + 4, value >>> 0);
}

/** The value, or NaN when the stored field is negative or beyond 2^53 (a corrupt field). */
export function readUint53BE(view: DataView, offsetBytes: number): number {
  const high = view.getUint32(offsetBytes);
  if (high > MAX_SAFE_HIGH_WORD) return Number.NaN;
  return high * TWO_POW_32 + view.getUint32(offsetBytes + 4);
}

/** Byte-swap a 32-bit word: converts a big-endian on-disk int32 to the host's order for Atomics. */
export function byteSwap32(value: number): number {
  return (
    (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | ((value >>> 24) & 0xff)) | 0
  );
}

/** True when typed arrays use little-endian order (x86, arm64 Linux): Atomics words need a swap. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The host-order Int32 word whose bytes in memory spell `value` big-endian. */
export function bigEndianWord(value: number): number {
  return HOST_IS_LITTLE_ENDIAN ? byteSwap32(value) : value | 0;
}
