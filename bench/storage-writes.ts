// `npm run bench -- storage-writes [--rounds N] [--members 3,1] [--cases 1:1000,128:20000]`: the
// storage-worker writes stage of issue 13 as an A/B/C in one run, for a 3-member group and then a
// 1-member group (client in its own process), flush sync, 1 KiB: I = threads=inline,
// W = threads=workers (the worker runs only the group commits), S = threads=workers +
// storageWorkerWrites=true (the worker also encodes, CRCs and writes the appends). All three groups
// are up at once; each round runs every case on each group in a rotated order. The report gives
// per round S/W and S/I ratios (appends/s, p50, p99, leader CPU per 1000 appends) and their median:
// what docs/architecture.md records and what the key's default follows.
import os from 'node:os';
import path from 'node:path';
import { flagValue, median } from './ab.js';
import { parseCases } from './lib/cases.js';
import { caseName, cliOf, runDledgerCase, startDledgerGroup, stopDledgerGroup, type CaseSample, type DledgerGroup } from './lib/dledger-group.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const MAX_ROUNDS = 10;

interface Sample extends CaseSample {
  readonly members: number;
  readonly round: number;
  readonly variant: string;
  readonly concurrency: number;
  readonly batch: number;
}

const VARIANTS = [
  { name: 'I', threads: 'inline', extraConfig: [] as string[] },
  { name: 'W', threads: 'workers', extraConfig: ['storageWorkerWrites=false'] },
  { name: 'S', threads: 'workers', extraConfig: ['storageWorkerWrites=true'] },
] as const;

export async function run(args: readonly string[]): Promise<void> {
  const rounds = Number(flagValue(args, '--rounds') ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) throw new Error(`--rounds: 1..${MAX_ROUNDS}`);
  const memberCounts = (flagValue(args, '--members') ?? '3,1').split(',').map(Number);
  if (memberCounts.some((m) => m !== 1 && m !== 3)) throw new Error('--members: a list of 1 and 3');
  const cases = parseCases(flagValue(args, '--cases') ?? '1:1000,128:20000');
  if (process.env.DLEDGER_STORAGE_WORKER_WRITES !== undefined) throw new Error('unset DLEDGER_STORAGE_WORKER_WRITES: it would override the variants');
  const cli = cliOf(path.resolve(import.meta.dirname, '..', '..'));
  const samples: Sample[] = [];
  const loadBefore = os.loadavg();
  const startedAt = performance.now();
  for (const members of memberCounts) {
    const groups: DledgerGroup[] = [];
    try {
      for (const variant of VARIANTS) groups.push(await startDledgerGroup({ name: variant.name, cli, flush: 'sync', threads: variant.threads, members, extraConfig: variant.extraConfig }));
      for (const group of groups) await runDledgerCase(group, { concurrency: 16, batch: 1, count: 10000 });
      for (let round = 0; round < rounds; round++) {
        for (const load of cases) {
          // Rotate the order per round: no variant always runs first (or right after another).
          const order = groups.map((_, i) => groups[(i + round) % groups.length] as DledgerGroup);
          for (const group of order) {
            const sample = await runDledgerCase(group, load);
            samples.push({ ...sample, members, round, variant: group.name, concurrency: load.concurrency, batch: load.batch });
            console.error(`${members}m round ${round} ${caseName(load)} ${group.name}: ${grouped(sample.appendsPerSecond)}/s p50 ${fixed(sample.p50Ms, 3)} ms p99 ${fixed(sample.p99Ms, 3)} ms, leader CPU ${fixed(sample.leaderCpuMsPer1000, 1)} ms/1000, errors ${sample.errors} (load ${os.loadavg()[0]?.toFixed(1)})`);
          }
        }
      }
    } finally {
      for (const group of groups) await stopDledgerGroup(group);
    }
  }
  const loadAfter = os.loadavg();
  for (const members of memberCounts) {
    const rows: string[][] = [];
    for (const load of cases) {
      const of = (variant: string, round: number): Sample => samples.find((s) => s.members === members && s.variant === variant && s.round === round && s.concurrency === load.concurrency && s.batch === load.batch) as Sample;
      const measures: Array<[string, (s: Sample) => number, number]> = [
        ['appends/s', (s) => s.appendsPerSecond, 0],
        ['p50 ms', (s) => s.p50Ms, 3],
        ['p99 ms', (s) => s.p99Ms, 3],
        ['leader CPU ms/1000', (s) => s.leaderCpuMsPer1000, 1],
      ];
      for (const [measure, pick, digits] of measures) {
        const perRound = (v: string): string => Array.from({ length: rounds }, (_, r) => fixed(pick(of(v, r)), digits)).join(' / ');
        const ratio = (num: string, den: string): string => {
          const values = Array.from({ length: rounds }, (_, r) => pick(of(num, r)) / pick(of(den, r)));
          return `${values.map((v) => fixed(v, 2)).join(' / ')} (median ${fixed(median(values), 2)})`;
        };
        rows.push([`${caseName(load)} ${measure}`, perRound('I'), perRound('W'), perRound('S'), ratio('S', 'W'), ratio('S', 'I')]);
      }
    }
    console.log(`\n== storage-worker writes: ${members} member(s), flush sync, 1 KiB, ${rounds} interleaved rounds; I = inline, W = workers, S = workers + storageWorkerWrites`);
    console.log(formatTable(['measure', 'I per round', 'W per round', 'S per round', 'S/W per round', 'S/I per round'], rows));
  }
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs; ran ${fixed((performance.now() - startedAt) / 1000)} s`);
  console.log(`wrote ${writeResults('storage-writes', { rounds, memberCounts, cases, loadBefore, loadAfter, samples })}`);
}
