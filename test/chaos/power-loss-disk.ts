// Goal: the disk side of a simulated power loss of one member (whose process is already dead,
// SIGKILLed): its files lose everything written after the last flush of each range.
// Method: the member ran with DLEDGER_FAULT_JOURNAL (src/store/fault-journal.ts), so every segment
// file has a shadow holding exactly the bytes as of their last completed msync, and meta/ holds the
// last durably replaced currterm and checkpoint. For each segment file the bytes that differ from
// the shadow (written but never flushed) are, by a seeded choice:
//   drop  — all lost (the file becomes its shadow);
//   prefix — a prefix of the unflushed bytes survived (cut at any byte, often mid-record);
//   torn  — such a prefix followed by garbage up to the end of the unflushed region's next 512 bytes.
// Shadows of files the store removed are dropped (removals are followed by a directory fsync, so
// they are modelled as durable at once). currterm and checkpoint are put back to the last durable
// version (a rename whose directory fsync had not returned may revert), or removed when none was
// durable. The result becomes the new shadow: what is on the disk after the power comes back is
// durable. Not modelled: pages of the unflushed region persisted out of order (a hole before later
// records; src/store/README.md says recovery refuses that rather than guess).
import fs from 'node:fs';
import path from 'node:path';
import { faultJournalDirOf, META_DIR_NAME, SHADOW_DIR_NAME } from '../../src/store/index.js';

export const METADATA_FILE_NAMES = ['currterm', 'checkpoint'] as const;
const SUBDIRS = ['data', 'index'] as const;
const TORN_GARBAGE_MAX_BYTES = 512;
const COMPARE_CHUNK_BYTES = 64 * 1024;

export type TailFate = 'drop' | 'prefix' | 'torn';
export const ALL_FATES: readonly TailFate[] = ['drop', 'prefix', 'torn'];

export interface PowerLossFileEffect {
  readonly file: string;
  readonly fate: TailFate;
  /** Bytes written after the last flush of their range. */
  readonly unflushedBytes: number;
  /** Of those, how many survived (prefix/torn). */
  readonly keptBytes: number;
  readonly garbageBytes: number;
}

export interface PowerLossReport {
  readonly nodeDir: string;
  readonly files: PowerLossFileEffect[];
  readonly metadataReverted: string[];
  readonly shadowsDropped: number;
}

/** First and last offsets where a and b differ, or null when they are equal. */
function differingRange(a: Buffer, b: Buffer): { first: number; last: number } | null {
  const length = Math.min(a.length, b.length);
  let first = -1;
  for (let chunk = 0; chunk < length && first < 0; chunk += COMPARE_CHUNK_BYTES) {
    const end = Math.min(length, chunk + COMPARE_CHUNK_BYTES);
    if (a.compare(b, chunk, end, chunk, end) === 0) continue;
    for (let i = chunk; i < end; i++) if (a[i] !== b[i]) { first = i; break; }
  }
  if (first < 0) return null;
  let last = -1;
  for (let chunkEnd = length; chunkEnd > first && last < 0; chunkEnd -= COMPARE_CHUNK_BYTES) {
    const start = Math.max(first, chunkEnd - COMPARE_CHUNK_BYTES);
    if (a.compare(b, start, chunkEnd, start, chunkEnd) === 0) continue;
    for (let i = chunkEnd - 1; i >= start; i--) if (a[i] !== b[i]) { last = i; break; }
  }
  return { first, last };
}

function listFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Rewrite a dead member's files as a power loss would leave them. `random` is the campaign's
 * seeded stream; `journalRoot` is the DLEDGER_FAULT_JOURNAL the member ran with.
 */
export function losePower(nodeDir: string, journalRoot: string, random: () => number, fates: readonly TailFate[] = ALL_FATES): PowerLossReport {
  const journalDir = faultJournalDirOf(journalRoot, nodeDir);
  if (!fs.existsSync(journalDir)) throw new Error(`power loss of ${nodeDir}: no fault journal at ${journalDir} (did it run with DLEDGER_FAULT_JOURNAL?)`);
  const files: PowerLossFileEffect[] = [];
  let shadowsDropped = 0;
  for (const sub of SUBDIRS) {
    const dir = path.join(nodeDir, sub);
    const shadowDir = path.join(journalDir, SHADOW_DIR_NAME, sub);
    const present = new Set(listFiles(dir));
    for (const name of listFiles(shadowDir)) {
      if (present.has(name)) continue;
      fs.rmSync(path.join(shadowDir, name), { force: true });
      shadowsDropped++;
    }
    // Invariant: once a file of this directory lost part of its unflushed bytes, every later file
    // (names are 20-digit start offsets: sorted = log order) loses all of its own. Independent
    // fates per file made holes across a segment boundary (the end of segment A torn, the start of
    // segment B kept), which recovery rightly refuses to open ("cutting here would drop verified
    // data"): out-of-order persistence is not modelled (header), and this was the model breaking
    // its own rule (found by the RocketMQ power campaign, 64 KiB segments, seed 20261207).
    let cut = false;
    for (const name of present) {
      const shadowPath = path.join(shadowDir, name);
      // Temp files of an interrupted creation stay (recovery removes them); a segment without a
      // shadow was never handed to the store as writable, so nothing unflushed can be in it.
      if (!fs.existsSync(shadowPath)) continue;
      const filePath = path.join(dir, name);
      const current = fs.readFileSync(filePath);
      const shadow = fs.readFileSync(shadowPath);
      if (current.length !== shadow.length) throw new Error(`power loss: ${filePath} is ${current.length} bytes, its shadow ${shadow.length}`);
      const range = differingRange(current, shadow);
      if (range === null) continue;
      const unflushedBytes = range.last - range.first + 1;
      const roll = random();
      const rolled = fates.length === ALL_FATES.length ? (roll < 0.4 ? 'drop' : roll < 0.8 ? 'prefix' : 'torn') : fates[Math.floor(roll * fates.length)]!;
      const fate: TailFate = cut ? 'drop' : rolled;
      cut = true; // this file keeps at most a strict prefix of its unflushed bytes
      const result = Buffer.from(shadow);
      let keptBytes = 0;
      let garbageBytes = 0;
      if (fate !== 'drop') {
        keptBytes = Math.floor(random() * unflushedBytes);
        current.copy(result, range.first, range.first, range.first + keptBytes);
      }
      if (fate === 'torn') {
        garbageBytes = Math.min(unflushedBytes - keptBytes, 1 + Math.floor(random() * TORN_GARBAGE_MAX_BYTES));
        for (let i = 0; i < garbageBytes; i++) result[range.first + keptBytes + i] = Math.floor(random() * 256);
      }
      fs.writeFileSync(filePath, result);
      fs.writeFileSync(shadowPath, result);
      files.push({ file: `${sub}/${name}`, fate, unflushedBytes, keptBytes, garbageBytes });
    }
  }
  const metadataReverted: string[] = [];
  for (const name of METADATA_FILE_NAMES) {
    const filePath = path.join(nodeDir, name);
    const durable = path.join(journalDir, META_DIR_NAME, name);
    const now = fs.existsSync(filePath) ? fs.readFileSync(filePath) : null;
    const then = fs.existsSync(durable) ? fs.readFileSync(durable) : null;
    if (now !== null && then !== null && now.equals(then)) continue;
    if (now === null && then === null) continue;
    if (then === null) fs.rmSync(filePath, { force: true });
    else fs.writeFileSync(filePath, then);
    metadataReverted.push(name);
  }
  return { nodeDir, files, metadataReverted, shadowsDropped };
}

/** One line for a campaign log. */
export function describePowerLoss(report: PowerLossReport): string {
  const lost = report.files.reduce((sum, f) => sum + f.unflushedBytes - f.keptBytes, 0);
  const fates = report.files.map((f) => `${f.file} ${f.fate} ${f.keptBytes}/${f.unflushedBytes}${f.garbageBytes > 0 ? ` +${f.garbageBytes} garbage` : ''}`);
  return `${path.basename(report.nodeDir)}: ${lost} unflushed bytes lost [${fates.join('; ')}]${report.metadataReverted.length > 0 ? `, reverted ${report.metadataReverted.join(',')}` : ''}`;
}
