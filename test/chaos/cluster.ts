// Goal: a 3-member DLedger group of real `dledger server` processes whose every directed peer
// link goes through a LinkProxy, with the fault operations a campaign needs: SIGKILL and restart
// from the same directories, SIGSTOP/SIGCONT pauses, and partitions made from proxy faults
// (isolate a member, isolate the leader, halves, asymmetric i→j, the majorities ring), and, with
// faultJournal, power loss (SIGKILL, then the files lose what was never flushed: power-loss-disk.ts)
// and a slow disk (every flush of one member delayed).
// Method: member i's --peers string lists its own real port and, for every j ≠ i, the port of the
// proxy i→j, which forwards to j's real port. Clients talk to the real ports directly (a client
// sits "next to" every member, as in Jepsen). close() stops every process it started by pid
// (SIGCONT then SIGKILL) and every proxy, and is safe to call twice and after failures.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DLedgerClient } from '../../src/client/client.js';
import { FAULT_JOURNAL_ENV, faultJournalDirOf, SLOW_DISK_CONTROL_FILE } from '../../src/store/index.js';
import { freePorts, startNode, stopNode, type NodeProcess } from '../cluster/helpers.js';
import { isDiskFullStop, SmallDisk } from './disk-fill.js';
import { losePower, type PowerLossReport, type TailFate } from './power-loss-disk.js';
import { LinkProxy, PASS, type LinkFault } from './proxy.js';
import { testSecretFile } from '../util/peer-secret.js';

/**
 * Segment sizes of chaos members: small enough that a power loss rewrites whole files cheaply and
 * a campaign rolls over many segments (BLANK fillers, creation ahead of need), unlike DLedger's
 * 1 GiB default.
 */
export const CHAOS_SEGMENTS = { dataSegmentSizeBytes: 1024 * 1024, indexSegmentSizeBytes: 32 * 8192 } as const;
/** Client values are a few bytes; a body must fit in a data segment. */
const CHAOS_MAX_ENTRY_BODY_BYTES = 64 * 1024;

export interface ChaosClusterOptions {
  readonly group: string;
  readonly baseDir: string;
  readonly size?: number;
  readonly flush?: 'sync' | 'async';
  /** flushFileInterval under flush async (DLedger's key; the node's default is 10 ms). */
  readonly flushIntervalMs?: number;
  /** Segment sizes of every member (the same in the whole group); default CHAOS_SEGMENTS. */
  readonly segments?: { readonly dataSegmentSizeBytes: number; readonly indexSegmentSizeBytes: number };
  /** Put every member's node directory on its own tmpfs of this size, so fillDisk() works (root). */
  readonly smallDiskBytes?: number;
  /** More lines for every member's config file (key=value). */
  readonly extraConfig?: readonly string[];
  /** Run members with DLEDGER_FAULT_JOURNAL so that powerLoss() and slowDisk() work. */
  readonly faultJournal?: boolean;
  /** Start member `id` (with this --peers string) as something else than `dledger server`: the RocketMQ campaign runs brokers. */
  readonly spawnMember?: (id: string, peers: string) => NodeProcess;
  /**
   * Member `id`'s own status, when its peer port is not to be asked with a DLedgerClient (a
   * broker's group refuses client connections; the RocketMQ campaign asks the broker's remoting).
   */
  readonly statusOf?: (id: string, timeoutMs: number) => Promise<Omit<MemberStatus, 'id'>>;
  readonly log?: (line: string) => void;
}

export interface MemberStatus {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
}

export class ChaosCluster {
  readonly ids: string[];
  readonly realPeers: string;
  private readonly realPorts: number[];
  private readonly memberPeers: string[];
  private readonly proxies = new Map<string, LinkProxy>();
  private readonly nodes = new Map<string, NodeProcess>();
  private readonly paused = new Set<string>();
  /** Children this harness is stopping on purpose; any other exit is a crash worth reporting. */
  private readonly expectedExits = new WeakSet<NodeProcess>();
  readonly unexpectedExits: { id: string; pid: number | undefined; code: number | null; signal: string | null; outputTail: string }[] = [];
  /** Every pid this cluster ever started, so close() can prove none is left. */
  readonly startedPids: number[] = [];
  private readonly everStarted: NodeProcess[] = [];
  private closed = false;
  readonly segments: { readonly dataSegmentSizeBytes: number; readonly indexSegmentSizeBytes: number };
  /** The members' --config file (segment sizes, flush interval). */
  readonly configPath: string;
  private readonly disks = new Map<string, SmallDisk>();
  /** Members that stopped themselves (exit 3) while their disk was full: expected, not crashes. */
  readonly diskFullStops: { id: string; pid: number | undefined; lastLine: string }[] = [];
  /** performance.now() when the members of the last powerLoss() had all died. */
  lastPowerLossAtMs = Number.NaN;
  /** DLEDGER_FAULT_JOURNAL of every member, or null without faultJournal. */
  readonly journalRoot: string | null;

  private constructor(
    readonly options: ChaosClusterOptions,
    ports: number[],
    proxyPorts: number[],
  ) {
    const size = options.size ?? 3;
    fs.mkdirSync(options.baseDir, { recursive: true });
    this.configPath = path.join(options.baseDir, 'chaos-member.conf');
    this.segments = options.segments ?? CHAOS_SEGMENTS;
    const config = [
      `mappedFileSizeForEntryData=${this.segments.dataSegmentSizeBytes}`,
      `mappedFileSizeForEntryIndex=${this.segments.indexSegmentSizeBytes}`,
      `maxEntryBodyBytes=${Math.min(CHAOS_MAX_ENTRY_BODY_BYTES, this.segments.dataSegmentSizeBytes / 4)}`,
      ...(options.flushIntervalMs !== undefined ? [`flushFileInterval=${options.flushIntervalMs}`] : []),
      ...(options.extraConfig ?? []),
    ];
    fs.writeFileSync(this.configPath, `${config.join('\n')}\n`);
    this.journalRoot = options.faultJournal === true ? path.join(options.baseDir, 'fault-journal') : null;
    this.ids = Array.from({ length: size }, (_, i) => `n${i}`);
    this.realPorts = ports;
    this.realPeers = this.ids.map((id, i) => `${id}-127.0.0.1:${ports[i]}`).join(';');
    let next = 0;
    this.memberPeers = this.ids.map((_, i) =>
      this.ids
        .map((id, j) => {
          if (i === j) return `${id}-127.0.0.1:${ports[j]}`;
          const proxyPort = proxyPorts[next++]!;
          this.proxies.set(`${i}>${j}`, new LinkProxy(`n${i}->n${j}`, proxyPort, ports[j]!));
          return `${id}-127.0.0.1:${proxyPort}`;
        })
        .join(';'),
    );
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const size = options.size ?? 3;
    const ports = await freePorts(size + size * (size - 1));
    const cluster = new ChaosCluster(options, ports.slice(0, size), ports.slice(size));
    try {
      if (options.smallDiskBytes !== undefined) for (const id of cluster.ids) cluster.disks.set(id, SmallDisk.mountAt(cluster.nodeDir(id), options.smallDiskBytes));
      for (const proxy of cluster.proxies.values()) await proxy.start();
      for (const id of cluster.ids) cluster.spawn(id);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private spawn(id: string): void {
    const i = this.ids.indexOf(id);
    const extra = ['--config', this.configPath, ...(this.options.flush !== undefined ? ['--flush', this.options.flush] : [])];
    // The child inherits the environment at spawn time; set the journal variable for that moment only.
    const saved = process.env[FAULT_JOURNAL_ENV];
    if (this.journalRoot !== null) process.env[FAULT_JOURNAL_ENV] = this.journalRoot;
    let node: NodeProcess;
    try {
      node = this.options.spawnMember?.(id, this.memberPeers[i]!) ?? startNode(id, this.options.group, this.memberPeers[i]!, this.options.baseDir, extra);
    } finally {
      if (saved === undefined) delete process.env[FAULT_JOURNAL_ENV];
      else process.env[FAULT_JOURNAL_ENV] = saved;
    }
    if (node.child.pid !== undefined) this.startedPids.push(node.child.pid);
    this.nodes.set(id, node);
    this.everStarted.push(node);
    node.child.once('exit', (code, signal) => {
      if (this.expectedExits.has(node)) return;
      const disk = this.disks.get(id);
      const fatalLine = node.output.trim().split('\n').filter((l) => l.includes('FATAL')).at(-1) ?? '';
      if (disk !== undefined && isDiskFullStop({ code, fatalLine, diskFull: disk.isFull, msSinceFreed: disk.msSinceFreed() })) {
        this.diskFullStops.push({ id, pid: node.child.pid, lastLine: fatalLine });
        this.log(`${id} stopped on its full disk (exit 3)${disk.isFull ? '' : `, ${Math.round(disk.msSinceFreed())} ms after the disk was freed`}`);
        return;
      }
      this.unexpectedExits.push({ id, pid: node.child.pid, code, signal, outputTail: node.output.slice(-4000) });
      this.log(`UNEXPECTED EXIT of ${id} (pid ${node.child.pid}): code ${code} signal ${signal}\n${node.output.slice(-2000)}`);
    });
  }

  nodeDir(id: string): string {
    return path.join(this.options.baseDir, `dledger-${id}`);
  }

  isRunning(id: string): boolean {
    const child = this.nodes.get(id)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  output(id: string): string {
    return this.nodes.get(id)?.output ?? '';
  }

  /** The output of every process this member ran (restarts included), oldest first. */
  outputsOf(id: string): string[] {
    return this.everStarted.filter((node) => node.id === id).map((node) => node.output);
  }

  /** SIGKILL (no flush, no close) and wait for the exit. */
  async kill(id: string): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined || !this.isRunning(id)) return;
    this.log(`kill -9 ${id} (pid ${node.child.pid})`);
    this.paused.delete(id);
    this.expectedExits.add(node);
    await stopNode(node, 'SIGKILL');
  }

  /**
   * Power loss of these members at once: SIGKILL all, then each one's files lose what was never
   * flushed (seeded fates, see power-loss-disk.ts). They stay down until restart()/healAll().
   */
  async powerLoss(ids: readonly string[], random: () => number, fates?: readonly TailFate[]): Promise<PowerLossReport[]> {
    const journalRoot = this.journalRoot;
    if (journalRoot === null) throw new Error('powerLoss needs a cluster started with faultJournal');
    this.log(`power loss of ${ids.join(',')}`);
    await Promise.all(ids.map((id) => this.kill(id)));
    this.lastPowerLossAtMs = performance.now();
    return ids.map((id) => losePower(this.nodeDir(id), journalRoot, random, fates));
  }

  /** Take every free byte of member `id`'s disk (needs smallDiskBytes); returns the bytes taken. */
  fillDisk(id: string): number {
    const disk = this.disks.get(id);
    if (disk === undefined) throw new Error('fillDisk needs a cluster started with smallDiskBytes');
    const bytes = disk.fill();
    this.log(`disk of ${id} full (${bytes} bytes taken)`);
    return bytes;
  }

  /** Every flush of member `id` takes `delayMs` longer (0: a normal disk again). */
  slowDisk(id: string, delayMs: number): void {
    if (this.journalRoot === null) throw new Error('slowDisk needs a cluster started with faultJournal');
    if (delayMs > 0) this.log(`slow disk on ${id}: +${delayMs} ms per flush`);
    const dir = faultJournalDirOf(this.journalRoot, this.nodeDir(id));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, SLOW_DISK_CONTROL_FILE), `${delayMs}\n`);
  }

  /** Start a stopped member again from the same directories. */
  restart(id: string): void {
    if (this.isRunning(id)) return;
    this.spawn(id);
    this.log(`restart ${id} (pid ${this.nodes.get(id)!.child.pid})`);
  }

  pause(id: string): void {
    const node = this.nodes.get(id);
    if (node === undefined || !this.isRunning(id) || this.paused.has(id)) return;
    this.log(`SIGSTOP ${id}`);
    node.child.kill('SIGSTOP');
    this.paused.add(id);
  }

  resume(id: string): void {
    const node = this.nodes.get(id);
    if (node === undefined || !this.paused.has(id)) return;
    this.log(`SIGCONT ${id}`);
    node.child.kill('SIGCONT');
    this.paused.delete(id);
  }

  /** Set the fault on the directed link from → to. */
  setLink(from: string, to: string, fault: LinkFault): void {
    const proxy = this.proxies.get(`${this.ids.indexOf(from)}>${this.ids.indexOf(to)}`);
    if (proxy === undefined) throw new Error(`no link ${from} -> ${to}`);
    proxy.setFault(fault);
  }

  /** Cut every link between the two sides, both directions. */
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

  /**
   * The majorities ring: members in `ring` order reach only their two neighbours (both directions),
   * every other link is cut; with 5 members each one sees a majority, a different one each.
   */
  ring(ring: readonly string[]): void {
    this.log(`ring ${ring.join('-')}`);
    const n = ring.length;
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) {
      if (a === b) continue;
      const neighbours = (b - a + n) % n === 1 || (a - b + n) % n === 1;
      this.setLink(ring[a]!, ring[b]!, neighbours ? PASS : { kind: 'cut' });
    }
  }

  /** Only messages from → to are lost; to → from still flows. */
  asymmetric(from: string, to: string, fault: LinkFault = { kind: 'cut' }): void {
    this.log(`asymmetric ${from} -> ${to} (${fault.kind}), ${to} -> ${from} open`);
    this.setLink(from, to, fault);
  }

  healLinks(): void {
    for (const proxy of this.proxies.values()) proxy.setFault(PASS);
  }

  /** Links pass, disks are fast, paused members continue, stopped members restart. */
  healAll(): void {
    this.healLinks();
    if (this.journalRoot !== null) for (const id of this.ids) this.slowDisk(id, 0);
    for (const disk of this.disks.values()) disk.free();
    for (const id of [...this.paused]) this.resume(id);
    for (const id of this.ids) if (!this.isRunning(id)) this.restart(id);
    this.log('heal all');
  }

  /** Each running, unpaused member's own view (asked directly, one connection each). */
  async statuses(timeoutMs = 1000): Promise<MemberStatus[]> {
    const out: MemberStatus[] = [];
    await Promise.all(this.ids.map(async (id, i) => {
      if (!this.isRunning(id) || this.paused.has(id)) return;
      if (this.options.statusOf !== undefined) {
        try {
          out.push({ id, ...(await this.options.statusOf(id, timeoutMs)) });
        } catch {
          // unreachable now
        }
        return;
      }
      const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: this.options.group, peers: `${id}-127.0.0.1:${this.realPorts[i]}`, retryTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs });
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

  /** SIGTERM every member (clean shutdown) and wait; those that do not exit in time are killed. */
  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    for (const id of [...this.paused]) this.resume(id);
    for (const node of this.nodes.values()) this.expectedExits.add(node);
    await Promise.all([...this.nodes.values()].map((node) => stopNode(node, signal)));
  }

  /** Stop everything by pid; idempotent, never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const node of this.nodes.values()) {
      this.expectedExits.add(node);
      try {
        if (node.child.exitCode === null && node.child.signalCode === null) {
          node.child.kill('SIGCONT');
          await stopNode(node, 'SIGKILL');
        }
      } catch {
        // already gone
      }
    }
    for (const proxy of this.proxies.values()) await proxy.close().catch(() => undefined);
    for (const disk of this.disks.values()) disk.dispose();
  }

  /** Pids of children this cluster started that have not exited (empty after close()). */
  runningPids(): number[] {
    return this.everStarted.filter((n) => n.child.exitCode === null && n.child.signalCode === null).map((n) => n.child.pid ?? -1);
  }

  removeData(): void {
    fs.rmSync(this.options.baseDir, { recursive: true, force: true });
  }
}
