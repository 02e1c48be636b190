// The embedded case of the one-node bench (bench/suite.ts (b)): a process of its own that runs a
// 1-member DLedgerServer in-process (the library use: an application appending to its own log,
// no client socket), warms it, then for each case appends `count` 1 KiB entries with
// `concurrency` append() calls (of `batch` entries) in flight, and prints one JSON line per
// case: appends/s, p50/p99 ms, this process's CPU ms per 1000 appends (all its threads) and its
// anonymous RSS. The store lives in a fresh temp dir, removed at the end.
// usage: node dist/bench/embedded-appender.js --threads inline|workers [--raft-worker] --flush sync|async --cases C:N,CxB:N,... [--warm N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { percentile } from '../src/cli/client-bench.js';
import { buildNodeConfig } from '../src/node/config.js';
import { writeSecretFile } from '../test/util/peer-secret.js';
import { DLedgerServer } from '../src/node/server.js';
import { parseCases } from './lib/cases.js';
import { cpuMs, rssOf } from './lib/proc.js';
import { freePorts, until } from '../test/cluster/helpers.js';

function flag(args: readonly string[], name: string, fallback?: string): string {
  const at = args.indexOf(name);
  const value = at < 0 ? fallback : args[at + 1];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

async function main(args: readonly string[]): Promise<void> {
  const threads = flag(args, '--threads');
  const flush = flag(args, '--flush', 'sync');
  const cases = parseCases(flag(args, '--cases'));
  const warm = Number(flag(args, '--warm', '10000'));
  if (!Number.isInteger(warm) || warm < 0 || warm > 1_000_000) throw new Error('--warm: 0..1000000');
  if (threads !== 'inline' && threads !== 'workers') throw new Error(`--threads: "${threads}" must be inline or workers`);
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), `dledger-embedded-${threads}-`));
  const [port] = await freePorts(1);
  const logTail: string[] = [];
  let config;
  try {
    config = buildNodeConfig({
      group: 'embedded',
      selfId: 'n0',
      peers: `n0-127.0.0.1:${port}`,
      storeBaseDir: baseDir,
      flushPolicy: flush,
      threads,
      ...(args.includes('--raft-worker') ? { raftWorker: 'true' } : {}),
      mappedFileSizeForEntryData: 64 * 1024 * 1024,
      mappedFileSizeForEntryIndex: 32 * 256 * 1024,
      peerSecretFile: writeSecretFile(baseDir),
    });
  } catch (error) {
    fs.rmSync(baseDir, { recursive: true, force: true }); // a bad flag: nothing was started
    throw error;
  }
  const server = new DLedgerServer({
    config,
    // The node's log lines, kept (the last 50) for a failed run's message.
    log: (line) => { logTail.push(line); if (logTail.length > 50) logTail.shift(); },
  });
  const body = new Uint8Array(1024).fill(0x61);
  try {
    await server.start();
    // Until an append succeeds: right after the core's status() says leader, append() can still
    // refuse (not-leader, "n0 is candidate") until the server has processed that Ready.
    await until(async () => (await server.append(body)).length > 0, 20_000, 'the embedded member to take an append');
    const runOne = async (concurrency: number, batch: number, count: number): Promise<Record<string, number>> => {
      const bodies = Array.from({ length: batch }, () => body);
      const requests = Math.ceil(count / batch);
      const latenciesMs: number[] = [];
      let issued = 0;
      let errors = 0;
      const cpuBefore = cpuMs(process.pid);
      let maxAnonRssMiB = 0;
      const sampler = setInterval(() => { maxAnonRssMiB = Math.max(maxAnonRssMiB, rssOf(process.pid).anonMiB); }, 250);
      const started = performance.now();
      const worker = async (): Promise<void> => {
        while (issued < requests) {
          issued++;
          const t0 = performance.now();
          try {
            await server.append(bodies);
            latenciesMs.push(performance.now() - t0);
          } catch (error) {
            if (errors++ === 0) console.error(`first append error: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      maxAnonRssMiB = Math.max(maxAnonRssMiB, rssOf(process.pid).anonMiB);
      latenciesMs.sort((a, b) => a - b);
      const appends = latenciesMs.length * batch;
      if (appends === 0) throw new Error(`every append of c${concurrency} x${batch} failed (${errors} errors)`);
      return { concurrency, batch, appends, errors, seconds, appendsPerSecond: appends / seconds, p50Ms: percentile(latenciesMs, 0.5), p99Ms: percentile(latenciesMs, 0.99), cpuMsPer1000: ((cpuMs(process.pid) - cpuBefore) / Math.max(1, appends)) * 1000, maxAnonRssMiB };
    };
    if (warm > 0) await runOne(16, 1, warm);
    for (const load of cases) console.log(JSON.stringify(await runOne(load.concurrency, load.batch, load.count)));
  } catch (error) {
    console.error(logTail.join('\n'));
    throw error;
  } finally {
    await server.close();
    fs.rmSync(baseDir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
