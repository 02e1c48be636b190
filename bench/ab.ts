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
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientBenchResult } from '../src/cli/client-bench.js';
import { freePorts, until, type NodeProcess } from '../test/cluster/helpers.js';
import { stopBenchNodes } from './lib/group.js';
import { ensureSecretFile } from '../src/node/peer-auth.js';
import { cpuMs } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const execFileAsync = promisify(execFile);
const MEMBER_IDS = ['n0', 'n1', 'n2'];
const MAX_ROUNDS = 20;
const SEGMENT_BYTES = 64 * 1024 * 1024;
const INDEX_SEGMENT_BYTES = 32 * 256 * 1024;

interface Variant {
  readonly name: 'A' | 'B';
  readonly cli: string;
  readonly group: string;
  readonly peers: string;
  readonly baseDir: string;
  readonly nodes: NodeProcess[];
  /** Flags every `dledger` client command of this build needs (its client secret, if any). */
  readonly clientArgs: readonly string[];
}

interface Case {
  readonly concurrency: number;
  readonly count: number;
}

interface Sample {
  readonly round: number;
  readonly variant: 'A' | 'B';
  readonly concurrency: number;
  readonly appendsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly leaderCpuMsPer1000: number;
  readonly followersCpuMsPer1000: number;
}

function cliOf(root: string): string {
  const cli = path.resolve(root, 'bin', 'dledger.mjs');
  if (!fs.existsSync(cli)) throw new Error(`${cli} not found (--a/--b name a package root)`);
  if (!fs.existsSync(path.resolve(root, 'dist', 'src', 'cli', 'dledger.js'))) throw new Error(`${root} has no dist/ build (run tsc there)`);
  return cli;
}

async function startVariant(name: 'A' | 'B', cli: string, flush: string, nodeArgs: readonly string[], threads: string | undefined, members: number): Promise<Variant> {
  const memberIds = MEMBER_IDS.slice(0, members);
  const ports = await freePorts(memberIds.length);
  const peers = memberIds.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
  const threadsArgs = threads === undefined ? [] : ['--threads', threads];
  const group = `ab${name}`;
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-ab-${name}-`));
  // Small segments: the default 1 GiB data segment (plus one prepared ahead) is fallocated per
  // member, 6+ GiB per group on a disk that other sessions share.
  const configPath = path.join(baseDir, 'ab.conf');
  fs.writeFileSync(configPath, `mappedFileSizeForEntryData=${SEGMENT_BYTES}\nmappedFileSizeForEntryIndex=${INDEX_SEGMENT_BYTES}\n`);
  // A build with peer authentication refuses to start without a secret; an older one knows no such flag.
  const secretFile = path.join(baseDir, 'peer.secret');
  const authArgs = hasPeerAuth(cli) && ensureSecretFile(secretFile) ? ['--peer-secret-file', secretFile] : [];
  const clientArgs = authArgs.length === 0 ? [] : ['--client-secret-file', secretFile];
  const nodes = memberIds.map((id) => {
    const child = spawn(process.execPath, [...nodeArgs, cli, 'server', '--group', group, '--id', id, '--peers', peers, '--store-base-dir', baseDir, '--flush', flush, '--config', configPath, ...authArgs, ...threadsArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    const node: NodeProcess = { id, child, output: '' };
    // Keep only the tail: a long run must not grow memory with the servers' logs.
    const keep = (d: Buffer): void => { node.output = (node.output + d.toString()).slice(-20_000); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return node;
  });
  const variant: Variant = { name, cli, group, peers, baseDir, nodes, clientArgs };
  try {
    await leaderIdOf(variant, 20_000);
  } catch (error) {
    await stopBenchNodes(variant);
    throw error;
  }
  return variant;
}

function hasPeerAuth(cli: string): boolean {
  return fs.existsSync(path.resolve(path.dirname(cli), '..', 'dist', 'src', 'node', 'peer-auth.js'));
}

/** The leader as the variant's own `dledger metadata` reports it (its own client protocol). */
async function leaderIdOf(variant: Variant, timeoutMs: number): Promise<string> {
  return until(async () => {
    const { stdout } = await execFileAsync(process.execPath, [variant.cli, 'metadata', '-g', variant.group, '-p', variant.peers, ...variant.clientArgs], { timeout: 15_000 }).catch(() => ({ stdout: '{}' }));
    return (JSON.parse(stdout.trim().split('\n').pop() || '{}') as { leaderId?: string | null }).leaderId ?? null;
  }, timeoutMs, `a leader in group ${variant.name}`);
}

async function leaderOf(variant: Variant): Promise<NodeProcess> {
  const leaderId = await leaderIdOf(variant, 10_000);
  const leader = variant.nodes.find((node) => node.id === leaderId);
  if (leader === undefined) throw new Error(`leader ${leaderId} is not one of ${variant.name}'s members`);
  return leader;
}

async function runCase(variant: Variant, round: number, load: Case): Promise<Sample> {
  const clientCli = variant.cli;
  const leader = await leaderOf(variant);
  const before = variant.nodes.map((node) => cpuMs(node.child.pid));
  const { stdout } = await execFileAsync(process.execPath, [clientCli, 'bench', '-g', variant.group, '-p', variant.peers, '--size', '1024', '--concurrency', String(load.concurrency), '--count', String(load.count), '--json', ...variant.clientArgs], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout.trim().split('\n').pop() as string) as ClientBenchResult;
  const per1000 = variant.nodes.map((node, i) => ((cpuMs(node.child.pid) - (before[i] as number)) / Math.max(1, result.appends)) * 1000);
  const leaderAt = variant.nodes.indexOf(leader);
  const followers = per1000.filter((_, i) => i !== leaderAt);
  return {
    round,
    variant: variant.name,
    concurrency: load.concurrency,
    appendsPerSecond: result.appendsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    leaderCpuMsPer1000: per1000[leaderAt] as number,
    followersCpuMsPer1000: followers.reduce((a, b) => a + b, 0) / Math.max(1, followers.length),
  };
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

function parseCases(text: string): Case[] {
  return text.split(',').map((part) => {
    const [concurrency, count] = part.split(':').map(Number);
    if (!Number.isInteger(concurrency) || !Number.isInteger(count) || (concurrency as number) < 1 || (count as number) < 1) {
      throw new Error(`--cases: "${part}" is not concurrency:count`);
    }
    return { concurrency: concurrency as number, count: count as number };
  });
}

function median(values: readonly number[]): number {
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
  if (rootA === undefined || rootB === undefined) throw new Error('usage: npm run bench -- ab --a ROOT_A --b ROOT_B [--a-threads M --b-threads M] [--members 1|3] [--rounds N] [--flush sync|async] [--cases C:N,...]');
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
  const variants = [await startVariant('A', cliA, flush, [], threadsA, members), await startVariant('B', cliB, flush, [], threadsB, members)];
  const samples: Sample[] = [];
  try {
    // Warm both groups (connections, JIT, the first segments) before anything is counted: with 2,000
    // the first round still ran ~1.3x the CPU per append of the later ones.
    for (const variant of variants) await runCase(variant, -1, { concurrency: 16, count: 10000 });
    for (let round = 0; round < rounds; round++) {
      for (const load of cases) {
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) {
          const sample = await runCase(variant, round, load);
          samples.push(sample);
          console.error(`round ${round} c${load.concurrency} ${variant.name}: ${grouped(sample.appendsPerSecond)}/s p50 ${fixed(sample.p50Ms, 3)} ms, leader CPU ${fixed(sample.leaderCpuMsPer1000, 1)} ms/1000 (load ${os.loadavg()[0]?.toFixed(1)})`);
        }
      }
    }
  } finally {
    for (const variant of variants) await stopBenchNodes(variant);
  }
  const loadAfter = os.loadavg();
  const rows: string[][] = [];
  for (const load of cases) {
    const of = (v: 'A' | 'B', round: number): Sample => samples.find((s) => s.variant === v && s.round === round && s.concurrency === load.concurrency) as Sample;
    const ratios = Array.from({ length: rounds }, (_, round) => ({ a: of('A', round), b: of('B', round) }));
    const col = (pick: (s: Sample) => number, digits: number): string[] => [
      ratios.map(({ a }) => fixed(pick(a), digits)).join(' / '),
      ratios.map(({ b }) => fixed(pick(b), digits)).join(' / '),
      `${ratios.map(({ a, b }) => fixed(pick(b) / pick(a), 2)).join(' / ')} (median ${fixed(median(ratios.map(({ a, b }) => pick(b) / pick(a))), 2)})`,
    ];
    rows.push([`c${load.concurrency} appends/s`, ...col((s) => s.appendsPerSecond, 0)]);
    rows.push([`c${load.concurrency} p50 ms`, ...col((s) => s.p50Ms, 3)]);
    rows.push([`c${load.concurrency} p99 ms`, ...col((s) => s.p99Ms, 3)]);
    rows.push([`c${load.concurrency} leader CPU ms/1000`, ...col((s) => s.leaderCpuMsPer1000, 1)]);
    rows.push([`c${load.concurrency} follower CPU ms/1000`, ...col((s) => s.followersCpuMsPer1000, 1)]);
  }
  console.log(`A = ${rootA}${threadsA === undefined ? '' : ` --threads ${threadsA}`}\nB = ${rootB}${threadsB === undefined ? '' : ` --threads ${threadsB}`}\n${members} member(s), flush ${flush}, ${rounds} interleaved rounds`);
  console.log(formatTable(['measure', 'A per round', 'B per round', 'B/A per round'], rows));
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs; ran ${fixed((performance.now() - startedAt) / 1000)} s`);
  console.log(`wrote ${writeResults('ab', { rootA, rootB, threadsA, threadsB, members, flush, rounds, cases, loadBefore, loadAfter, samples })}`);
}
