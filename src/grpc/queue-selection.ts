// Which queue a gRPC send goes to, as RocketMQ's proxy picks it (SendMessageQueueSelector): a
// message with a message group (FIFO) goes to queue Hashing.consistentHash(group.hashCode(), n) of
// the write queues (Guava's jump consistent hash), so one group always lands in one queue and its
// order is the queue's order; other messages go round-robin. The client's queue id is ignored.
import { javaStringHashCode } from '../broker/message-codec.js';
import { assert } from '../util/assert.js';

const MASK_64 = (1n << 64n) - 1n;

/** Guava's Hashing.consistentHash(long input, int buckets). */
export function guavaConsistentHash(input: bigint, buckets: number): number {
  assert(Number.isInteger(buckets) && buckets > 0, `buckets must be positive: ${buckets}`);
  let state = BigInt.asUintN(64, input);
  let candidate = 0;
  for (;;) {
    // LinearCongruentialGenerator.nextDouble: state = 2862933555777941757 * state + 1 (mod 2^64)
    state = (2862933555777941757n * state + 1n) & MASK_64;
    const high = Number(BigInt.asIntN(32, state >> 33n)); // (int) (state >>> 33)
    const next = Math.trunc((candidate + 1) / ((high + 1) / 2 ** 31));
    if (next >= 0 && next < buckets) candidate = next;
    else return candidate;
  }
}

/** The queue of a FIFO message group among `writeQueueNums` queues. */
export function queueOfMessageGroup(messageGroup: string, writeQueueNums: number): number {
  return guavaConsistentHash(BigInt(javaStringHashCode(messageGroup)), writeQueueNums);
}
