// A real Prometheus for the scrape tests (the Debian package's `prometheus`; .ci/run installs it
// when missing): under CI=true a missing binary fails the test file with the install error .ci/run
// saw, elsewhere the test is skipped. startPrometheus scrapes the given targets every second from
// a temp config and TSDB, on a loopback port, and is stopped by its pid at teardown.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { freePorts, until } from '../cluster/helpers.js';

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** `prometheus --version`'s first line, or null when missing (the test is then failed or skipped). */
export function requirePrometheus(t: Test, what: string): string | null {
  const found = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return `${found.stdout}${found.stderr}`.split('\n')[0] as string;
  const why = `prometheus is not installed (Debian: apt-get install -y --no-install-recommends prometheus)${process.env['PROMETHEUS_INSTALL_ERROR'] ? `; .ci/run: ${process.env['PROMETHEUS_INSTALL_ERROR']}` : ''}`;
  if (process.env['CI'] === 'true') t.fail(why);
  else t.test(what, { skip: `${why}; skipped outside CI` }, () => undefined);
  return null;
}

export interface Prometheus {
  query(expr: string): Promise<PromSample[]>;
  /** Polls the query until ok() (30 s; the error carries the prometheus log's tail). */
  waitFor(expr: string, ok: (samples: PromSample[]) => boolean, what: string): Promise<PromSample[]>;
}

export async function startPrometheus(t: Test, dir: string, job: string, targets: readonly string[]): Promise<Prometheus> {
  const [webPort] = (await freePorts(1)) as [number];
  const promDir = path.join(dir, 'prometheus');
  fs.mkdirSync(promDir, { recursive: true });
  const configFile = path.join(promDir, 'prometheus.yml');
  fs.writeFileSync(configFile, ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', '  evaluation_interval: 1s', 'scrape_configs:', `  - job_name: ${job}`, '    static_configs:',
    `      - targets: [${targets.map((target) => `'${target}'`).join(', ')}]`, ''].join('\n'));
  const prometheus = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  prometheus.stderr.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
  t.teardown(async () => {
    if (prometheus.exitCode !== null || prometheus.signalCode !== null) return;
    const exited = new Promise((resolve) => prometheus.once('exit', resolve));
    prometheus.kill('SIGTERM');
    const timer = setTimeout(() => prometheus.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const query = async (expr: string): Promise<PromSample[]> => {
    const response = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; data: { result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  };
  const waitFor = (expr: string, ok: (samples: PromSample[]) => boolean, what: string): Promise<PromSample[]> => until(async () => {
    if (prometheus.exitCode !== null) throw new Error(`prometheus exited ${prometheus.exitCode}: ${log}`);
    const samples = await query(expr).catch(() => []);
    return ok(samples) ? samples : null;
  }, 30_000, what).catch((error: Error) => {
    throw new Error(`${error.message}; prometheus log tail:\n${log}`);
  });
  return { query, waitFor };
}
