// `npm run bench -- ab --a ROOT_A --b ROOT_B [--rounds 3] [--flush sync] [--cases 1:1000,128:20000]`:
// an interleaved A/B comparison of two builds of this package (each ROOT a checkout with dist/
// built), for a machine shared with other load where absolute numbers move by 2x from one minute
// to the next. Both 3-member groups run at once (A's servers from ROOT_A, B's from ROOT_B; each
// group's client is its own build's `dledger bench`, since peer protocol 2 (authenticated
// handshake) and 1 do not talk to each other); a build with peer authentication gets a fresh
// group secret file, one without it runs as it always did; each round runs every case on A then B (B then A on odd rounds), and
// the report gives per round B/A ratios of throughput, p50 and the leader's CPU per 1000 appends
// (from /proc, which depends much less on the other load than wall-clock rates do).
// Also one build in two modes: `--a-threads inline --b-threads workers` (each group's members get
// `--threads`; a root left out is this package), and `--members 1` for a 1-member group (the
// client still in its own process): what `npm run bench -- threads` runs.
import os from 'node:os';
import path from 'node:path';
import { caseName, cliOf, runDledgerCase, startDledgerGroup, stopDledgerGroup, type CaseSample, type DledgerGroup, type LoadCase } from './lib/dledger-group.js';
import { parseCases } from './lib/cases.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const MAX_ROUNDS = 20;

interface Sample extends CaseSample {
  readonly round: number;
  readonly variant: 'A' | 'B';
  readonly concurrency: number;
  readonly batch: number;
}

async function runCase(variant: DledgerGroup, round: number, load: LoadCase): Promise<Sample> {
  const sample = await runDledgerCase(variant, load);
  return { ...sample, round, variant: variant.name as 'A' | 'B', concurrency: load.concurrency, batch: load.batch };
}

/** The value after `flag` in args (shared with bench/storage-writes.ts). */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** This package's root (bench/ab.ts runs from dist/bench/). */
function ownRoot(): string {
  return path.resolve(import.meta.dirname, '..', '..');
}

export async function run(args: readonly string[]): Promise<void> {
  const threadsA = flagValue(args, '--a-threads');
  const threadsB = flagValue(args, '--b-threads');
  const sameBuild = threadsA !== undefined || threadsB !== undefined;
  const rootA = flagValue(args, '--a') ?? (sameBuild ? ownRoot() : undefined);
  const rootB = flagValue(args, '--b') ?? (sameBuild ? ownRoot() : undefined);
  if (rootA === undefined || rootB === undefined) throw new Error('usage: npm run bench -- ab --a ROOT_A --b ROOT_B [--a-threads M --b-threads M] [--members 1|3] [--rounds N] [--flush sync|async] [--cases C:N,CxB:N,...]');
  const members = Number(flagValue(args, '--members') ?? '3');
  if (members !== 1 && members !== 3) throw new Error('--members: 1 or 3');
  const rounds = Number(flagValue(args, '--rounds') ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) throw new Error(`--rounds: 1..${MAX_ROUNDS}`);
  const flush = flagValue(args, '--flush') ?? 'sync';
  if (flush !== 'sync' && flush !== 'async') throw new Error('--flush: sync or async');
  const cases = parseCases(flagValue(args, '--cases') ?? '1:1000,128:20000');
  const cliA = cliOf(rootA);
  const cliB = cliOf(rootB);
  const loadBefore = os.loadavg();
  const startedAt = performance.now();
  const variants = [await startDledgerGroup({ name: 'A', cli: cliA, flush, threads: threadsA, members })];
  try {
    variants.push(await startDledgerGroup({ name: 'B', cli: cliB, flush, threads: threadsB, members }));
  } catch (error) {
    await stopDledgerGroup(variants[0] as DledgerGroup);
    throw error;
  }
  const samples: Sample[] = [];
  try {
    // Warm both groups (connections, JIT, the first segments) before anything is counted: with 2,000
    // the first round still ran ~1.3x the CPU per append of the later ones.
    for (const variant of variants) await runCase(variant, -1, { concurrency: 16, batch: 1, count: 10000 });
    for (let round = 0; round < rounds; round++) {
      for (const load of cases) {
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) {
          const sample = await runCase(variant, round, load);
          samples.push(sample);
          console.error(`round ${round} ${caseName(load)} ${variant.name}: ${grouped(sample.appendsPerSecond)}/s p50 ${fixed(sample.p50Ms, 3)} ms, leader CPU ${fixed(sample.leaderCpuMsPer1000, 1)} ms/1000 (load ${os.loadavg()[0]?.toFixed(1)})`);
        }
      }
    }
  } finally {
    for (const variant of variants) await stopDledgerGroup(variant);
  }
  const loadAfter = os.loadavg();
  const rows: string[][] = [];
  for (const load of cases) {
    const of = (v: 'A' | 'B', round: number): Sample => samples.find((s) => s.variant === v && s.round === round && s.concurrency === load.concurrency && s.batch === load.batch) as Sample;
    const ratios = Array.from({ length: rounds }, (_, round) => ({ a: of('A', round), b: of('B', round) }));
    const col = (pick: (s: Sample) => number, digits: number): string[] => [
      ratios.map(({ a }) => fixed(pick(a), digits)).join(' / '),
      ratios.map(({ b }) => fixed(pick(b), digits)).join(' / '),
      `${ratios.map(({ a, b }) => fixed(pick(b) / pick(a), 2)).join(' / ')} (median ${fixed(median(ratios.map(({ a, b }) => pick(b) / pick(a))), 2)})`,
    ];
    rows.push([`${caseName(load)} appends/s`, ...col((s) => s.appendsPerSecond, 0)]);
    rows.push([`${caseName(load)} p50 ms`, ...col((s) => s.p50Ms, 3)]);
    rows.push([`${caseName(load)} p99 ms`, ...col((s) => s.p99Ms, 3)]);
    rows.push([`${caseName(load)} leader CPU ms/1000`, ...col((s) => s.leaderCpuMsPer1000, 1)]);
    rows.push([`${caseName(load)} follower CPU ms/1000`, ...col((s) => s.followersCpuMsPer1000, 1)]);
  }
  console.log(`A = ${rootA}${threadsA === undefined ? '' : ` --threads ${threadsA}`}\nB = ${rootB}${threadsB === undefined ? '' : ` --threads ${threadsB}`}\n${members} member(s), flush ${flush}, ${rounds} interleaved rounds`);
  console.log(formatTable(['measure', 'A per round', 'B per round', 'B/A per round'], rows));
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs; ran ${fixed((performance.now() - startedAt) / 1000)} s`);
  console.log(`wrote ${writeResults('ab', { rootA, rootB, threadsA, threadsB, members, flush, rounds, cases, loadBefore, loadAfter, samples })}`);
}
