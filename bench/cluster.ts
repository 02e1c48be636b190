// `npm run bench -- cluster [--quick]`: a 3-member group as 3 `dledger server` processes on
// loopback, the load from a 4th process (`dledger bench`), 1 KiB appends. For flush sync and
// async: concurrency 1, 16 and 128 with single appends, and the batch API; then failover time
// (SIGKILL of the leader -> first acknowledged append), median of several kills. Writes JSON, a
// table, and an SVG of the latency distributions under bench/results/.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientBenchResult } from '../src/cli/client-bench.js';
import { CLI, freePorts, startNode } from '../test/cluster/helpers.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';
import { latencySvg } from './lib/latency-svg.js';
import { awaitLeaderOrStop, stopBenchNodes } from './lib/group.js';
import { cpuMs, rssOf } from './lib/proc.js';
import { measureFailover, type DledgerGroup } from './lib/dledger-group.js';
import { testSecretFile } from '../test/util/peer-secret.js';

const execFileAsync = promisify(execFile);

interface LoadCase {
  readonly name: string;
  readonly concurrency: number;
  readonly batch: number;
  readonly count: number;
}

/** A DledgerGroup (bench/lib/dledger-group.ts) of this build's servers at their default segment sizes. */
interface Group extends DledgerGroup {
  readonly flush: 'sync' | 'async';
  readonly secretFile: string;
}

async function startGroup(flush: 'sync' | 'async', group: string): Promise<Group> {
  const ids = ['n0', 'n1', 'n2'];
  const ports = await freePorts(3);
  const peers = ids.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-bench-${flush}-`));
  const nodes = ids.map((id) => startNode(id, group, peers, baseDir, ['--flush', flush]));
  // startNode passes this process's group secret file (test/util/peer-secret.ts); serverArgs are its arguments.
  const secretFile = testSecretFile();
  const serverArgs = (i: number): readonly string[] => ['server', '--group', group, '--id', ids[i] as string, '--peers', peers, '--store-base-dir', baseDir, '--peer-secret-file', secretFile, '--flush', flush];
  const started: Group = { name: flush, cli: CLI, group, peers, nodes, baseDir, flush, secretFile, clientArgs: ['--client-secret-file', secretFile], serverArgs };
  await awaitLeaderOrStop(group, started, 'a leader');
  return started;
}

interface LoadResult {
  readonly result: ClientBenchResult;
  /** Largest total RSS of each member (by id) sampled while the load ran. */
  readonly maxRssMiB: Record<string, number>;
  /** Largest anonymous RSS of each member (by id) sampled while the load ran. */
  readonly maxAnonRssMiB: Record<string, number>;
  /** CPU time (user + system) the members spent per 1000 appends, by id: what the load costs. */
  readonly serverCpuMsPer1000: Record<string, number>;
}

const RSS_SAMPLE_MS = 250;

async function runLoad(group: Group, groupName: string, load: LoadCase): Promise<LoadResult> {
  const maxRssMiB: Record<string, number> = {};
  const maxAnonRssMiB: Record<string, number> = {};
  const sample = (): void => {
    for (const node of group.nodes) {
      const rss = rssOf(node.child.pid);
      maxRssMiB[node.id] = Math.max(maxRssMiB[node.id] ?? 0, rss.totalMiB);
      maxAnonRssMiB[node.id] = Math.max(maxAnonRssMiB[node.id] ?? 0, rss.anonMiB);
    }
  };
  const cpuBefore = group.nodes.map((node) => cpuMs(node.child.pid));
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  try {
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'bench', '-g', groupName, '-p', group.peers, '--size', '1024', '--concurrency', String(load.concurrency), '--count', String(load.count), '--batch', String(load.batch), '--json', '--client-secret-file', testSecretFile()], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    sample();
    const result = JSON.parse(stdout.trim().split('\n').pop() as string) as ClientBenchResult;
    const serverCpuMsPer1000 = Object.fromEntries(group.nodes.map((node, i) => [node.id, ((cpuMs(node.child.pid) - (cpuBefore[i] ?? Number.NaN)) / Math.max(1, result.appends)) * 1000]));
    return { result, maxRssMiB, maxAnonRssMiB, serverCpuMsPer1000 };
  } finally {
    clearInterval(sampler);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The targets for this machine, per row; null where it sets none. */
function targetOf(flush: 'sync' | 'async', load: LoadCase): { text: string; met: (r: ClientBenchResult) => boolean } | null {
  if (flush === 'sync' && load.concurrency === 1 && load.batch === 1) return { text: 'p50 <= 0.8, p99 <= 3 ms', met: (r) => r.p50Ms <= 0.8 && r.p99Ms <= 3 };
  if (flush === 'sync' && load.concurrency === 128 && load.batch === 1) return { text: '>= 50,000/s', met: (r) => r.appendsPerSecond >= 50_000 };
  if (flush === 'async' && load.concurrency === 128 && load.batch === 1) return { text: '>= 80,000/s', met: (r) => r.appendsPerSecond >= 80_000 };
  if (flush === 'async' && load.batch > 1) return { text: '>= 80,000/s', met: (r) => r.appendsPerSecond >= 80_000 };
  return null;
}

const RSS_TARGET_MIB = 250;
const FAILOVER_TARGET_MEDIAN_MS = 1500;
const FAILOVER_TARGET_WORST_MS = 3000;

export async function run(args: readonly string[]): Promise<void> {
  const quick = args.includes('--quick');
  const scale = quick ? 0.05 : 1;
  // Counts keep the whole run under 5 minutes on a loaded 2-core machine: at load 30 (c1 ~90/s,
  // c16 ~1,100/s, c128 ~2,500/s, batches ~6,000/s) 2,000/20,000/60,000/120,000 took 246 s.
  const loads: LoadCase[] = [
    { name: 'c1', concurrency: 1, batch: 1, count: Math.ceil(1000 * scale) },
    { name: 'c16', concurrency: 16, batch: 1, count: Math.ceil(12_000 * scale) },
    { name: 'c128', concurrency: 128, batch: 1, count: Math.ceil(40_000 * scale) },
    { name: 'batch64x8', concurrency: 8, batch: 64, count: Math.ceil(80_000 * scale) },
  ];
  const startedAt = performance.now();
  const loadBefore = os.loadavg();
  const results: Array<{ flush: 'sync' | 'async'; load: LoadCase } & LoadResult> = [];
  let failoverMs: number[] = [];
  for (const flush of ['sync', 'async'] as const) {
    const groupName = `bench${flush}`;
    const group = await startGroup(flush, groupName);
    try {
      for (const load of loads) {
        const { result, maxRssMiB, maxAnonRssMiB, serverCpuMsPer1000 } = await runLoad(group, groupName, load);
        results.push({ flush, load, result, maxRssMiB, maxAnonRssMiB, serverCpuMsPer1000 });
        console.error(`${flush} ${load.name}: ${grouped(result.appendsPerSecond)} appends/s, p50 ${fixed(result.p50Ms, 3)} ms, max RSS ${fixed(Math.max(...Object.values(maxRssMiB)))} MiB`);
      }
      if (flush === 'sync') failoverMs = await measureFailover(group, quick ? 2 : 5);
    } finally {
      await stopBenchNodes(group);
    }
  }
  const rows = results.map(({ flush, load, result, maxRssMiB, maxAnonRssMiB }) => {
    const target = targetOf(flush, load);
    return [
      `${flush} ${load.name}`,
      grouped(result.appends),
      grouped(result.appendsPerSecond),
      fixed(result.p50Ms, 3),
      fixed(result.p99Ms, 3),
      fixed(result.p999Ms, 3),
      String(result.errors),
      `${fixed(Math.max(...Object.values(maxRssMiB)))} / ${fixed(Math.max(...Object.values(maxAnonRssMiB)))}`,
      target === null ? '' : `${target.text} ${target.met(result) ? 'MET' : 'missed'}`,
    ];
  });
  const worstRss = Math.max(...results.flatMap((r) => Object.values(r.maxRssMiB)));
  const worstAnonRss = Math.max(...results.flatMap((r) => Object.values(r.maxAnonRssMiB)));
  const failoverMedian = median(failoverMs);
  const failoverWorst = Math.max(...failoverMs);
  const elapsedS = (performance.now() - startedAt) / 1000;
  const loadAfter = os.loadavg();
  console.log(formatTable(['case (1 KiB)', 'appends', 'appends/s', 'p50 ms', 'p99 ms', 'p999 ms', 'errors', 'max RSS MiB total / anon', 'target (issue 4)'], rows));
  console.log(`failover (SIGKILL leader -> first acked append), ${failoverMs.length} kills: median ${fixed(failoverMedian)} ms, max ${fixed(failoverWorst)} ms (target median <= ${FAILOVER_TARGET_MEDIAN_MS}, worst <= ${FAILOVER_TARGET_WORST_MS}: ${failoverMedian <= FAILOVER_TARGET_MEDIAN_MS && failoverWorst <= FAILOVER_TARGET_WORST_MS ? 'MET' : 'missed'}), all ${failoverMs.map((v) => fixed(v)).join(', ')}`);
  console.log(`RSS per node at full load (target <= ${RSS_TARGET_MIB} MiB): max total ${fixed(worstRss)} MiB (${worstRss <= RSS_TARGET_MIB ? 'MET' : 'missed'}), of which anonymous (heap, buffers) max ${fixed(worstAnonRss)} MiB (${worstAnonRss <= RSS_TARGET_MIB ? 'MET' : 'missed'}); the rest is page cache of the mmap'd segments mapped in by reads, clean after the flush and reclaimable`);
  console.log(`server CPU per 1000 appends (ms, n0/n1/n2): ${results.map(({ flush, load, serverCpuMsPer1000 }) => `${flush} ${load.name} ${Object.values(serverCpuMsPer1000).map((v) => fixed(v)).join('/')}`).join('; ')}`);
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs; ran ${fixed(elapsedS)} s`);
  const report = {
    machine: { cpus: os.cpus().length, node: process.version, loadBefore, loadAfter },
    quick,
    elapsedSeconds: elapsedS,
    results: results.map((r) => ({ ...r, target: targetOf(r.flush, r.load)?.text ?? null, targetMet: targetOf(r.flush, r.load)?.met(r.result) ?? null })),
    failoverMs,
    failoverMedianMs: failoverMedian,
    failoverWorstMs: failoverWorst,
    maxRssMiB: worstRss,
    maxAnonRssMiB: worstAnonRss,
    targets: { syncC1P50Ms: 0.8, syncC1P99Ms: 3, syncC128PerSecond: 50_000, asyncPerSecond: 80_000, failoverMedianMs: FAILOVER_TARGET_MEDIAN_MS, failoverWorstMs: FAILOVER_TARGET_WORST_MS, rssMiB: RSS_TARGET_MIB },
  };
  const jsonPath = writeResults('cluster', report);
  const svgPath = jsonPath.replace(/\.json$/, '.svg');
  fs.writeFileSync(svgPath, latencySvg('Commit latency, 3 members on loopback, 1 KiB appends', results.map(({ flush, load, result }) => ({ label: `${flush} ${load.name}`, curve: result.curve }))));
  console.log(`wrote ${jsonPath}\nwrote ${svgPath}`);
}
