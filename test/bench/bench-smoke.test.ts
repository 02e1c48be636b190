// Smoke test of the pieces `npm run bench` (bench/suite.ts) runs that no other test covers, so
// that the bench does not rot between runs (CI does not run the bench itself; a few seconds):
// - --cases parsing (bench/lib/cases.ts): `C:N` and `CxB:N`, bad text refused with a clear error;
// - the embedded appender (dist/bench/embedded-appender.js) in both threads modes: a 1-member
//   DLedgerServer in that process takes appends and the JSON line carries real numbers;
// - the etcd comparison's group (3 etcd members, own ports and data dirs, stopped by pid) and its
//   client process, when `etcd` is on PATH (else skipped with a message: CI does not install it).
// Runs the compiled bench from dist/ (like the CLI tests run bin/dledger.mjs): build first.
import t from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCases } from '../../bench/lib/cases.js';

const execFileAsync = promisify(execFile);
const repoRoot = [path.resolve(import.meta.dirname, '../..'), path.resolve(import.meta.dirname, '../../..')].find((dir) => fs.existsSync(path.join(dir, 'bin/dledger.mjs'))) as string;
const distBench = path.join(repoRoot, 'dist', 'bench');

t.test('--cases: C:N and CxB:N; anything else is refused', async (t) => {
  t.same(parseCases('1:1000,128:20000,8x64:64000'), [
    { concurrency: 1, batch: 1, count: 1000 },
    { concurrency: 128, batch: 1, count: 20000 },
    { concurrency: 8, batch: 64, count: 64000 },
  ]);
  for (const bad of ['1', '0:10', '1:0', '8x0:10', 'a:1', '1:2:3', '']) t.throws(() => parseCases(bad), /--cases: .* is not concurrency:count/, bad);
});

for (const mode of ['inline', 'workers']) {
  t.test(`embedded appender, threads=${mode}: a 1-member DLedgerServer in that process takes the appends`, async (t) => {
    const { stdout } = await execFileAsync(process.execPath, [path.join(distBench, 'embedded-appender.js'), '--threads', mode, '--flush', 'sync', '--cases', '1:20,8x4:64', '--warm', '0'], { timeout: 60_000 });
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, number>);
    t.equal(lines.length, 2);
    t.match(lines[0], { concurrency: 1, batch: 1, appends: 20, errors: 0 });
    t.match(lines[1], { concurrency: 8, batch: 4, appends: 64, errors: 0 });
    for (const line of lines) {
      t.ok((line.appendsPerSecond as number) > 0 && (line.p50Ms as number) > 0 && (line.p99Ms as number) >= (line.p50Ms as number), 'real rates and latencies');
      t.ok((line.maxAnonRssMiB as number) > 1, 'its anonymous RSS');
    }
  });
}

t.test('the embedded appender refuses a bad mode with a clear error', async (t) => {
  const failed = await execFileAsync(process.execPath, [path.join(distBench, 'embedded-appender.js'), '--threads', 'both', '--cases', '1:1'], { timeout: 60_000 }).then(() => null, (error: { code: number; stderr: string }) => error);
  t.ok(failed !== null && failed.code !== 0, 'exits non-zero');
  t.match(failed?.stderr ?? '', /--threads: "both" must be inline or workers/);
});

const etcdLib = (await import(path.join(distBench, 'lib', 'etcd-group.js'))) as typeof import('../../bench/lib/etcd-group.js');
const etcd = etcdLib.etcdVersion();
t.test('etcd comparison: 3 members on loopback, puts from the client process, stopped by pid', { skip: etcd === null ? 'no etcd on PATH (apt-get install etcd-server)' : false }, async (t) => {
  const group = await etcdLib.startEtcdGroup();
  let stopped = false;
  t.teardown(async () => { if (!stopped) await etcdLib.stopEtcdGroup(group); });
  t.equal(group.members.length, 3);
  const sample = await etcdLib.runEtcdCase(group, 4, 40);
  t.equal(sample.errors, 0);
  t.ok(sample.appendsPerSecond > 0 && sample.p50Ms > 0, `${Math.round(sample.appendsPerSecond)} puts/s`);
  t.ok(sample.leaderCpuMsPer1000 >= 0 && sample.maxAnonRssMiB > 1, 'the members\' CPU and RSS from /proc');
  await etcdLib.stopEtcdGroup(group);
  stopped = true;
  for (const m of group.members) t.ok(m.child.exitCode !== null || m.child.signalCode !== null, `${m.name} exited`);
  t.notOk(fs.existsSync(group.baseDir), 'data dirs removed');
});

t.test('restart bench (bench/restart.ts): a small 1-member store, kill (tail) and full restart, both measured', { timeout: 120_000 }, async (t) => {
  const { stdout } = await execFileAsync(process.execPath, [path.join(distBench, 'run.js'), 'restart', '--members', '1', '--log-gib', '0.003', '--segment-mib', '64', '--stop', 'kill,full', '--cache', 'warm', '--rounds', '1', '--fill-seconds', '60'], { timeout: 110_000, killSignal: 'SIGKILL' });
  const filled = /filled ([\d,]+) more messages/.exec(stdout);
  const messages = Number(filled?.[1]?.replaceAll(',', ''));
  t.ok(messages >= 2000, `filled ${filled?.[1]} messages of 1 KiB`);
  t.match(stdout, /^0\.003\s+0\.00\s+kill\s+warm\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+0\s/m, 'kill: nothing re-applied (tail from the durable point)');
  const full = /^0\.003\s+0\.00\s+full\s+warm(?:\s+\d+){7}\s+([\d,]+)\s/m.exec(stdout);
  t.ok(full !== null && Number(full[1]?.replaceAll(',', '')) >= messages, `full: the whole log re-applied (${full?.[1]})`);
  const dataDir = /data in (\S+);/.exec(stdout)?.[1];
  t.ok(dataDir !== undefined && !fs.existsSync(dataDir), `data dir ${dataDir} removed`);
  const results = /results: (\S+)/.exec(stdout)?.[1];
  if (results !== undefined) fs.rmSync(results, { force: true });
});
