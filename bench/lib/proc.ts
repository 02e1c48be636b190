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
