// `npm start`: a 3-member DLedger group in the foreground, as DLedger's
// script/deploy-three-register.sh lays it out (n0-localhost:20911;n1-localhost:20912;
// n2-localhost:20913, store /tmp/dledgerstore, Prometheus metrics on 5557-5559). It prints the
// group's metadata once a leader exists, then keeps running; Ctrl-C (or SIGTERM) stops every
// member it started (TERM, then KILL after a grace period) and exits.
// (The RocketMQ quick cluster — name server and brokers — will take this place once it exists.)
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DLedgerClient } from '../client/client.js';
import { ensureSecretFile } from '../node/peer-auth.js';

const GROUP = 'default';
const PEERS = 'n0-localhost:20911;n1-localhost:20912;n2-localhost:20913';
const STORE_BASE_DIR = process.env['DLEDGER_STORE_BASE_DIR'] ?? '/tmp/dledgerstore';
const METRICS_PORTS = [5557, 5558, 5559];
/** The group secret every member proves (and the client too); created on the first start. */
const SECRET_FILE = path.join(STORE_BASE_DIR, 'peer.secret');
const STOP_GRACE_MS = 10_000;
const LEADER_WAIT_MS = 30_000;

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/dledger.mjs');

function startMember(id: string, metricsPort: number): ChildProcess {
  const child = spawn(process.execPath, [cli, 'server', '--group', GROUP, '--id', id, '--peers', PEERS, '--store-base-dir', STORE_BASE_DIR, '--metrics-port', String(metricsPort), '--peer-secret-file', SECRET_FILE], { stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => process.stderr.write(`[quick-cluster] ${id} exited (${signal ?? `code ${code}`})\n`));
  return child;
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  const exits = running.map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
  for (const child of running) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  await Promise.all(exits);
  clearTimeout(timer);
}

async function main(): Promise<number> {
  if (ensureSecretFile(SECRET_FILE)) process.stderr.write(`[quick-cluster] created the group secret ${SECRET_FILE} (mode 0600)\n`);
  const children = ['n0', 'n1', 'n2'].map((id, i) => startMember(id, METRICS_PORTS[i] as number));
  let stopping = false;
  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`[quick-cluster] ${reason}: stopping the group\n`);
    await stopAll(children);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  for (const child of children) child.once('exit', () => void stop('a member exited'));

  const client = new DLedgerClient({ group: GROUP, peers: PEERS, retryTimeoutMs: 1000, clientSecretFile: SECRET_FILE });
  const deadline = Date.now() + LEADER_WAIT_MS;
  try {
    for (;;) {
      try {
        const metadata = await client.metadata();
        if (metadata.leaderId !== null) {
          console.log(`DLedger group "${GROUP}" is up: leader ${metadata.leaderId}, term ${metadata.term}`);
          console.log(JSON.stringify(metadata, null, 2));
          console.log(`try: bin/dledger.mjs append -g ${GROUP} -p "${PEERS}" --client-secret-file ${SECRET_FILE} -d hello`);
          console.log(`metrics: ${METRICS_PORTS.map((p) => `http://127.0.0.1:${p}/metrics`).join(' ')}`);
          console.log('Ctrl-C stops the group.');
          break;
        }
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        process.stderr.write(`[quick-cluster] no leader after ${LEADER_WAIT_MS} ms; stopping\n`);
        await stop('no leader');
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
  }
  return 0;
}

void main();
