// Goal: RocketMQ-on-DLedger under faults — a name server and the 3 brokers of one DLedger group as
// real processes (`sh bin/mqnamesrv -n PORT`, `sh bin/mqbroker -c CONF`), every directed DLedger
// peer link i→j through a LinkProxy, so partitions, drops and delays hit the Raft traffic, plus
// SIGKILL/restart and SIGSTOP/SIGCONT of whole broker processes.
// Method: as ChaosCluster (cluster.ts) does for `dledger server`: member i's conf lists its own
// real peer port and, for every j ≠ i, the port of proxy i→j. Client traffic (producers,
// consumers, the name server) is not proxied; a paused or killed broker is unreachable to clients
// too. The DLedger view of each member (role, term, commit index) is read with DLedgerClient on its
// real peer port, which the broker's embedded DLedgerServer answers like `dledger server`.
// close() stops every process it started by pid (SIGCONT, then SIGKILL) and every proxy; it is
// idempotent and never throws.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DLedgerClient } from '../../src/client/client.js';
import { CLI, stopNode, type NodeProcess } from '../cluster/helpers.js';
import { freePorts } from '../quickstart/helpers.js';
import type { MemberStatus } from './cluster.js';
import { LinkProxy, PASS, type LinkFault } from './proxy.js';

export const ROCKETMQ_CLUSTER_NAME = 'RaftCluster';
export const ROCKETMQ_BROKER_NAME = 'RaftNode00';
/** Data segments of 1 MiB (the broker's mappedFileSizeCommitLog): a run rolls over several files. */
export const ROCKETMQ_DATA_SEGMENT_BYTES = 1024 * 1024;
/** The DLedger default index segment (the broker conf has no key for it). */
export const ROCKETMQ_INDEX_SEGMENT_BYTES = 32 * 5 * 1024 * 1024;
const BOOT_TIMEOUT_MS = 30_000;
/** The package root (bin/ lives there), found the same way from test/ under tap and from dist/test/. */
const ROOT = path.dirname(path.dirname(CLI));

export interface RocketMQChaosClusterOptions {
  readonly baseDir: string;
  readonly flushDiskType?: 'ASYNC_FLUSH' | 'SYNC_FLUSH';
  readonly log?: (line: string) => void;
}

export class RocketMQChaosCluster {
  readonly ids = ['n0', 'n1', 'n2'] as const;
  readonly namesrvAddr: string;
  /** brokerIP1:listenPort of each member (what the name server and msgIds carry). */
  readonly brokerAddrs: ReadonlyMap<string, string>;
  private readonly realPeerPorts: number[];
  private readonly proxies = new Map<string, LinkProxy>();
  private readonly brokers = new Map<string, NodeProcess>();
  private namesrv: NodeProcess | null = null;
  private readonly paused = new Set<string>();
  private readonly expectedExits = new WeakSet<NodeProcess>();
  readonly unexpectedExits: { id: string; pid: number | undefined; code: number | null; signal: string | null; outputTail: string }[] = [];
  private readonly everStarted: NodeProcess[] = [];
  private closed = false;

  private constructor(readonly options: RocketMQChaosClusterOptions, private readonly namesrvPort: number, clientPorts: number[], peerPorts: number[], proxyPorts: number[]) {
    fs.mkdirSync(options.baseDir, { recursive: true });
    this.namesrvAddr = `127.0.0.1:${namesrvPort}`;
    this.realPeerPorts = peerPorts;
    this.brokerAddrs = new Map(this.ids.map((id, i) => [id, `127.0.0.1:${clientPorts[i]}`]));
    let next = 0;
    for (const [i, id] of this.ids.entries()) {
      const peers = this.ids.map((other, j) => {
        if (i === j) return `${other}-127.0.0.1:${peerPorts[j]}`;
        const proxyPort = proxyPorts[next++]!;
        this.proxies.set(`${id}>${other}`, new LinkProxy(`${id}->${other}`, proxyPort, peerPorts[j]!));
        return `${other}-127.0.0.1:${proxyPort}`;
      }).join(';');
      const store = this.storeRoot(id);
      fs.writeFileSync(this.confPath(id), [
        `brokerClusterName=${ROCKETMQ_CLUSTER_NAME}`,
        `brokerName=${ROCKETMQ_BROKER_NAME}`,
        `listenPort=${clientPorts[i]}`,
        `namesrvAddr=${this.namesrvAddr}`,
        'brokerIP1=127.0.0.1',
        `storePathRootDir=${store}`,
        `storePathCommitLog=${store}/commitlog`,
        'enableDLegerCommitLog=true',
        `dLegerGroup=${ROCKETMQ_BROKER_NAME}`,
        `dLegerPeers=${peers}`,
        `dLegerSelfId=${id}`,
        `mappedFileSizeCommitLog=${ROCKETMQ_DATA_SEGMENT_BYTES}`,
        // Small segments need a small largest message (the bodies here are ~10 bytes).
        'maxMessageSize=65536',
        `flushDiskType=${options.flushDiskType ?? 'ASYNC_FLUSH'}`,
        // Re-register every second so the name server's view heals quickly after a pause.
        'registerNameServerPeriod=1000',
        '',
      ].join('\n'));
    }
  }

  /** Name server, proxies and three brokers; resolves once every broker printed its boot line. */
  static async start(options: RocketMQChaosClusterOptions): Promise<RocketMQChaosCluster> {
    const ports = await freePorts(1 + 3 + 3 + 6);
    const cluster = new RocketMQChaosCluster(options, ports[0]!, ports.slice(1, 4), ports.slice(4, 7), ports.slice(7));
    try {
      for (const proxy of cluster.proxies.values()) await proxy.start();
      cluster.namesrv = cluster.launch('namesrv', 'bin/mqnamesrv', ['-n', String(cluster.namesrvPort)]);
      await cluster.awaitOutput(cluster.namesrv, /The Name Server boot success/);
      for (const id of cluster.ids) cluster.spawnBroker(id);
      // All members first, then wait: a broker finishes booting once its group can elect.
      for (const id of cluster.ids) await cluster.awaitOutput(cluster.brokers.get(id)!, /boot success/);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  confPath(id: string): string {
    return path.join(this.options.baseDir, `broker-${id}.conf`);
  }

  storeRoot(id: string): string {
    return path.join(this.options.baseDir, `store-${id}`);
  }

  /** The broker's DLedger directory ({storePathRootDir}/dledger-{selfId}). */
  nodeDir(id: string): string {
    return path.join(this.storeRoot(id), `dledger-${id}`);
  }

  /** The member whose client port is in `addr` (host:port), or null. */
  idOfAddr(addr: string): string | null {
    return [...this.brokerAddrs].find(([, a]) => a === addr)?.[0] ?? null;
  }

  private launch(id: string, script: string, args: readonly string[]): NodeProcess {
    // The launchers exec node, so the pid is the broker's own.
    const child = spawn('sh', [path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const node: NodeProcess = { id, child, output: '' };
    const keep = (d: Buffer): void => {
      node.output += d.toString();
      if (node.output.length > 200_000) node.output = node.output.slice(-100_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.everStarted.push(node);
    child.once('exit', (code, signal) => {
      if (this.expectedExits.has(node)) return;
      this.unexpectedExits.push({ id, pid: child.pid, code, signal, outputTail: node.output.slice(-4000) });
      this.log(`UNEXPECTED EXIT of ${id} (pid ${child.pid}): code ${code} signal ${signal}\n${node.output.slice(-2000)}`);
    });
    return node;
  }

  private async awaitOutput(node: NodeProcess, pattern: RegExp): Promise<void> {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (!pattern.test(node.output)) {
      if (node.child.exitCode !== null || node.child.signalCode !== null) throw new Error(`${node.id} exited during start-up:\n${node.output.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${node.id} printed no ${pattern} within ${BOOT_TIMEOUT_MS} ms:\n${node.output.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private spawnBroker(id: string): void {
    this.brokers.set(id, this.launch(id, 'bin/mqbroker', ['-c', this.confPath(id)]));
  }

  isRunning(id: string): boolean {
    const child = this.brokers.get(id)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  output(id: string): string {
    return this.brokers.get(id)?.output ?? '';
  }

  async kill(id: string): Promise<void> {
    const node = this.brokers.get(id);
    if (node === undefined || !this.isRunning(id)) return;
    this.log(`kill -9 ${id} (pid ${node.child.pid})`);
    this.paused.delete(id);
    this.expectedExits.add(node);
    await stopNode(node, 'SIGKILL');
  }

  restart(id: string): void {
    if (this.isRunning(id)) return;
    this.spawnBroker(id);
    this.log(`restart ${id} (pid ${this.brokers.get(id)!.child.pid})`);
  }

  pause(id: string): void {
    const node = this.brokers.get(id);
    if (node === undefined || !this.isRunning(id) || this.paused.has(id)) return;
    this.log(`SIGSTOP ${id}`);
    node.child.kill('SIGSTOP');
    this.paused.add(id);
  }

  resume(id: string): void {
    const node = this.brokers.get(id);
    if (node === undefined || !this.paused.delete(id)) return;
    this.log(`SIGCONT ${id}`);
    node.child.kill('SIGCONT');
  }

  setLink(from: string, to: string, fault: LinkFault): void {
    const proxy = this.proxies.get(`${from}>${to}`);
    if (proxy === undefined) throw new Error(`no link ${from} -> ${to}`);
    proxy.setFault(fault);
  }

  partition(sideA: readonly string[], sideB: readonly string[], fault: LinkFault = { kind: 'cut' }): void {
    this.log(`partition [${sideA.join(',')}] | [${sideB.join(',')}] (${fault.kind})`);
    for (const a of sideA) for (const b of sideB) {
      this.setLink(a, b, fault);
      this.setLink(b, a, fault);
    }
  }

  isolate(id: string, fault: LinkFault = { kind: 'cut' }): void {
    this.partition([id], this.ids.filter((other) => other !== id), fault);
  }

  /** Links pass, paused brokers continue, stopped brokers restart. */
  healAll(): void {
    for (const proxy of this.proxies.values()) proxy.setFault(PASS);
    for (const id of [...this.paused]) this.resume(id);
    for (const id of this.ids) if (!this.isRunning(id)) this.restart(id);
    this.log('heal all');
  }

  /** Each running, unpaused member's DLedger view. */
  async statuses(timeoutMs = 1000): Promise<MemberStatus[]> {
    const out: MemberStatus[] = [];
    await Promise.all(this.ids.map(async (id, i) => {
      if (!this.isRunning(id) || this.paused.has(id)) return;
      const client = new DLedgerClient({ group: ROCKETMQ_BROKER_NAME, peers: `${id}-127.0.0.1:${this.realPeerPorts[i]}`, retryTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs });
      try {
        const m = await client.metadata();
        out.push({ id, role: m.role, term: m.term, leaderId: m.leaderId, commitIndex: m.commitIndex });
      } catch {
        // unreachable now
      } finally {
        client.close();
      }
    }));
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The member that claims leadership with the highest term, if any answers. */
  async leader(): Promise<string | null> {
    const leaders = (await this.statuses()).filter((s) => s.leaderId === s.id);
    leaders.sort((a, b) => b.term - a.term);
    return leaders[0]?.id ?? null;
  }

  proxyStats(): Record<string, LinkProxy['stats']> {
    return Object.fromEntries([...this.proxies.values()].map((p) => [p.name, { ...p.stats }]));
  }

  /** SIGTERM every broker at once (clean shutdown, files flushed); KILL after stopNode's grace. */
  async stopBrokers(): Promise<Map<string, number | null>> {
    for (const id of [...this.paused]) this.resume(id);
    for (const node of this.brokers.values()) this.expectedExits.add(node);
    const codes = await Promise.all([...this.brokers.values()].map(async (node) => [node.id, await stopNode(node, 'SIGTERM')] as const));
    return new Map(codes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const node of this.everStarted) {
      this.expectedExits.add(node);
      if (node.child.exitCode !== null || node.child.signalCode !== null) continue;
      try {
        node.child.kill('SIGCONT');
        await stopNode(node, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const proxy of this.proxies.values()) await proxy.close().catch(() => undefined);
  }

  /** Pids this cluster started that have not exited (empty after close()). */
  runningPids(): number[] {
    return this.everStarted.filter((n) => n.child.exitCode === null && n.child.signalCode === null).map((n) => n.child.pid ?? -1);
  }

  removeData(): void {
    fs.rmSync(this.options.baseDir, { recursive: true, force: true });
  }
}
