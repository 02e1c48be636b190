// Deterministic entry bodies for the store's crash, disk-full and reader tests: the body of entry
// `index` depends only on (seed, index), so a checker that never saw the writer (a fresh process
// after SIGKILL, another thread) can say exactly what each entry must contain.

import { Prng } from '../../../src/util/prng.js';

export interface ContentShape {
  readonly minBodyBytes: number;
  readonly maxBodyBytes: number;
}

/** Mixes seed and index into a 32-bit PRNG seed (different for every (seed, index) pair in practice). */
function entrySeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (index >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ Math.floor(index / 2 ** 32) ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Body of entry `index`: size uniform in [min, max], bytes from a PRNG; first 8 bytes hold the index. */
export function expectedBody(seed: number, index: number, shape: ContentShape): Uint8Array {
  const prng = new Prng(entrySeed(seed, index));
  const sizeBytes = prng.intBetween(shape.minBodyBytes, shape.maxBodyBytes + 1);
  const body = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4) {
    const word = prng.nextUint32();
    body[i] = word & 0xff;
    if (i + 1 < sizeBytes) body[i + 1] = (word >>> 8) & 0xff;
    if (i + 2 < sizeBytes) body[i + 2] = (word >>> 16) & 0xff;
    if (i + 3 < sizeBytes) body[i + 3] = word >>> 24;
  }
  // The index in the first bytes makes a misplaced body obvious in a failure message.
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (sizeBytes >= 8) view.setFloat64(0, index);
  return body;
}

/** Index of the first byte where a and b differ, or -1 when equal (length counts). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * expectedBody with a cache, for checkers that verify the same prefix again after every crash.
 * Bounded: past maxCachedEntries it stops caching (bodies are still computed).
 */
export class ExpectedBodies {
  private readonly cache = new Map<number, Uint8Array>();

  constructor(
    readonly seed: number,
    readonly shape: ContentShape,
    private readonly maxCachedEntries = 100_000,
  ) {}

  of(index: number): Uint8Array {
    const cached = this.cache.get(index);
    if (cached !== undefined) return cached;
    const body = expectedBody(this.seed, index, this.shape);
    if (this.cache.size < this.maxCachedEntries) this.cache.set(index, body);
    return body;
  }
}
