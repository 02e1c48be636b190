// Goal: `npm start` (dist/src/cli/rocketmq-quick-cluster.js) runs the quick start in the
// foreground: it prints the children's pids, then clusterList once the group has a leader (one
// BID 0, two followers), and on SIGINT stops every child and exits 0 (a second SIGINT KILLs them
// at once rather than leaving them behind); if a broker dies on its own
// it stops the others and exits 1 naming it. No child outlives it in either case.
// Method: the compiled CLI as a child process with --conf-dir (the shipped confs on free ports in
// a temp dir) and --namesrv-port; its output is parsed for pids and the clusterList block; we
// signal only the CLI (not its process group), so stopping the children is its own doing.
// Waits are bounded; teardown SIGKILLs, by pid, anything still alive.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { alive, clusterRows, ROOT, writeQuickConfs } from './helpers.js';

const CLI = path.join(ROOT, 'dist/src/cli/rocketmq-quick-cluster.js');

t.before(() => {
  if (!fs.existsSync(CLI)) throw new Error('dist/src/cli/rocketmq-quick-cluster.js is missing: run `npx tsc -p tsconfig.json` first (npm test does)');
});

async function until<T>(probe: () => T | null, timeoutMs: number, what: string, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output so far:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function startCluster(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quick-cluster-'));
  const { confDir, namesrvPort } = await writeQuickConfs(dir);
  const child = spawn(process.execPath, [CLI, '--conf-dir', confDir, '--namesrv-port', String(namesrvPort)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const childPids: number[] = [];
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const pid of childPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const pidsLine = await until(() => /^started (.*)$/m.exec(out)?.[1] ?? null, 10_000, 'the pids line', () => out);
  for (const match of pidsLine.matchAll(/(\w+) \(pid (\d+)\)/g)) childPids.push(Number(match[2]));
  t.equal(childPids.length, 4, `four children: ${pidsLine}`);
  const list = await until(() => /\$ sh bin\/mqadmin clusterList[^\n]*\n([\s\S]*?)\n\n/.exec(out)?.[1] ?? null, 30_000, 'the clusterList block', () => out);
  const rows = clusterRows(list);
  t.equal(rows.length, 3, 'three brokers listed');
  t.equal(rows.filter((row) => row.bid === 0).length, 1, 'one BID 0');
  t.ok(rows.every((row) => row.cluster === 'RaftCluster' && row.brokerName === 'RaftNode00'));
  t.match(out, /The cluster is up; Ctrl-C stops it\./);
  return { child, exited, childPids, output: () => out };
}

t.test('SIGINT stops every child; exit 0', async (t) => {
  const { child, exited, childPids, output } = await startCluster(t);
  child.kill('SIGINT');
  const code = await Promise.race([exited, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 30_000))]);
  t.equal(code, 0, `exit 0\n${output()}`);
  t.match(output(), /SIGINT: stopping the cluster/);
  t.match(output(), /all processes stopped/);
  t.notMatch(output(), /did not exit within/, 'every child stopped on TERM');
  for (const pid of childPids) t.notOk(alive(pid), `child ${pid} is gone`);
});

t.test('a second SIGINT kills the children at once instead of waiting out the grace period', async (t) => {
  const { child, exited, childPids, output } = await startCluster(t);
  const signalledAt = Date.now();
  child.kill('SIGINT');
  await until(() => (/SIGINT: stopping the cluster/.test(output()) ? true : null), 5000, 'the first SIGINT to be seen', output);
  child.kill('SIGINT');
  const code = await Promise.race([exited, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 30_000))]);
  t.equal(code, 0, output());
  t.match(output(), /SIGINT again: killing the remaining processes now/);
  t.ok(Date.now() - signalledAt < 8000, 'well inside the 8 s grace period');
  for (const pid of childPids) t.notOk(alive(pid), `child ${pid} is gone`);
});

t.test('a broker dying on its own stops the rest; exit 1', async (t) => {
  const { exited, childPids, output } = await startCluster(t);
  const victim = childPids[2] as number; // n1
  process.kill(victim, 'SIGKILL');
  const code = await Promise.race([exited, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 30_000))]);
  t.equal(code, 1, `exit 1\n${output()}`);
  t.match(output(), /rocketmq-quick-cluster: n1 exited on its own \(SIGKILL\); stopping the others/);
  for (const pid of childPids) t.notOk(alive(pid), `child ${pid} is gone`);
});

t.test('bad arguments exit 2 without starting anything', async (t) => {
  const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, '--namesrv-port', 'http'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => resolve({ code, err }));
  });
  t.equal(result.code, 2);
  t.match(result.err, /--namesrv-port must be a port number, got "http"/);
});
