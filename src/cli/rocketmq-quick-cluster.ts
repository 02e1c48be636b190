// `npm start`: the RocketMQ-on-DLedger quick start in the foreground. Starts the name server
// (port 9876) and the three brokers of conf/dledger/ as child processes (the same launchers
// fast-try uses), prefixes their output with who printed it, prints `mqadmin clusterList` once
// the group has a leader (BID 0), and on Ctrl-C (or SIGTERM) sends TERM to every child, KILL to
// any still running after a grace period, and exits. If a child dies on its own the rest are
// stopped too, with exit code 1, so a half-running cluster is never left behind.
//   node dist/src/cli/rocketmq-quick-cluster.js [--conf-dir DIR] [--namesrv-port PORT]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AdminClient } from '../admin/admin-client.js';
import { clusterList } from '../admin/commands.js';
import { ensureSecretFile } from '../node/peer-auth.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NODES = ['n0', 'n1', 'n2'] as const;
/** Time between TERM and KILL on shutdown: a broker flushes and unregisters well within it. */
const GRACE_MS = 8000;
/** How long to wait for the group to elect and register a leader before saying so. */
const LEADER_WAIT_MS = 30_000;
/** After BID 0 appears, how long to wait for the followers' registrations before printing. */
const FOLLOWERS_WAIT_MS = 3000;

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

function launch(name: string, args: string[], onUnexpectedExit: (name: string, code: number | null, signal: string | null) => void, stopping: () => boolean): Member {
  const child = spawn('sh', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
    });
    stream?.on('end', () => { if (partial !== '') process.stdout.write(`${prefix}${partial}\n`); });
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!stopping()) onUnexpectedExit(name, code, signal);
      resolve();
    });
  });
  return { name, child, exited };
}

/** TERM every live child, wait for all up to GRACE_MS, KILL the rest; resolves when all exited. */
async function stopAll(members: readonly Member[]): Promise<void> {
  const alive = (m: Member): boolean => m.child.exitCode === null && m.child.signalCode === null;
  // Brokers first so they can unregister from the name server; the name server last.
  const brokers = members.filter((m) => m.name !== 'namesrv');
  const namesrv = members.filter((m) => m.name === 'namesrv');
  for (const group of [brokers, namesrv]) {
    for (const m of group) if (alive(m)) m.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), GRACE_MS)));
    const late = await Promise.race([Promise.all(group.map((m) => m.exited)).then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      for (const m of group) {
        if (!alive(m)) continue;
        process.stdout.write(`${m.name} (pid ${m.child.pid}) did not exit within ${GRACE_MS} ms of TERM: killing it\n`);
        m.child.kill('SIGKILL');
      }
      await Promise.all(group.map((m) => m.exited));
    }
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { 'conf-dir': { type: 'string' }, 'namesrv-port': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`rocketmq-quick-cluster: ${(error as Error).message}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write('usage: rocketmq-quick-cluster [--conf-dir conf/dledger] [--namesrv-port 9876]\n');
    return 0;
  }
  const confDir = path.resolve(ROOT, values['conf-dir'] ?? 'conf/dledger');
  const port = values['namesrv-port'] ?? '9876';
  if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    process.stderr.write(`rocketmq-quick-cluster: --namesrv-port must be a port number, got ${JSON.stringify(port)}\n`);
    return 2;
  }
  for (const node of NODES) {
    const conf = path.join(confDir, `broker-${node}.conf`);
    if (!fs.existsSync(conf)) {
      process.stderr.write(`rocketmq-quick-cluster: ${conf} is missing\n`);
      return 1;
    }
  }
  // The group secret the confs name (dLegerPeerSecretFile) is created on the first start.
  for (const node of NODES) {
    const text = fs.readFileSync(path.join(confDir, `broker-${node}.conf`), 'utf8');
    const secretFile = /^\s*dLegerPeerSecretFile\s*=\s*(.*?)\s*$/m.exec(text)?.[1];
    if (secretFile !== undefined && secretFile !== '' && ensureSecretFile(secretFile)) process.stdout.write(`created the group secret file ${secretFile} (mode 0600)\n`);
  }
  let stopping = false;
  let failure: string | null = null;
  let wake: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => (wake = resolve));
  const onUnexpectedExit = (name: string, code: number | null, signal: string | null): void => {
    failure ??= `${name} exited on its own (${signal ?? `code ${code}`}); stopping the others`;
    wake();
  };
  let signals = 0;
  const members: Member[] = [];
  const onSignal = (signal: string): void => {
    signals++;
    if (signals === 1) {
      process.stdout.write(`\n${signal}: stopping the cluster (TERM, then KILL after ${GRACE_MS} ms)\n`);
      wake();
      return;
    }
    // An impatient second Ctrl-C: do not wait out the grace period, and do not die leaving
    // children behind (the default action would): KILL them now; stopAll then sees them exit.
    process.stdout.write(`\n${signal} again: killing the remaining processes now\n`);
    for (const m of members) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  members.push(launch('namesrv', [path.join(ROOT, 'bin/mqnamesrv'), '-n', port], onUnexpectedExit, () => stopping));
  for (const node of NODES) {
    members.push(launch(node, [path.join(ROOT, 'bin/mqbroker'), '-c', path.join(confDir, `broker-${node}.conf`)], onUnexpectedExit, () => stopping));
  }

  // Pids up front: if this process is killed hard, the operator knows what to clean up.
  process.stdout.write(`started ${members.map((m) => `${m.name} (pid ${m.child.pid ?? '?'})`).join(', ')}\n`);

  // Poll the name server until BID 0 appears, then print clusterList once (the quick start's check).
  const admin = new AdminClient([`127.0.0.1:${port}`], 2000);
  const watch = (async () => {
    const deadline = Date.now() + LEADER_WAIT_MS;
    let printedWaiting = false;
    let leaderSeenAt: number | undefined;
    while (!stopping && failure === null && Date.now() < deadline) {
      try {
        const info = await admin.clusterInfo();
        const groups = Object.values(info.brokerAddrTable);
        const hasLeader = groups.some((data) => data.brokerAddrs['0'] !== undefined);
        if (hasLeader) leaderSeenAt ??= Date.now();
        // Followers register at their own role change, usually with the leader; give them up to
        // FOLLOWERS_WAIT_MS so the printed list is the whole group rather than a moment's view.
        const everyoneListed = groups.reduce((count, data) => count + Object.keys(data.brokerAddrs).length, 0) >= NODES.length;
        if (hasLeader && (everyoneListed || Date.now() - (leaderSeenAt as number) > FOLLOWERS_WAIT_MS)) {
          const text = await clusterList(admin, null, (line) => process.stdout.write(`${line}\n`));
          process.stdout.write(`\n$ sh bin/mqadmin clusterList -n 127.0.0.1:${port}\n${text}\n\nThe cluster is up; Ctrl-C stops it.\n`);
          return;
        }
      } catch {
        // The name server may not be listening yet; the deadline bounds the retries.
      }
      if (!printedWaiting) {
        process.stdout.write('waiting for the group to elect a leader...\n');
        printedWaiting = true;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    if (!stopping && failure === null) process.stdout.write(`no leader registered within ${LEADER_WAIT_MS} ms; the processes keep running (see their output above)\n`);
  })();

  await stopRequested;
  stopping = true;
  await watch;
  admin.close();
  if (failure !== null) process.stderr.write(`rocketmq-quick-cluster: ${failure}\n`);
  await stopAll(members);
  process.stdout.write('all processes stopped\n');
  return failure === null ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`rocketmq-quick-cluster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
