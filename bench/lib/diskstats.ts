// Bytes the block device under a path has written, from /proc/diskstats (Linux). Unlike latency,
// this does not depend on CPU contention, so on a shared machine it is the steadiest way to see
// write amplification (device bytes per payload byte). It counts every writer of that device:
// read it on an otherwise idle disk, or as an upper bound.

import { readFileSync, statSync } from 'node:fs';

const SECTOR_BYTES = 512;

/** Returns a function giving the device's total bytes written so far, or null when unknown. */
export function deviceBytesWrittenCounter(path: string): (() => number) | null {
  let major: number;
  let minor: number;
  try {
    const dev = statSync(path, { bigint: true }).dev;
    // glibc's gnu_dev_major/minor for Linux's 64-bit dev_t.
    major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  } catch {
    return null;
  }
  const read = (): number | null => {
    let text: string;
    try {
      text = readFileSync('/proc/diskstats', 'utf8');
    } catch {
      return null;
    }
    for (const line of text.split('\n')) {
      const fields = line.trim().split(/\s+/);
      if (Number(fields[0]) === major && Number(fields[1]) === minor) {
        // Fields after the name: reads, merged, sectors read, ms reading, writes, merged, sectors written, ...
        const sectorsWritten = Number(fields[9]);
        return Number.isFinite(sectorsWritten) ? sectorsWritten * SECTOR_BYTES : null;
      }
    }
    return null;
  };
  if (read() === null) return null;
  return () => read() ?? NaN;
}
