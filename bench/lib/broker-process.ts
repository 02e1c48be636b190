// One real `bin/mqbroker` process for benches: spawned with a conf, every output line kept with the
// ms (from a caller-given origin) at which it arrived, so a bench can say when a member printed
// "boot success", "restored ... from config/dledgerState.json", "broker role leader", "restart
// replay done"; stopped by its pid (SIGTERM bounded, then SIGKILL) and read from its own /metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MQBROKER = path.join(ROOT, 'dist', 'src', 'cli', 'mqbroker.js');

export interface BrokerProcess {
  readonly selfId: string;
  readonly child: ChildProcess;
  /** Client (remoting) address, 127.0.0.1:listenPort. */
  readonly addr: string;
  readonly metricsPort: number;
  output(): string;
  /** ms after `originMs` at which a line matching pattern arrived (waits for it, bounded). */
  lineAt(pattern: RegExp, timeoutMs: number): Promise<number>;
  /** Like lineAt but does not wait: NaN when no such line arrived yet. */
  seenAt(pattern: RegExp): number;
}

export function spawnBroker(conf: string, info: { selfId: string; addr: string; metricsPort: number }, originMs: number): BrokerProcess {
  const child = spawn(process.execPath, [MQBROKER, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<{ atMs: number; text: string }> = [];
  let out = '';
  let partial = '';
  const waiters: Array<{ pattern: RegExp; resolve: (ms: number) => void }> = [];
  const onData = (chunk: Buffer): void => {
    const atMs = performance.now() - originMs;
    out += chunk.toString();
    if (out.length > 4 * 2 ** 20) out = out.slice(-(2 ** 20)); // bounded: a chatty broker keeps its last MiB
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) {
      lines.push({ atMs, text });
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(text)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(atMs);
        }
      }
    }
    if (lines.length > 10_000) lines.splice(0, lines.length - 10_000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const seenAt = (pattern: RegExp): number => lines.find((line) => pattern.test(line.text))?.atMs ?? Number.NaN;
  return {
    ...info,
    child,
    output: () => out,
    seenAt,
    lineAt: (pattern, timeoutMs) => new Promise((resolve, reject) => {
      const already = seenAt(pattern);
      if (!Number.isNaN(already)) {
        resolve(already);
        return;
      }
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        reject(new Error(`broker ${info.selfId} exited (${code ?? signal}) before ${pattern}:\n${out.slice(-3000)}`));
      };
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        reject(new Error(`broker ${info.selfId}: no ${pattern} within ${timeoutMs} ms:\n${out.slice(-3000)}`));
      }, timeoutMs);
      child.once('exit', onExit);
      waiters.push({ pattern, resolve: (ms) => { clearTimeout(timer); child.off('exit', onExit); resolve(ms); } });
    }),
  };
}

export function running(broker: BrokerProcess): boolean {
  return broker.child.exitCode === null && broker.child.signalCode === null;
}

/** Stops one broker by its pid: `signal`, and SIGKILL if it has not exited after graceMs. Resolves on exit. */
export async function stopBroker(broker: BrokerProcess, signal: 'SIGTERM' | 'SIGKILL', graceMs = 120_000): Promise<{ forced: boolean }> {
  if (!running(broker)) return { forced: false };
  const exited = new Promise((resolve) => broker.child.once('exit', resolve));
  broker.child.kill(signal);
  let forced = false;
  const timer = setTimeout(() => {
    forced = true;
    broker.child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
  return { forced };
}

/** The samples of one metric family from the broker's /metrics (Prometheus text): first sample's value. */
export async function scrapeMetric(broker: BrokerProcess, names: readonly string[]): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const out: Record<string, number> = {};
  for (const name of names) {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    out[name] = match === null ? Number.NaN : Number(match[1]);
  }
  return out;
}
