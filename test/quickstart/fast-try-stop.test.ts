// Goal: fast-try.sh signals only its own processes and always finishes: on stop, a pid file naming a
// process that is not ours (a recycled pid) is reported stale and that process is left alone; one
// of ours that ignores TERM is KILLed after the grace period; start without the confs, or with the
// name server's port taken, fails with a clear message, exit 1, and nothing left running.
// Method: the real script with FAST_TRY_* variables pointing at a temp dir; stand-in processes are
// `sh -c` loops whose command line does or does not carry the script's marker (mqnamesrv.js /
// the conf path); every process started here is SIGKILLed by pid in teardown if still alive.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { alive, ROOT, writeQuickConfs } from './helpers.js';

const FAST_TRY = path.join(ROOT, 'bin/dledger/fast-try.sh');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile('sh', [FAST_TRY, ...args], { cwd: ROOT, env, timeout: 60_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout: stdout + stderr });
    });
  });
}

/** A process that ignores TERM (or not), with `marker` as its last argument so `ps` shows it. */
function standIn(t: Test, ignoreTerm: boolean, marker: string): ChildProcess {
  const script = `${ignoreTerm ? 'trap "" TERM; ' : ''}i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done`;
  const child = spawn('sh', ['-c', script, marker], { stdio: 'ignore' });
  t.teardown(() => { if (child.pid !== undefined && alive(child.pid)) process.kill(child.pid, 'SIGKILL'); });
  return child;
}

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fast-try-stop-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('stop: a foreign pid is left alone, one of ours ignoring TERM is killed', async (t) => {
  const dir = tempDir(t);
  const { confDir } = await writeQuickConfs(dir);
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  const stubborn = standIn(t, true, 'mqnamesrv.js'); // looks like our name server
  const foreign = standIn(t, false, 'someone-else'); // a recycled pid: not ours
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the trap be installed
  fs.writeFileSync(path.join(logDir, 'namesrv.pid'), `${stubborn.pid}\n`);
  fs.writeFileSync(path.join(logDir, 'broker-n0.pid'), `${foreign.pid}\n`);
  fs.writeFileSync(path.join(logDir, 'broker-n1.pid'), 'garbage\n');
  const startedAt = Date.now();
  const stop = await run(['stop'], { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, FAST_TRY_GRACE_SECONDS: '1' });
  const tookMs = Date.now() - startedAt;
  t.equal(stop.code, 0, stop.stdout);
  t.match(stop.stdout, `name server (pid ${stubborn.pid}) did not exit within 1 s of TERM: killed`);
  t.match(stop.stdout, /broker n0 is not running \(stale pid file removed\)/);
  t.match(stop.stdout, /broker n1 is not running \(stale pid file removed\)/);
  t.ok(tookMs < 10_000, `bounded by the grace period (${tookMs} ms)`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.notOk(alive(stubborn.pid as number), 'the TERM-ignoring process of ours is gone');
  t.ok(alive(foreign.pid as number), 'the foreign process was not signalled');
  t.same(fs.readdirSync(logDir).filter((name) => name.endsWith('.pid')), [], 'pid files removed');
});

t.test('start: missing confs and a taken name server port fail clearly with nothing left running', async (t) => {
  const dir = tempDir(t);
  const missing = await run(['start'], { ...process.env, FAST_TRY_CONF_DIR: path.join(dir, 'nowhere'), ROCKETMQ_LOG_DIR: path.join(dir, 'logs') });
  t.equal(missing.code, 1);
  t.match(missing.stdout, /Make sure the .*nowhere\/broker-n0\.conf, .*broker-n1\.conf, .*broker-n2\.conf exists/);

  const { confDir } = await writeQuickConfs(dir);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, resolve));
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const port = (blocker.address() as net.AddressInfo).port;
  const logDir = path.join(dir, 'logs');
  const busy = await run(['start'], { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, NAMESRV_PORT: String(port) });
  t.equal(busy.code, 1, busy.stdout);
  t.match(busy.stdout, /name server \(pid \d+\) exited during startup; last lines of .*namesrv\.log:\n {4}.*EADDRINUSE/);
  t.match(busy.stdout, /start aborted: the brokers were not started/);
  t.notMatch(busy.stdout, /broker n0/);
  t.same(fs.readdirSync(logDir).filter((name) => name.endsWith('.pid')), [], 'no pid files left');
});
