// Real-process helpers for cluster tests: free loopback ports from the OS, `dledger server`
// child processes started from the compiled CLI and stopped by pid, bounded waits.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fs from 'node:fs';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import type { AppendedInfo } from '../../src/node/client-protocol.js';
import type { TlsClientOptions } from '../../src/net/tls.js';
import { testSecretFile } from '../util/peer-secret.js';
import { freePorts } from '../util/free-ports.js';

/** The package root: this file runs as test/cluster/*.ts under tap and as dist/test/cluster/*.js from benches. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'bin', 'dledger.mjs'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`bin/dledger.mjs not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const CLI = path.join(packageRoot(), 'bin', 'dledger.mjs');

/** Ports for child processes' listeners: see test/util/free-ports.ts. */
export { freePorts };

export interface NodeProcess {
  readonly id: string;
  child: ChildProcess;
  output: string;
}

export function startNode(id: string, group: string, peers: string, storeBaseDir: string, extra: string[] = []): NodeProcess {
  const child = spawn(process.execPath, [CLI, 'server', '--group', group, '--id', id, '--peers', peers, '--store-base-dir', storeBaseDir, '--peer-secret-file', testSecretFile(), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const node: NodeProcess = { id, child, output: '' };
  child.stdout?.on('data', (d: Buffer) => { node.output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { node.output += d.toString(); });
  return node;
}

export async function stopNode(node: NodeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return node.child.exitCode;
  const exited = new Promise<number | null>((resolve) => node.child.once('exit', (code) => resolve(code)));
  node.child.kill(signal);
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

export async function until<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Append, re-sending only when the outcome is unknown (the request reached a node that died before
 * answering). Tests that tolerate a possible second copy use this around a leader kill; the
 * client itself never re-sends such an append.
 */
export async function appendAcceptingDuplicates(client: DLedgerClient, body: Uint8Array, timeoutMs = 30_000): Promise<AppendedInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const [info] = await client.append(body);
      if (info === undefined) throw new Error('append returned no entry');
      return info;
    } catch (error) {
      if (!(error instanceof DLedgerClientError) || !error.outcomeUnknown || Date.now() > deadline) throw error;
    }
  }
}

/**
 * Small segments for cluster tests: 256 KiB data and 4,096-record index segments, so that a few
 * thousand entries span several files (BLANK fillers, segment roll-over) and a test never
 * fallocates DLedger's 1 GiB + 160 MiB per member.
 */
export const SMALL_SEGMENTS = {
  dataSegmentSizeBytes: 256 * 1024,
  indexSegmentSizeBytes: 32 * 4096,
} as const;

/** A 3-member group of `dledger server` processes in a temp dir; every process is stopped by pid in teardown. */
export interface ProcessGroup {
  readonly group: string;
  readonly ids: readonly string[];
  readonly peers: string;
  readonly baseDir: string;
  /** --config file with the segment sizes (and any extra keys the test asked for). */
  readonly configPath: string;
  readonly nodes: Map<string, NodeProcess>;
  readonly client: DLedgerClient;
  /** The secret file a client of this group proves (null: the group runs with peerAuth=none). */
  readonly clientSecretFile: string | null;
  /** {baseDir}/dledger-{id}. */
  nodeDir(id: string): string;
  /** Start (or restart) member `id` from its files. */
  start(id: string): NodeProcess;
  /** The address string of member `id` alone ("n1-127.0.0.1:P"), for a client that talks to it only. */
  peerOf(id: string): string;
  /** Waits for a leader and returns its id. */
  leader(timeoutMs?: number): Promise<string>;
}

interface TapLike {
  teardown(fn: () => unknown): void;
}

export async function startProcessGroup(t: TapLike, options: {
  group: string;
  ids?: readonly string[];
  /** Extra config-file keys (DLedger names), e.g. preferredLeaderIds. */
  config?: Readonly<Record<string, string | number>>;
  /** Members not started yet (the test starts them later with group.start). */
  deferred?: readonly string[];
  clientRetryTimeoutMs?: number;
  /** Extra `dledger server` flags per member (e.g. --metrics-port). */
  extraArgs?: (id: string) => string[];
  /** TLS for the group's client, when the members run TLS (config tls* keys). */
  clientTls?: TlsClientOptions | null;
}): Promise<ProcessGroup> {
  const ids = options.ids ?? ['n0', 'n1', 'n2'];
  const ports = await freePorts(ids.length);
  const peers = ids.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-${options.group}-`));
  const configPath = path.join(baseDir, 'node.properties');
  const keys: Record<string, string | number> = {
    mappedFileSizeForEntryData: SMALL_SEGMENTS.dataSegmentSizeBytes,
    mappedFileSizeForEntryIndex: SMALL_SEGMENTS.indexSegmentSizeBytes,
    maxEntryBodyBytes: 64 * 1024,
    ...options.config,
  };
  fs.writeFileSync(configPath, Object.entries(keys).map(([k, v]) => `${k}=${v}\n`).join(''));
  const nodes = new Map<string, NodeProcess>();
  // A client with a secret refuses a node that proves none: a peerAuth=none group gets a client without one.
  const clientSecretFile = options.config?.['peerAuth'] === 'none' ? null : testSecretFile();
  const client = new DLedgerClient({ ...(clientSecretFile === null ? {} : { clientSecretFile }), group: options.group, peers, retryTimeoutMs: options.clientRetryTimeoutMs ?? 15_000, tls: options.clientTls ?? null });
  const group: ProcessGroup = {
    group: options.group,
    ids,
    peers,
    baseDir,
    configPath,
    nodes,
    client,
    clientSecretFile,
    nodeDir: (id) => path.join(baseDir, `dledger-${id}`),
    start: (id) => {
      const previous = nodes.get(id);
      assertStopped(previous);
      const node = startNode(id, options.group, peers, baseDir, ['--config', configPath, ...(options.extraArgs?.(id) ?? [])]);
      nodes.set(id, node);
      return node;
    },
    peerOf: (id) => {
      const entry = peers.split(';').find((p) => p.startsWith(`${id}-`));
      if (entry === undefined) throw new Error(`no member ${id}`);
      return entry;
    },
    leader: async (timeoutMs = 30_000) => until(async () => (await client.metadata()).leaderId, timeoutMs, `a leader of ${options.group}`),
  };
  t.teardown(async () => {
    client.close();
    for (const node of nodes.values()) {
      if (node.child.signalCode === null && node.child.exitCode === null) node.child.kill('SIGCONT');
      await stopNode(node, 'SIGKILL');
    }
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  for (const id of ids) if (!(options.deferred ?? []).includes(id)) group.start(id);
  return group;
}

function assertStopped(node: NodeProcess | undefined): void {
  if (node !== undefined && node.child.exitCode === null && node.child.signalCode === null) throw new Error(`${node.id} is still running (pid ${node.child.pid})`);
}

/** SIGTERM every running member at once (no member outlives the others long enough to win an election and append). */
export async function stopAll(group: ProcessGroup): Promise<Map<string, number | null>> {
  const codes = await Promise.all([...group.nodes.values()].map(async (node) => [node.id, await stopNode(node, 'SIGTERM')] as const));
  return new Map(codes);
}

/** Run the dledger CLI to completion (bounded); stdout, stderr and exit code. */
export async function runCli(args: readonly string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // 'close', not 'exit': output still buffered in the pipes arrives after 'exit'.
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
