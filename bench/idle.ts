// `npm run bench -- idle [--seconds 20] [--members 3] [--modes inline,workers]`: the CPU an idle
// node burns (issue 13 item 3: target < 1 % of a core per node). For each mode a group of real
// `dledger server` processes starts, warms up with 200 appends (every member has written, the
// leader's heartbeats and the followers' answers run), then sits idle while /proc is sampled:
// user + system time per member over the window, as % of one core, leader and followers apart.
// The groups run one after the other (not at once): idle CPU is small enough that one group's
// heartbeats would show in the other's numbers on a 2-core machine.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { testSecretFile } from '../test/util/peer-secret.js';
import { freePorts, startNode, until, type NodeProcess } from '../test/cluster/helpers.js';
import { stopBenchNodes } from './lib/group.js';
import { cpuMs } from './lib/proc.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable } from './lib/table.js';

const execFileAsync = promisify(execFile);
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'dledger.mjs');
const MAX_SECONDS = 600;
const WARM_APPENDS = 200;

interface IdleSample {
  readonly mode: string;
  readonly members: number;
  readonly seconds: number;
  /** % of one core, per member id; the leader's id apart. */
  readonly percentById: Readonly<Record<string, number>>;
  readonly leaderId: string;
}

function flag(args: readonly string[], name: string, fallback: string): string {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? (args[at + 1] ?? fallback) : fallback;
}

async function leaderIdOf(group: string, peers: string, secretFile: string): Promise<string> {
  return until(async () => {
    const { stdout } = await execFileAsync(process.execPath, [CLI, 'metadata', '-g', group, '-p', peers, '--client-secret-file', secretFile], { timeout: 15_000 }).catch(() => ({ stdout: '{}' }));
    return (JSON.parse(stdout.trim().split('\n').pop() || '{}') as { leaderId?: string | null }).leaderId ?? null;
  }, 20_000, `a leader in group ${group}`);
}

async function measureMode(mode: string, members: number, seconds: number): Promise<IdleSample> {
  const ids = ['n0', 'n1', 'n2'].slice(0, members);
  const ports = await freePorts(ids.length);
  const peers = ids.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
  const group = `idle${mode}`;
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-idle-${mode}-`));
  const configPath = path.join(baseDir, 'idle.conf');
  fs.writeFileSync(configPath, 'mappedFileSizeForEntryData=67108864\nmappedFileSizeForEntryIndex=8388608\n');
  // startNode gives every member the tests' group secret; the client proves the same one.
  const secretFile = testSecretFile();
  const nodes: NodeProcess[] = ids.map((id) => startNode(id, group, peers, baseDir, ['--config', configPath, '--threads', mode]));
  const started = { peers, nodes, baseDir, secretFile };
  try {
    const leaderId = await leaderIdOf(group, peers, secretFile);
    await execFileAsync(process.execPath, [CLI, 'bench', '-g', group, '-p', peers, '--client-secret-file', secretFile, '--count', String(WARM_APPENDS), '--concurrency', '1', '--size', '1024'], { timeout: 60_000 });
    // Let the warm-up's tail (flushes, checkpoints, the client's disconnect) settle first.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = nodes.map((node) => cpuMs(node.child.pid));
    const startedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const elapsedMs = performance.now() - startedAt;
    const percentById = Object.fromEntries(nodes.map((node, i) => [node.id, ((cpuMs(node.child.pid) - (before[i] as number)) / elapsedMs) * 100]));
    return { mode, members, seconds, percentById, leaderId };
  } finally {
    await stopBenchNodes(started);
  }
}

export async function run(args: readonly string[]): Promise<void> {
  const seconds = Number(flag(args, 'seconds', '20'));
  const members = Number(flag(args, 'members', '3'));
  const modes = flag(args, 'modes', 'inline,workers').split(',');
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > MAX_SECONDS) throw new Error(`--seconds must be 1..${MAX_SECONDS}, got ${seconds}`);
  if (members !== 1 && members !== 3) throw new Error(`--members must be 1 or 3, got ${members}`);
  for (const mode of modes) if (mode !== 'inline' && mode !== 'workers') throw new Error(`--modes: ${mode} must be inline or workers`);
  const loadBefore = os.loadavg();
  const samples: IdleSample[] = [];
  for (const mode of modes) {
    const sample = await measureMode(mode, members, seconds);
    console.error(`${mode}: ${Object.entries(sample.percentById).map(([id, p]) => `${id}${id === sample.leaderId ? ' (leader)' : ''} ${fixed(p, 2)} %`).join(', ')} (load ${os.loadavg()[0]?.toFixed(1)})`);
    samples.push(sample);
  }
  const rows = samples.map((s) => {
    const followers = Object.entries(s.percentById).filter(([id]) => id !== s.leaderId).map(([, p]) => p);
    return [s.mode, fixed(s.percentById[s.leaderId] ?? Number.NaN, 2), followers.length === 0 ? '-' : followers.map((p) => fixed(p, 2)).join(' / ')];
  });
  console.log(formatTable(['mode', 'leader % of a core', 'followers % of a core'], rows));
  const loadAfter = os.loadavg();
  console.log(`idle ${seconds} s per mode, ${members} member(s); load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs; target < 1 % of a core per node`);
  writeResults('idle', { samples, machine: { cpus: os.cpus().length, node: process.version, loadBefore, loadAfter } });
}
