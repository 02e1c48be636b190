// Print the records of a data directory, like DLedger's `readFile` tool: one line per record with
// pos, index, term, size, magic, whether bodyCrc and chainCrc verify, and a body preview. Reads the
// files with plain reads (no mapping, never writes), so it is safe on a live or damaged store.
import { closeSync, existsSync, openSync, readdirSync, readSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readCheckpoint } from './checkpoint.js';
import { DiskMedium } from './disk-medium.js';
import { crc32Of } from './crc.js';
import { BLANK_MIN_BYTES, computeChainCrc, hex, isEntryMagic, readEntryHeader } from './entry-codec.js';
import { ENTRY_HEADER_BYTES, EntryMagic } from './types.js';

/** Bytes read at a time (a record larger than this gets a window of its own size). */
const DUMP_WINDOW_BYTES = 4 * 1024 * 1024;

export interface DumpOptions {
  /** First global position to print (records before it are still read, to follow the chain). */
  readonly fromPos?: number;
  /** Stop after printing this many entries (the summary then covers what was read so far). */
  readonly maxEntries?: number;
  /** Bytes of each body shown (printable ASCII as is, the rest as '.'). */
  readonly bodyPreviewBytes?: number;
  /** Where lines go; default console.log. */
  readonly write?: (line: string) => void;
}

export interface DumpSummary {
  readonly segments: number;
  readonly entries: number;
  readonly blanks: number;
  readonly badBodyCrcs: number;
  readonly badChainCrcs: number;
  /** Where the dump stopped: the end of the log, or the first record that does not parse. */
  readonly endPos: number;
  readonly stopReason: string;
}

export function dumpDataDir(dataDir: string, options: DumpOptions = {}): DumpSummary {
  const write = options.write ?? ((line: string) => console.log(line));
  const fromPos = options.fromPos ?? 0;
  const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
  const previewBytes = options.bodyPreviewBytes ?? 32;
  const names = readdirSync(dataDir).filter((name) => /^\d{20}$/.test(name)).sort();
  let entries = 0;
  let printed = 0;
  let blanks = 0;
  let badBodyCrcs = 0;
  let badChainCrcs = 0;
  let previousChainCrc: number | null = null;
  let previousIndex: number | null = null;
  let endPos = names.length > 0 ? Number(names[0]) : 0;
  let stopReason = 'end of segments';
  outer: for (const name of names) {
    const path = join(dataDir, name);
    const startPos = Number(name);
    if (startPos !== endPos) {
      stopReason = `segment ${name} does not start at ${endPos}`;
      break;
    }
    const file = new WindowedFile(path);
    try {
      const segmentBytes = file.sizeBytes;
      let offset = 0;
      while (offset + BLANK_MIN_BYTES <= segmentBytes) {
        const pos = startPos + offset;
        const head = file.view(offset, BLANK_MIN_BYTES);
        const magic = head.getInt32(0);
        const size = head.getInt32(4);
        if (magic === 0 && size === 0) {
          endPos = pos;
          stopReason = 'end of log (zero header)';
          break outer;
        }
        if (magic === EntryMagic.Blank) {
          blanks++;
          if (pos >= fromPos) write(`pos=${pos} BLANK size=${size}${size === segmentBytes - offset ? '' : ' (bad: not the rest of the segment)'}`);
          if (size !== segmentBytes - offset) {
            endPos = pos;
            stopReason = `bad BLANK size ${size} at pos ${pos}`;
            break outer;
          }
          offset += size;
          continue;
        }
        if (!isEntryMagic(magic) || size < ENTRY_HEADER_BYTES || offset + size > segmentBytes) {
          endPos = pos;
          stopReason = `unparsable record at pos ${pos}: magic ${magic} size ${size}`;
          write(`pos=${pos} ${stopReason}`);
          break outer;
        }
        const { bytes, view, at } = file.window(offset, size);
        const header = readEntryHeader(view, at);
        const bodyLength = Math.max(0, Math.min(header.bodyLength, size - ENTRY_HEADER_BYTES));
        const body = bytes.subarray(at + ENTRY_HEADER_BYTES, at + ENTRY_HEADER_BYTES + bodyLength);
        const bodyOk = crc32Of(body) === header.bodyCrc;
        // The chain seed of a log's first entry is 0; after a prefix reset it is unknown here.
        const seed = previousChainCrc ?? (header.index === 0 ? 0 : null);
        const chainOk = seed === null ? null : computeChainCrc(bytes, at, seed) === header.chainCrc;
        if (!bodyOk) badBodyCrcs++;
        if (chainOk === false) badChainCrcs++;
        const sequence = previousIndex !== null && header.index !== previousIndex + 1 ? ` (index gap after ${previousIndex})` : '';
        entries++;
        if (pos >= fromPos) {
          printed++;
          write(
            `pos=${pos} index=${header.index} term=${header.term} size=${size} magic=${magic === EntryMagic.Noop ? 'NOOP' : 'NORMAL'} ` +
              `bodyCrc=${hex(header.bodyCrc)}:${bodyOk ? 'ok' : 'BAD'} chainCrc=${hex(header.chainCrc)}:${chainOk === null ? 'unchecked' : chainOk ? 'ok' : 'BAD'}${sequence} ` +
              `body=${JSON.stringify(preview(body, previewBytes))}`,
          );
          if (printed >= maxEntries) {
            endPos = pos + size;
            stopReason = `printed ${printed} entries (maxEntries)`;
            break outer;
          }
        }
        previousChainCrc = header.chainCrc;
        previousIndex = header.index;
        offset += size;
      }
      endPos = startPos + segmentBytes;
    } finally {
      file.close();
    }
  }
  const summary = { segments: names.length, entries, blanks, badBodyCrcs, badChainCrcs, endPos, stopReason };
  write(`# ${entries} entries, ${blanks} blanks, ${badBodyCrcs} bad bodyCrc, ${badChainCrcs} bad chainCrc, ${names.length} segments; stopped at pos ${endPos}: ${stopReason}`);
  return summary;
}

/** Positional reads through a sliding window, so a 1 GiB segment is never read into memory whole. */
class WindowedFile {
  private readonly fd: number;
  readonly sizeBytes: number;
  private buffer = new Uint8Array(DUMP_WINDOW_BYTES);
  private windowStart = 0;
  private windowEnd = 0;

  constructor(path: string) {
    this.sizeBytes = statSync(path).size;
    this.fd = openSync(path, 'r');
  }

  /** The bytes [offset, offset + length) of the file, inside the current window. */
  window(offset: number, length: number): { bytes: Uint8Array; view: DataView; at: number } {
    if (offset < this.windowStart || offset + length > this.windowEnd) this.fill(offset, length);
    return { bytes: this.buffer, view: new DataView(this.buffer.buffer, 0, this.windowEnd - this.windowStart), at: offset - this.windowStart };
  }

  view(offset: number, length: number): DataView {
    const { view, at } = this.window(offset, length);
    return new DataView(view.buffer, at, length);
  }

  close(): void {
    closeSync(this.fd);
  }

  private fill(offset: number, length: number): void {
    if (length > this.buffer.length) this.buffer = new Uint8Array(length);
    const wanted = Math.min(this.buffer.length, this.sizeBytes - offset);
    let readBytes = 0;
    while (readBytes < wanted) {
      const n = readSync(this.fd, this.buffer, readBytes, wanted - readBytes, offset + readBytes);
      if (n === 0) break;
      readBytes += n;
    }
    this.windowStart = offset;
    this.windowEnd = offset + readBytes;
  }
}

/** What a node directory retains, from its checkpoint and files (read-file's first line). */
export interface RetainedOnDisk {
  /** Index of the first entry the log holds (after retention or a snapshot), and where it lies. */
  readonly firstIndex: number;
  readonly firstPos: number;
  /** Data segment files: how many, the first one's start, their bytes. */
  readonly dataSegments: number;
  readonly firstSegmentPos: number | null;
  readonly dataSegmentBytes: number;
  /** Used fraction of the file system holding the data directory (statfs). */
  readonly diskUsageRatio: number;
}

/** `dir` is a node directory ({store}/dledger-ID) or its data/ directory. */
export function retainedOnDisk(dir: string): RetainedOnDisk {
  const dataDir = existsSync(join(dir, 'data')) ? join(dir, 'data') : dir;
  const checkpoint = readCheckpoint(new DiskMedium(), dirname(dataDir));
  const names = readdirSync(dataDir).filter((name) => /^\d{20}$/.test(name)).sort();
  const stats = statfsSync(dataDir);
  return {
    firstIndex: (checkpoint?.beforeBeginIndex ?? -1) + 1,
    firstPos: checkpoint?.firstPos ?? 0,
    dataSegments: names.length,
    firstSegmentPos: names.length > 0 ? Number(names[0]) : null,
    dataSegmentBytes: names.reduce((sum, name) => sum + statSync(join(dataDir, name)).size, 0),
    diskUsageRatio: stats.blocks === 0 ? 0 : 1 - stats.bavail / stats.blocks,
  };
}

function preview(body: Uint8Array, maxBytes: number): string {
  let text = '';
  for (const byte of body.subarray(0, maxBytes)) text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.';
  return body.length > maxBytes ? `${text}...` : text;
}
