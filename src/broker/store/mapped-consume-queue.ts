// Consume queues on disk in RocketMQ's layout: {storePathRootDir}/consumequeue/{topic}/{queueId}/
// holds files of mappedFileSizeConsumeQueue bytes (300,000 units of 20 bytes by default), each
// named by the 20-digit byte offset of its first unit in the queue (queue offset * 20), as
// RocketMQ's MappedFileQueue names them. Units are the 20-byte big-endian records of
// state/consume-queue.ts.
//
// Why mapped (the native addon, as the store's segments) and not pwrite: a unit is 20 bytes
// written once per message on every member; through the mapping that is a memory store (one page
// fault per 204 units), where pwrite would be one system call per message on the apply path, and
// a pull reads its units without a copy or a read call. Files are created by MmapSegmentFile
// (fallocate under a temporary name, fdatasync, rename): on a full disk the creation fails with
// ENOSPC instead of a SIGBUS on a later store into a hole.
//
// Flushing: flush() msyncs the dirty range of each file on the libuv pool. RocketMQ flushes
// consume queues on a timer whatever flushDiskType says (FlushConsumeQueueService,
// flushIntervalConsumeQueue = 1 s): a unit is redundant with the commit log, which is what the
// flush policy protects; a restart rebuilds units from the log. The broker flushes on the same
// timer (broker.ts).
import fs from 'node:fs';
import path from 'node:path';
import { PAGE_SIZE_BYTES } from '../../native/mmap.js';
import { MmapSegmentFile } from '../../store/mmap-segment-file.js';
import { assert } from '../../util/assert.js';
import { checkUnit, type ConsumeQueue, type ConsumeQueueStore, type ConsumeQueueUnit, CQ_UNIT_BYTES, firstAtOrAfter } from '../state/consume-queue.js';

/** RocketMQ's file name: the byte offset of the file's first unit, 20 digits. */
export function consumeQueueFileName(startByteOffset: number): string {
  return String(startByteOffset).padStart(20, '0');
}

interface QueueFile {
  readonly file: MmapSegmentFile;
  readonly view: DataView;
  // Invariant: [dirtyFrom, dirtyTo) covers every byte written since the last flush started.
  dirtyFrom: number;
  dirtyTo: number;
}

export class MappedConsumeQueue implements ConsumeQueue {
  readonly unitsPerFile: number;
  // Invariant: files.get(n) is the file of units [n * unitsPerFile, (n + 1) * unitsPerFile);
  // every file holding a unit of [base, count) is open; files wholly below base are deleted.
  private readonly files = new Map<number, QueueFile>();
  // Invariant: units [base, count) are written; their commitLogOffsets strictly increase.
  private base = 0;
  private count = 0;
  private lastCommitLogOffset = -1;

  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly directoryPath: string,
    readonly fileSizeBytes: number,
    private readonly onDirty: (queue: MappedConsumeQueue) => void,
  ) {
    assert(Number.isInteger(fileSizeBytes) && fileSizeBytes > 0 && fileSizeBytes % CQ_UNIT_BYTES === 0, `consume queue file of ${fileSizeBytes} bytes`);
    this.unitsPerFile = fileSizeBytes / CQ_UNIT_BYTES;
    fs.mkdirSync(directoryPath, { recursive: true });
  }

  get minOffset(): number {
    return this.base;
  }

  get maxOffset(): number {
    return this.count;
  }

  /**
   * Take back units [minOffset, maxOffset) from the files in the directory: every file holding one
   * must be there at full size; units past maxOffset are zeroed and later files deleted (they are
   * re-applied after the durable point), as are files wholly below minOffset.
   */
  load(minOffset: number, maxOffset: number): void {
    assert(this.files.size === 0 && this.count === 0, 'load() of a used queue');
    assert(Number.isSafeInteger(minOffset) && minOffset >= 0 && maxOffset >= minOffset, `load [${minOffset}, ${maxOffset})`);
    const needed = new Set<number>();
    if (maxOffset > minOffset) for (let n = Math.floor(minOffset / this.unitsPerFile); n <= Math.floor((maxOffset - 1) / this.unitsPerFile); n++) needed.add(n);
    for (const name of fs.readdirSync(this.directoryPath)) {
      const number = /^[0-9]{20}$/.test(name) ? Number(name) / this.fileSizeBytes : Number.NaN;
      if (!needed.has(number)) fs.rmSync(path.join(this.directoryPath, name), { force: true });
    }
    let base = minOffset;
    for (const number of [...needed].sort((a, b) => a - b)) {
      const filePath = path.join(this.directoryPath, consumeQueueFileName(number * this.fileSizeBytes));
      // Retention may have deleted leading files after the durable point was captured.
      if (this.files.size === 0 && !fs.existsSync(filePath)) {
        base = Math.min(maxOffset, (number + 1) * this.unitsPerFile);
        continue;
      }
      if (!fs.existsSync(filePath) || fs.statSync(filePath).size !== this.fileSizeBytes) throw new Error(`consume queue ${this.topic}-${this.queueId}: ${filePath} missing or not ${this.fileSizeBytes} bytes`);
      const file = MmapSegmentFile.open(filePath, this.fileSizeBytes, 'read-write');
      this.files.set(number, { file, view: new DataView(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength), dirtyFrom: Number.MAX_SAFE_INTEGER, dirtyTo: 0 });
    }
    this.base = base;
    this.count = maxOffset;
    if (maxOffset > base) {
      // Cut what follows the durable point in the last file (applied after it, or never flushed).
      const { file, at } = this.locate(maxOffset - 1);
      const end = at + CQ_UNIT_BYTES;
      if (file.file.bytes.subarray(end).some((b) => b !== 0)) {
        file.file.bytes.fill(0, end);
        this.markDirty(file, end, file.file.sizeBytes);
      }
      const last = this.get(maxOffset - 1) as ConsumeQueueUnit;
      if (!(last.size > 0 && last.size !== 0x7fffffff && last.commitLogOffset > 0)) throw new Error(`consume queue ${this.topic}-${this.queueId}: unit ${maxOffset - 1} is empty or blank`);
      this.lastCommitLogOffset = last.commitLogOffset;
    }
  }

  /** Files on disk, oldest first (tests, read-file). */
  fileNames(): string[] {
    return [...this.files.keys()].sort((a, b) => a - b).map((n) => consumeQueueFileName(n * this.fileSizeBytes));
  }

  append(commitLogOffset: number, size: number, tagsCode: number): number {
    checkUnit(this.topic, this.queueId, commitLogOffset, size, this.lastCommitLogOffset);
    const queueOffset = this.count;
    this.writeUnit(queueOffset, commitLogOffset, size, tagsCode);
    this.lastCommitLogOffset = commitLogOffset;
    this.count++;
    return queueOffset;
  }

  restartAt(queueOffset: number): void {
    assert(this.count === this.base && queueOffset >= this.count, `CQ ${this.topic}-${this.queueId}: restartAt(${queueOffset}) of [${this.base}, ${this.count})`);
    this.base = queueOffset;
    this.count = queueOffset;
  }

  get(queueOffset: number): ConsumeQueueUnit | null {
    if (!Number.isSafeInteger(queueOffset) || queueOffset < this.base || queueOffset >= this.count) return null;
    const { view, at } = this.locate(queueOffset);
    return {
      queueOffset,
      commitLogOffset: Number(view.getBigInt64(at)),
      size: view.getInt32(at + 8),
      tagsCode: Number(view.getBigInt64(at + 12)),
    };
  }

  get minCommitLogOffset(): number | null {
    return this.count === this.base ? null : (this.get(this.base) as ConsumeQueueUnit).commitLogOffset;
  }

  truncateBelow(commitLogOffset: number): number {
    assert(Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0, `truncateBelow(${commitLogOffset})`);
    const held = this.count - this.base;
    const low = firstAtOrAfter(held, commitLogOffset, (slot) => (this.get(this.base + slot) as ConsumeQueueUnit).commitLogOffset);
    if (low === 0) return 0;
    this.base += low;
    // Whole files below the new minimum go (RocketMQ's deleteExpiredFile); the file holding the
    // minimum stays, with the units below it in place.
    for (const [number, file] of [...this.files]) {
      if ((number + 1) * this.unitsPerFile <= this.base) {
        this.files.delete(number);
        file.file.close();
        fs.rmSync(file.file.path, { force: true });
      }
    }
    return low;
  }

  rawUnits(fromOffset: number, toOffset: number): Buffer {
    assert(fromOffset >= this.base && fromOffset <= toOffset && toOffset <= this.count, `rawUnits [${fromOffset}, ${toOffset}) of [${this.base}, ${this.count})`);
    const out = Buffer.alloc((toOffset - fromOffset) * CQ_UNIT_BYTES);
    for (let offset = fromOffset; offset < toOffset; ) {
      const { file, at } = this.locate(offset);
      const units = Math.min(toOffset - offset, this.unitsPerFile - at / CQ_UNIT_BYTES);
      out.set(file.file.bytes.subarray(at, at + units * CQ_UNIT_BYTES), (offset - fromOffset) * CQ_UNIT_BYTES);
      offset += units;
    }
    return out;
  }

  /** msync every range written since the last flush (on the libuv pool). */
  flush(): Promise<void> {
    const flushes: Array<Promise<void>> = [];
    for (const entry of this.files.values()) {
      if (entry.dirtyTo <= entry.dirtyFrom) continue;
      const from = entry.dirtyFrom - (entry.dirtyFrom % PAGE_SIZE_BYTES);
      flushes.push(entry.file.flushInBackground(from, entry.dirtyTo - from));
      entry.dirtyFrom = Number.MAX_SAFE_INTEGER;
      entry.dirtyTo = 0;
    }
    return Promise.all(flushes).then(() => undefined);
  }

  close(): void {
    for (const entry of this.files.values()) entry.file.close();
    this.files.clear();
  }

  private locate(queueOffset: number): { file: QueueFile; view: DataView; at: number } {
    const number = Math.floor(queueOffset / this.unitsPerFile);
    const file = this.files.get(number);
    assert(file !== undefined, `CQ ${this.topic}-${this.queueId}: no file for offset ${queueOffset}`);
    return { file, view: file.view, at: (queueOffset - number * this.unitsPerFile) * CQ_UNIT_BYTES };
  }

  private writeUnit(queueOffset: number, commitLogOffset: number, size: number, tagsCode: number): void {
    const number = Math.floor(queueOffset / this.unitsPerFile);
    let file = this.files.get(number);
    if (file === undefined) file = this.createFile(number, queueOffset);
    const at = (queueOffset - number * this.unitsPerFile) * CQ_UNIT_BYTES;
    file.view.setBigInt64(at, BigInt(commitLogOffset));
    file.view.setInt32(at + 8, size);
    file.view.setBigInt64(at + 12, BigInt(tagsCode));
    this.markDirty(file, at, at + CQ_UNIT_BYTES);
  }

  private createFile(number: number, firstQueueOffset: number): QueueFile {
    const filePath = path.join(this.directoryPath, consumeQueueFileName(number * this.fileSizeBytes));
    const file = MmapSegmentFile.create(filePath, this.fileSizeBytes);
    const entry: QueueFile = { file, view: new DataView(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength), dirtyFrom: Number.MAX_SAFE_INTEGER, dirtyTo: 0 };
    this.files.set(number, entry);
    // A queue that starts inside a file (it continues at an offset after retention): the units
    // before it are RocketMQ's blanks (fillPreBlank: offset 0, size Integer.MAX_VALUE, tags 0).
    const blanks = firstQueueOffset - number * this.unitsPerFile;
    for (let i = 0; i < blanks; i++) entry.view.setInt32(i * CQ_UNIT_BYTES + 8, 0x7fffffff);
    if (blanks > 0) this.markDirty(entry, 0, blanks * CQ_UNIT_BYTES);
    return entry;
  }

  private markDirty(file: QueueFile, from: number, to: number): void {
    const wasClean = file.dirtyTo <= file.dirtyFrom;
    file.dirtyFrom = Math.min(file.dirtyFrom, from);
    file.dirtyTo = Math.max(file.dirtyTo, to);
    if (wasClean) this.onDirty(this);
  }
}

export interface MappedConsumeQueueStoreOptions {
  /** {storePathRootDir}/consumequeue */
  readonly directoryPath: string;
  /** mappedFileSizeConsumeQueue: bytes per file, a multiple of 20. */
  readonly fileSizeBytes: number;
}

export class MappedConsumeQueueStore implements ConsumeQueueStore {
  private readonly queues: MappedConsumeQueue[] = [];
  private dirty = new Set<MappedConsumeQueue>();

  private loaded = new Set<string>();

  /** The directory's files are kept until load()/finishLoad() or removeAll() says what to keep. */
  constructor(private readonly options: MappedConsumeQueueStoreOptions) {
    fs.mkdirSync(options.directoryPath, { recursive: true });
  }

  open(topic: string, queueId: number): ConsumeQueue {
    const directoryPath = path.join(this.options.directoryPath, topic, String(queueId));
    // A queue first seen now: whatever an earlier run left there is not this run's.
    if (!this.loaded.has(directoryPath)) fs.rmSync(directoryPath, { recursive: true, force: true });
    const queue = new MappedConsumeQueue(topic, queueId, directoryPath, this.options.fileSizeBytes, (q) => this.dirty.add(q));
    this.queues.push(queue);
    return queue;
  }

  load(topic: string, queueId: number, minOffset: number, maxOffset: number): ConsumeQueue {
    const directoryPath = path.join(this.options.directoryPath, topic, String(queueId));
    this.loaded.add(directoryPath);
    const queue = new MappedConsumeQueue(topic, queueId, directoryPath, this.options.fileSizeBytes, (q) => this.dirty.add(q));
    this.queues.push(queue);
    queue.load(minOffset, maxOffset);
    return queue;
  }

  finishLoad(): void {
    const root = this.options.directoryPath;
    for (const topic of fs.readdirSync(root)) {
      const topicDir = path.join(root, topic);
      if (!fs.statSync(topicDir).isDirectory()) continue;
      for (const queueId of fs.readdirSync(topicDir)) {
        if (!this.loaded.has(path.join(topicDir, queueId))) fs.rmSync(path.join(topicDir, queueId), { recursive: true, force: true });
      }
    }
  }

  removeAll(): void {
    this.close();
    this.loaded.clear();
    fs.rmSync(this.options.directoryPath, { recursive: true, force: true });
    fs.mkdirSync(this.options.directoryPath, { recursive: true });
  }

  flush(): Promise<void> {
    const dirty = [...this.dirty];
    this.dirty = new Set();
    return Promise.all(dirty.map((queue) => queue.flush())).then(() => undefined);
  }

  close(): void {
    for (const queue of this.queues) queue.close();
    this.queues.length = 0;
    this.dirty.clear();
  }
}
