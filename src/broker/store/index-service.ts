// RocketMQ's IndexService: index files under {storePathRootDir}/index/, named by the store time of
// their first message (yyyyMMddHHmmssSSS, UTC here), each holding topic#key for message KEYS
// (space-separated) and UNIQ_KEY. Built as messages are applied, on every member. The index is
// kept across restarts: load() takes the files back as they were at the broker's durable applied
// point (mark(), saved with it; entries added after it are undone) or, without one, clears the
// directory for a rebuild. Invariant: at most maxIndexFiles files; the oldest goes first.
import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../../util/assert.js';
import type { IndexMark } from '../state/durable-state.js';
import { IndexFile } from './index-file.js';

export interface IndexServiceOptions {
  readonly directoryPath: string;
  readonly maxHashSlotNum: number;
  readonly maxIndexNum: number;
  /** Files kept at most (RocketMQ keeps them until the commit log below them is deleted). */
  readonly maxIndexFiles?: number;
}

const DEFAULT_MAX_INDEX_FILES = 64;

function fileNameOf(storeTimestampMs: number): string {
  const d = new Date(storeTimestampMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
}

export class IndexService {
  // Invariant: files are in creation order (store time); only the last one takes new keys.
  private files: IndexFile[] = [];
  private readonly maxIndexFiles: number;

  constructor(private readonly options: IndexServiceOptions) {
    this.maxIndexFiles = options.maxIndexFiles ?? DEFAULT_MAX_INDEX_FILES;
    fs.mkdirSync(options.directoryPath, { recursive: true });
  }

  /**
   * Before the first message: take the files back as `mark` lists them (the last one rolled back
   * to its header then), deleting any other; null: start empty (the log is re-applied from its start).
   */
  load(mark: IndexMark | null): void {
    assert(this.files.length === 0, 'IndexService.load() after messages were indexed');
    const keep = new Set(mark?.files ?? []);
    for (const name of fs.readdirSync(this.options.directoryPath)) if (!keep.has(name)) fs.rmSync(path.join(this.options.directoryPath, name), { recursive: true, force: true });
    if (mark === null) return;
    const last = mark.files[mark.files.length - 1];
    for (const name of mark.files) {
      const filePath = path.join(this.options.directoryPath, name);
      if (!fs.existsSync(filePath)) continue; // deleted by retention or maxIndexFiles meanwhile
      this.files.push(new IndexFile(filePath, this.options.maxHashSlotNum, this.options.maxIndexNum, { rollbackTo: name === last ? Buffer.from(mark.lastHeader, 'hex') : null }));
    }
  }

  /** Where the index stands now (saved with the broker's durable applied point). */
  mark(): IndexMark {
    const last = this.files[this.files.length - 1];
    return { files: this.files.map((file) => path.basename(file.filePath)), lastHeader: last === undefined ? '' : last.headerBytes().toString('hex') };
  }

  /** fdatasync every file written since the last flush. */
  flush(): void {
    for (const file of this.files) file.flush();
  }

  /** Index one applied message under topic#key for each of its keys and its UNIQ_KEY. */
  buildIndex(topic: string, keys: string | undefined, uniqKey: string | undefined, phyOffset: number, storeTimestampMs: number): void {
    const all: string[] = [];
    if (uniqKey !== undefined && uniqKey !== '') all.push(uniqKey);
    if (keys !== undefined) for (const key of keys.split(' ')) if (key !== '') all.push(key);
    for (const key of all) this.put(`${topic}#${key}`, phyOffset, storeTimestampMs);
  }

  /** Physical offsets of messages indexed under topic#key in [beginMs, endMs], newest file first. */
  query(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): number[] {
    const out: number[] = [];
    for (let i = this.files.length - 1; i >= 0 && out.length < maxNum; i--) {
      out.push(...(this.files[i] as IndexFile).selectPhyOffsets(`${topic}#${key}`, maxNum - out.length, beginMs, endMs));
    }
    return out;
  }

  /** The newest file's last store time and physical offset (QUERY_MESSAGE's response header). */
  lastUpdate(): { timestampMs: number; phyOffset: number } {
    const last = this.files[this.files.length - 1];
    return { timestampMs: last?.endTimestamp ?? 0, phyOffset: last?.lastPhyOffset ?? 0 };
  }

  /** Retention: drop files whose every entry points below commitLogOffset. */
  truncateBelow(commitLogOffset: number): void {
    while (this.files.length > 1 && (this.files[0] as IndexFile).lastPhyOffset < commitLogOffset) this.dropOldest();
  }

  close(): void {
    for (const file of this.files) file.close();
    this.files = [];
  }

  private put(key: string, phyOffset: number, storeTimestampMs: number): void {
    let file = this.files[this.files.length - 1];
    if (file === undefined || file.isFull) {
      if (this.files.length >= this.maxIndexFiles) this.dropOldest();
      let name = fileNameOf(storeTimestampMs);
      while (fs.existsSync(path.join(this.options.directoryPath, name))) name = `${name}_`;
      file = new IndexFile(path.join(this.options.directoryPath, name), this.options.maxHashSlotNum, this.options.maxIndexNum);
      this.files.push(file);
    }
    file.putKey(key, phyOffset, storeTimestampMs);
  }

  private dropOldest(): void {
    const oldest = this.files.shift();
    if (oldest === undefined) return;
    oldest.close();
    fs.rmSync(oldest.filePath, { force: true });
  }
}
