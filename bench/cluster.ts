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
import { DLedgerClient } from '../src/client/client.js';
import type { ClientBenchResult } from '../src/cli/client-bench.js';
import { appendAcceptingDuplicates, CLI, freePorts, startNode, stopNode, until, type NodeProcess } from '../test/cluster/helpers.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable, grouped } from './lib/table.js';
import { latencySvg } from './lib/latency-svg.js';

const execFileAsync = promisify(execFile);

interface LoadCase {
  readonly name: string;
  readonly concurrency: number;
  readonly batch: number;
  readonly count: number;
}

interface Group {
  readonly peers: string;
  readonly nodes: NodeProcess[];
  readonly baseDir: string;
  readonly flush: 'sync' | 'async';
}

async function startGroup(flush: 'sync' | 'async', group: string): Promise<Group> {
  const ids = ['n0', 'n1', 'n2'];
  const ports = await freePorts(3);
  const peers = ids.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-bench-${flush}-`));
  const nodes = ids.map((id) => startNode(id, group, peers, baseDir, ['--flush', flush]));
  const started: Group = { peers, nodes, baseDir, flush };
  const client = new DLedgerClient({ group, peers, retryTimeoutMs: 20_000 });
  try {
    await until(async () => (await client.metadata()).leaderId, 20_000, 'a leader');
  } catch (error) {
    await stopGroup(started);
    throw error;
  } finally {
    client.close();
  }
  return started;
}

async function stopGroup(group: Group): Promise<void> {
  for (const node of group.nodes) await stopNode(node);
  fs.rmSync(group.baseDir, { recursive: true, force: true });
}

async function runLoad(group: Group, groupName: string, load: LoadCase): Promise<ClientBenchResult> {
  const { stdout } = await execFileAsync(process.execPath, [CLI, 'bench', '-g', groupName, '-p', group.peers, '--size', '1024', '--concurrency', String(load.concurrency), '--count', String(load.count), '--batch', String(load.batch), '--json'], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as ClientBenchResult;
}

/** Kill the leader with SIGKILL, time until an append is acknowledged, restart it, repeat. */
async function measureFailover(group: Group, groupName: string, kills: number): Promise<number[]> {
  const client = new DLedgerClient({ group: groupName, peers: group.peers, retryTimeoutMs: 30_000, requestTimeoutMs: 500 });
  const body = new TextEncoder().encode('failover');
  const timesMs: number[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      await client.append(body);
      const leaderId = (await client.metadata()).leaderId;
      const index = group.nodes.findIndex((node) => node.id === leaderId);
      const leader = group.nodes[index];
      if (leader === undefined) throw new Error(`leader ${String(leaderId)} is not one of ours`);
      const killedAt = performance.now();
      leader.child.kill('SIGKILL');
      await appendAcceptingDuplicates(client, body);
      timesMs.push(performance.now() - killedAt);
      await stopNode(leader);
      group.nodes[index] = startNode(leader.id, groupName, group.peers, group.baseDir, ['--flush', group.flush]);
      // Let the restarted member catch up before the next kill, so each kill leaves a quorum.
      const target = (await client.append(body))[0]?.index ?? 0;
      await until(async () => {
        const probe = new DLedgerClient({ group: groupName, peers: group.peers.split(';').filter((p) => p.startsWith(`${leader.id}-`)).join(';'), retryTimeoutMs: 200 });
        try {
          return (await probe.metadata()).commitIndex >= target;
        } finally {
          probe.close();
        }
      }, 20_000, `${leader.id} to catch up`);
    }
  } finally {
    client.close();
  }
  return timesMs;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function run(args: readonly string[]): Promise<void> {
  const quick = args.includes('--quick');
  const scale = quick ? 0.05 : 1;
  const loads: LoadCase[] = [
    { name: 'c1', concurrency: 1, batch: 1, count: Math.ceil(3000 * scale) },
    { name: 'c16', concurrency: 16, batch: 1, count: Math.ceil(30_000 * scale) },
    { name: 'c128', concurrency: 128, batch: 1, count: Math.ceil(100_000 * scale) },
    { name: 'batch64x8', concurrency: 8, batch: 64, count: Math.ceil(200_000 * scale) },
  ];
  const results: Array<{ flush: string; load: LoadCase; result: ClientBenchResult }> = [];
  let failoverMs: number[] = [];
  for (const flush of ['sync', 'async'] as const) {
    const groupName = `bench${flush}`;
    const group = await startGroup(flush, groupName);
    try {
      for (const load of loads) {
        const result = await runLoad(group, groupName, load);
        results.push({ flush, load, result });
        console.error(`${flush} ${load.name}: ${grouped(result.appendsPerSecond)} appends/s, p50 ${fixed(result.p50Ms, 3)} ms`);
      }
      if (flush === 'sync') failoverMs = await measureFailover(group, groupName, quick ? 2 : 5);
    } finally {
      await stopGroup(group);
    }
  }
  const rows = results.map(({ flush, load, result }) => [
    `${flush} ${load.name}`,
    grouped(result.appends),
    grouped(result.appendsPerSecond),
    fixed(result.p50Ms, 3),
    fixed(result.p99Ms, 3),
    fixed(result.p999Ms, 3),
    String(result.errors),
  ]);
  console.log(formatTable(['case (1 KiB)', 'appends', 'appends/s', 'p50 ms', 'p99 ms', 'p999 ms', 'errors'], rows));
  console.log(`failover (SIGKILL leader -> first acked append), ${failoverMs.length} kills: median ${fixed(median(failoverMs))} ms, max ${fixed(Math.max(...failoverMs))} ms, all ${failoverMs.map((v) => fixed(v)).join(', ')}`);
  const report = { machine: { cpus: os.cpus().length, node: process.version }, quick, results, failoverMs, failoverMedianMs: median(failoverMs) };
  const jsonPath = writeResults('cluster', report);
  const svgPath = jsonPath.replace(/\.json$/, '.svg');
  fs.writeFileSync(svgPath, latencySvg('Commit latency, 3 members on loopback, 1 KiB appends', results.map(({ flush, load, result }) => ({ label: `${flush} ${load.name}`, curve: result.curve }))));
  console.log(`wrote ${jsonPath}\nwrote ${svgPath}`);
}
