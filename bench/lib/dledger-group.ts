// Goal: one way for the benchmarks to run a dledger group of `dledger server` processes from a
// given build (bench/ab.ts: two builds or two threads modes; bench/suite.ts: the whole table) and
// to drive it with that build's own `dledger bench` client in a process of its own. A case
// reports the client's throughput and latency, the members' CPU per 1000 appends (from /proc,
// which moves much less with the machine's other load than wall-clock rates) and the largest
// anonymous RSS of each member sampled while the load ran.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientBenchResult } from '../../src/cli/client-bench.js';
import { DLedgerClient } from '../../src/client/client.js';
import { ensureSecretFile } from '../../src/node/peer-auth.js';
import { appendAcceptingDuplicates, freePorts, stopNode, until, type NodeProcess } from '../../test/cluster/helpers.js';
import { stopBenchNodes } from './group.js';
import { cpuMs, rssOf } from './proc.js';

const execFileAsync = promisify(execFile);
const MEMBER_IDS = ['n0', 'n1', 'n2'];
const SEGMENT_BYTES = 64 * 1024 * 1024;
const INDEX_SEGMENT_BYTES = 32 * 256 * 1024;
const RSS_SAMPLE_MS = 250;
/** One client run may take at most this long (a bench is bounded in time, not only in count). */
const CASE_TIMEOUT_MS = 300_000;

export interface DledgerGroup {
  /** A label for reports ('A', 'inline', ...). */
  readonly name: string;
  readonly cli: string;
  readonly group: string;
  readonly peers: string;
  readonly baseDir: string;
  readonly nodes: NodeProcess[];
  /** Flags every `dledger` client command of this build needs (its client secret, if any). */
  readonly clientArgs: readonly string[];
  /** `dledger server` arguments of member i (to restart it after a kill). */
  readonly serverArgs: (i: number) => readonly string[];
  /** The group secret file, or null for a build without peer authentication. */
  readonly secretFile: string | null;
}

export interface LoadCase {
  readonly concurrency: number;
  /** Entries per append request (the batch API); 1 for single appends. */
  readonly batch: number;
  /** Entries in all. */
  readonly count: number;
}

export interface CaseSample {
  readonly appendsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly leaderCpuMsPer1000: number;
  readonly followersCpuMsPer1000: number;
  /** Largest anonymous RSS (heap, buffers, stacks; not the mapped segments) of any member, MiB. */
  readonly maxAnonRssMiB: number;
  /** Largest total RSS of any member (includes the mapped segments' page cache), MiB. */
  readonly maxRssMiB: number;
}

export function caseName(load: Pick<LoadCase, 'concurrency' | 'batch'>): string {
  return load.batch > 1 ? `batch${load.batch}x${load.concurrency}` : `c${load.concurrency}`;
}

/** The `dledger` CLI of a package root that has a dist/ build. */
export function cliOf(root: string): string {
  const cli = path.resolve(root, 'bin', 'dledger.mjs');
  if (!fs.existsSync(cli)) throw new Error(`${cli} not found (name a package root)`);
  if (!fs.existsSync(path.resolve(root, 'dist', 'src', 'cli', 'dledger.js'))) throw new Error(`${root} has no dist/ build (run tsc there)`);
  return cli;
}

function hasPeerAuth(cli: string): boolean {
  return fs.existsSync(path.resolve(path.dirname(cli), '..', 'dist', 'src', 'node', 'peer-auth.js'));
}

function spawnMember(id: string, cli: string, args: readonly string[]): NodeProcess {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const node: NodeProcess = { id, child, output: '' };
  // Keep only the tail: a long run must not grow memory with the servers' logs.
  const keep = (d: Buffer): void => { node.output = (node.output + d.toString()).slice(-20_000); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return node;
}

/**
 * Start `members` (1 or 3) `dledger server` processes of the build whose CLI is `cli` on loopback
 * (OS-assigned ports, a fresh temp dir, 64 MiB segments) and wait for a leader (20 s).
 */
export async function startDledgerGroup(options: {
  readonly name: string;
  readonly cli: string;
  readonly flush: 'sync' | 'async';
  readonly threads?: string | undefined;
  readonly members: number;
  /** More node config lines (key=value), e.g. raftWorker=true. */
  readonly extraConfig?: readonly string[];
}): Promise<DledgerGroup> {
  const { name, cli, flush, threads, members } = options;
  if (members !== 1 && members !== 3) throw new Error('members: 1 or 3');
  const memberIds = MEMBER_IDS.slice(0, members);
  const ports = await freePorts(memberIds.length);
  const peers = memberIds.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
  const threadsArgs = threads === undefined ? [] : ['--threads', threads];
  const group = `bench${name.replace(/[^A-Za-z0-9]/g, '')}`;
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-bench-${name}-`));
  // Small segments: the default 1 GiB data segment (plus one prepared ahead) is fallocated per
  // member, 6+ GiB per group on a disk that other sessions share.
  const configPath = path.join(baseDir, 'bench.conf');
  fs.writeFileSync(configPath, [`mappedFileSizeForEntryData=${SEGMENT_BYTES}`, `mappedFileSizeForEntryIndex=${INDEX_SEGMENT_BYTES}`, ...(options.extraConfig ?? [])].join('\n') + '\n');
  // A build with peer authentication refuses to start without a secret; an older one knows no such flag.
  const secretPath = path.join(baseDir, 'peer.secret');
  const secretFile = hasPeerAuth(cli) && ensureSecretFile(secretPath) ? secretPath : null;
  const authArgs = secretFile === null ? [] : ['--peer-secret-file', secretFile];
  const clientArgs = secretFile === null ? [] : ['--client-secret-file', secretFile];
  const serverArgs = (i: number): readonly string[] => ['server', '--group', group, '--id', memberIds[i] as string, '--peers', peers, '--store-base-dir', baseDir, '--flush', flush, '--config', configPath, ...authArgs, ...threadsArgs];
  const nodes = memberIds.map((id, i) => spawnMember(id, cli, serverArgs(i)));
  const started: DledgerGroup = { name, cli, group, peers, baseDir, nodes, clientArgs, serverArgs, secretFile };
  try {
    await leaderIdOf(started, 20_000);
  } catch (error) {
    const tails = nodes.map((node) => `${node.id}: ${node.output.slice(-400)}`).join('\n');
    await stopDledgerGroup(started);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
  }
  return started;
}

/** Stop every member (SIGTERM, then SIGKILL after 10 s) and remove the group's data. */
export async function stopDledgerGroup(group: DledgerGroup): Promise<void> {
  await stopBenchNodes({ peers: group.peers, nodes: group.nodes, baseDir: group.baseDir });
}

/** The leader as the group's own `dledger metadata` reports it (its own client protocol). */
export async function leaderIdOf(group: DledgerGroup, timeoutMs: number): Promise<string> {
  return until(async () => {
    const { stdout } = await execFileAsync(process.execPath, [group.cli, 'metadata', '-g', group.group, '-p', group.peers, ...group.clientArgs], { timeout: 15_000 }).catch(() => ({ stdout: '{}' }));
    return (JSON.parse(stdout.trim().split('\n').pop() || '{}') as { leaderId?: string | null }).leaderId ?? null;
  }, timeoutMs, `a leader in group ${group.name}`);
}

/** One run of the group's `dledger bench` (1 KiB bodies) in a process of its own. */
export async function runDledgerCase(group: DledgerGroup, load: LoadCase): Promise<CaseSample> {
  const leaderId = await leaderIdOf(group, 10_000);
  const leaderAt = group.nodes.findIndex((node) => node.id === leaderId);
  if (leaderAt < 0) throw new Error(`leader ${leaderId} is not one of ${group.name}'s members`);
  let maxAnonRssMiB = 0;
  let maxRssMiB = 0;
  const sample = (): void => {
    for (const node of group.nodes) {
      const rss = rssOf(node.child.pid);
      if (Number.isFinite(rss.anonMiB)) maxAnonRssMiB = Math.max(maxAnonRssMiB, rss.anonMiB);
      if (Number.isFinite(rss.totalMiB)) maxRssMiB = Math.max(maxRssMiB, rss.totalMiB);
    }
  };
  const before = group.nodes.map((node) => cpuMs(node.child.pid));
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  let result: ClientBenchResult;
  try {
    const { stdout } = await execFileAsync(process.execPath, [group.cli, 'bench', '-g', group.group, '-p', group.peers, '--size', '1024', '--concurrency', String(load.concurrency), '--count', String(load.count), '--batch', String(load.batch), '--json', ...group.clientArgs], { timeout: CASE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    sample();
    result = JSON.parse(stdout.trim().split('\n').pop() as string) as ClientBenchResult;
  } finally {
    clearInterval(sampler);
  }
  const per1000 = group.nodes.map((node, i) => ((cpuMs(node.child.pid) - (before[i] as number)) / Math.max(1, result.appends)) * 1000);
  const followers = per1000.filter((_, i) => i !== leaderAt);
  return {
    appendsPerSecond: result.appendsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    errors: result.errors,
    leaderCpuMsPer1000: per1000[leaderAt] as number,
    followersCpuMsPer1000: followers.length === 0 ? Number.NaN : followers.reduce((a, b) => a + b, 0) / followers.length,
    maxAnonRssMiB,
    maxRssMiB,
  };
}

/**
 * Failover: SIGKILL the leader, time until an append is acknowledged again, restart the killed
 * member and let it catch up before the next kill (so each kill leaves a quorum). 3 members only.
 */
export async function measureFailover(group: DledgerGroup, kills: number): Promise<number[]> {
  if (group.nodes.length !== 3) throw new Error('failover needs 3 members');
  const secret = group.secretFile === null ? {} : { clientSecretFile: group.secretFile };
  const client = new DLedgerClient({ ...secret, group: group.group, peers: group.peers, retryTimeoutMs: 30_000, requestTimeoutMs: 500 });
  const body = new TextEncoder().encode('failover');
  const timesMs: number[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      await client.append(body);
      const leaderId = (await client.metadata()).leaderId;
      const index = group.nodes.findIndex((node) => node.id === leaderId);
      const leader = group.nodes[index];
      if (leader === undefined) throw new Error(`leader ${String(leaderId)} is not one of ${group.name}'s`);
      const killedAt = performance.now();
      leader.child.kill('SIGKILL');
      await appendAcceptingDuplicates(client, body);
      timesMs.push(performance.now() - killedAt);
      await stopNode(leader);
      group.nodes[index] = spawnMember(leader.id, group.cli, group.serverArgs(index));
      const target = (await client.append(body))[0]?.index ?? 0;
      const own = group.peers.split(';').filter((p) => p.startsWith(`${leader.id}-`)).join(';');
      await until(async () => {
        const probe = new DLedgerClient({ ...secret, group: group.group, peers: own, retryTimeoutMs: 200 });
        try {
          return (await probe.metadata()).commitIndex >= target;
        } finally {
          probe.close();
        }
      }, 20_000, `${leader.id} of ${group.name} to catch up`);
    }
  } finally {
    client.close();
  }
  return timesMs;
}
