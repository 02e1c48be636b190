// Per-process numbers from /proc (Linux) for benches: CPU time, so that a comparison can report
// what the load cost each member, which moves much less with the machine's other load than
// wall-clock rates do.
import fs from 'node:fs';

/** CPU time of a process in ms (user + system), from /proc (Linux); NaN where unavailable. */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

export interface Rss {
  /** VmRSS: everything resident, including the mmap'd log's file pages. */
  readonly totalMiB: number;
  /** RssAnon: heap, buffers, stacks: what the process itself allocated. */
  readonly anonMiB: number;
  /** RssFile: file pages mapped in (the segments' page cache, clean after a flush, reclaimable). */
  readonly fileMiB: number;
}

/** Resident memory of a process from /proc (Linux); NaN fields where unavailable. */
export function rssOf(pid: number | undefined): Rss {
  const none = { totalMiB: Number.NaN, anonMiB: Number.NaN, fileMiB: Number.NaN };
  if (pid === undefined) return none;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
    return { totalMiB: kib('VmRSS'), anonMiB: kib('RssAnon'), fileMiB: kib('RssFile') };
  } catch {
    return none;
  }
}
