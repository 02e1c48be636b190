// The upgrade of a classic broker to a DLedger group (the guide's "旧集群升级"), as RocketMQ's
// DLedgerCommitLog does it on its first start with enableDLegerCommitLog=true:
//
//  1. Recover the old commit log under storePathCommitLog (torn tail cut, as a classic start does).
//  2. Seal it: a BLANK from its end to the end of its last file, flushed, so the old log is
//     complete and never written again.
//  3. dividedCommitlogOffset = the end of that last file. The DLedger store's first entry goes
//     there: its checkpoint is created with firstPos = dividedOffset, so entry positions (and
//     PHYSICALOFFSET = pos + 48) continue above every old offset, and old msgIds stay valid.
//     The offset is persisted twice: by the sealed file (re-derived on every start) and by the
//     DLedger checkpoint (checked against it).
//  4. The old messages (and the topic and offset commands stored among them) are indexed into the
//     broker state before the first Raft entry, so consumers resume from their committed offsets
//     and queue offsets continue.
//
// Raft replicates only new entries. Every member must therefore hold the same old files before
// the switch (the guide copies the old commit log to each node and compares md5sums of the last
// file: `mqadmin commitLogMd5`). A member without them starts its DLedger log at 0; members that
// disagree on where the log starts refuse to apply anything and stop (log-start-check.ts), and a
// store that took another start refuses the next start (checkDLedgerStart, checkNoClassicStart).
import fs from 'node:fs';
import path from 'node:path';
import { CHECKPOINT_FILE_NAME, INITIAL_CHECKPOINT, readCheckpoint, writeCheckpoint } from '../store/checkpoint.js';
import { DiskMedium } from '../store/disk-medium.js';
import { DATA_DIR_NAME } from '../store/segmented-log-store.js';
import { ClassicLogFiles } from './classic-files.js';
import type { ClassicPrefix } from './dledger-commit-log.js';

export class ClassicUpgradeError extends Error {
  override name = 'ClassicUpgradeError';
}

export interface ClassicUpgradeOptions {
  /** storePathCommitLog */
  readonly classicDirectoryPath: string;
  /** mappedFileSizeCommitLog: the old files' size and the DLedger segment size. */
  readonly fileSizeBytes: number;
  readonly maxMessageBytes: number;
  /** The DLedger member's directory ({storeBaseDir}/dledger-{selfId}). */
  readonly dledgerNodeDir: string;
  readonly log: (line: string) => void;
}

/** Files named like commit-log files (20 digits) in `directoryPath`, sorted; [] if it does not exist. */
export function commitLogFileNames(directoryPath: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(directoryPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((name) => /^\d{20}$/.test(name)).sort();
}

/**
 * Steps 1-3 before a DLedger broker starts. Returns the old log to serve below dividedOffset, or
 * null when storePathCommitLog holds no commit-log file (a broker that was DLedger from the start).
 */
export function prepareClassicUpgrade(options: ClassicUpgradeOptions): ClassicPrefix | null {
  if (commitLogFileNames(options.classicDirectoryPath).length === 0) {
    checkNoClassicStart(options);
    return null;
  }
  const files = new ClassicLogFiles(options.classicDirectoryPath, options.fileSizeBytes, options.maxMessageBytes);
  try {
    const report = files.open();
    const endBeforeSeal = files.endOffset;
    const dividedOffset = files.seal();
    checkDLedgerStart(options, dividedOffset);
    const names = files.fileNames();
    options.log(`upgrade: classic commit log ${options.classicDirectoryPath} (${report.messages} records, ${names.length} files, last ${names.at(-1) ?? 'none'}) ends at ${endBeforeSeal}`
      + (report.cutBytes > 0 ? ` after cutting a torn tail of ${report.cutBytes} bytes` : '')
      + `; dividedCommitlogOffset ${dividedOffset}: older offsets are served from it, the DLedger group continues there`);
    return { files, dividedOffset };
  } catch (error) {
    files.close();
    throw error;
  }
}

/** Create the DLedger store's checkpoint at dividedOffset, or check the existing one agrees. */
function checkDLedgerStart(options: ClassicUpgradeOptions, dividedOffset: number): void {
  const medium = new DiskMedium();
  const checkpoint = readCheckpoint(medium, options.dledgerNodeDir);
  if (checkpoint === null) {
    const data = commitLogFileNames(path.join(options.dledgerNodeDir, DATA_DIR_NAME));
    if (data.length > 0) {
      throw new ClassicUpgradeError(`${options.dledgerNodeDir} has data files (${data[0]}...) but no checkpoint, so where it starts relative to the classic commit log in ${options.classicDirectoryPath} is unknown; move one of them away`);
    }
    medium.makeDirectory(options.dledgerNodeDir);
    writeCheckpoint(medium, options.dledgerNodeDir, { ...INITIAL_CHECKPOINT, firstPos: dividedOffset });
    return;
  }
  const startsAt = checkpoint.firstPos;
  if ((checkpoint.beforeBeginIndex === INITIAL_CHECKPOINT.beforeBeginIndex && startsAt !== dividedOffset) || startsAt < dividedOffset) {
    throw new ClassicUpgradeError(`the DLedger store ${options.dledgerNodeDir} starts at offset ${startsAt}, but the classic commit log in ${options.classicDirectoryPath} ends at ${dividedOffset} (dividedCommitlogOffset): `
      + 'the old files were added or changed after this member started in DLedger mode, or it followed a leader without them (whose log starts at 0). Every member needs the same old commit log before its first DLedger start (compare with mqadmin commitLogMd5)');
  }
}

/**
 * Without classic files the DLedger log must start at 0: a store that starts higher was upgraded
 * (its old files are gone) or took the start of a leader that had them.
 */
function checkNoClassicStart(options: ClassicUpgradeOptions): void {
  const checkpoint = readCheckpoint(new DiskMedium(), options.dledgerNodeDir);
  if (checkpoint === null || checkpoint.beforeBeginIndex !== INITIAL_CHECKPOINT.beforeBeginIndex || checkpoint.firstPos === 0) return;
  throw new ClassicUpgradeError(`the DLedger store ${options.dledgerNodeDir} starts at offset ${checkpoint.firstPos} (a group upgraded with dividedCommitlogOffset ${checkpoint.firstPos}), but ${options.classicDirectoryPath} holds no classic commit log (dividedCommitlogOffset 0): `
    + 'this member lacks the old commit log the group continues. Copy it from another member (compare with mqadmin commitLogMd5) and move this DLedger store away before starting again');
}

/**
 * A classic start on a store that was upgraded would fork the log: the DLedger group holds the
 * messages after dividedOffset. Refused with the directory that shows it.
 */
export function assertNotUpgraded(storePathRootDir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(storePathRootDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    if (name.startsWith('dledger-') && fs.existsSync(path.join(storePathRootDir, name, CHECKPOINT_FILE_NAME))) {
      throw new ClassicUpgradeError(`enableDLegerCommitLog=false, but ${path.join(storePathRootDir, name)} holds a DLedger store: this broker was upgraded to DLedger, and a classic start would lose the messages stored since; start it with enableDLegerCommitLog=true`);
    }
  }
}
