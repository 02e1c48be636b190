// Real-process helpers for cluster tests: free loopback ports from the OS, `dledger server`
// child processes started from the compiled CLI and stopped by pid, bounded waits.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import fs from 'node:fs';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import type { AppendedInfo } from '../../src/node/client-protocol.js';

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

/** Ports the OS hands out now (bound then released; a tiny reuse race is accepted in tests). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve) => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface NodeProcess {
  readonly id: string;
  child: ChildProcess;
  output: string;
}

export function startNode(id: string, group: string, peers: string, storeBaseDir: string, extra: string[] = []): NodeProcess {
  const child = spawn(process.execPath, [CLI, 'server', '--group', group, '--id', id, '--peers', peers, '--store-base-dir', storeBaseDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
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
