// {nodeDir}/checkpoint: where the log begins and a point up to which it has been verified and made
// durable. Replaced atomically and durably (temp, fsync, rename, fsync dir).
//
//  - beforeBeginIndex/Term/ChainCrc and firstPos: the log's logical start after resetPrefix or
//    retention (DLedger deduced it from the first entry, which fails for an empty log and after a
//    reset, issue #245); firstPos is where entry beforeBeginIndex+1 lies or will lie.
//  - verified*: an entry whose record and every record before it were verified and were durable
//    (data and index) when the checkpoint was written. Recovery verifies forward from there instead
//    of from DLedger's "third-last segment" guess. It is rewritten when the durable end moves to a
//    new data segment, at close, after recovery, and rolled back by a truncate below it.
//
// Not DLedger 0.3.x's `checkpoint` (endIndex/committedIndex); the name was free at HEAD.
import { join } from 'node:path';
import { crc32Of } from './crc.js';
import { StoreCorruptionError } from './errors.js';
import { hex } from './entry-codec.js';
import type { StoreMedium } from './medium.js';
import { formatProperties, parseProperties } from './properties.js';

export const CHECKPOINT_FILE_NAME = 'checkpoint';
const CHECKPOINT_VERSION = '1';

export interface VerifiedPoint {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly sizeBytes: number;
  readonly chainCrc: number;
}

export interface Checkpoint {
  readonly beforeBeginIndex: number;
  readonly beforeBeginTerm: number;
  /** chainCrc of entry beforeBeginIndex; null when unknown (a prefix installed from elsewhere). */
  readonly beforeBeginChainCrc: number | null;
  readonly firstPos: number;
  readonly verified: VerifiedPoint | null;
}

export const INITIAL_CHECKPOINT: Checkpoint = {
  beforeBeginIndex: -1,
  // Raft's sentinel "entry before the first" has term 0 (src/raft/types.ts); DLedger used -1.
  beforeBeginTerm: 0,
  beforeBeginChainCrc: 0,
  firstPos: 0,
  verified: null,
};

export function checkpointPath(nodeDir: string): string {
  return join(nodeDir, CHECKPOINT_FILE_NAME);
}

export function writeCheckpoint(medium: StoreMedium, nodeDir: string, checkpoint: Checkpoint): void {
  const fields: Record<string, string> = {
    version: CHECKPOINT_VERSION,
    beforeBeginIndex: String(checkpoint.beforeBeginIndex),
    beforeBeginTerm: String(checkpoint.beforeBeginTerm),
    beforeBeginChainCrc: checkpoint.beforeBeginChainCrc === null ? 'unknown' : String(checkpoint.beforeBeginChainCrc),
    firstPos: String(checkpoint.firstPos),
  };
  if (checkpoint.verified !== null) {
    fields.verifiedIndex = String(checkpoint.verified.index);
    fields.verifiedTerm = String(checkpoint.verified.term);
    fields.verifiedPos = String(checkpoint.verified.pos);
    fields.verifiedSizeBytes = String(checkpoint.verified.sizeBytes);
    fields.verifiedChainCrc = String(checkpoint.verified.chainCrc);
  }
  fields.crc = String(crc32Of(formatProperties(fields)));
  medium.writeFileDurably(checkpointPath(nodeDir), formatProperties(fields, 'dledger-ts store checkpoint'));
}

/** The checkpoint, or null when there is none (a new store, or one that crashed before its first). */
export function readCheckpoint(medium: StoreMedium, nodeDir: string): Checkpoint | null {
  const path = checkpointPath(nodeDir);
  const bytes = medium.readFile(path);
  if (bytes === null) return null;
  const properties = parseProperties(bytes);
  const bad = (what: string, expected: string, found: string | undefined): StoreCorruptionError =>
    new StoreCorruptionError({ filePath: path, fileOffsetBytes: 0, what, expected, found: JSON.stringify(found ?? null) });
  const storedCrc = properties.get('crc');
  properties.delete('crc');
  const fields = Object.fromEntries(properties);
  const actualCrc = crc32Of(formatProperties(fields));
  if (storedCrc !== String(actualCrc)) throw bad('checkpoint crc', `${actualCrc} (${hex(actualCrc)})`, storedCrc);
  if (fields.version !== CHECKPOINT_VERSION) throw bad('checkpoint version', CHECKPOINT_VERSION, fields.version);
  const integer = (key: string, min: number): number => {
    const text = fields[key];
    const value = text === undefined ? Number.NaN : Number(text);
    if (!Number.isSafeInteger(value) || value < min) throw bad(key, `an integer >= ${min}`, text);
    return value;
  };
  const chainText = fields.beforeBeginChainCrc;
  const verified: VerifiedPoint | null =
    fields.verifiedIndex === undefined
      ? null
      : {
          index: integer('verifiedIndex', 0),
          term: integer('verifiedTerm', 0),
          pos: integer('verifiedPos', 0),
          sizeBytes: integer('verifiedSizeBytes', 48),
          chainCrc: integer('verifiedChainCrc', 0),
        };
  return {
    beforeBeginIndex: integer('beforeBeginIndex', -1),
    beforeBeginTerm: integer('beforeBeginTerm', 0),
    beforeBeginChainCrc: chainText === 'unknown' ? null : integer('beforeBeginChainCrc', 0),
    firstPos: integer('firstPos', 0),
    verified,
  };
}
