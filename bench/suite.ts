// `npm run bench [-- --quick] [--rounds N] [--budget-min M] [--workers-raft]` (plain: this whole table; issue 13 item 4): every
// comparison of the issue in one run, as ratios measured in interleaved rounds (A,B then B,A: the
// machine is shared, and absolute numbers move 2x between minutes), with the issue's targets
// beside them.
//   (a) a 3-member group, threads=inline vs threads=workers, both up at once: c1 (p50/p99), c16,
//       c128 and batch64x8, flush sync and then flush async; the largest anonymous RSS of a
//       member under load; failover (SIGKILL of the leader -> first acknowledged append) in each.
//   (b) one node with the machine's cores to itself (the 3-member groups stopped): a 1-member
//       group with `dledger bench` in another process, then a 1-member DLedgerServer embedded in
//       a process that appends in-process (bench/embedded-appender.ts), inline vs workers.
//   (c) etcd (Debian etcd-server, 3 members on loopback, own ports and data dirs in the same temp
//       dir) beside (a)'s sync groups, in the same rounds: c1 p50/p99 and c128 appends/s of 1 KiB
//       values, as dledger/etcd ratios; skipped (and said so) when no `etcd` is on PATH.
// Writes bench/results/suite-<time>.json and prints the table; `--quick` is a smoke run (1 round,
// a tenth of the counts, one kill per mode). The run is bounded: a section starts another round
// only inside its share of --budget-min (default 9 minutes; round 1 always runs). --workers-raft:
// the workers side also runs the Raft worker thread (node key raftWorker=true).
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveThreads } from '../src/node/threads-mode.js';
import { caseName, cliOf, measureFailover, runDledgerCase, startDledgerGroup, stopDledgerGroup, type CaseSample, type DledgerGroup, type LoadCase } from './lib/dledger-group.js';
import { etcdVersion, runEtcdCase, startEtcdGroup, stopEtcdGroup, type EtcdGroup, type EtcdSample } from './lib/etcd-group.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const execFileAsync = promisify(execFile);
const MODES = ['inline', 'workers'] as const;
type Mode = (typeof MODES)[number];
const MAX_ROUNDS = 10;

/** The issue's targets on this 2-core machine (issue 13, "Targets"). */
export const TARGETS = {
  syncC1P50Ms: 0.7,
  syncC128PerSecond: 40_000,
  syncBatchPerSecond: 100_000,
  asyncC128PerSecond: 60_000,
  etcdC128Ratio: 10,
  etcdP50Ratio: 2.5,
  anonRssMiB: 200,
  failoverMedianMs: 1200,
  oneNodeWorkersRatio: 1.6,
  autoWithinOfBest: 0.95,
} as const;

interface Sample {
  readonly section: string;
  readonly mode: Mode | 'etcd';
  readonly case: string;
  readonly round: number;
  readonly appendsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Leader (dledger) / busiest member (etcd) / the whole process (embedded), CPU ms per 1000 appends. */
  readonly cpuMsPer1000: number;
  readonly maxAnonRssMiB: number;
}

function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

function loadText(): string {
  return os.loadavg().map((v) => v.toFixed(2)).join(' ');
}

class Recorder {
  readonly samples: Sample[] = [];

  add(section: string, mode: Mode | 'etcd', name: string, round: number, s: CaseSample | EtcdSample | EmbeddedResult): void {
    const cpu = 'leaderCpuMsPer1000' in s ? s.leaderCpuMsPer1000 : s.cpuMsPer1000;
    this.samples.push({ section, mode, case: name, round, appendsPerSecond: s.appendsPerSecond, p50Ms: s.p50Ms, p99Ms: s.p99Ms, errors: s.errors, cpuMsPer1000: cpu, maxAnonRssMiB: s.maxAnonRssMiB });
    console.error(`[${section}] round ${round} ${name} ${mode}: ${grouped(s.appendsPerSecond)}/s p50 ${fixed(s.p50Ms, 3)} p99 ${fixed(s.p99Ms, 3)} ms, cpu ${fixed(cpu, 1)} ms/1000, anon ${fixed(s.maxAnonRssMiB)} MiB${s.errors > 0 ? `, ${s.errors} errors` : ''} (load ${loadText()})`);
  }

  of(section: string, mode: Mode | 'etcd', name: string): Sample[] {
    return this.samples.filter((s) => s.section === section && s.mode === mode && s.case === name).sort((a, b) => a.round - b.round);
  }

  /** Per-round ratios pick(b)/pick(a) of one case, and their median. */
  ratios(section: string, name: string, a: Mode | 'etcd', b: Mode | 'etcd', pick: (s: Sample) => number, sectionB = section): { perRound: number[]; median: number } {
    const as = this.of(section, a, name);
    const bs = this.of(sectionB, b, name);
    const perRound = as.map((x, i) => (bs[i] === undefined ? Number.NaN : pick(bs[i] as Sample) / pick(x)));
    return { perRound, median: median(perRound) };
  }
}

interface EmbeddedResult {
  readonly concurrency: number;
  readonly batch: number;
  readonly appendsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpuMsPer1000: number;
  readonly maxAnonRssMiB: number;
}

async function runEmbedded(mode: Mode, flush: string, cases: readonly LoadCase[], warm: number): Promise<EmbeddedResult[]> {
  const script = path.resolve(import.meta.dirname, 'embedded-appender.js');
  const spec = cases.map((c) => (c.batch > 1 ? `${c.concurrency}x${c.batch}:${c.count}` : `${c.concurrency}:${c.count}`)).join(',');
  const raft = mode === 'workers' && workersOptions.raftWorker ? ['--raft-worker'] : [];
  const { stdout } = await execFileAsync(process.execPath, [script, '--threads', mode, ...raft, '--flush', flush, '--cases', spec, '--warm', String(warm)], { timeout: 300_000, maxBuffer: 1024 * 1024 });
  return stdout.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as EmbeddedResult);
}

/**
 * The run's time bound: each section may start another round only while it is inside its share
 * of `--budget-min` (default 9) counted from the start, so a loaded machine gets fewer rounds
 * (the report says how many each section ran) instead of a run without end. Round 1 always runs.
 */
const SECTION_SHARES: Readonly<Record<string, number>> = { 'a-sync': 0.45, 'a-async': 0.65, 'b-external': 0.85, 'b-embedded': 1 };
const budget = {
  startedAtMs: 0,
  totalMs: 9 * 60_000,
  over(section: string): boolean {
    const over = performance.now() - this.startedAtMs > this.totalMs * (SECTION_SHARES[section] ?? 1);
    if (over) console.error(`[${section}] time budget share used: no further round`);
    return over;
  },
};

/** Run `cases` over `rounds` on the started groups (inline, workers[, etcd]), alternating the order per round. */
async function interleave(recorder: Recorder, section: string, groups: Record<Mode, DledgerGroup>, etcd: EtcdGroup | null, cases: readonly LoadCase[], rounds: number, etcdCases: ReadonlySet<string>): Promise<void> {
  for (let round = 0; round < rounds && (round === 0 || !budget.over(section)); round++) {
    for (const load of cases) {
      const name = caseName(load);
      const order: Array<Mode | 'etcd'> = [...MODES, ...(etcd !== null && etcdCases.has(name) ? ['etcd' as const] : [])];
      if (round % 2 === 1) order.reverse();
      for (const who of order) {
        if (who === 'etcd') recorder.add(section, who, name, round, await runEtcdCase(etcd as EtcdGroup, load.concurrency, load.count));
        else recorder.add(section, who, name, round, await runDledgerCase(groups[who], load));
      }
    }
  }
}

/** --workers-raft: the workers side also runs the Raft worker (node key raftWorker=true). */
const workersOptions = { raftWorker: false };

async function startPair(flush: 'sync' | 'async', members: number, label: string): Promise<Record<Mode, DledgerGroup>> {
  const cli = cliOf(path.resolve(import.meta.dirname, '..', '..'));
  const inline = await startDledgerGroup({ name: `${label}inline`, cli, flush, threads: 'inline', members });
  try {
    return { inline, workers: await startDledgerGroup({ name: `${label}workers`, cli, flush, threads: 'workers', members, extraConfig: workersOptions.raftWorker ? ['raftWorker=true'] : [] }) };
  } catch (error) {
    await stopDledgerGroup(inline);
    throw error;
  }
}

async function stopPair(pair: Record<Mode, DledgerGroup>): Promise<void> {
  for (const mode of MODES) await stopDledgerGroup(pair[mode]);
}

/** Start a pair, warm it, run `body`, stop it. */
async function withPair(flush: 'sync' | 'async', members: number, label: string, body: (pair: Record<Mode, DledgerGroup>) => Promise<void>, warm: number): Promise<void> {
  const pair = await startPair(flush, members, label);
  try {
    await warmPair(pair, warm);
    await body(pair);
  } finally {
    await stopPair(pair);
  }
}

async function warmPair(pair: Record<Mode, DledgerGroup>, count: number): Promise<void> {
  // Connections, JIT, the first segments: with 2,000 the first round still ran ~1.3x the CPU per
  // append of the later ones (docs/architecture.md).
  for (const mode of MODES) await runDledgerCase(pair[mode], { concurrency: 16, batch: 1, count });
}

export async function run(args: readonly string[]): Promise<void> {
  const quick = args.includes('--quick');
  const rounds = Number(flagValue(args, '--rounds') ?? (quick ? '1' : '3'));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) throw new Error(`--rounds: 1..${MAX_ROUNDS}`);
  const scale = quick ? 0.1 : 1;
  const n = (count: number): number => Math.max(16, Math.ceil(count * scale));
  const warm = n(10_000);
  const kills = quick ? 1 : 3;
  const groupCases: LoadCase[] = [
    { concurrency: 1, batch: 1, count: n(1000) },
    { concurrency: 16, batch: 1, count: n(8000) },
    { concurrency: 128, batch: 1, count: n(20_000) },
    { concurrency: 8, batch: 64, count: n(64_000) },
  ];
  const oneNodeCases: LoadCase[] = [
    { concurrency: 1, batch: 1, count: n(2000) },
    { concurrency: 128, batch: 1, count: n(40_000) },
    { concurrency: 8, batch: 64, count: n(128_000) },
  ];
  const embeddedCases: LoadCase[] = [
    { concurrency: 1, batch: 1, count: n(2000) },
    { concurrency: 128, batch: 1, count: n(100_000) },
    { concurrency: 8, batch: 64, count: n(256_000) },
  ];
  const etcdCases = new Set(['c1', 'c128']);
  workersOptions.raftWorker = args.includes('--workers-raft');
  const budgetMin = Number(flagValue(args, '--budget-min') ?? '9');
  if (!Number.isFinite(budgetMin) || budgetMin <= 0 || budgetMin > 120) throw new Error('--budget-min: minutes in (0, 120]');
  const startedAt = performance.now();
  budget.startedAtMs = startedAt;
  budget.totalMs = budgetMin * 60_000;
  const startedIso = new Date().toISOString();
  const loadBefore = os.loadavg();
  const etcd = etcdVersion();
  const recorder = new Recorder();
  const failoverMs: Record<Mode, number[]> = { inline: [], workers: [] };
  console.error(`suite: ${rounds} round(s)${quick ? ' (quick)' : ''}, ${os.availableParallelism()} cores, load ${loadText()}; etcd: ${etcd ?? 'not installed (section (c) skipped)'}`);

  // (a) + (c), flush sync: both dledger groups and etcd up at once, interleaved.
  {
    const pair = await startPair('sync', 3, 's');
    let etcdGroup: EtcdGroup | null = null;
    try {
      if (etcd !== null) etcdGroup = await startEtcdGroup();
      await warmPair(pair, warm);
      if (etcdGroup !== null) await runEtcdCase(etcdGroup, 16, warm);
      await interleave(recorder, 'a-sync', pair, etcdGroup, groupCases, rounds, etcdCases);
      for (const mode of MODES) {
        failoverMs[mode] = await measureFailover(pair[mode], kills);
        console.error(`[failover] ${mode}: ${failoverMs[mode].map((v) => fixed(v)).join(', ')} ms`);
      }
    } finally {
      if (etcdGroup !== null) await stopEtcdGroup(etcdGroup);
      await stopPair(pair);
    }
  }
  // (a), flush async; then (b) one node: a 1-member group, client in its own process.
  await withPair('async', 3, 'a', (pair) => interleave(recorder, 'a-async', pair, null, groupCases, rounds, etcdCases), warm);
  await withPair('sync', 1, 'one', (pair) => interleave(recorder, 'b-external', pair, null, oneNodeCases, rounds, etcdCases), warm);
  // (b) one node, embedded: a fresh process per mode and round.
  for (let round = 0; round < rounds && (round === 0 || !budget.over('b-embedded')); round++) {
    const order: Mode[] = round % 2 === 0 ? [...MODES] : [...MODES].reverse();
    for (const mode of order) {
      const results = await runEmbedded(mode, 'sync', embeddedCases, warm);
      for (const r of results) recorder.add('b-embedded', mode, caseName(r), round, r);
    }
  }

  const elapsedS = (performance.now() - startedAt) / 1000;
  const loadAfter = os.loadavg();
  const report = buildReport(recorder, failoverMs, etcd, { groupCases, oneNodeCases, embeddedCases });
  console.log(`\nnpm run bench (issue 13): ${startedIso}, ${rounds} interleaved round(s)${quick ? ' (--quick: counts / 10)' : ''}, 1 KiB; ${os.availableParallelism()} cores; load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(2)).join(' ')}; ${fixed(elapsedS)} s`);
  const roundsRun = Object.fromEntries(Object.keys(SECTION_SHARES).map((section) => [section, new Set(recorder.samples.filter((x) => x.section === section).map((x) => x.round)).size]));
  if (workersOptions.raftWorker) console.log('workers = threads=workers with raftWorker=true (the Raft worker thread)');
  console.log(`values: median over rounds; ratios: per round, then (median); rounds run per section (time budget ${budgetMin} min): ${Object.entries(roundsRun).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const table of report.tables) {
    console.log(`\n${table.title}`);
    console.log(formatTable(table.headers, table.rows));
  }
  console.log(`\n${report.notes.join('\n')}`);
  const file = writeResults('suite', { startedAt: startedIso, quick, rounds, roundsRun, workersRaftWorker: workersOptions.raftWorker, budgetMin, cores: os.availableParallelism(), node: process.version, loadBefore, loadAfter, elapsedSeconds: elapsedS, etcd, targets: TARGETS, autoPick: report.autoPick, failoverMs, samples: recorder.samples, tables: report.tables, targetStatus: report.status });
  console.log(`wrote ${file}`);
}

interface Table {
  readonly title: string;
  readonly headers: string[];
  readonly rows: string[][];
}

function buildReport(rec: Recorder, failoverMs: Record<Mode, number[]>, etcd: string | null, cases: { groupCases: readonly LoadCase[]; oneNodeCases: readonly LoadCase[]; embeddedCases: readonly LoadCase[] }): { tables: Table[]; notes: string[]; status: Array<{ target: string; status: string }>; autoPick: Mode } {
  const autoPick = resolveThreads('auto').mode;
  const status: Array<{ target: string; status: string }> = [];
  const perRound = (values: readonly number[], digits: number): string => values.map((v) => fixed(v, digits)).join(' / ');
  const med = (section: string, mode: Mode | 'etcd', name: string, pick: (s: Sample) => number): number => median(rec.of(section, mode, name).map(pick));
  // An absolute target: met by which mode (judged on the medians).
  const absolute = (text: string, values: Record<Mode, number>, ok: (v: number) => boolean): string => {
    const met = MODES.filter((m) => ok(values[m]));
    const verdict = met.length === 0 ? 'missed' : met.length === MODES.length ? 'MET (both)' : `MET (${met.join(', ')})`;
    status.push({ target: text, status: verdict });
    return verdict;
  };
  const apsPick = (s: Sample): number => s.appendsPerSecond;
  const p50Pick = (s: Sample): number => s.p50Ms;
  const p99Pick = (s: Sample): number => s.p99Ms;
  const cpuPick = (s: Sample): number => s.cpuMsPer1000;
  const modeRow = (section: string, name: string, label: string, pick: (s: Sample) => number, digits: number, target = '', verdict = ''): string[] => {
    const r = rec.ratios(section, name, 'inline', 'workers', pick);
    const value = (mode: Mode): string => (digits === 0 ? grouped(med(section, mode, name, pick)) : fixed(med(section, mode, name, pick), digits));
    return [label, value('inline'), value('workers'), `${perRound(r.perRound, 2)} (${fixed(r.median, 2)})`, target, verdict];
  };
  const headers = ['measure', 'inline', 'workers', 'workers/inline per round (median)', 'target', 'status'];

  // (a)
  const a: string[][] = [];
  for (const flush of ['sync', 'async'] as const) {
    const section = `a-${flush}`;
    for (const load of cases.groupCases) {
      const name = caseName(load);
      const aps: Record<Mode, number> = { inline: med(section, 'inline', name, apsPick), workers: med(section, 'workers', name, apsPick) };
      let target = '';
      let verdict = '';
      if (flush === 'sync' && name === 'c128') { target = `>= ${grouped(TARGETS.syncC128PerSecond)}/s`; verdict = absolute(`3 members sync c128 ${target}`, aps, (v) => v >= TARGETS.syncC128PerSecond); }
      if (flush === 'sync' && load.batch > 1) { target = `>= ${grouped(TARGETS.syncBatchPerSecond)}/s`; verdict = absolute(`3 members sync ${name} ${target}`, aps, (v) => v >= TARGETS.syncBatchPerSecond); }
      if (flush === 'async' && name === 'c128') { target = `>= ${grouped(TARGETS.asyncC128PerSecond)}/s`; verdict = absolute(`3 members async c128 ${target}`, aps, (v) => v >= TARGETS.asyncC128PerSecond); }
      a.push(modeRow(section, name, `${flush} ${name} appends/s`, apsPick, 0, target, verdict));
      if (load.concurrency === 1 && load.batch === 1) {
        let p50Target = '';
        let p50Verdict = '';
        if (flush === 'sync') {
          p50Target = `<= ${TARGETS.syncC1P50Ms} ms`;
          p50Verdict = absolute(`3 members sync c1 p50 ${p50Target}`, { inline: med(section, 'inline', name, p50Pick), workers: med(section, 'workers', name, p50Pick) }, (v) => v <= TARGETS.syncC1P50Ms);
        }
        a.push(modeRow(section, name, `${flush} ${name} p50 ms`, p50Pick, 3, p50Target, p50Verdict));
        a.push(modeRow(section, name, `${flush} ${name} p99 ms`, p99Pick, 3));
      }
      if (flush === 'sync' && (name === 'c1' || name === 'c128')) a.push(modeRow(section, name, `${flush} ${name} leader CPU ms/1000`, cpuPick, 1));
    }
  }
  const rssOfMode = (mode: Mode): number => Math.max(...rec.samples.filter((s) => s.section.startsWith('a-') && s.mode === mode).map((s) => s.maxAnonRssMiB));
  const rss: Record<Mode, number> = { inline: rssOfMode('inline'), workers: rssOfMode('workers') };
  a.push(['anon RSS per node, max under load MiB', fixed(rss.inline), fixed(rss.workers), fixed(rss.workers / rss.inline, 2), `<= ${TARGETS.anonRssMiB} MiB`, absolute(`anon RSS <= ${TARGETS.anonRssMiB} MiB per node`, rss, (v) => v <= TARGETS.anonRssMiB)]);
  const fo: Record<Mode, number> = { inline: median(failoverMs.inline), workers: median(failoverMs.workers) };
  a.push([`failover median ms (${failoverMs.inline.length} kills each)`, `${fixed(fo.inline)} (${perRound(failoverMs.inline, 0)})`, `${fixed(fo.workers)} (${perRound(failoverMs.workers, 0)})`, fixed(fo.workers / fo.inline, 2), `<= ${TARGETS.failoverMedianMs} ms`, absolute(`failover median <= ${TARGETS.failoverMedianMs} ms`, fo, (v) => v <= TARGETS.failoverMedianMs)]);

  // (b)
  const b: string[][] = [];
  for (const [section, label, list] of [['b-external', '1 member, client process', cases.oneNodeCases], ['b-embedded', '1 member, embedded', cases.embeddedCases]] as const) {
    for (const load of list) {
      const name = caseName(load);
      let target = '';
      let verdict = '';
      if (load.concurrency > 1) {
        target = `workers >= ${TARGETS.oneNodeWorkersRatio}x`;
        const r = rec.ratios(section, name, 'inline', 'workers', apsPick).median;
        verdict = r >= TARGETS.oneNodeWorkersRatio ? 'MET' : 'missed';
        status.push({ target: `one node (${label}) ${name} workers/inline >= ${TARGETS.oneNodeWorkersRatio}x`, status: `${verdict} (${fixed(r, 2)}x)` });
      }
      b.push(modeRow(section, name, `${label} ${name} appends/s`, apsPick, 0, target, verdict));
      if (load.concurrency === 1) b.push(modeRow(section, name, `${label} ${name} p50 ms`, p50Pick, 3));
      b.push(modeRow(section, name, `${label} ${name} CPU ms/1000 (${section === 'b-embedded' ? 'process' : 'node'})`, cpuPick, 1));
    }
  }

  // auto: its pick against the better mode, every appends/s row of (a) and (b), from the median
  // of the per-round workers/inline ratios r (auto = inline: min(1, 1/r); auto = workers: min(1, r)).
  const autoRatios: number[] = [];
  for (const section of ['a-sync', 'a-async', 'b-external', 'b-embedded']) {
    for (const name of new Set(rec.samples.filter((s) => s.section === section).map((s) => s.case))) {
      const r = rec.ratios(section, name, 'inline', 'workers', apsPick).median;
      autoRatios.push(Math.min(1, autoPick === 'inline' ? 1 / r : r));
    }
  }
  const worstAuto = Math.min(...autoRatios);
  const autoVerdict = worstAuto >= TARGETS.autoWithinOfBest ? 'MET' : 'missed';
  status.push({ target: `auto (${autoPick}) within 5 % of the better mode`, status: `${autoVerdict} (worst ${fixed(worstAuto, 2)})` });

  const tables: Table[] = [
    { title: '(a) 3 members on loopback, client in its own process, inline vs workers', headers, rows: a },
    { title: "(b) one node with the machine's cores to itself (nothing else of ours running), inline vs workers", headers, rows: b },
  ];
  const notes = [`auto picks ${autoPick} here: its appends/s over the better mode's (median per-round ratio per row), worst row ${fixed(worstAuto, 2)} (target >= ${TARGETS.autoWithinOfBest}: ${autoVerdict})`];

  // (c)
  if (etcd === null) {
    notes.push('(c) etcd comparison skipped: no `etcd` on PATH (Debian: apt-get install etcd-server)');
    status.push({ target: '(c) etcd comparison', status: 'skipped (etcd not installed)' });
  } else {
    const c: string[][] = [];
    const etcdRatio = (name: string, mode: Mode, pick: (s: Sample) => number, dledgerOverEtcd: boolean): { perRound: number[]; median: number } =>
      dledgerOverEtcd ? rec.ratios('a-sync', name, 'etcd', mode, pick) : rec.ratios('a-sync', name, mode, 'etcd', pick);
    const row = (label: string, name: string, pick: (s: Sample) => number, digits: number, dledgerOverEtcd: boolean, target: string, need: number | null): string[] => {
      const fmt = (v: number): string => (digits === 0 ? grouped(v) : fixed(v, digits));
      const ri = etcdRatio(name, 'inline', pick, dledgerOverEtcd);
      const rw = etcdRatio(name, 'workers', pick, dledgerOverEtcd);
      let verdict = '';
      if (need !== null) {
        const met = MODES.filter((m) => (m === 'inline' ? ri : rw).median >= need);
        verdict = met.length === 0 ? 'missed' : met.length === 2 ? 'MET (both)' : `MET (${met.join(', ')})`;
        status.push({ target: `vs etcd: ${label} ${target}`, status: `${verdict} (inline ${fixed(ri.median, 2)}x, workers ${fixed(rw.median, 2)}x)` });
      }
      return [label, fmt(med('a-sync', 'etcd', name, pick)), fmt(med('a-sync', 'inline', name, pick)), fmt(med('a-sync', 'workers', name, pick)), `${perRound(ri.perRound, 2)} (${fixed(ri.median, 2)})`, `${perRound(rw.perRound, 2)} (${fixed(rw.median, 2)})`, target, verdict];
    };
    c.push(row('c1 p50 ms (ratio etcd/dledger)', 'c1', p50Pick, 3, false, `>= ${TARGETS.etcdP50Ratio}x below etcd`, TARGETS.etcdP50Ratio));
    c.push(row('c1 p99 ms (ratio etcd/dledger)', 'c1', p99Pick, 3, false, '', null));
    c.push(row('c1 appends/s (ratio dledger/etcd)', 'c1', apsPick, 0, true, '', null));
    c.push(row('c128 appends/s (ratio dledger/etcd)', 'c128', apsPick, 0, true, `>= ${TARGETS.etcdC128Ratio}x etcd`, TARGETS.etcdC128Ratio));
    c.push(row('c128 CPU ms/1000 of the leader (etcd/dledger)', 'c128', cpuPick, 1, false, '', null));
    tables.push({ title: `(c) etcd (${etcd}), 3 members on loopback, flush sync vs etcd's fsync, 1 KiB, same rounds as (a) sync`, headers: ['measure', 'etcd', 'dledger inline', 'dledger workers', 'ratio, inline per round (median)', 'ratio, workers per round (median)', 'target', 'status'], rows: c });
  }
  tables.push({ title: 'targets (issue 13)', headers: ['target', 'status'], rows: status.map((s) => [s.target, s.status]) });
  return { tables, notes, status, autoPick };
}
