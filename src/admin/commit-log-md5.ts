// mqadmin commitLogMd5: the guide's check before upgrading a classic broker to a DLedger group
// ("旧集群升级": copy the old commit log to every node, then md5sum the last file on each). Raft
// replicates only new entries, so every member must start from identical old files: the DLedger
// log begins at the end of the last one (classic-upgrade.ts). Reads local directories (run it on
// a host that mounts or holds the copies); prints each directory's file count, last file name,
// size and md5, then MATCH or DIFFER.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { commitLogFileNames } from '../broker/classic-upgrade.js';

export interface CommitLogDigest {
  readonly directory: string;
  readonly fileNames: readonly string[];
  /** null when the directory holds no commit-log file. */
  readonly lastFile: string | null;
  readonly lastFileBytes: number;
  readonly md5: string | null;
}

export interface CommitLogComparison {
  readonly digests: readonly CommitLogDigest[];
  readonly match: boolean;
  readonly text: string;
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function digestCommitLog(directory: string): Promise<CommitLogDigest> {
  const fileNames = commitLogFileNames(directory);
  const lastFile = fileNames.at(-1) ?? null;
  if (lastFile === null) return { directory, fileNames, lastFile, lastFileBytes: 0, md5: null };
  const file = path.join(directory, lastFile);
  return { directory, fileNames, lastFile, lastFileBytes: statSync(file).size, md5: await md5Of(file) };
}

/** Digest every directory; they match when each has files, the same names and the same last-file md5. */
export async function commitLogMd5(directories: readonly string[]): Promise<CommitLogComparison> {
  const digests: CommitLogDigest[] = [];
  for (const directory of directories) digests.push(await digestCommitLog(directory));
  const width = Math.max(4, ...directories.map((d) => d.length));
  const lines = [`${'#Dir'.padEnd(width)}  ${'#Files'.padStart(6)}  ${'#LastFile'.padEnd(20)}  ${'#Size'.padStart(12)}  #MD5`];
  for (const d of digests) {
    lines.push(`${d.directory.padEnd(width)}  ${String(d.fileNames.length).padStart(6)}  ${(d.lastFile ?? '-').padEnd(20)}  ${String(d.lastFileBytes).padStart(12)}  ${d.md5 ?? '-'}`);
  }
  const problems: string[] = [];
  const empty = digests.filter((d) => d.lastFile === null);
  if (empty.length > 0) problems.push(`no commit-log file in ${empty.map((d) => d.directory).join(', ')}`);
  const first = digests[0];
  if (first !== undefined && empty.length === 0) {
    for (const d of digests.slice(1)) {
      if (d.fileNames.join(',') !== first.fileNames.join(',')) problems.push(`${d.directory} has files ${d.fileNames.join(',')}, ${first.directory} has ${first.fileNames.join(',')}`);
      else if (d.md5 !== first.md5) problems.push(`${d.directory}: md5 of ${d.lastFile} is ${d.md5}, ${first.directory} has ${first.md5}`);
    }
  }
  const match = problems.length === 0 && digests.length > 0;
  lines.push('');
  lines.push(match
    ? `MATCH: ${digests.length} directories, last file ${first?.lastFile} md5 ${first?.md5}: safe to start them as one DLedger group`
    : `DIFFER: ${problems.join('; ')}. Copy the same old commit log to every node before enabling DLedger`);
  return { digests, match, text: lines.join('\n') };
}
