// Goal: `sh bin/mqnamesrv` behaves as the quick start expects: it listens on the port from -n or
// from listenPort in a -c file, says "The Name Server boot success", serves requests, and exits 0
// on SIGTERM; bad flags and unknown config keys exit 1 naming the problem.
// Method: the launcher runs the compiled CLI (dist/, built by `npm test`) as a child process on a
// free port; a RemotingClient talks to it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { RemotingClient } from '../../src/remoting/client.js';
import { createRequest } from '../../src/remoting/command.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { freePorts } from '../util/free-ports.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAUNCHER = path.join(ROOT, 'bin/mqnamesrv');

async function freePort(): Promise<number> {
  const [port] = (await freePorts(1)) as [number];
  return port;
}

async function startCli(t: Test, args: string[]): Promise<{ child: ChildProcess; stdout: () => string; exited: Promise<number | null> }> {
  const child = spawn('sh', [LAUNCHER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  for (let i = 0; i < 100 && !out.includes('boot success') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  return { child, stdout: () => out, exited };
}

t.before(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist/src/cli/mqnamesrv.js'))) throw new Error('dist/src/cli/mqnamesrv.js is missing: run `npx tsc -p tsconfig.json` first (npm test does)');
});

t.test('-n PORT: boots, serves, exits 0 on SIGTERM', async (t) => {
  const port = await freePort();
  const { child, stdout, exited } = await startCli(t, ['-n', String(port)]);
  t.match(stdout(), /The Name Server boot success\. serializeType=JSON/);
  const client = new RemotingClient();
  t.teardown(() => client.close());
  const response = await client.invoke(`127.0.0.1:${port}`, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 3000);
  t.equal(response.code, ResponseCode.SUCCESS);
  t.same(JSON.parse(response.body?.toString() ?? ''), { brokerAddrTable: {}, clusterAddrTable: {} });
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});

t.test('-c FILE with listenPort; bad keys and flags exit 1 with the reason', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqnamesrv-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const good = path.join(dir, 'namesrv.properties');
  fs.writeFileSync(good, `listenPort = ${port}\nrocketmqHome=/opt/rocketmq\n`);
  const { child, stdout, exited } = await startCli(t, ['-c', good]);
  t.match(stdout(), new RegExp(`boot success.*port=${port}`));
  child.kill('SIGTERM');
  t.equal(await exited, 0);

  const bad = path.join(dir, 'bad.properties');
  fs.writeFileSync(bad, 'listenPrt=9876\n');
  const badKey = spawnSync('sh', [LAUNCHER, '-c', bad], { encoding: 'utf8' });
  t.equal(badKey.status, 1);
  t.match(badKey.stderr, /bad\.properties: unknown name server key "listenPrt"/);
  const badPort = spawnSync('sh', [LAUNCHER, '-n', '70000'], { encoding: 'utf8' });
  t.equal(badPort.status, 1);
  t.match(badPort.stderr, /listenPort="70000" is not an integer in \[0, 65535\]/);
  const missing = spawnSync('sh', [LAUNCHER, '-c', path.join(dir, 'nope.properties')], { encoding: 'utf8' });
  t.equal(missing.status, 1);
  t.match(missing.stderr, /ENOENT/);
});
