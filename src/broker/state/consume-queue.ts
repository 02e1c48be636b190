// One consume queue: the (topic, queueId) index into the commit log. Unit i (queue offset i) is
// RocketMQ's 20-byte CQ unit — commitLogOffset int64 (entry pos + 48), size int32 (the message's
// TOTALSIZE), tagsCode int64 (Java String.hashCode of TAGS, 0 without tags), big-endian. Readers
// find the entry by its physical offset (DLedgerServer.getAtPos), so a unit needs nothing else.
//
// Two implementations of one interface: MemoryConsumeQueue (this file; the classic broker and
// unit tests) and MappedConsumeQueue (../store/mapped-consume-queue.ts: RocketMQ's files under
// {storePathRootDir}/consumequeue/). Retention moves the minimum (truncateBelow): units below it
// are dropped, queue offsets stay as they were.
import { assert } from '../../util/assert.js';

export const CQ_UNIT_BYTES = 20;

export interface ConsumeQueueUnit {
  readonly queueOffset: number;
  readonly commitLogOffset: number;
  readonly size: number;
  readonly tagsCode: number;
}

export interface ConsumeQueue {
  readonly topic: string;
  readonly queueId: number;
  /** Queue offset of the first unit still held (RocketMQ's minOffsetInQueue). */
  readonly minOffset: number;
  /** The queue offset the next message gets (RocketMQ's max offset). */
  readonly maxOffset: number;
  /** The commit-log offset of the first unit held, or null when the queue holds none. */
  readonly minCommitLogOffset: number | null;
  /** Add the unit of the next message; returns its queue offset. */
  append(commitLogOffset: number, size: number, tagsCode: number): number;
  /**
   * An empty queue continues at `queueOffset` (a log that starts after entry 0: the units before
   * were deleted by retention, the stored QUEUEOFFSET or a state checkpoint says where it stands).
   */
  restartAt(queueOffset: number): void;
  get(queueOffset: number): ConsumeQueueUnit | null;
  /**
   * Retention moved the commit log's start to `commitLogOffset` (a physical offset): drop every
   * unit that points below it, so minOffset becomes the first unit at or past it (maxOffset when
   * none is). Queue offsets of the units kept do not change. Returns the units dropped.
   */
  truncateBelow(commitLogOffset: number): number;
  /** The raw 20-byte units [from, to) as RocketMQ lays them out on disk (a copy). */
  rawUnits(fromOffset: number, toOffset: number): Buffer;
}

/** Where consume queues live: in memory, or mapped files (MappedConsumeQueueStore). */
export interface ConsumeQueueStore {
  open(topic: string, queueId: number): ConsumeQueue;
  /**
   * Restart: the queue as saved with the broker's durable point, holding units [minOffset,
   * maxOffset) from its files (units past maxOffset are cut: they are re-applied). Throws when the
   * files do not hold them (the caller rebuilds everything). Memory queues cannot.
   */
  load(topic: string, queueId: number, minOffset: number, maxOffset: number): ConsumeQueue;
  /** After the loads: delete the files of queues that were not loaded. */
  finishLoad(): void;
  /** Forget every queue (the state is rebuilt from a state checkpoint): files are deleted. */
  removeAll(): void;
  /** Make every unit appended so far durable (no-op in memory). */
  flush(): Promise<void>;
  close(): void;
}

export function checkUnit(topic: string, queueId: number, commitLogOffset: number, size: number, lastCommitLogOffset: number): void {
  assert(Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0 && Number.isInteger(size) && size > 0, `bad CQ unit (${commitLogOffset}, ${size})`);
  assert(commitLogOffset > lastCommitLogOffset, `CQ ${topic}-${queueId}: offset ${commitLogOffset} after ${lastCommitLogOffset}`);
}

const INITIAL_UNITS = 64;

export class MemoryConsumeQueue implements ConsumeQueue {
  private units = Buffer.alloc(INITIAL_UNITS * CQ_UNIT_BYTES);
  // Invariant: units [0, count - base) of the buffer hold queue offsets [base, count); their
  // commitLogOffsets strictly increase. base only grows (truncateBelow).
  private count = 0;
  private base = 0;

  constructor(readonly topic: string, readonly queueId: number) {}

  get minOffset(): number {
    return this.base;
  }

  get maxOffset(): number {
    return this.count;
  }

  append(commitLogOffset: number, size: number, tagsCode: number): number {
    const held = this.count - this.base;
    const last = held === 0 ? -1 : Number(this.units.readBigInt64BE((held - 1) * CQ_UNIT_BYTES));
    checkUnit(this.topic, this.queueId, commitLogOffset, size, last);
    if ((held + 1) * CQ_UNIT_BYTES > this.units.length) this.grow();
    const at = held * CQ_UNIT_BYTES;
    this.units.writeBigInt64BE(BigInt(commitLogOffset), at);
    this.units.writeInt32BE(size, at + 8);
    this.units.writeBigInt64BE(BigInt(tagsCode), at + 12);
    return this.count++;
  }

  restartAt(queueOffset: number): void {
    assert(this.count === this.base && queueOffset >= this.count, `CQ ${this.topic}-${this.queueId}: restartAt(${queueOffset}) of [${this.base}, ${this.count})`);
    this.base = queueOffset;
    this.count = queueOffset;
  }

  get(queueOffset: number): ConsumeQueueUnit | null {
    if (!Number.isSafeInteger(queueOffset) || queueOffset < this.base || queueOffset >= this.count) return null;
    const at = (queueOffset - this.base) * CQ_UNIT_BYTES;
    return {
      queueOffset,
      commitLogOffset: Number(this.units.readBigInt64BE(at)),
      size: this.units.readInt32BE(at + 8),
      tagsCode: Number(this.units.readBigInt64BE(at + 12)),
    };
  }

  get minCommitLogOffset(): number | null {
    return this.count === this.base ? null : Number(this.units.readBigInt64BE(0));
  }

  truncateBelow(commitLogOffset: number): number {
    assert(Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0, `truncateBelow(${commitLogOffset})`);
    const held = this.count - this.base;
    const low = firstAtOrAfter(held, commitLogOffset, (slot) => Number(this.units.readBigInt64BE(slot * CQ_UNIT_BYTES)));
    if (low === 0) return 0;
    const kept = held - low;
    // Shrink to the next power of two >= what is kept, so a queue that was long frees its memory.
    let capacity = INITIAL_UNITS;
    while (capacity < kept) capacity *= 2;
    const units = Buffer.alloc(capacity * CQ_UNIT_BYTES);
    this.units.copy(units, 0, low * CQ_UNIT_BYTES, held * CQ_UNIT_BYTES);
    this.units = units;
    this.base += low;
    return low;
  }

  rawUnits(fromOffset: number, toOffset: number): Buffer {
    assert(fromOffset >= this.base && fromOffset <= toOffset && toOffset <= this.count, `rawUnits [${fromOffset}, ${toOffset}) of [${this.base}, ${this.count})`);
    return Buffer.from(this.units.subarray((fromOffset - this.base) * CQ_UNIT_BYTES, (toOffset - this.base) * CQ_UNIT_BYTES));
  }

  private grow(): void {
    const units = Buffer.alloc(this.units.length * 2);
    this.units.copy(units);
    this.units = units;
  }
}

/** Binary search over `count` slots whose commit-log offsets increase: the first >= `offset`. */
export function firstAtOrAfter(count: number, offset: number, commitLogOffsetAt: (slot: number) => number): number {
  let low = 0;
  let high = count;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (commitLogOffsetAt(middle) < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class MemoryConsumeQueueStore implements ConsumeQueueStore {
  open(topic: string, queueId: number): ConsumeQueue {
    return new MemoryConsumeQueue(topic, queueId);
  }

  load(topic: string, queueId: number): ConsumeQueue {
    throw new Error(`consume queue ${topic}-${queueId}: in-memory queues cannot be loaded`);
  }

  finishLoad(): void {}

  removeAll(): void {}

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}
}
