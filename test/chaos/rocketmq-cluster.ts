// Goal: RocketMQ-on-DLedger under faults — a name server and the 3 brokers of one DLedger group as
// real processes (`sh bin/mqnamesrv -n PORT`, `sh bin/mqbroker -c CONF`), every directed DLedger
// peer link i→j through a LinkProxy, so partitions, drops and delays hit the Raft traffic, plus
// SIGKILL/restart and SIGSTOP/SIGCONT of whole broker processes.
// Method: the brokers are the members of a ChaosCluster (cluster.ts: proxies, fault operations,
// unexpected-exit records, DLedger status from each broker's GET_BROKER_RUNTIME_INFO over remoting:
// the broker's own DLedger group refuses DLedgerClient connections), started through its spawnMember hook: the
// conf of member i gets the --peers string ChaosCluster made for it (its own real port, the proxy
// ports for the others). Client traffic (producers, consumers, the name server) is not proxied; a
// paused or killed broker is unreachable to clients too. close() stops every process by pid.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, stopNode, type NodeProcess } from '../cluster/helpers.js';
import { freePorts } from '../quickstart/helpers.js';
import { ChaosCluster } from './cluster.js';
import { AdminClient } from '../../src/admin/admin-client.js';
import { testSecretFile } from '../util/peer-secret.js';

export const ROCKETMQ_CLUSTER_NAME = 'RaftCluster';
export const ROCKETMQ_BROKER_NAME = 'RaftNode00';
/** Data segments of 1 MiB (the broker's mappedFileSizeCommitLog): a run rolls over several files. */
export const ROCKETMQ_DATA_SEGMENT_BYTES = 1024 * 1024;
/** With retention on: 64 KiB commit-log segments (the broker's smallest mappedFileSizeCommitLog), so a short run rolls (and deletes) several. */
export const ROCKETMQ_RETENTION_DATA_SEGMENT_BYTES = 64 * 1024;
/** The DLedger default index segment (the broker conf has no key for it). */
export const ROCKETMQ_INDEX_SEGMENT_BYTES = 32 * 5 * 1024 * 1024;
const BOOT_TIMEOUT_MS = 30_000;
/** The package root (bin/ lives there), found the same way from test/ under tap and from dist/test/. */
const ROOT = path.dirname(path.dirname(CLI));

export interface RocketMQChaosClusterOptions {
  readonly baseDir: string;
  readonly flushDiskType?: 'ASYNC_FLUSH' | 'SYNC_FLUSH';
  /** ms between a broker's periodic registrations (RocketMQ's default is 30,000; 1,000 here). */
  readonly registerNameServerPeriodMs?: number;
  /**
   * Retention on: fileReservedTime = this many seconds (in hours), deleteWhen=*, cleanResourceInterval
   * 500 ms, 64 KiB commit-log segments (ROCKETMQ_RETENTION_DATA_SEGMENT_BYTES), maxMessageSize 4 KiB.
   */
  readonly retentionSeconds?: number;
  /** Brokers run with DLEDGER_FAULT_JOURNAL, so chaos.powerLoss() works (ChaosCluster faultJournal). */
  readonly faultJournal?: boolean;
  readonly log?: (line: string) => void;
}

/** Broker output lines worth keeping whole (the output itself is cut to its last 100,000 chars). */
const NOTABLE_LINE = /retention( \(forced[^)]*\))?: \d+ data segment|snapshot \d+ installed on /;

/** Runs `sh <script> args` from the package root; the launchers exec node, so the pid is the server's own. */
function launch(id: string, script: string, args: readonly string[], notable?: string[]): NodeProcess {
  const child = spawn('sh', [path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const node: NodeProcess = { id, child, output: '' };
  let partial = '';
  const keep = (d: Buffer): void => {
    if (notable !== undefined) {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (NOTABLE_LINE.test(line) && notable.length < 1_000_000) notable.push(line);
    }
    node.output += d.toString();
    if (node.output.length > 200_000) node.output = node.output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return node;
}

/** A link (its target may not exist yet: the broker creates it). */
function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

async function awaitOutput(node: NodeProcess, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  while (!pattern.test(node.output)) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`${node.id} exited during start-up:\n${node.output.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`${node.id} printed no ${pattern} within ${BOOT_TIMEOUT_MS} ms:\n${node.output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export class RocketMQChaosCluster {
  readonly namesrvAddr: string;
  /** brokerIP1:listenPort of each member (what the name server and msgIds carry). */
  readonly brokerAddrs: ReadonlyMap<string, string>;
  /** 127.0.0.1:grpcServerPort of each member (fixed, so a restarted broker serves the 5.x clients where it did). */
  readonly grpcAddrs: ReadonlyMap<string, string>;
  private namesrvExitExpected = false;
  /** Retention and snapshot-install lines of every process of each broker (restarts included). */
  readonly notableLines = new Map<string, string[]>([['n0', []], ['n1', []], ['n2', []]]);
  /** The commit-log segment size the brokers run with. */
  readonly dataSegmentBytes: number;
  /** The name server exiting by itself is a crash like a broker's. */
  readonly namesrvExits: { code: number | null; signal: string | null; outputTail: string }[] = [];

  private constructor(
    readonly chaos: ChaosCluster,
    private readonly namesrv: NodeProcess,
    namesrvAddr: string,
    brokerAddrs: Map<string, string>,
    grpcAddrs: Map<string, string>,
    /** The latest process of each broker (spawnMember, restarts included), for exit codes after stopBrokers. */
    private readonly brokers: ReadonlyMap<string, NodeProcess>,
    notableLines: ReadonlyMap<string, string[]>,
    dataSegmentBytes: number,
  ) {
    for (const [id, lines] of notableLines) this.notableLines.set(id, lines);
    this.dataSegmentBytes = dataSegmentBytes;
    this.namesrvAddr = namesrvAddr;
    this.brokerAddrs = brokerAddrs;
    this.grpcAddrs = grpcAddrs;
  }

  /** Name server, then the proxied broker group; resolves once every broker printed its boot line. */
  static async start(options: RocketMQChaosClusterOptions): Promise<RocketMQChaosCluster> {
    fs.mkdirSync(options.baseDir, { recursive: true });
    const [namesrvPort, ...clientPorts] = (await freePorts(7)) as [number, ...number[]];
    const namesrvAddr = `127.0.0.1:${namesrvPort}`;
    const namesrv = launch('namesrv', 'bin/mqnamesrv', ['-n', String(namesrvPort)]);
    const brokerAddrs = new Map(['n0', 'n1', 'n2'].map((id, i) => [id, `127.0.0.1:${clientPorts[i]}`]));
    const grpcAddrs = new Map(['n0', 'n1', 'n2'].map((id, i) => [id, `127.0.0.1:${clientPorts[3 + i]}`]));
    const brokers = new Map<string, NodeProcess>();
    const notableLines = new Map<string, string[]>(['n0', 'n1', 'n2'].map((id) => [id, []]));
    const retention = options.retentionSeconds;
    const dataSegmentBytes = retention === undefined ? ROCKETMQ_DATA_SEGMENT_BYTES : ROCKETMQ_RETENTION_DATA_SEGMENT_BYTES;
    let chaos: ChaosCluster | null = null;
    try {
      await awaitOutput(namesrv, /The Name Server boot success/);
      chaos = await ChaosCluster.start({
        group: ROCKETMQ_BROKER_NAME,
        baseDir: options.baseDir,
        size: 3,
        log: options.log,
        faultJournal: options.faultJournal === true,
        // The broker's own DLedger group refuses client connections: ask its remoting instead.
        statusOf: async (id, timeoutMs) => {
          const admin = new AdminClient([namesrvAddr], timeoutMs);
          try {
            const table = await admin.runtimeInfo(brokerAddrs.get(id)!);
            if (table['dLegerRole'] === undefined) throw new Error(`${id}: no dLeger fields in its runtime info`);
            return { role: table['dLegerRole'], term: Number(table['dLegerTerm']), leaderId: table['dLegerLeaderId'] || null, commitIndex: Number(table['dLegerCommitIndex']) };
          } finally {
            admin.close();
          }
        },
        spawnMember: (id, peers) => {
          const conf = path.join(options.baseDir, `broker-${id}.conf`);
          // Each broker its own store root (consume queues, index, config/dledgerState.json, checkpoint):
          // a shared root had three brokers racing on one consume-queue file (ENOENT on the rename of
          // its .creating file, a broker crash, found with the gRPC mix's FIFO topic). ChaosCluster
          // reads the DLedger data at {baseDir}/dledger-{id}: a link to {root}/dledger-{id}.
          const root = path.join(options.baseDir, `store-${id}`);
          fs.mkdirSync(root, { recursive: true });
          const link = path.join(options.baseDir, `dledger-${id}`);
          if (!isLink(link)) fs.symlinkSync(path.join(`store-${id}`, `dledger-${id}`), link);
          fs.writeFileSync(conf, [
            `brokerClusterName=${ROCKETMQ_CLUSTER_NAME}`,
            `brokerName=${ROCKETMQ_BROKER_NAME}`,
            `listenPort=${brokerAddrs.get(id)!.split(':')[1]}`,
            `namesrvAddr=${namesrvAddr}`,
            'brokerIP1=127.0.0.1',
            // DLedger data lands in {root}/dledger-{id}, linked from where ChaosCluster.nodeDir looks.
            `storePathRootDir=${root}`,
            `storePathCommitLog=${options.baseDir}/commitlog-${id}`,
            'enableDLegerCommitLog=true',
            `dLegerGroup=${ROCKETMQ_BROKER_NAME}`,
            `dLegerPeers=${peers}`,
            `dLegerSelfId=${id}`,
            `dLegerPeerSecretFile=${testSecretFile()}`,
            `grpcServerPort=${grpcAddrs.get(id)!.split(':')[1]}`,
            // POP redelivery within a campaign's hold times (rocketmq-grpc-clients.ts uses 3 s).
            'grpcMinInvisibleTimeMs=1000',
            'grpcMaxLongPollingMs=2000',
            `mappedFileSizeCommitLog=${dataSegmentBytes}`,
            // Small segments need a small largest message (the bodies here are ~10 bytes).
            `maxMessageSize=${retention === undefined ? 65536 : 4096}`,
            ...(retention === undefined ? [] : [`fileReservedTime=${String(Number((retention / 3600).toFixed(9)))}`, 'deleteWhen=*', 'cleanResourceInterval=500', 'deleteCommitLogFilesInterval=100']),
            `flushDiskType=${options.flushDiskType ?? 'ASYNC_FLUSH'}`,
            // Re-register every second so the name server's view heals quickly after a pause.
            `registerNameServerPeriod=${options.registerNameServerPeriodMs ?? 1000}`,
            '',
          ].join('\n'));
          const broker = launch(id, 'bin/mqbroker', ['-c', conf], notableLines.get(id));
          brokers.set(id, broker);
          return broker;
        },
      });
      // All members first, then wait: a broker finishes booting once its group can elect.
      for (const id of chaos.ids) await awaitOutput(brokers.get(id)!, /boot success/);
    } catch (error) {
      await chaos?.close();
      await stopNode(namesrv, 'SIGKILL');
      throw error;
    }
    const cluster = new RocketMQChaosCluster(chaos, namesrv, namesrvAddr, brokerAddrs, grpcAddrs, brokers, notableLines, dataSegmentBytes);
    namesrv.child.once('exit', (code, signal) => {
      if (!cluster.namesrvExitExpected) cluster.namesrvExits.push({ code, signal, outputTail: namesrv.output.slice(-4000) });
    });
    return cluster;
  }

  /** SIGTERM every broker at once (clean shutdown, files flushed); exit codes by member. */
  async stopBrokers(): Promise<Map<string, number | null>> {
    await this.chaos.stopAll('SIGTERM');
    return new Map([...this.brokers].map(([id, broker]) => [id, broker.child.exitCode]));
  }

  /** Every process by pid (brokers, then the name server); idempotent, never throws. */
  async close(): Promise<void> {
    await this.chaos.close();
    this.namesrvExitExpected = true;
    await stopNode(this.namesrv, 'SIGKILL').catch(() => undefined);
  }

  runningPids(): number[] {
    const namesrvRunning = this.namesrv.child.exitCode === null && this.namesrv.child.signalCode === null;
    return [...this.chaos.runningPids(), ...(namesrvRunning ? [this.namesrv.child.pid ?? -1] : [])];
  }
}
