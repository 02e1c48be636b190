// A running digest of a node's state machine: digest(i) = H(digest(i-1), index, term, type, data).
// Two nodes with the same digest at index i applied the same sequence of entries up to i (up to
// a 64-bit hash collision), which lets snapshots carry the whole state as 16 hex characters and
// lets the checkers compare state machines in O(1).
import type { Entry } from '../../../src/raft/types.js';

/** The digest of the empty state (nothing applied, index -1). */
export const EMPTY_DIGEST = '0000000000000000';

export function nextDigest(previous: string, entry: Entry): string {
  // Two independent FNV-1a 32-bit lanes with different offset bases give a 64-bit digest.
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const mix = (byte: number): void => {
    a = Math.imul(a ^ byte, 0x01000193) >>> 0;
    b = Math.imul(b ^ byte, 0x01000193 ^ 0x2c1b3c6d) >>> 0;
  };
  for (let i = 0; i < previous.length; i++) mix(previous.charCodeAt(i) & 0xff);
  mixNumber(mix, entry.index);
  mixNumber(mix, entry.term);
  mix(entry.type);
  for (const byte of entry.data) mix(byte);
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

function mixNumber(mix: (byte: number) => void, value: number): void {
  // Indexes and terms fit in 48 bits in any simulation; hash them as 6 little-endian bytes.
  let v = value + 1; // -1 is a legal sentinel index; shift so the value is non-negative.
  for (let i = 0; i < 6; i++) {
    mix(v % 256);
    v = Math.floor(v / 256);
  }
}

const decoder = new TextDecoder();

/** A printable key that identifies an entry's payload; client values are short ASCII strings. */
export function entryPayloadKey(entry: Entry): string {
  return `${entry.type}:${decoder.decode(entry.data)}`;
}
