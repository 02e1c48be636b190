// `npm run bench -- threads [--rounds N] [--flush sync|async] [--cases C:N,...]`: this build with
// threads=inline (A) against threads=workers (B), interleaved rounds in one run (bench/ab.ts), for
// a 3-member group and then a 1-member group whose client is its own process. The ratios (B/A)
// are what docs/architecture.md "Threads" records and what auto's threshold is chosen from.
import { run as runAb } from './ab.js';

export async function run(args: readonly string[]): Promise<void> {
  for (const members of ['3', '1']) {
    console.log(`\n== threads: inline (A) vs workers (B), ${members} member(s)`);
    await runAb(['--a-threads', 'inline', '--b-threads', 'workers', '--members', members, ...args]);
  }
}
