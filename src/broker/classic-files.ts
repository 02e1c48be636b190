// The files of the classic (pre-DLedger) commit log: RocketMQ's MappedFileQueue under
// storePathCommitLog. Files of mappedFileSizeCommitLog bytes (1 GiB), fallocated and mapped,
// named by their start offset (20 digits, as DLedger's segments: the store's SegmentList does the
// naming, loading and mapping). Stored messages lie back to back; a message's PHYSICALOFFSET is
// its global start offset. A message that does not fit with 8 bytes to spare goes to the next
// file, and the rest of the file becomes a BLANK record (TOTALSIZE = bytes left, MAGIC
// 0xCBD43194), as CommitLog.DefaultAppendMessageCallback does.
//
// Recovery (on open) walks every file from the first: a message counts when its MAGIC, TOTALSIZE,
// BODYCRC and PHYSICALOFFSET all check; the walk stops at the first record that does not. What
// follows in that file is a torn tail (a kill during a write): zeroed and cut. A later file that
// starts with a valid message means the damage is not at the tail: the open is refused.
import { basename } from 'node:path';
import { DiskMedium } from '../store/disk-medium.js';
import { StoreCorruptionError } from '../store/errors.js';
import { type Segment, SegmentList, segmentName } from '../store/segment-list.js';
import { assert } from '../util/assert.js';
import { decodeMessage, MESSAGE_MAGIC_V1, MESSAGE_MAGIC_V2, MessageFormatError, PHYSICAL_OFFSET_AT } from './message-codec.js';

/** CommitLog.BLANK_MAGIC_CODE: the end-of-file filler. */
export const BLANK_MAGIC_CODE = 0xcbd43194 | 0;
/** CommitLog.END_FILE_MIN_BLANK_LENGTH: a file always keeps room for a BLANK header. */
export const END_FILE_MIN_BLANK_BYTES = 8;
/** The smallest stored message (IPv4 hosts, empty body, 1-byte topic, no properties). */
const MIN_MESSAGE_BYTES = 92;

export interface ClassicRecoveryReport {
  readonly messages: number;
  /** Where the next message goes. */
  readonly endOffset: number;
  /** Non-zero bytes zeroed after the last valid message (a torn write), 0 when the tail was clean. */
  readonly cutBytes: number;
  /** Why the walk stopped where it did (null: it ran into zeros, the ordinary end). */
  readonly stopReason: string | null;
  /** Files after the end that were deleted (empty or torn). */
  readonly removedFiles: readonly string[];
}

export class ClassicLogFiles {
  private readonly list: SegmentList;
  // Invariant: end is where the next message goes: right after the last valid message, or the
  // start of the next file after a BLANK. Every byte of the last file from end on is zero.
  private end = 0;
  private opened = false;

  constructor(
    readonly directoryPath: string,
    readonly fileSizeBytes: number,
    /** The largest stored message a put may write (bounds the torn-tail scan). */
    private readonly maxMessageBytes: number,
  ) {
    assert(maxMessageBytes + END_FILE_MIN_BLANK_BYTES <= fileSizeBytes, `messages of ${maxMessageBytes} bytes do not fit files of ${fileSizeBytes}`);
    this.list = new SegmentList(new DiskMedium(), directoryPath, fileSizeBytes);
  }

  /** Offset the next message gets (RocketMQ's max physical offset). */
  get endOffset(): number {
    return this.end;
  }

  get fileCount(): number {
    return this.list.segments.length;
  }

  /** Names of the files, oldest first. */
  fileNames(): string[] {
    return this.list.segments.map((segment) => segmentName(segment.startPos));
  }

  /** End of the last file (0 without files). */
  get lastFileEnd(): number {
    return this.list.endPos;
  }

  /** Load, verify and cut a torn tail; `onMessage` sees every valid message in offset order. */
  open(onMessage: (physicalOffset: number, bytes: Uint8Array) => void = () => undefined): ClassicRecoveryReport {
    assert(!this.opened, 'open() called twice');
    this.opened = true;
    this.list.load();
    let messages = 0;
    const walk = this.walk((offset, bytes) => {
      messages++;
      onMessage(offset, bytes);
    });
    this.end = walk.end;
    // Also after a zero header: a power loss can persist a message's later pages but not its first.
    const cutBytes = this.zeroTail();
    const removedFiles = this.removeFilesAfterEnd();
    return { messages, endOffset: this.end, cutBytes, stopReason: walk.stopReason, removedFiles };
  }

  /** Every valid message again, in offset order (the upgrade indexes them into the DLedger state). */
  forEachMessage(onMessage: (physicalOffset: number, bytes: Uint8Array) => void): void {
    assert(this.opened, 'forEachMessage before open()');
    const walk = this.walk(onMessage);
    assert(walk.end === this.end, `walk ended at ${walk.end}, the log at ${this.end}`);
  }

  /**
   * Walk the records from the first file on. Messages are handed out as views of the mapping
   * (callers copy what they keep).
   */
  private walk(onMessage: (physicalOffset: number, bytes: Uint8Array) => void): { end: number; stopReason: string | null } {
    let pos = this.list.firstStartPos;
    for (;;) {
      const segment = this.list.find(pos);
      if (segment === undefined) return { end: pos, stopReason: null };
      const at = pos - segment.startPos;
      const remaining = segment.file.sizeBytes - at;
      const size = segment.view.getInt32(at);
      const magic = segment.view.getInt32(at + 4);
      if (magic === BLANK_MAGIC_CODE && size === remaining) {
        pos = segment.endPos;
        continue;
      }
      if (size === 0 && magic === 0) return { end: pos, stopReason: null };
      const problem = this.messageProblem(segment, pos, size, magic, remaining);
      if (problem !== null) return { end: pos, stopReason: problem };
      onMessage(pos, segment.bytes.subarray(at, at + size));
      pos += size;
    }
  }

  /** Why the record at `pos` is not a valid message, or null if it is one. */
  private messageProblem(segment: Segment, pos: number, size: number, magic: number, remaining: number): string | null {
    if (magic !== MESSAGE_MAGIC_V1 && magic !== MESSAGE_MAGIC_V2) return `MAGIC 0x${(magic >>> 0).toString(16)} at ${pos} is not a message or BLANK magic`;
    if (size < MIN_MESSAGE_BYTES || size + END_FILE_MIN_BLANK_BYTES > remaining) return `TOTALSIZE ${size} at ${pos} does not fit the ${remaining} bytes left in ${segmentName(segment.startPos)}`;
    const at = pos - segment.startPos;
    try {
      const message = decodeMessage(segment.bytes.subarray(at, at + size));
      if (message.totalSize !== size) return `message at ${pos} decodes to ${message.totalSize} bytes, TOTALSIZE says ${size}`;
      if (message.physicalOffset !== pos) return `message at ${pos} has PHYSICALOFFSET ${message.physicalOffset}`;
    } catch (error) {
      if (!(error instanceof MessageFormatError)) throw error;
      return `message at ${pos}: ${error.message}`;
    }
    return null;
  }

  /** Zero the non-zero bytes after end in its file (at most one torn message); returns how many. */
  private zeroTail(): number {
    const segment = this.list.find(this.end);
    if (segment === undefined) return 0;
    const from = this.end - segment.startPos;
    const to = Math.min(segment.file.sizeBytes, from + this.maxMessageBytes);
    let last = to - 1;
    while (last >= from && segment.bytes[last] === 0) last--;
    if (last < from) return 0;
    segment.bytes.fill(0, from, last + 1);
    segment.file.flush(from, last + 1 - from);
    return last + 1 - from;
  }

  /**
   * Delete the files after the one holding end: empty ones left by a crash after creating a file,
   * or ones whose first record is torn. One that starts with a valid message is corruption.
   */
  private removeFilesAfterEnd(): string[] {
    const keepUpTo = this.list.segmentStartOf(this.end);
    for (const segment of this.list.segments) {
      if (segment.startPos <= keepUpTo) continue;
      const size = segment.view.getInt32(0);
      const magic = segment.view.getInt32(4);
      if ((magic === MESSAGE_MAGIC_V1 || magic === MESSAGE_MAGIC_V2) && this.messageProblem(segment, segment.startPos, size, magic, segment.file.sizeBytes) === null) {
        throw new StoreCorruptionError({
          filePath: segment.file.path,
          fileOffsetBytes: 0,
          what: 'classic commit log continuity',
          expected: `no message after offset ${this.end}, where the log stops`,
          found: 'a valid message at the start of this later file',
          detail: `the log stops at ${this.end} (${basename(this.list.pathOf(keepUpTo))}) before the tail: restore the files from a copy`,
        });
      }
    }
    const removed = this.list.removeFrom(keepUpTo + this.fileSizeBytes);
    if (removed.length > 0) this.list.syncDirectory();
    return removed;
  }

  /**
   * Append one encoded message, writing its PHYSICALOFFSET; returns that offset. Bytes are in
   * the page cache when this returns; flush() makes them durable.
   */
  append(message: Uint8Array): number {
    assert(this.opened, 'append before open()');
    assert(message.length <= this.maxMessageBytes, `message of ${message.length} bytes exceeds ${this.maxMessageBytes}`);
    let segment = this.list.ensure(this.end);
    let at = this.end - segment.startPos;
    const remaining = segment.file.sizeBytes - at;
    if (message.length + END_FILE_MIN_BLANK_BYTES > remaining) {
      const blank = new Uint8Array(END_FILE_MIN_BLANK_BYTES);
      const view = new DataView(blank.buffer);
      view.setInt32(0, remaining);
      view.setInt32(4, BLANK_MAGIC_CODE);
      this.write(segment, at, blank);
      this.end = segment.endPos;
      segment = this.list.ensure(this.end);
      at = 0;
    }
    const offset = this.end;
    new DataView(message.buffer, message.byteOffset, message.byteLength).setBigInt64(PHYSICAL_OFFSET_AT, BigInt(offset));
    this.write(segment, at, message);
    this.end += message.length;
    return offset;
  }

  private write(segment: Segment, at: number, bytes: Uint8Array): void {
    if (segment.file.write !== undefined) segment.file.write(at, bytes);
    else segment.bytes.set(bytes, at);
    segment.markDirty(at, at + bytes.length);
  }

  /** msync every unflushed range. */
  flush(): void {
    this.list.flushDirty();
  }

  /** A copy of the `size` bytes at `physicalOffset` (a consume-queue unit's message). */
  read(physicalOffset: number, size: number): Uint8Array {
    assert(physicalOffset >= 0 && physicalOffset + size <= this.end, `read [${physicalOffset}, +${size}) outside the log (end ${this.end})`);
    const segment = this.list.find(physicalOffset);
    assert(segment !== undefined && physicalOffset + size <= segment.endPos, `no file holds [${physicalOffset}, +${size})`);
    const at = physicalOffset - segment.startPos;
    return segment.bytes.slice(at, at + size);
  }

  /** A copy of the message starting at `physicalOffset`, or null when none starts there. */
  readAt(physicalOffset: number): Uint8Array | null {
    if (!Number.isSafeInteger(physicalOffset) || physicalOffset < 0 || physicalOffset >= this.end) return null;
    const segment = this.list.find(physicalOffset);
    if (segment === undefined) return null;
    const at = physicalOffset - segment.startPos;
    if (segment.file.sizeBytes - at < END_FILE_MIN_BLANK_BYTES) return null;
    const size = segment.view.getInt32(at);
    const magic = segment.view.getInt32(at + 4);
    if (this.messageProblem(segment, physicalOffset, size, magic, segment.file.sizeBytes - at) !== null) return null;
    return segment.bytes.slice(at, at + size);
  }

  /**
   * Close the log for good before a DLedger group continues it (DLedgerCommitLog.recover): a
   * BLANK from end to the end of the last file, flushed. Returns the divided offset, the end of
   * the last file, where the DLedger group's first entry goes (0 without files).
   */
  seal(): number {
    assert(this.opened, 'seal before open()');
    const last = this.list.segments.at(-1);
    if (last === undefined) return 0;
    if (this.end < last.endPos) {
      const blank = new Uint8Array(END_FILE_MIN_BLANK_BYTES);
      const view = new DataView(blank.buffer);
      view.setInt32(0, last.endPos - this.end);
      view.setInt32(4, BLANK_MAGIC_CODE);
      this.write(last, this.end - last.startPos, blank);
      this.end = last.endPos;
      this.flush();
    }
    return last.endPos;
  }

  close(): void {
    if (!this.opened) return;
    this.flush();
    this.list.close();
  }
}
