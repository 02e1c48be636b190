// Real-process RocketMQ-on-DLedger layouts beyond the quick start's single 3-member group: a name
// server (`sh bin/mqnamesrv -n PORT`) and any number of DLedger groups (`sh bin/mqbroker -c FILE`),
// with conf files written the way an operator would (the quick start's keys), on free ports and a
// temp store. Every child is stopped by pid in the test's teardown (TERM, KILL after a grace).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { RemotingClient } from '../../src/remoting/client.js';
import { closeAll, type AliClient } from './ali-ons-client.js';
import { freePorts, ROOT } from './helpers.js';
import { testSecretFile } from '../util/peer-secret.js';

/** A broker that does not exit within this long of TERM is KILLed. */
const STOP_GRACE_MS = 8000;
const BOOT_TIMEOUT_MS = 20_000;

export interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  output(): string;
}

export function launch(t: Test, name: string, script: string, args: readonly string[]): Child {
  const child = spawn('sh', [path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  t.teardown(() => stop(child));
  return { name, child, output: () => out };
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** TERM, then KILL after the grace period; resolves once the process has exited. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

export async function awaitLine(child: Child, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (!pattern.test(child.output())) {
    if (!running(child.child)) throw new Error(`${child.name} exited during start-up:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} printed no ${pattern} within ${BOOT_TIMEOUT_MS} ms:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startNamesrv(t: Test): Promise<{ addr: string; process: Child }> {
  const [port] = (await freePorts(1)) as [number];
  const namesrv = launch(t, 'name server', 'bin/mqnamesrv', ['-n', String(port)]);
  await awaitLine(namesrv, /The Name Server boot success/);
  return { addr: `127.0.0.1:${port}`, process: namesrv };
}

/**
 * What a real-process broker test starts with: a temp dir, a list for its ali-ons clients, a raw
 * remoting client and a name server; the teardown closes the clients and removes the dir.
 */
export async function startTestBed(t: Test, dirPrefix: string): Promise<{ dir: string; clients: AliClient[]; client: RemotingClient; namesrv: { addr: string; process: Child } }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), dirPrefix));
  const clients: AliClient[] = [];
  const client = new RemotingClient();
  t.teardown(async () => {
    await closeAll(clients);
    client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, clients, client, namesrv: await startNamesrv(t) };
}

export interface GroupSpec {
  readonly cluster: string;
  /** brokerName = dLegerGroup, as the guide advises. */
  readonly brokerName: string;
  readonly members: number;
  /** More conf lines for every member (e.g. mappedFileSizeCommitLog=...). */
  readonly extraConf?: readonly string[];
  /** Member i's storePathRootDir (default dir/rmqstore/<brokerName>-node0<i>), e.g. on its own tmpfs. */
  readonly storeRootOf?: (memberIndex: number) => string;
}

export interface BrokerProcess extends Child {
  readonly selfId: string;
  readonly conf: string;
  readonly clientPort: number;
}

/**
 * Writes one conf per member (selfIds n0, n1, ...) under dir/conf/<brokerName>/ and starts the
 * brokers in the background; resolves once every one has printed its boot line.
 */
export async function startGroup(t: Test, dir: string, namesrvAddr: string, spec: GroupSpec): Promise<BrokerProcess[]> {
  const ports = await freePorts(2 * spec.members);
  const clientPorts = ports.slice(0, spec.members);
  const peers = ports.slice(spec.members).map((port, i) => `n${i}-127.0.0.1:${port}`).join(';');
  const confDir = path.join(dir, 'conf', spec.brokerName);
  fs.mkdirSync(confDir, { recursive: true });
  const brokers = clientPorts.map((clientPort, i) => {
    const store = spec.storeRootOf?.(i) ?? path.join(dir, 'rmqstore', `${spec.brokerName}-node0${i}`);
    const conf = path.join(confDir, `broker-n${i}.conf`);
    fs.writeFileSync(conf, [
      `brokerClusterName = ${spec.cluster}`,
      `brokerName=${spec.brokerName}`,
      `listenPort=${clientPort}`,
      `namesrvAddr=${namesrvAddr}`,
      `storePathRootDir=${store}`,
      `storePathCommitLog=${store}/commitlog`,
      'enableDLegerCommitLog=true',
      `dLegerGroup=${spec.brokerName}`,
      `dLegerPeers=${peers}`,
      `dLegerSelfId=n${i}`,
      `dLegerPeerSecretFile=${testSecretFile()}`,
      'grpcServerPort=0',
      'sendMessageThreadPoolNums=16',
      ...(spec.extraConf ?? []),
      '',
    ].join('\n'));
    const child = launch(t, `broker ${spec.brokerName}/n${i}`, 'bin/mqbroker', ['-c', conf]);
    return { ...child, selfId: `n${i}`, conf, clientPort };
  });
  // All members first, then wait: a broker only finishes booting once its group can elect.
  for (const broker of brokers) await awaitLine(broker, /boot success/);
  return brokers;
}
