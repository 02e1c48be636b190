// One consume queue: the (topic, queueId) index into the commit log. Unit i (queue offset i) is
// RocketMQ's 20-byte CQ unit — commitLogOffset int64 (entry pos + 48), size int32 (the message's
// TOTALSIZE), tagsCode int64 (Java String.hashCode of TAGS, 0 without tags) — so the bytes can be
// written to consumequeue/<topic>/<queueId>/ unchanged once queues are persisted. Alongside, in
// memory only, the Raft index of each message: DLedgerServer reads entries by index, not by pos.
// Held in memory and rebuilt by re-applying the log on start.
import { assert } from '../../util/assert.js';

export const CQ_UNIT_BYTES = 20;

export interface ConsumeQueueUnit {
  readonly queueOffset: number;
  readonly commitLogOffset: number;
  readonly size: number;
  readonly tagsCode: number;
  readonly logIndex: number;
}

const INITIAL_UNITS = 64;

export class ConsumeQueue {
  private units = Buffer.alloc(INITIAL_UNITS * CQ_UNIT_BYTES);
  private logIndexes = new Float64Array(INITIAL_UNITS);
  // Invariant: count units are filled; their commitLogOffsets strictly increase.
  private count = 0;

  constructor(readonly topic: string, readonly queueId: number) {}

  /** Queue offset of the first unit still held (retention is not implemented: always 0). */
  get minOffset(): number {
    return 0;
  }

  /** The queue offset the next message gets (RocketMQ's max offset). */
  get maxOffset(): number {
    return this.count;
  }

  append(commitLogOffset: number, size: number, tagsCode: number, logIndex: number): number {
    assert(Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0 && size > 0, `bad CQ unit (${commitLogOffset}, ${size})`);
    const last = this.count === 0 ? -1 : Number(this.units.readBigInt64BE((this.count - 1) * CQ_UNIT_BYTES));
    assert(commitLogOffset > last, `CQ ${this.topic}-${this.queueId}: offset ${commitLogOffset} after ${last}`);
    if (this.count === this.logIndexes.length) this.grow();
    const at = this.count * CQ_UNIT_BYTES;
    this.units.writeBigInt64BE(BigInt(commitLogOffset), at);
    this.units.writeInt32BE(size, at + 8);
    this.units.writeBigInt64BE(BigInt(tagsCode), at + 12);
    this.logIndexes[this.count] = logIndex;
    return this.count++;
  }

  get(queueOffset: number): ConsumeQueueUnit | null {
    if (!Number.isSafeInteger(queueOffset) || queueOffset < this.minOffset || queueOffset >= this.count) return null;
    const at = queueOffset * CQ_UNIT_BYTES;
    return {
      queueOffset,
      commitLogOffset: Number(this.units.readBigInt64BE(at)),
      size: this.units.readInt32BE(at + 8),
      tagsCode: Number(this.units.readBigInt64BE(at + 12)),
      logIndex: this.logIndexes[queueOffset] as number,
    };
  }

  /** The raw 20-byte units [from, to) as RocketMQ lays them out on disk. */
  rawUnits(fromOffset: number, toOffset: number): Buffer {
    assert(fromOffset >= 0 && fromOffset <= toOffset && toOffset <= this.count, `rawUnits [${fromOffset}, ${toOffset}) of ${this.count}`);
    return this.units.subarray(fromOffset * CQ_UNIT_BYTES, toOffset * CQ_UNIT_BYTES);
  }

  private grow(): void {
    const units = Buffer.alloc(this.units.length * 2);
    this.units.copy(units);
    this.units = units;
    const logIndexes = new Float64Array(this.logIndexes.length * 2);
    logIndexes.set(this.logIndexes);
    this.logIndexes = logIndexes;
  }
}
