// Goal: the etcd comparison's other side, run by the bench itself: a 3-member etcd (the Debian
// etcd-server binary, 3.4) on loopback with its own OS-assigned ports and its own data dirs in
// the same temp directory (the same disk) as the dledger groups, driven by bench/etcd-client.ts in
// a process of its own; stopped by pid (SIGTERM, then SIGKILL) and its data removed.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientBenchResult } from '../../src/cli/client-bench.js';
import { freePorts, until } from '../../test/cluster/helpers.js';
import { cpuMs, rssOf } from './proc.js';

const execFileAsync = promisify(execFile);
const MEMBERS = ['e0', 'e1', 'e2'];
const CASE_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = 10_000;

export interface EtcdMember {
  readonly name: string;
  readonly child: ChildProcess;
  readonly clientUrl: string;
  output: string;
}

export interface EtcdGroup {
  readonly members: readonly EtcdMember[];
  readonly baseDir: string;
  readonly endpoints: string;
}

export type EtcdSample = Pick<ClientBenchResult, 'appendsPerSecond' | 'p50Ms' | 'p99Ms' | 'errors'> & {
  readonly leaderCpuMsPer1000: number;
  readonly maxAnonRssMiB: number;
};

/** `etcd --version`'s first line, or null when no etcd binary is on PATH. */
export function etcdVersion(binary = 'etcd'): string | null {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]?.trim() ?? null;
  } catch {
    return null;
  }
}

/** Start 3 etcd members on loopback and wait until a put succeeds through each member (30 s). */
export async function startEtcdGroup(binary = 'etcd'): Promise<EtcdGroup> {
  const ports = await freePorts(MEMBERS.length * 2);
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-bench-'));
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const clientUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i]}`;
  const initialCluster = MEMBERS.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
  const members = MEMBERS.map((name, i): EtcdMember => {
    const child = spawn(binary, [
      '--name', name,
      '--data-dir', path.join(baseDir, name),
      '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i),
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new',
      '--initial-cluster-token', path.basename(baseDir),
      '--logger', 'zap', '--log-level', 'warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const member: EtcdMember = { name, child, clientUrl: clientUrl(i), output: '' };
    const keep = (d: Buffer): void => { member.output = (member.output + d.toString()).slice(-20_000); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (error) => { member.output += `\nspawn: ${error.message}`; });
    return member;
  });
  const group: EtcdGroup = { members, baseDir, endpoints: members.map((m) => m.clientUrl).join(',') };
  try {
    await until(async () => {
      if (members.some((m) => m.child.exitCode !== null || m.child.signalCode !== null)) throw new Error('an etcd member exited');
      await runEtcdClient(group, 1, 1);
      return true;
    }, 30_000, 'etcd to accept a put');
  } catch (error) {
    const tails = members.map((m) => `${m.name}: ${m.output.slice(-400)}`).join('\n');
    await stopEtcdGroup(group);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
  }
  return group;
}

async function runEtcdClient(group: EtcdGroup, concurrency: number, count: number): Promise<ClientBenchResult> {
  const client = path.resolve(import.meta.dirname, '..', 'etcd-client.js');
  const { stdout } = await execFileAsync(process.execPath, [client, '--endpoints', group.endpoints, '--concurrency', String(concurrency), '--count', String(count), '--size', '1024'], { timeout: CASE_TIMEOUT_MS, maxBuffer: 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as ClientBenchResult;
}

/** One run of bench/etcd-client.ts (1 KiB values); CPU per 1000 puts of the busiest member. */
export async function runEtcdCase(group: EtcdGroup, concurrency: number, count: number): Promise<EtcdSample> {
  let maxAnonRssMiB = 0;
  const sample = (): void => {
    for (const m of group.members) {
      const anon = rssOf(m.child.pid).anonMiB;
      if (Number.isFinite(anon)) maxAnonRssMiB = Math.max(maxAnonRssMiB, anon);
    }
  };
  const before = group.members.map((m) => cpuMs(m.child.pid));
  const sampler = setInterval(sample, 250);
  let result: ClientBenchResult;
  try {
    result = await runEtcdClient(group, concurrency, count);
    sample();
  } finally {
    clearInterval(sampler);
  }
  // etcd's leader is the member that spent the most CPU (the client reaches it through any member).
  const per1000 = group.members.map((m, i) => ((cpuMs(m.child.pid) - (before[i] as number)) / Math.max(1, result.appends)) * 1000);
  return { appendsPerSecond: result.appendsPerSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors, leaderCpuMsPer1000: Math.max(...per1000), maxAnonRssMiB };
}

/** Stop every member by its pid and remove the data dirs. */
export async function stopEtcdGroup(group: EtcdGroup): Promise<void> {
  for (const m of group.members) {
    if (m.child.exitCode !== null || m.child.signalCode !== null || m.child.pid === undefined) continue;
    const exited = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
    m.child.kill('SIGTERM');
    const timer = setTimeout(() => m.child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(group.baseDir, { recursive: true, force: true });
}
