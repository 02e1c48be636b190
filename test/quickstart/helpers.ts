// Shared by the quick start tests: the shipped conf/dledger confs rewritten onto free ports and a
// temp store, so the tests never touch a developer's own quick start on 9876/30911/... .
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AdminClient } from '../../src/admin/admin-client.js';
import { clusterList } from '../../src/admin/commands.js';
import { freePorts } from '../util/free-ports.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const NODES = ['n0', 'n1', 'n2'] as const;

/** Ports for child processes' listeners: see test/util/free-ports.ts. */
export { freePorts };

export interface QuickConfs {
  readonly confDir: string;
  readonly namesrvPort: number;
  /** Client (remoting) ports of n0, n1, n2. */
  readonly clientPorts: readonly number[];
  /** gRPC ports of n0, n1, n2 (grpcServerPort). */
  readonly grpcPorts: readonly number[];
  /** Prometheus /metrics ports of n0, n1, n2 (metricsPromExporterPort). */
  readonly metricsPorts: readonly number[];
}

/**
 * The quick start's confs with only ports and store paths changed, so everything else (cluster,
 * group, selfIds, the spaces around `=`) is exactly what ships. Throws if a key to rewrite is
 * missing, so a changed shipped conf is noticed rather than silently tested on the fixed ports.
 */
export async function writeQuickConfs(dir: string): Promise<QuickConfs> {
  const confDir = path.join(dir, 'conf');
  fs.mkdirSync(confDir, { recursive: true });
  const [namesrvPort, ...ports] = (await freePorts(13)) as [number, ...number[]];
  const clientPorts = ports.slice(0, 3);
  const peerPorts = ports.slice(3, 6);
  const grpcPorts = ports.slice(6, 9);
  const metricsPorts = ports.slice(9, 12);
  for (const [index, node] of NODES.entries()) {
    const original = fs.readFileSync(path.join(ROOT, `conf/dledger/broker-${node}.conf`), 'utf8');
    let text = original;
    for (const [pattern, replacement] of [
      [/^listenPort=.*$/m, `listenPort=${clientPorts[index]}`],
      [/^namesrvAddr=.*$/m, `namesrvAddr=127.0.0.1:${namesrvPort}`],
      [/^dLegerPeers=.*$/m, `dLegerPeers=${peerPorts.map((port, i) => `n${i}-127.0.0.1:${port}`).join(';')}`],
      [/^grpcServerPort=.*$/m, `grpcServerPort=${grpcPorts[index]}`],
      [/^metricsPromExporterPort=.*$/m, `metricsPromExporterPort=${metricsPorts[index]}`],
    ] as const) {
      if (!pattern.test(text)) throw new Error(`conf/dledger/broker-${node}.conf has no line matching ${pattern}`);
      text = text.replace(pattern, replacement);
    }
    text = text.replaceAll('/tmp/rmqstore', path.join(dir, 'rmqstore'));
    if (!new RegExp(`^dLegerSelfId=${node}$`, 'm').test(text)) throw new Error(`conf/dledger/broker-${node}.conf: dLegerSelfId is not ${node}`);
    fs.writeFileSync(path.join(confDir, `broker-${node}.conf`), text);
  }
  return { confDir, namesrvPort, clientPorts, grpcPorts, metricsPorts };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Row {
  readonly cluster: string;
  readonly brokerName: string;
  readonly bid: number;
  readonly addr: string;
}

/** The data rows of `mqadmin clusterList` output: cluster, broker name, numeric BID, host:port. */
export function clusterRows(stdout: string): Row[] {
  return stdout.split('\n').filter((line) => /^\S+\s+\S+\s+\d+\s+\S+:\d+\s/.test(line)).map((line) => {
    const [cluster, brokerName, bid, addr] = line.trim().split(/\s+/);
    return { cluster: cluster as string, brokerName: brokerName as string, bid: Number(bid), addr: addr as string };
  });
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `sh file args...` from the project root; SIGKILLed after timeoutMs. */
export function runSh(file: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile('sh', [file, ...args], { cwd: ROOT, env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

export const FAST_TRY = path.join(ROOT, 'bin/dledger/fast-try.sh');
export const MQADMIN = path.join(ROOT, 'bin/mqadmin');

/** Fails early, with the fix, when the launchers' compiled code is missing. */
export function requireDist(): void {
  for (const file of ['mqadmin.js', 'mqbroker.js', 'mqnamesrv.js']) {
    if (!fs.existsSync(path.join(ROOT, 'dist/src/cli', file))) throw new Error(`dist/src/cli/${file} is missing: run \`npx tsc -p tsconfig.json\` first (npm test does)`);
  }
}

/** Port of a host:port address. */
export function addrPort(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

/**
 * Polls clusterList (the same code `bin/mqadmin clusterList` prints, called in-process: spawning
 * a node process per poll costs ~0.2 s of CPU, which on a loaded 2-core machine slows the very
 * election being timed) every pollMs until accept(rows) returns a value; throws with the last
 * output after timeoutMs.
 */
export async function awaitClusterList<T>(namesrvAddr: string, accept: (rows: Row[]) => T | undefined, timeoutMs: number, what: string, pollMs = 50): Promise<T> {
  const admin = new AdminClient([namesrvAddr], 2000);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      let output = '';
      try {
        output = await clusterList(admin, null, () => undefined);
      } catch (error) {
        output = (error as Error).message;
      }
      const value = accept(clusterRows(output));
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms; last clusterList:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    admin.close();
  }
}

/**
 * Polls `probe` every 100 ms until it returns a value (not undefined); a probe that throws is
 * retried, and its last error goes into the timeout's message.
 */
export async function untilDefined<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
