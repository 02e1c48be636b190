// One consume queue: the (topic, queueId) index into the commit log. Unit i (queue offset i) is
// RocketMQ's 20-byte CQ unit — commitLogOffset int64 (entry pos + 48), size int32 (the message's
// TOTALSIZE), tagsCode int64 (Java String.hashCode of TAGS, 0 without tags) — so the bytes can be
// written to consumequeue/<topic>/<queueId>/ unchanged once queues are persisted. Alongside, in
// memory only, the Raft index of each message: DLedgerServer reads entries by index, not by pos.
// Held in memory and rebuilt by re-applying the log on start. Retention moves the minimum
// (truncateBelow): units below it are dropped from memory, queue offsets stay as they were.
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
  // Invariant: units [0, count - base) of the buffers hold queue offsets [base, count); their
  // commitLogOffsets strictly increase. base only grows (truncateBelow).
  private count = 0;
  private base = 0;

  constructor(readonly topic: string, readonly queueId: number) {}

  /** Queue offset of the first unit still held (RocketMQ's minOffsetInQueue). */
  get minOffset(): number {
    return this.base;
  }

  /** The queue offset the next message gets (RocketMQ's max offset). */
  get maxOffset(): number {
    return this.count;
  }

  append(commitLogOffset: number, size: number, tagsCode: number, logIndex: number): number {
    assert(Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0 && size > 0, `bad CQ unit (${commitLogOffset}, ${size})`);
    const held = this.count - this.base;
    const last = held === 0 ? -1 : Number(this.units.readBigInt64BE((held - 1) * CQ_UNIT_BYTES));
    assert(commitLogOffset > last, `CQ ${this.topic}-${this.queueId}: offset ${commitLogOffset} after ${last}`);
    if (held === this.logIndexes.length) this.grow();
    const at = held * CQ_UNIT_BYTES;
    this.units.writeBigInt64BE(BigInt(commitLogOffset), at);
    this.units.writeInt32BE(size, at + 8);
    this.units.writeBigInt64BE(BigInt(tagsCode), at + 12);
    this.logIndexes[held] = logIndex;
    return this.count++;
  }

  /**
   * An empty queue continues at `queueOffset` (a log that starts after entry 0: the units before
   * were deleted by retention, the stored QUEUEOFFSET or a state checkpoint says where it stands).
   */
  restartAt(queueOffset: number): void {
    assert(this.count === this.base && queueOffset >= this.count, `CQ ${this.topic}-${this.queueId}: restartAt(${queueOffset}) of [${this.base}, ${this.count})`);
    this.base = queueOffset;
    this.count = queueOffset;
  }

  get(queueOffset: number): ConsumeQueueUnit | null {
    if (!Number.isSafeInteger(queueOffset) || queueOffset < this.minOffset || queueOffset >= this.count) return null;
    const slot = queueOffset - this.base;
    const at = slot * CQ_UNIT_BYTES;
    return {
      queueOffset,
      commitLogOffset: Number(this.units.readBigInt64BE(at)),
      size: this.units.readInt32BE(at + 8),
      tagsCode: Number(this.units.readBigInt64BE(at + 12)),
      logIndex: this.logIndexes[slot] as number,
    };
  }

  /** The commit-log offset of the first unit held, or null when the queue holds none. */
  get minCommitLogOffset(): number | null {
    return this.count === this.base ? null : Number(this.units.readBigInt64BE(0));
  }

  /**
   * Retention moved the commit log's start to `commitLogOffset` (a physical offset): drop every
   * unit that points below it, so minOffset becomes the first unit at or past it (maxOffset when
   * none is). Queue offsets of the units kept do not change. Returns the units dropped.
   */
  truncateBelow(commitLogOffset: number): number {
    assert(Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0, `truncateBelow(${commitLogOffset})`);
    const held = this.count - this.base;
    // Binary search: the first held unit whose commitLogOffset >= the new start.
    let low = 0;
    let high = held;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (Number(this.units.readBigInt64BE(middle * CQ_UNIT_BYTES)) < commitLogOffset) low = middle + 1;
      else high = middle;
    }
    if (low === 0) return 0;
    const kept = held - low;
    // Shrink to the next power of two >= what is kept, so a queue that was long frees its memory.
    let capacity = INITIAL_UNITS;
    while (capacity < kept) capacity *= 2;
    const units = Buffer.alloc(capacity * CQ_UNIT_BYTES);
    this.units.copy(units, 0, low * CQ_UNIT_BYTES, held * CQ_UNIT_BYTES);
    const logIndexes = new Float64Array(capacity);
    logIndexes.set(this.logIndexes.subarray(low, held));
    this.units = units;
    this.logIndexes = logIndexes;
    this.base += low;
    return low;
  }

  /** The raw 20-byte units [from, to) as RocketMQ lays them out on disk. */
  rawUnits(fromOffset: number, toOffset: number): Buffer {
    assert(fromOffset >= this.base && fromOffset <= toOffset && toOffset <= this.count, `rawUnits [${fromOffset}, ${toOffset}) of [${this.base}, ${this.count})`);
    return this.units.subarray((fromOffset - this.base) * CQ_UNIT_BYTES, (toOffset - this.base) * CQ_UNIT_BYTES);
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
