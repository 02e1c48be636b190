// The scenario environment: a few RaftCores with in-memory storage and a hand-driven network,
// one command at a time, everything printed. Nothing happens unless a command says so: ticks,
// Ready handling, persistence and message delivery are separate steps, so a scenario can stop
// the world between any two of them (etcd's rafttest InteractionEnv, in one file).
//
// Commands (nodes are n1..nN):
//   add-nodes N [election=10 heartbeat=3 preVote=false checkQuorum=false leaseReads=false
//               maxInflight= maxSizePerMsg= maxUncommitted= snapshotChunk= transferTimeout=20
//               preferred=n2,n3 bug=commitPreviousTermEntries|grantVoteWithoutLogCheck]
//   campaign n                  start an election now
//   tick n [count]              tick n count times (default 1)
//   tick-election n             tick n up to its next election timeout (check-quorum on a leader)
//   tick-heartbeat n            tick n heartbeatTimeoutTicks times
//   propose n data...           propose one entry per word
//   process-ready [n...] [persist=false]
//                               take every Ready (all nodes by default), print it, send its
//                               messages; persist it at once unless persist=false, which holds
//                               the node's persistence until `persist n`
//   persist n [count]           persist held Readies in order, send what waited on them, apply
//   deliver-msgs [n... | a->b ...] [type=T]
//                               deliver queued messages to those nodes or over those links
//                               (all by default; cut links drop them)
//   drop-msgs [n... | a->b ...] [type=T]   drop queued messages likewise
//   stabilize                   process-ready and deliver-msgs until nothing moves
//   isolate n | partition a,b c,d | recover     cut links (partition replaces earlier cuts)
//   raft-log n | status n       print the log / role, progress and state machine
//   transfer-leadership n to | read-index n ctx | compact n index | restart n
//   lose-power n keep=K         restart n with only its persisted entries up to index K (commit
//                               capped at K): what flush async can leave after a power loss
import { assert } from '../../../src/util/assert.js';
import { Prng } from '../../../src/util/prng.js';
import {
  defaultRaftConfig,
  MemoryRaftStorage,
  RaftCore,
  type Message,
  type RaftConfig,
  type Ready,
} from '../../../src/raft/index.js';
import { parseCommand } from './datadriven.js';
import { formatEntry, formatMessage, formatReady } from './format.js';

interface ScenarioNode {
  readonly id: string;
  readonly config: RaftConfig;
  /** "The disk": only what was persisted; survives restart (lose-power replaces it with a prefix). */
  storage: MemoryRaftStorage;
  core: RaftCore;
  /** Readies taken but not yet persisted, oldest first. */
  unpersisted: Ready[];
  /** Set by `process-ready n persist=false`, cleared by `persist n`: readies wait for `persist`. */
  holdPersistence: boolean;
  /** The state machine: data of applied Normal entries, by index. */
  applied: Array<[number, string]>;
  restarts: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STABILIZE_MAX_ROUNDS = 1000;

export class ScenarioEnv {
  private readonly nodes = new Map<string, ScenarioNode>();
  private network: Message[] = [];
  private readonly blockedLinks = new Set<string>();
  private out: string[] = [];

  /** Runs one command and returns its transcript ('ok' when it printed nothing). */
  run(command: string): string {
    this.out = [];
    const { name, args, options } = parseCommand(command);
    switch (name) {
      case 'add-nodes':
        this.addNodes(Number(args[0]), options);
        break;
      case 'campaign':
        this.withNode(args[0], (n) => n.core.campaign());
        break;
      case 'tick':
        this.tick(args[0], Number(args[1] ?? '1'));
        break;
      case 'tick-election': {
        // Exactly up to the node's next election timeout: a campaign for a follower or
        // candidate, a check-quorum for a leader.
        const node = this.node(args[0]);
        const status = node.core.status();
        this.tick(node.id, status.electionDueTicks - status.electionElapsedTicks);
        break;
      }
      case 'tick-heartbeat': {
        const node = this.node(args[0]);
        this.tick(node.id, node.config.heartbeatTimeoutTicks);
        break;
      }
      case 'propose':
        this.propose(args);
        break;
      case 'process-ready':
        for (const id of this.targets(args)) {
          const node = this.node(id);
          if (options.get('persist') === 'false') node.holdPersistence = true;
          this.processReady(node);
        }
        break;
      case 'persist': {
        const node = this.node(args[0]);
        node.holdPersistence = false;
        this.persist(node, args[1] === undefined ? Infinity : Number(args[1]));
        break;
      }
      case 'deliver-msgs':
        this.deliver(this.messageFilter(args, options.get('type')));
        break;
      case 'drop-msgs':
        this.drop(this.messageFilter(args, options.get('type')));
        break;
      case 'stabilize':
        this.stabilize();
        break;
      case 'isolate':
        for (const other of this.nodes.keys()) if (other !== args[0]) this.blockBothWays(this.node(args[0]).id, other);
        break;
      case 'partition':
        this.partition(args);
        break;
      case 'recover':
        this.blockedLinks.clear();
        break;
      case 'raft-log':
        this.printLog(this.node(args[0]));
        break;
      case 'status':
        this.printStatus(this.node(args[0]));
        break;
      case 'transfer-leadership': {
        const target = args[1];
        assert(target !== undefined, 'transfer-leadership needs a target');
        // The target is passed through unchecked: refusing unknown peers is the core's job.
        const result = this.node(args[0]).core.transferLeadership(target);
        if (!result.ok) this.out.push(`refused: ${result.reason} (leader ${result.leaderId ?? '-'})`);
        this.check(args[0] as string);
        break;
      }
      case 'read-index': {
        const ctx = args[1];
        assert(ctx !== undefined, 'read-index needs a ctx');
        const result = this.node(args[0]).core.readIndex(ctx);
        if (!result.ok) this.out.push(`refused: ${result.reason} (leader ${result.leaderId ?? '-'})`);
        this.check(args[0] as string);
        break;
      }
      case 'compact':
        this.compact(this.node(args[0]), Number(args[1]));
        break;
      case 'restart':
        this.restart(this.node(args[0]));
        break;
      case 'lose-power':
        this.losePower(this.node(args[0]), Number(options.get('keep')));
        break;
      default:
        throw new Error(`unknown scenario command ${JSON.stringify(name)}`);
    }
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  }

  // ------------------------------------------------------------------ setup

  private addNodes(count: number, options: Map<string, string>): void {
    assert(this.nodes.size === 0, 'add-nodes may be used once per file');
    assert(Number.isInteger(count) && count > 0, 'add-nodes needs a count');
    const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    for (const id of ids) {
      const config = scenarioConfig(id, ids, options);
      const storage = new MemoryRaftStorage();
      const node: ScenarioNode = { id, config, storage, core: this.makeCore(id, config, storage, 0), unpersisted: [], holdPersistence: false, applied: [], restarts: 0 };
      this.nodes.set(id, node);
    }
  }

  private makeCore(id: string, config: RaftConfig, storage: MemoryRaftStorage, restarts: number): RaftCore {
    // A fixed seed per node and incarnation keeps randomized timeouts reproducible.
    const seed = Number(id.slice(1)) * 1000 + restarts;
    return new RaftCore(config, storage, new Prng(seed), { info: (line) => this.out.push(line) });
  }

  // ------------------------------------------------------------------ driving

  private tick(id: string | undefined, count: number): void {
    assert(Number.isSafeInteger(count) && count >= 0, `tick count must be a non-negative integer, got ${count}`);
    const node = this.node(id);
    for (let i = 0; i < count; i++) {
      node.core.tick();
      node.core.checkInvariants();
    }
  }

  private propose(args: string[]): void {
    const node = this.node(args[0]);
    const bodies = args.slice(1).map((text) => encoder.encode(text));
    const result = node.core.propose(bodies);
    if (result.ok) this.out.push(`proposed [${result.firstIndex}..${result.lastIndex}] at term ${result.term}`);
    else this.out.push(`refused: ${result.reason} (leader ${result.leaderId ?? '-'})`);
    node.core.checkInvariants();
  }

  /** Takes every pending Ready of the node; persists each at once unless persistence is held. */
  private processReady(node: ScenarioNode): boolean {
    let any = false;
    while (node.core.hasReady()) {
      any = true;
      const ready = node.core.ready();
      this.out.push(...formatReady(node.id, ready));
      this.network.push(...ready.messages);
      node.core.advance(ready);
      node.unpersisted.push(ready);
      if (!node.holdPersistence) this.persist(node, Infinity, false);
      node.core.checkInvariants();
    }
    return any;
  }

  /** Persists queued readies in order, then sends what waited on them and applies. */
  private persist(node: ScenarioNode, count: number, announce = true): void {
    let done = 0;
    while (done < count && node.unpersisted.length > 0) {
      const ready = node.unpersisted.shift() as Ready;
      node.storage.persistReady(ready);
      if (announce) this.out.push(`${node.id} persisted Ready ${ready.number}`);
      node.core.onPersisted(ready.number);
      this.network.push(...ready.messagesAfterPersist);
      this.apply(node, ready);
      node.core.checkInvariants();
      done++;
    }
  }

  private apply(node: ScenarioNode, ready: Ready): void {
    if (ready.snapshotToInstall !== null) {
      node.applied = JSON.parse(decoder.decode(ready.snapshotToInstall.data)) as Array<[number, string]>;
    }
    for (const entry of ready.committedEntries) {
      if (entry.type === 1) node.applied.push([entry.index, decoder.decode(entry.data)]);
    }
    const last = ready.committedEntries[ready.committedEntries.length - 1];
    if (last !== undefined) node.core.onApplied(last.index);
  }

  private deliver(filter: (m: Message) => boolean): boolean {
    const { picked, rest } = this.pick(filter);
    this.network = rest;
    for (const m of picked) {
      if (this.blockedLinks.has(`${m.from}->${m.to}`)) {
        this.out.push(`dropped ${formatMessage(m)}`);
        continue;
      }
      this.out.push(formatMessage(m));
      const node = this.node(m.to);
      node.core.step(m);
      node.core.checkInvariants();
    }
    return picked.length > 0;
  }

  private drop(filter: (m: Message) => boolean): void {
    const { picked, rest } = this.pick(filter);
    this.network = rest;
    for (const m of picked) this.out.push(`dropped ${formatMessage(m)}`);
  }

  /** Queued messages in order, split by the filter (FIFO order is kept on both sides). */
  private pick(filter: (m: Message) => boolean): { picked: Message[]; rest: Message[] } {
    const picked: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.network) (filter(m) ? picked : rest).push(m);
    return { picked, rest };
  }

  /**
   * Which queued messages a deliver/drop command means: arguments are recipients (`n2`) or
   * links (`n1->n2`); none means all. `type=Append` narrows further.
   */
  private messageFilter(args: string[], type: string | undefined): (m: Message) => boolean {
    const links = args.filter((arg) => arg.includes('->'));
    for (const link of links) for (const id of link.split('->')) this.node(id);
    const recipients = args.filter((arg) => !arg.includes('->')).map((id) => this.node(id).id);
    const all = args.length === 0;
    return (m) =>
      (all || recipients.includes(m.to) || links.includes(`${m.from}->${m.to}`)) && (type === undefined || m.type === type);
  }

  private stabilize(): void {
    for (let round = 0; round < STABILIZE_MAX_ROUNDS; round++) {
      let busy = false;
      for (const node of this.nodes.values()) busy = this.processReady(node) || busy;
      busy = this.deliver(() => true) || busy;
      if (!busy) return;
    }
    throw new Error(`stabilize did not settle within ${STABILIZE_MAX_ROUNDS} rounds`);
  }

  /** Replaces any earlier partition: only links between different groups are cut. */
  private partition(groups: string[]): void {
    this.blockedLinks.clear();
    const sets = groups.map((g) => g.split(',').map((id) => this.node(id).id));
    for (let i = 0; i < sets.length; i++) {
      for (let j = i + 1; j < sets.length; j++) {
        for (const a of sets[i] as string[]) for (const b of sets[j] as string[]) this.blockBothWays(a, b);
      }
    }
  }

  private blockBothWays(a: string, b: string): void {
    this.blockedLinks.add(`${a}->${b}`);
    this.blockedLinks.add(`${b}->${a}`);
  }

  private compact(node: ScenarioNode, index: number): void {
    const status = node.core.status();
    assert(index <= status.appliedIndex, `compact ${index} past applied ${status.appliedIndex}`);
    const state = node.applied.filter(([i]) => i <= index);
    const meta = node.storage.compact(index, encoder.encode(JSON.stringify(state)));
    this.out.push(`${node.id} compacted to (${meta.index},${meta.term}), snapshot ${meta.sizeBytes} bytes`);
  }

  /** A crash: unpersisted readies (and everything only in memory) are lost. */
  private restart(node: ScenarioNode): void {
    const lost = node.unpersisted.length;
    node.unpersisted = [];
    node.holdPersistence = false;
    node.restarts++;
    node.core = this.makeCore(node.id, node.config, node.storage, node.restarts);
    const snapshot = node.storage.snapshotMeta();
    node.applied = snapshot === null ? [] : (JSON.parse(decoder.decode(node.storage.snapshotChunk(0, snapshot.sizeBytes).data)) as Array<[number, string]>);
    this.out.push(`${node.id} restarted (lost ${lost} unpersisted ${lost === 1 ? 'Ready' : 'Readies'})`);
    node.core.checkInvariants();
  }

  /**
   * A power loss under flush async: the disk keeps a prefix of what the node had persisted (and
   * acknowledged), up to index keep; the hard state's commit index is capped to match.
   */
  private losePower(node: ScenarioNode, keep: number): void {
    const old = node.storage;
    assert(Number.isSafeInteger(keep) && keep >= old.firstIndex() - 1 && keep <= old.lastIndex(), `lose-power keep=${keep} outside the persisted log`);
    assert(old.snapshotMeta() === null, 'lose-power on a compacted log is not modelled');
    const storage = new MemoryRaftStorage();
    storage.append(old.entries(old.firstIndex(), keep + 1, Number.MAX_SAFE_INTEGER));
    const hardState = old.initialHardState();
    storage.setHardState({ ...hardState, commitIndex: Math.min(hardState.commitIndex, keep) });
    node.storage = storage;
    this.out.push(`${node.id} lost power: entries after ${keep} dropped (had up to ${old.lastIndex()})`);
    this.restart(node);
  }

  // ------------------------------------------------------------------ printing

  private printLog(node: ScenarioNode): void {
    const status = node.core.status();
    const entries = node.core.logEntries(status.firstIndex, status.lastIndex + 1);
    this.out.push(`first=${status.firstIndex} last=${status.lastIndex} commit=${status.commitIndex} applied=${status.appliedIndex}`);
    if (entries.length === 0) this.out.push('(no entries)');
    for (const entry of entries) this.out.push(formatEntry(entry));
  }

  private printStatus(node: ScenarioNode): void {
    const s = node.core.status();
    this.out.push(
      `${s.id} ${s.role} term=${s.term} vote=${s.votedFor ?? '-'} leader=${s.leaderId ?? '-'} last=(${s.lastIndex},${s.lastTerm}) commit=${s.commitIndex} applied=${s.appliedIndex}${s.leadTransferee === null ? '' : ` transferee=${s.leadTransferee}`}`,
    );
    for (const [id, pr] of s.progress) {
      this.out.push(`  ${id}: match=${pr.match} next=${pr.next} ${pr.state} inflight=${pr.inflightMsgs}/${pr.inflightBytes}B${pr.recentActive ? ' active' : ''}`);
    }
    this.out.push(`  state machine: ${JSON.stringify(node.applied.map(([, data]) => data))}`);
  }

  // ------------------------------------------------------------------ helpers

  private node(id: string | undefined): ScenarioNode {
    const node = id === undefined ? undefined : this.nodes.get(id);
    if (node === undefined) throw new Error(`unknown node ${JSON.stringify(id)}`);
    return node;
  }

  private withNode(id: string | undefined, action: (node: ScenarioNode) => void): void {
    const node = this.node(id);
    action(node);
    node.core.checkInvariants();
  }

  private check(id: string): void {
    this.node(id).core.checkInvariants();
  }

  private targets(args: string[]): string[] {
    return args.length === 0 ? [...this.nodes.keys()] : args.map((id) => this.node(id).id);
  }
}

function scenarioConfig(id: string, ids: string[], options: Map<string, string>): RaftConfig {
  const number = (key: string, fallback: number): number => {
    const value = options.get(key);
    return value === undefined ? fallback : Number(value);
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = options.get(key);
    return value === undefined ? fallback : value === 'true';
  };
  const bug = options.get('bug');
  const preferred = options.get('preferred');
  return {
    ...defaultRaftConfig(id, ids),
    electionTimeoutTicks: number('election', 10),
    heartbeatTimeoutTicks: number('heartbeat', 3),
    preVote: flag('preVote', false),
    checkQuorum: flag('checkQuorum', false),
    leaseReads: flag('leaseReads', false),
    maxInflightMsgs: number('maxInflight', 256),
    maxSizePerMsgBytes: number('maxSizePerMsg', 1024 * 1024),
    maxUncommittedEntriesBytes: number('maxUncommitted', 64 * 1024 * 1024),
    snapshotChunkBytes: number('snapshotChunk', 1024 * 1024),
    transferTimeoutTicks: number('transferTimeout', 20),
    preferredLeaderIds: preferred === undefined ? [] : preferred.split(','),
    ...(bug === undefined ? {} : { testingBugs: { [bug]: true }, allowTestingBugs: true }),
  };
}
