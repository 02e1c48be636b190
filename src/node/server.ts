// DLedgerServer: one peer of a DLedger group, usable in-process as a storage engine. It joins the
// pure Raft core (src/raft), the commit-log store (src/store) and the peer transport, and drives
// them on this thread: ticks from a timer, messages from sockets, Readies processed once per
// event-loop turn so that every append arriving in one turn shares one store write, one msync and
// one peer frame (group commit at every hop).
//
// Append path as built: append() -> core.propose -> Ready: entries written into the mmap'd
// segment, sent to followers in the same turn; whenDurable (one msync) -> onPersisted; follower
// acks -> commit -> committedEntries applied in order -> the append's promise resolves.
import { randomInt } from 'node:crypto';
import path from 'node:path';
import type net from 'node:net';
import { CommittedEntryConflictError } from '../raft/committed-conflict.js';
import { RaftCore } from '../raft/core.js';
import { defaultRaftConfig } from '../raft/config.js';
import type { Entry, Message, RaftConfig, RaftStatus, Ready, RefusalReason, Role } from '../raft/types.js';
import { EntryType } from '../raft/types.js';
import { openLogStore } from '../store/open.js';
import { StoreTruncatedError } from '../store/errors.js';
import type { LogStore, RetainedRange } from '../store/types.js';
import { assert } from '../util/assert.js';
import { Prng } from '../util/prng.js';
import { type DLedgerNodeConfig, PEER_FRAME_MAX_BYTES, raftTimingTicks } from './config.js';
import { type AppendedInfo, type ClientRequest, type ClientResponse, type Metadata, requestProblem, ResponseCode } from './client-protocol.js';
import { LogRaftStorage } from './log-raft-storage.js';
import { describeStall, LoopStallDetector } from './loop-stall.js';
import { type ClientSession, PeerTransport } from './peer-transport.js';
import { DEFAULT_HELLO_TIMEOUT_MS, loadNodeSecrets } from './peer-auth.js';
import { parseWireMessage, wireMessage } from './raft-message-wire.js';
import { resolveRaftWorker, resolveStorageWorkerWrites, resolveThreads, type ThreadsResolution } from './threads-mode.js';
import { DiskFullHandover } from './disk-full-handover.js';
import { RetentionService, retentionKeepFromIndex, type RetentionHooks, type RetentionStats } from './retention-service.js';
import type { RetentionSettings } from './retention-settings.js';
import { StorageWorker, writeRingBytes } from './storage-worker.js';
import { IoPool } from './io-pool.js';
import { scanSegmentsForRecovery } from './recovery-scan.js';
import { PremadeSegmentFiles } from './premade-segment-files.js';
import { mmapSegmentFileFactory } from '../store/mmap-segment-file.js';
import { NoopMetrics, type Metrics } from '../metrics/metrics.js';
import { RaftWorkerHost } from './raft-worker.js';

/** An append, read or transfer that did not succeed; `code` is a DLedger response code. */
export class DLedgerError extends Error {
  override name = 'DLedgerError';
  constructor(
    readonly code: number,
    message: string,
    readonly leaderId: string | null = null,
  ) {
    super(message);
  }
}

export interface CommittedEntry {
  readonly index: number;
  readonly term: number;
  readonly body: Uint8Array;
}

/**
 * Applies committed entries in log order on every member; its return value goes to the appender.
 * A committed entry is durable on a majority; on the leader it may be applied before the leader's
 * own copy is flushed (a crash then re-applies from the log, which the majority restores).
 */
export interface StateMachine {
  apply(entry: CommittedEntry): unknown;
  /**
   * The member received the core's snapshot at `index` (the leader deleted entries this member
   * still needed): the snapshot carries no state-machine data, so the state machine must rebuild
   * from the entries after it (the broker: from its next state checkpoint). Without this hook a
   * snapshot install stops the member (FATAL) instead of silently missing entries.
   */
  installSnapshot?(index: number): void;
  /**
   * Called once at start, after the store is recovered and before anything is applied: the state
   * machine loads what it saved durably and returns the index it holds everything up to (those
   * entries are not applied again), or `log.firstIndex - 1` to be handed every entry it has.
   */
  restore?(log: RestoreView): number;
}

/** What a state machine sees of the recovered log when it restores (StateMachine.restore). */
export interface RestoreView {
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Term and position of a stored entry, or null outside the log. */
  entryAt(index: number): { readonly term: number; readonly pos: number } | null;
}

export interface RoleChange {
  readonly role: Role;
  readonly term: number;
  readonly leaderId: string | null;
}

export interface DLedgerServerOptions {
  readonly config: DLedgerNodeConfig;
  readonly stateMachine?: StateMachine;
  readonly metrics?: Metrics;
  readonly log?: (line: string) => void;
  /** Pending appends fail with TIMEOUT after this long (their outcome is then unknown). */
  readonly appendTimeoutMs?: number;
  /** Called after the node stopped itself on an unrecoverable error (e.g. a failed flush). */
  readonly onFatal?: (reason: string) => void;
  /** Store hook (RocketMQ: write the physical offset into each message); see StoreOptions.patchBody. */
  readonly patchBody?: (body: Uint8Array, pos: number) => void;
  /**
   * Where the same patchBody function lives (module URL, export name), so a Raft worker thread can
   * import it: a function cannot cross threads. Without it a node with patchBody cannot use raftWorker.
   */
  readonly patchBodyModule?: { readonly url: string; readonly exportName: string };
  /** Set by raft-worker-thread.ts for the node it runs: never a Raft worker of its own (DLEDGER_RAFT_WORKER is shared). */
  readonly isRaftWorkerNode?: boolean;
  /** Overrides of the Raft core's settings (tests); timing comes from the node config. */
  readonly raft?: Partial<RaftConfig>;
  /**
   * False: the peer port refuses DLedgerClient connections (a broker's own group: the broker is
   * its only client, so an external append would bypass every broker check). Default true.
   */
  readonly acceptClients?: boolean;
  /**
   * Deleting old segments (retention-service.ts). Default: the config's DLedger keys for a server
   * without a state machine, none with one (DLedger's rule); null: off. The broker passes its own.
   */
  readonly retention?: RetentionSettings | null;
  /** Every member, after its own retention moved its log start (the broker trims its queues). */
  readonly onLogStartMoved?: RetentionHooks['onLogStartMoved'];
  /** The first index the state machine needs kept (the broker: after its last state checkpoint). */
  readonly retentionFloor?: () => number;
  /**
   * The Raft worker (raft-worker-thread.ts): every applied entry, NOOPs too, in order, with its
   * position when this node proposed it (else -1) and the stored body of a normal entry when
   * `withBodies`. Called once per applied batch, after the state machine saw it.
   */
  readonly appliedSink?: { readonly withBodies: boolean; readonly take: (lastIndex: number, entries: AppliedRecord[]) => void };
}

/** [index, term, pos, normal 0|1, stored body or null]: one entry of an appliedSink batch. */
export type AppliedRecord = [number, number, number, number, Uint8Array | null];

export interface AppendResult {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  /** What the state machine returned for this entry (undefined without one). */
  readonly result: unknown;
}

/** One append() call: its entries resolve together, in order, once all are applied. */
interface AppendGroup {
  readonly results: AppendResult[];
  remaining: number;
  settled: boolean;
  readonly startedAtNs: bigint;
  /** Date.now() after which the group fails with WAIT_QUORUM_ACK_TIMEOUT (outcome unknown). */
  readonly deadlineMs: number;
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: DLedgerError) => void;
  /** The Raft worker learns where its batch went (firstIndex, term) once proposed. */
  readonly onProposed: ((firstIndex: number, term: number) => void) | undefined;
}

interface PendingAppend {
  readonly term: number;
  readonly group: AppendGroup;
  /** This entry's place in group.results. */
  readonly slot: number;
  pos: number;
}

interface QueuedAppend {
  readonly bodies: readonly Uint8Array[];
  readonly group: AppendGroup;
}

interface PendingRead {
  readonly resolve: (readIndex: number) => void;
  readonly reject: (error: DLedgerError) => void;
  index: number | null;
}

const MAX_FRAME_BYTES = PEER_FRAME_MAX_BYTES;
/** Gauges are refreshed every few ticks, not per Ready: a scrape every few seconds needs no more. */
const METRICS_EVERY_TICKS = 10;
/** read-latest scans back over NOOPs (one per new leader) and empty bodies at most this far. */
const MAX_READ_LATEST_SCAN = 10_000;
/** The core's per-commit line (leader-replication.ts maybeCommit). */
const COMMIT_LINE = / committed up to \d+ at term \d+$/;

function refusalCode(reason: RefusalReason): number {
  switch (reason) {
    case 'not-leader':
      return ResponseCode.NOT_LEADER;
    case 'transfer-in-progress':
      return ResponseCode.LEADER_TRANSFERRING;
    case 'too-many-uncommitted-bytes':
    case 'read-queue-full':
      return ResponseCode.LEADER_PENDING_FULL;
    case 'entry-too-large':
    case 'unknown-peer':
    case 'target-not-eligible':
      return ResponseCode.UNEXPECTED_ARGUMENT;
  }
}

export class DLedgerServer {
  readonly config: DLedgerNodeConfig;
  private readonly metrics: Metrics;
  private readonly log: (line: string) => void;
  // A tick later than a third of the election timeout is logged: heartbeats were that late.
  private readonly stallDetector: LoopStallDetector;
  private store: LogStore | null = null;
  private storage: LogRaftStorage | null = null;
  private core: RaftCore | null = null;
  private transport: PeerTransport | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private processScheduled = false;
  /**
   * storageWorkerWrites: set while no Ready is taken because the writer is behind: its queue is
   * over its bound (back-pressure), or a Ready needs the written log (a truncate, appendRaw or a
   * snapshot while entries are still pending). The store calls back from an Atomics.waitAsync
   * wait; this thread never blocks. A Ready taken and held meanwhile is `heldReady`.
   */
  private waitingForWriter = false;
  private heldReady: Ready | null = null;
  /** How often processing waited for the entry writer (tests and the bench read these). */
  readonly writerWaits = { roomWaits: 0, readiesHeld: 0, shipWaits: 0 };
  // Invariant: Appends in the order the core produced them, the first one's entries not yet
  // written by the entry writer; a callback is armed (shipQueueArmed) while it is non-empty.
  private shipQueue: Message[] = [];
  private shipQueueArmed = false;
  private closed = false;
  // Invariant: keys are log indexes this leader proposed and has not yet seen applied.
  private readonly pendingAppends = new Map<number, PendingAppend>();
  // Invariant: queuedBodies is the number of bodies in appendQueue (bounded with pendingAppends).
  private appendQueue: QueuedAppend[] = [];
  private queuedBodies = 0;
  private readonly pendingReads = new Map<string, PendingRead>();
  private nextReadCtx = 0;
  private appliedIndex = -1;
  /** Readies are persisted and acknowledged strictly in order. */
  private persistChain: Promise<void> = Promise.resolve();
  private readonly roleHandlers: Array<(change: RoleChange) => void> = [];
  private role: RoleChange = { role: 'follower', term: 0, leaderId: null };
  private boundPort = 0;
  private ticksSinceMetrics = 0;
  private threads: ThreadsResolution | null = null;
  private retention: RetentionService | null = null;
  /** threads=workers: the thread that runs the store's group commits; closed after the store. */
  private storageWorker: StorageWorker | null = null;
  /** threads=workers + storageWorkerWrites: the storage worker also encodes and writes appends. */
  private workerWrites = false;
  /** threads=workers: the piscina I/O pool and the segments it allocates ahead; closed after the store. */
  private ioPool: IoPool | null = null;
  private premadeSegments: PremadeSegmentFiles | null = null;
  /** threads=workers + raftWorker: the node runs on the Raft worker; this object delegates to it. */
  private remote: RaftWorkerHost | null = null;

  constructor(private readonly options: DLedgerServerOptions) {
    this.config = options.config;
    this.metrics = options.metrics ?? new NoopMetrics();
    this.stallDetector = new LoopStallDetector(this.config.tickIntervalMs, Math.max(this.config.tickIntervalMs, Math.floor((this.config.heartBeatTimeIntervalMs * this.config.maxHeartBeatLeak) / 3)));
    this.log = options.log ?? ((line) => process.stderr.write(`[${this.config.group}/${this.config.selfId}] ${line}\n`));
  }

  get nodeDir(): string {
    return path.join(this.config.storeBaseDir, `dledger-${this.config.selfId}`);
  }

  /** The port the peer/client listener is bound to (useful when the config asked for port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** The mode this node runs in (config `threads`, auto resolved at start); null before start(). */
  get threadsMode(): ThreadsResolution | null {
    return this.threads;
  }

  /** True when this node runs on a Raft worker thread (threads=workers, raftWorker=true). */
  get onRaftWorker(): boolean {
    return this.remote !== null;
  }

  onRoleChange(handler: (change: RoleChange) => void): void {
    this.roleHandlers.push(handler);
  }

  /** Open and recover the store, start listening, then start ticking. */
  async start(): Promise<void> {
    assert(this.core === null && !this.closed, 'start() called twice');
    const config = this.config;
    // Before the store opens: a node without its secret refuses to start (ConfigError).
    const secrets = loadNodeSecrets(config, this.log);
    const threads = resolveThreads(config.threads);
    this.threads = threads;
    if (this.options.isRaftWorkerNode !== true && resolveRaftWorker(threads.mode, config.raftWorker)) {
      await this.startRemote(threads);
      return;
    }
    const workerWrites = resolveStorageWorkerWrites(threads.mode, config.storageWorkerWrites);
    this.workerWrites = workerWrites;
    const storageWorker = threads.mode === 'workers' ? await StorageWorker.start(this.log, workerWrites ? writeRingBytes(config.maxEntryBodyBytes) : undefined) : null;
    this.storageWorker = storageWorker;
    this.ioPool = storageWorker === null ? null : new IoPool();
    const premade = this.ioPool === null ? null : new PremadeSegmentFiles(this.ioPool, this.log);
    this.premadeSegments = premade;
    let store: LogStore;
    try {
      const recoveryScans = this.ioPool === null ? undefined : await scanSegmentsForRecovery(this.ioPool, this.nodeDir, { dataBytes: config.mappedFileSizeForEntryData, indexBytes: config.mappedFileSizeForEntryIndex }, this.log);
      store = openLogStore({
        nodeDir: this.nodeDir,
        dataSegmentSizeBytes: config.mappedFileSizeForEntryData,
        indexSegmentSizeBytes: config.mappedFileSizeForEntryIndex,
        flush: config.flushPolicy === 'sync' ? { kind: 'sync' } : { kind: 'async', intervalMs: config.flushFileInterval },
        maxEntryBodyBytes: config.maxEntryBodyBytes,
        // In workers mode every group commit goes to the storage worker (its files' background flush).
        flushInBackground: storageWorker !== null || config.flushInBackground,
        ...(storageWorker === null || premade === null ? {} : { segmentFiles: storageWorker.wrap(premade.wrap(mmapSegmentFileFactory)) }),
        // storageWorkerWrites: encoding, CRCs and writes of append() on the storage worker too.
        ...(storageWorker === null || !workerWrites ? {} : { entryWriter: storageWorker.entryWriter() }),
        ...(this.ioPool === null ? {} : { removeFiles: this.ioPool.removeFilesInOrder.bind(this.ioPool) }),
        ...(this.options.patchBody === undefined ? {} : { patchBody: this.options.patchBody }),
        ...(recoveryScans === undefined ? {} : { recoveryScans }),
      });
    } catch (error) {
      await this.closeThreads();
      throw error;
    }
    this.store = store;
    // The state machine's own durable point (the broker: consume queues and state saved up to an
    // applied index): entries up to it were applied before the restart and are not handed out again.
    let restartApplied = store.beforeBeginIndex;
    const restore = this.options.stateMachine?.restore;
    if (restore !== undefined) {
      const firstIndex = store.beforeBeginIndex + 1;
      restartApplied = restore.call(this.options.stateMachine, {
        firstIndex,
        lastIndex: store.lastIndex,
        entryAt: (index) => {
          if (index < firstIndex || index > store.lastIndex) return null;
          const entry = store.get(index);
          return entry === null ? null : { term: entry.term, pos: entry.pos };
        },
      });
      assert(Number.isSafeInteger(restartApplied) && restartApplied >= store.beforeBeginIndex && restartApplied <= store.lastIndex, `restore() returned ${restartApplied} outside [${store.beforeBeginIndex}, ${store.lastIndex}]`);
    }
    const timing = raftTimingTicks(config);
    const raftConfig: RaftConfig = {
      ...defaultRaftConfig(config.selfId, config.peers.map((peer) => peer.id)),
      electionTimeoutTicks: timing.electionTimeoutTicks,
      heartbeatTimeoutTicks: timing.heartbeatTimeoutTicks,
      transferTimeoutTicks: timing.electionTimeoutTicks,
      preferredLeaderIds: config.preferredLeaderIds,
      maxSizePerMsgBytes: Math.min(config.maxEntryBodyBytes + 1024, 8 * 1024 * 1024),
      // Followers learn a commit from the next Append or heartbeat, not from an Append of its own.
      commitOnlyAppends: false,
      ...(restartApplied > store.beforeBeginIndex ? { appliedIndex: restartApplied } : {}),
      ...this.options.raft,
    };
    // The PRNG only spreads election timeouts; a fresh seed per process keeps peers apart.
    // Without a patchBody hook the store writes bodies unchanged, so the proposed bodies may be
    // kept as the stored bytes (LogRaftStorage's recent-entries cache).
    this.storage = new LogRaftStorage(store, this.options.patchBody === undefined);
    this.core = new RaftCore(raftConfig, this.storage, new Prng(randomInt(0, 2 ** 47)), { info: (line) => this.logCoreLine(line) });
    // Entries the store recovered were durable before the crash; the state machine starts from
    // what it restored (or empty) and applies the rest as the leader tells us what is committed.
    this.appliedIndex = restartApplied;
    const self = config.peers.find((peer) => peer.id === config.selfId);
    assert(self !== undefined, 'selfId not in peers (config validation missed it)');
    this.transport = new PeerTransport({
      group: config.group,
      selfId: config.selfId,
      peers: config.peers,
      maxFrameBytes: MAX_FRAME_BYTES,
      maxQueuedFramesPerPeer: 4096,
      reconnectInitialDelayMs: 20,
      reconnectMaxDelayMs: 1000,
      onMessage: (from, value) => this.onPeerMessage(from, value),
      ...(this.options.acceptClients === false ? {} : { onClientConnection: (socket: net.Socket) => this.openClientSession(socket) }),
      log: this.log,
      tls: config.tls,
      onRefused: () => this.metrics.incTlsRefusedConnections('peer'),
      secrets,
      onAuthFailure: (reason) => this.metrics.incAuthFailures(reason),
      limits: {
        maxConnections: config.peerMaxConnections,
        maxConnectionsPerAddress: config.peerMaxConnectionsPerAddress,
        firstFrameDeadlineMs: DEFAULT_HELLO_TIMEOUT_MS,
        idleTimeoutMs: config.peerIdleTimeoutMs,
        partialFrameBudgetBytes: config.peerPartialFrameBudgetBytes,
      },
      onLimitRefusal: (reason) => this.metrics.incConnectionRefusals('peer', reason),
      clientReplyBacklogMaxBytes: config.clientReplyBacklogMaxBytes,
    });
    this.boundPort = await this.transport.listen(self.host === 'localhost' ? '127.0.0.1' : self.host, self.port);
    this.tickTimer = setInterval(() => this.tick(), config.tickIntervalMs);
    this.startRetention(store, this.core);
    this.log(`started: peers ${config.peers.map((p) => `${p.id}-${p.host}:${p.port}`).join(';')}, log [${store.beforeBeginIndex + 1}, ${store.lastIndex}], flush ${config.flushPolicy}, threads ${threads.mode} (${threads.reason === 'config' ? 'set' : threads.reason === 'env' ? 'auto, DLEDGER_THREADS' : 'auto, by cores'})${this.workerWrites ? ', storageWorkerWrites' : ''}`);
  }

  /** threads=workers + raftWorker: the whole node on the Raft worker (raft-worker.ts). */
  private async startRemote(threads: ThreadsResolution): Promise<void> {
    this.remote = await RaftWorkerHost.start(this.options, {
      onRole: (change) => this.onRemoteRole(change),
      onFatal: (reason) => {
        this.closed = true;
        this.options.onFatal?.(reason);
      },
      log: this.log,
      metrics: this.metrics,
    });
    this.boundPort = this.remote.port;
    this.log(`raft worker started: threads ${threads.mode} (${threads.reason === 'config' ? 'set' : threads.reason === 'env' ? 'auto, DLEDGER_THREADS' : 'auto, by cores'}), raftWorker`);
  }

  private onRemoteRole(change: RoleChange): void {
    const previous = this.role;
    this.role = change;
    if (previous.role !== change.role || previous.leaderId !== change.leaderId) {
      for (const handler of this.roleHandlers) handler(this.role);
    }
  }

  private startRetention(store: LogStore, core: RaftCore): void {
    const settings = this.options.retention === undefined ? (this.options.stateMachine === undefined ? this.config.retention : null) : this.options.retention;
    if (settings === null) return;
    // A state machine that cannot rebuild after a snapshot keeps what it applied only through the log.
    const holdForEveryFollower = this.options.stateMachine !== undefined && this.options.stateMachine.installSnapshot === undefined;
    const floor = this.options.retentionFloor;
    const electionTimeoutMs = raftTimingTicks(this.config).electionTimeoutTicks * this.config.tickIntervalMs;
    const handover = new DiskFullHandover({
      selfId: this.config.selfId,
      leadsWithFullDisk: () => !this.closed && this.retention?.diskFull === true && this.role.role === 'leader',
      followers: () => [...core.status().progress].map(([id, progress]) => ({ id, match: progress.match })),
      // The core gives up a transfer after an election timeout; wait a little longer than that.
      transfer: (to) => this.transferLeadership(to, 2 * electionTimeoutMs),
      nowMs: () => Date.now(),
      log: this.log,
    }, Math.max(1000, 5 * electionTimeoutMs));
    this.retention = new RetentionService(store, settings, {
      onMeasured: () => handover.poke(),
      keepFromIndex: (forceClean) => Math.min(retentionKeepFromIndex(core, this.config.selfId, holdForEveryFollower, forceClean), floor?.() ?? Number.MAX_SAFE_INTEGER),
      ...(this.options.onLogStartMoved === undefined ? {} : { onLogStartMoved: this.options.onLogStartMoved }),
      log: this.log,
    });
    // Driven by the tick (one wake-up for both); tick() calls onTick.
    this.retention.start(this.config.tickIntervalMs);
  }

  /** Retention counters and the last disk measurement; null when retention is off. */
  retentionStats(): RetentionStats | null {
    if (this.remote !== null) return this.remote.snapshot.retentionStats;
    return this.retention?.stats() ?? null;
  }

  /** What this member's log holds now: first and last index, positions, segment files. */
  retainedRange(): RetainedRange {
    this.assertOpen();
    if (this.remote !== null) return this.remote.snapshot.retainedRange;
    return this.liveStore().retainedRange();
  }

  /**
   * The core reports every commit-index advance (one line per Ready under load: thousands a
   * second, each a synchronous write to stderr); those stay out of the node's log, the metrics
   * carry the commit index. Every other core line (elections, votes, refusals) is logged.
   */
  private logCoreLine(line: string): void {
    if (!COMMIT_LINE.test(line)) this.log(line);
  }

  /** Tests start peers on OS-assigned ports and then tell each other where they are. */
  setPeerPort(peerId: string, host: string, port: number): void {
    if (this.remote !== null) {
      this.remote.setPeerPort(peerId, host, port);
      return;
    }
    this.liveTransport().setPeerAddress({ id: peerId, host, port });
  }

  /**
   * Append bodies; resolves after they are committed (and applied), in order. Appends made in the
   * same event-loop turn are proposed to the core together: one batch, one Append per follower.
   * The bodies are kept (not copied) until they are applied: do not modify them meanwhile.
   */
  append(bodies: Uint8Array | readonly Uint8Array[], options: { readonly evenIfDiskFull?: boolean; readonly onProposed?: (firstIndex: number, term: number) => void } = {}): Promise<AppendResult[]> {
    if (this.remote !== null) {
      if (this.closed) return Promise.reject(new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed'));
      return this.remote.append(bodies instanceof Uint8Array ? [bodies] : [...bodies], options.evenIfDiskFull === true);
    }
    const list = bodies instanceof Uint8Array ? [bodies] : [...bodies];
    this.liveCore();
    if (list.length === 0) return Promise.resolve([]);
    for (const body of list) {
      if (body.byteLength > this.config.maxEntryBodyBytes) {
        return Promise.reject(new DLedgerError(ResponseCode.UNEXPECTED_ARGUMENT, `entry of ${body.byteLength} bytes exceeds maxEntryBodyBytes ${this.config.maxEntryBodyBytes}`));
      }
    }
    if (this.role.role !== 'leader') {
      return Promise.reject(new DLedgerError(ResponseCode.NOT_LEADER, `append refused: not-leader (${this.config.selfId} is ${this.role.role})`, this.role.leaderId));
    }
    // evenIfDiskFull: a small entry that lets retention free space (the broker's state checkpoint).
    if (this.retention?.diskFull === true && options.evenIfDiskFull !== true) {
      const ratio = this.retention.stats().diskUsageRatio;
      return Promise.reject(new DLedgerError(ResponseCode.DISK_FULL, `append refused: disk usage ${ratio.toFixed(4)} is over ${this.retention.settings.diskFullRatio} on ${this.config.selfId}`, this.role.leaderId));
    }
    const pending = this.pendingAppends.size + this.queuedBodies;
    if (pending + list.length > this.config.maxPendingRequestsNum) {
      return Promise.reject(new DLedgerError(ResponseCode.LEADER_PENDING_FULL, `${pending} appends pending (maxPendingRequestsNum ${this.config.maxPendingRequestsNum})`, this.role.leaderId));
    }
    return new Promise<AppendResult[]>((resolve, reject) => {
      const group: AppendGroup = {
        results: new Array<AppendResult>(list.length),
        remaining: list.length,
        settled: false,
        startedAtNs: process.hrtime.bigint(),
        deadlineMs: Date.now() + (this.options.appendTimeoutMs ?? 10_000),
        resolve,
        reject,
        onProposed: options.onProposed,
      };
      this.appendQueue.push({ bodies: list, group });
      this.queuedBodies += list.length;
      this.scheduleProcess();
    });
  }

  /** Propose every queued append as one batch. */
  private proposeQueued(core: RaftCore): void {
    if (this.appendQueue.length === 0) return;
    const queued = this.appendQueue;
    this.appendQueue = [];
    this.queuedBodies = 0;
    const result = core.propose(queued.flatMap((q) => q.bodies));
    if (!result.ok) {
      for (const q of queued) this.settle(q.group, new DLedgerError(refusalCode(result.reason), `append refused: ${result.reason}`, result.leaderId));
      return;
    }
    let index = result.firstIndex;
    for (const q of queued) {
      q.group.onProposed?.(index, result.term);
      for (let slot = 0; slot < q.bodies.length; slot++) {
        this.pendingAppends.set(index++, { term: result.term, group: q.group, slot, pos: -1 });
      }
    }
  }

  private settle(group: AppendGroup, error: DLedgerError | null): void {
    if (group.settled) return;
    group.settled = true;
    if (error === null) group.resolve(group.results);
    else group.reject(error);
  }

  /** Fail appends past their deadline (their entries may still commit later: outcome unknown). */
  private expireAppends(): void {
    const now = Date.now();
    for (const [index, pending] of this.pendingAppends) {
      if (pending.group.deadlineMs > now) break; // insertion order = index order = deadline order
      this.pendingAppends.delete(index);
      this.settle(pending.group, new DLedgerError(ResponseCode.WAIT_QUORUM_ACK_TIMEOUT, `append at index ${index} not committed within ${this.options.appendTimeoutMs ?? 10_000} ms; its outcome is unknown`, this.role.leaderId));
    }
  }

  /** A committed entry, or null if `index` is not committed (or compacted away). */
  /**
   * Where entry `index` lies in this member's data files, applied or not (null if not stored).
   * The broker checks the group's first position against its dividedCommitlogOffset with it.
   */
  storedPos(index: number): number | null {
    this.assertOpen();
    if (this.remote !== null) return this.remote.getStored(index)?.pos ?? null;
    return this.liveStore().get(index)?.pos ?? null;
  }

  get(index: number): CommittedEntry & { pos: number } | null {
    this.assertOpen();
    // Applied entries are committed; the applied index is what this node has acted on.
    if (this.remote !== null) {
      const stored = this.remote.getApplied(index);
      return stored === null ? null : { index: stored.index, term: stored.term, pos: stored.pos, body: stored.body };
    }
    if (index > this.appliedIndex) return null;
    const entry = this.liveStore().get(index);
    if (entry === null) return null;
    return { index: entry.index, term: entry.term, pos: entry.pos, body: entry.body };
  }

  /** Resolves once every entry <= index is durable on this member (the store's flush policy). */
  whenDurable(index: number): Promise<void> {
    this.liveCore();
    return this.liveStore().whenDurable(index);
  }

  /**
   * The applied entry whose header starts at byte `pos` of the data files, or null (RocketMQ's
   * consume queues point at messages by physical offset = pos + 48, not by Raft index).
   */
  getAtPos(pos: number): CommittedEntry & { pos: number } | null {
    this.liveCore();
    const index = this.liveStore().indexAtPos(pos);
    return index === null ? null : this.get(index);
  }

  /**
   * The register view of the log: the last NORMAL entry with a non-empty body at or before `index`
   * (an applied index), or null when the log holds none from its beginning. Leaders add NOOPs, so
   * this scans back; a run of more than MAX_READ_LATEST_SCAN entries without one is refused rather
   * than served slowly, and so is a scan that reaches compacted entries (their bodies are gone).
   */
  latestNormalAtOrBefore(index: number): (CommittedEntry & { pos: number }) | null {
    const remote = this.remote;
    const applied = remote !== null ? remote.applied : this.appliedIndex;
    assert(index <= applied, `read-latest at ${index} beyond the applied index ${applied}`);
    const store: { readonly beforeBeginIndex: number; get(index: number): ReturnType<LogStore['get']> } = remote !== null ? { beforeBeginIndex: remote.snapshot.retainedRange.firstIndex - 1, get: (i) => remote.getStored(i) } : this.liveStore();
    for (let i = index, scanned = 0; i > store.beforeBeginIndex; i--, scanned++) {
      if (scanned >= MAX_READ_LATEST_SCAN) throw new DLedgerError(ResponseCode.INTERNAL_ERROR, `read-latest: no normal entry in the ${MAX_READ_LATEST_SCAN} entries at or below ${index}`);
      const entry = store.get(i);
      if (entry === null) throw new DLedgerError(ResponseCode.INDEX_OUT_OF_RANGE, `read-latest: entry ${i} unreadable on ${this.config.selfId}`);
      if (entry.magic === EntryType.Normal && entry.body.length > 0) return { index: entry.index, term: entry.term, pos: entry.pos, body: entry.body };
    }
    if (store.beforeBeginIndex >= 0) throw new DLedgerError(ResponseCode.INDEX_OUT_OF_RANGE, `read-latest: entries up to ${store.beforeBeginIndex} are compacted on ${this.config.selfId}`);
    return null;
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this node has applied everything that
   * was committed when the barrier was asked, as confirmed by a quorum. Leader only.
   */
  readBarrier(): Promise<number> {
    if (this.remote !== null) {
      this.assertOpen();
      return this.remote.readBarrier();
    }
    const core = this.liveCore();
    const ctx = `r${this.nextReadCtx++}`;
    const result = core.readIndex(ctx);
    if (!result.ok) return Promise.reject(new DLedgerError(refusalCode(result.reason), `read barrier refused: ${result.reason}`, result.leaderId));
    this.scheduleProcess();
    return new Promise((resolve, reject) => this.pendingReads.set(ctx, { resolve, reject, index: null }));
  }

  /** Hand leadership to `to`; resolves when `to` leads, rejects on refusal or after the timeout. */
  async transferLeadership(to: string, timeoutMs = 3000): Promise<void> {
    if (this.remote !== null) {
      this.assertOpen();
      return this.remote.transferLeadership(to, timeoutMs);
    }
    const result = this.liveCore().transferLeadership(to);
    if (!result.ok) throw new DLedgerError(refusalCode(result.reason), `transfer to ${to} refused: ${result.reason}`, result.leaderId);
    this.scheduleProcess();
    const deadline = Date.now() + timeoutMs;
    while (this.role.leaderId !== to || this.role.role === 'leader') {
      if (Date.now() > deadline) throw new DLedgerError(ResponseCode.TAKE_LEADERSHIP_FAILED, `${to} did not take leadership within ${timeoutMs} ms`, this.role.leaderId);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** threads=workers: segments the I/O pool allocated ahead and the store took, and the others. */
  premadeSegmentStats(): { readonly premadeUsed: number; readonly createdInline: number; readonly premakeFailed: number; readonly premadeDiscarded: number } | null {
    if (this.remote !== null) return this.remote.snapshot.premadeSegmentStats;
    return this.premadeSegments === null ? null : { ...this.premadeSegments.stats };
  }

  /** threads=workers: the I/O pool's tasks by kind (premakes, retention removals); null inline. */
  ioPoolStats(): { readonly premakes: number; readonly removals: number; readonly segmentScans: number } | null {
    if (this.remote !== null) return this.remote.snapshot.ioPoolStats;
    return this.ioPool === null ? null : { ...this.ioPool.stats };
  }

  /**
   * threads=workers: the storage worker's counters (tickets = group commits it ran, mappings it
   * released at segment close); null inline.
   */
  storageWorkerStats(): { readonly tickets: number; readonly ranges: number; readonly ringFullWaits: number; readonly timerWakeups: number; readonly releasedMappings: number; readonly writeEntries: number } | null {
    if (this.remote !== null) return this.remote.snapshot.storageWorkerStats;
    return this.storageWorker === null ? null : { ...this.storageWorker.stats, releasedMappings: this.storageWorker.releasedMappings().released };
  }

  /** Entries this node persisted from received record bytes verbatim vs encoded itself. */
  persistedEntryCounts(): { readonly raw: number; readonly encoded: number; readonly rawRejected: number } {
    if (this.remote !== null) return this.remote.snapshot.persistedCounts;
    return { ...this.liveStorage().persistedCounts };
  }

  status(): RaftStatus {
    if (this.remote !== null) {
      this.assertOpen();
      return this.remote.status();
    }
    return this.liveCore().status();
  }

  metadata(): Metadata {
    const status = this.status();
    return {
      group: this.config.group,
      selfId: this.config.selfId,
      leaderId: status.leaderId,
      term: status.term,
      role: status.role,
      commitIndex: status.commitIndex,
      peers: Object.fromEntries(this.config.peers.map((peer) => [peer.id, `${peer.host}:${peer.port}`])),
    };
  }

  /** Stop accepting work, fail what is pending, flush and close the store. */
  async close(): Promise<void> {
    if (this.remote !== null) {
      const wasClosed = this.closed;
      this.closed = true;
      await this.remote.close();
      if (!wasClosed) this.log('closed');
      return;
    }
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    await this.transport?.close();
    this.failPending(new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed'));
    await this.persistChain.catch(() => undefined);
    await this.retention?.stop();
    // The writer's queued entries land first (store.close would otherwise drain them blocking).
    const closingStore = this.store;
    if (closingStore?.afterWrites !== undefined) await new Promise<void>((resolve) => (closingStore.afterWrites as NonNullable<LogStore['afterWrites']>)(resolve));
    await this.store?.close();
    await this.closeThreads();
    this.log('closed');
  }

  /** threads=workers: the pool and the storage worker, after the store (which they serve). */
  private async closeThreads(): Promise<void> {
    this.premadeSegments?.close();
    await this.ioPool?.close();
    await this.storageWorker?.close();
  }

  // ---------------------------------------------------------------- driving the core

  private tick(): void {
    if (this.closed) return;
    const cpu = process.cpuUsage();
    const stall = this.stallDetector.observe(performance.now(), cpu.user + cpu.system);
    if (stall !== null) this.log(describeStall(stall, this.config.heartBeatTimeIntervalMs * this.config.maxHeartBeatLeak));
    this.liveCore().tick();
    this.processReadies();
    this.expireAppends();
    this.retention?.onTick();
    if (++this.ticksSinceMetrics >= METRICS_EVERY_TICKS) {
      this.ticksSinceMetrics = 0;
      this.updateMetrics();
    }
  }

  private updateMetrics(): void {
    const status = this.liveCore().status();
    this.metrics.setIndexes({ commitIndex: status.commitIndex, appliedIndex: this.appliedIndex, lastIndex: status.lastIndex });
    for (const [peerId, progress] of status.progress) {
      if (peerId !== this.config.selfId) this.metrics.setFollowerProgress(peerId, progress.match, status.lastIndex - progress.match);
    }
    const range = this.liveStore().retainedRange();
    const segmentBytes = this.config.mappedFileSizeForEntryData;
    const segments = range.endPos > range.firstPos ? Math.floor((range.endPos - 1) / segmentBytes) - Math.floor(range.firstPos / segmentBytes) + 1 : 0;
    this.metrics.setStoreSize(range.endPos - range.firstPos, segments);
    const retention = this.retention?.stats();
    if (retention !== undefined) this.metrics.setRetention({ firstIndex: range.firstIndex, diskUsageRatio: retention.diskUsageRatio, segmentsDeleted: retention.segmentsDeleted, bytesDeleted: retention.bytesDeleted });
  }

  private onPeerMessage(from: string, value: unknown): void {
    if (this.closed) return;
    const storage = this.liveStorage();
    const message = parseWireMessage(value, from, this.config.selfId, (raw) => storage.offerReceivedRaw(raw));
    if (message.type === 'TimeoutNow' && this.retention?.diskFull === true) {
      // A member whose disk is full would lead only to refuse every append (disk-full-handover.ts):
      // the transfer lapses on the leader, which tries another member.
      this.log(`ignoring TimeoutNow from ${from}: disk usage ${this.retention.stats().diskUsageRatio.toFixed(4)} is over ${this.retention.settings.diskFullRatio}, not taking leadership`);
      return;
    }
    try {
      this.liveCore().step(message);
    } catch (error) {
      // The leader's log lacks entries this member committed (chaos F5): stop (exit 3) rather
      // than keep and serve a history the group does not have.
      if (!(error instanceof CommittedEntryConflictError)) throw error;
      this.fatal(error.message);
      return;
    }
    this.scheduleProcess();
  }

  private scheduleProcess(): void {
    if (this.processScheduled) return;
    this.processScheduled = true;
    // setImmediate runs after this turn's I/O callbacks: everything that arrived together is
    // handled by one Ready (one write, one msync, one frame per peer).
    setImmediate(() => {
      this.processScheduled = false;
      if (!this.closed) this.processReadies();
    });
  }

  private processReadies(): void {
    if (this.waitingForWriter) return;
    const core = this.liveCore();
    const store = this.liveStore();
    if (this.waitForWriterRoom(store)) return;
    this.proposeQueued(core);
    // A Ready that could not be persisted stops the node (fatal sets closed): no further Ready.
    while (!this.closed && core.hasReady()) {
      const ready = core.ready();
      if (this.liveStorage().needsWrittenLog(ready, this.writesInline(ready))) {
        this.holdReadyUntilWritten(core, store, ready);
        return;
      }
      this.handleReady(core, ready);
      if (this.waitForWriterRoom(store)) return;
    }
  }

  /** A follower writes the records it encodes itself on this thread (LogRaftStorage.persist). */
  private writesInline(ready: Ready): boolean {
    return (ready.softState?.role ?? this.role.role) !== 'leader';
  }

  /** True (and a callback armed) when the entry writer's queue is over its bound: back-pressure. */
  private waitForWriterRoom(store: LogStore): boolean {
    if (store.writerHasRoom?.() !== false) return false;
    this.waitingForWriter = true;
    this.writerWaits.roomWaits++;
    (store.afterWriterRoom as NonNullable<LogStore['afterWriterRoom']>)(() => this.writerCaughtUp());
    return true;
  }

  /** Persist `ready` once every entry handed to the writer is written (it truncates or appends raw). */
  private holdReadyUntilWritten(core: RaftCore, store: LogStore, ready: Ready): void {
    this.waitingForWriter = true;
    this.heldReady = ready;
    this.writerWaits.readiesHeld++;
    (store.afterWrites as NonNullable<LogStore['afterWrites']>)(() => {
      const held = this.heldReady;
      this.heldReady = null;
      if (held === null || this.closed) return;
      try {
        // Called back from the writer's wait with nothing pending: handled before anything else runs.
        this.handleReady(core, held);
      } catch (error) {
        this.fatal(`handling ready ${held.number} failed: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      this.writerCaughtUp();
    });
  }

  private writerCaughtUp(): void {
    this.waitingForWriter = false;
    if (!this.closed) this.scheduleProcess();
  }

  private handleReady(core: RaftCore, ready: Ready): void {
    if (ready.softState !== null) this.onSoftState(ready.softState.role, ready.softState.term, ready.softState.leaderId);
    const storage = this.liveStorage();
    const stateMachine = this.options.stateMachine;
    if (ready.snapshotToInstall !== null && stateMachine !== undefined) {
      // The core's snapshots carry no state-machine data (LogRaftStorage.snapshotMeta: "continue
      // after this index, at this position and chain seed"). A state machine that cannot rebuild from what
      // follows would silently miss every entry before it: stop instead.
      if (stateMachine.installSnapshot === undefined) {
        this.fatal(`needs entries up to ${ready.snapshotToInstall.meta.index} that the leader deleted (retention), and the state machine cannot install a snapshot; copy a peer's data directory to catch up`);
        return;
      }
      stateMachine.installSnapshot(ready.snapshotToInstall.meta.index);
    }
    if (ready.snapshotToInstall !== null) this.appliedIndex = Math.max(this.appliedIndex, ready.snapshotToInstall.meta.index);
    let written: ReturnType<LogRaftStorage['persist']>;
    try {
      written = storage.persist(ready, this.writesInline(ready));
    } catch (error) {
      // A store that cannot take this Ready (a full disk: no segment can be allocated; a failed
      // flush) leaves the core ahead of the log: stop with the reason instead of an uncaught
      // exception (chaos finding F3). The rest of the group carries on; a restart recovers.
      this.fatal(`persisting ready ${ready.number} failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    // Sent after the write (into the page cache, microseconds) rather than before it: Appends then
    // carry the records as stored, which followers append verbatim (no re-encoding, no second
    // CRC computation). The leader still counts itself only once its flush is done.
    for (const message of ready.messages) this.sendReplicating(storage, message);
    for (const entry of written) {
      const pending = this.pendingAppends.get(entry.index);
      if (pending !== undefined && pending.term === entry.term) pending.pos = entry.pos;
    }
    const lastWritten = written.length === 0 ? null : (written[written.length - 1] as { index: number }).index;
    if (ready.entriesToPersist.length > 0) this.metrics.observeBatchEntries(ready.entriesToPersist.length);
    core.advance(ready);
    const store = this.liveStore();
    const writtenAtNs = process.hrtime.bigint();
    // Under flush async (DLedger's default) a write counts as persisted once it is in the page
    // cache: the timer flushes later, and a power loss can lose up to one interval (README).
    const waitForDisk = lastWritten !== null && this.config.flushPolicy === 'sync';
    // Resolves true once durable; false if a later Ready truncated these entries first (a deposed
    // leader or a follower taking a new leader's log): their durability no longer matters.
    const persisted: Promise<boolean> | null = !waitForDisk
      ? null
      : store.whenDurable(lastWritten).then(
          () => {
            this.metrics.observeAppendLatencySeconds(Number(process.hrtime.bigint() - writtenAtNs) / 1e9);
            return true;
          },
          (error: unknown) => {
            if (error instanceof StoreTruncatedError) return false;
            throw error;
          },
        );
    this.persistChain = this.persistChain.then(async () => {
      const durable = persisted === null ? true : await persisted;
      if (this.closed) return;
      if (!durable) {
        // This Ready's answers (acks, votes) would vouch for entries this node no longer holds:
        // drop them, as a lossy network may. The truncating Ready's onPersisted covers this one
        // too (the core ignores a persisted mark whose entry was replaced).
        return;
      }
      core.onPersisted(ready.number);
      for (const message of ready.messagesAfterPersist) this.send(message);
      this.scheduleProcess();
    });
    this.persistChain.catch((error: Error) => this.fatal(`persisting ready ${ready.number} failed: ${error.message}`));
    for (const readState of ready.readStates) {
      const pending = this.pendingReads.get(readState.requestCtx);
      if (pending !== undefined) pending.index = readState.index;
    }
    this.apply(core, ready.committedEntries);
    this.resolveReads();
  }

  private apply(core: RaftCore, entries: readonly Entry[]): void {
    const last = entries[entries.length - 1];
    if (last === undefined) return;
    const now = process.hrtime.bigint();
    const sink = this.options.appliedSink;
    const forwarded: AppliedRecord[] | null = sink === undefined ? null : [];
    for (const entry of entries) {
      const pending = this.pendingAppends.get(entry.index);
      const normal = entry.type === EntryType.Normal;
      const body = normal && (this.options.stateMachine !== undefined || sink?.withBodies === true) ? this.storedBodyOf(entry, pending) : null;
      const result = normal && body !== null ? this.options.stateMachine?.apply({ index: entry.index, term: entry.term, body }) : undefined;
      if (forwarded !== null) forwarded.push([entry.index, entry.term, pending !== undefined && pending.term === entry.term ? pending.pos : -1, normal ? 1 : 0, sink?.withBodies === true ? body : null]);
      if (pending === undefined) continue;
      this.pendingAppends.delete(entry.index);
      const group = pending.group;
      if (pending.term !== entry.term) {
        // Another leader's entry took this index: our proposal was lost with our leadership.
        this.settle(group, new DLedgerError(ResponseCode.TERM_CHANGED, `append at index ${entry.index} (term ${pending.term}) was replaced by term ${entry.term}`, this.role.leaderId));
        continue;
      }
      group.results[pending.slot] = { index: entry.index, term: entry.term, pos: pending.pos, result };
      if (--group.remaining === 0 && !group.settled) {
        this.metrics.observeCommitLatencySeconds(Number(now - group.startedAtNs) / 1e9);
        this.settle(group, null);
      }
    }
    this.appliedIndex = last.index;
    core.onApplied(last.index);
    if (forwarded !== null) sink?.take(last.index, forwarded);
  }

  /**
   * The body as the store holds it, which is what apply must see. Only a store hook (patchBody:
   * RocketMQ writes each message's physical offset into it) makes the two differ, and only for an
   * entry the leader applies from its unstable log (it applies at commit, before its own flush):
   * that one is still the proposal. Our own proposal is patched on a copy with the position it
   * was written at (same hook, same bytes as stored); anything else on a leader is read back.
   * Followers apply only durable entries, which come from the store already.
   */
  private storedBodyOf(entry: Entry, pending: PendingAppend | undefined): Uint8Array {
    const patchBody = this.options.patchBody;
    if (patchBody === undefined || this.role.role !== 'leader') return entry.data;
    if (pending !== undefined && pending.term === entry.term && pending.pos >= 0) {
      const body = new Uint8Array(entry.data); // a copy (Buffer#slice would be a view)
      patchBody(body, pending.pos);
      return body;
    }
    return this.liveStore().get(entry.index)?.body ?? entry.data;
  }

  private resolveReads(): void {
    for (const [ctx, pending] of this.pendingReads) {
      if (pending.index !== null && pending.index <= this.appliedIndex) {
        this.pendingReads.delete(ctx);
        pending.resolve(pending.index);
      }
    }
  }

  private onSoftState(role: Role, term: number, leaderId: string | null): void {
    const previous = this.role;
    this.role = { role, term, leaderId };
    this.metrics.setRole(role);
    this.metrics.setTerm(term);
    if (previous.leaderId !== leaderId) this.metrics.incLeaderChanges();
    if (role === 'candidate' && previous.role !== 'candidate') this.metrics.incElections();
    if (previous.role === 'leader' && role !== 'leader') {
      // Reads need this node to lead; appends may still commit under the next leader, so they
      // wait for the entry at their index (or their timeout).
      for (const [ctx, pending] of this.pendingReads) {
        this.pendingReads.delete(ctx);
        pending.reject(new DLedgerError(ResponseCode.NOT_LEADER, 'leadership lost before the read was confirmed', leaderId));
      }
    }
    if (previous.role !== role || previous.leaderId !== leaderId) {
      this.log(`role ${role}, term ${term}, leader ${leaderId ?? 'none'}`);
      for (const handler of this.roleHandlers) handler(this.role);
    }
  }

  private send(message: Message): void {
    this.liveTransport().send(message.to, message);
  }

  /**
   * An Append with entries goes out as the stored records when the store has them in one piece.
   * With storageWorkerWrites, entries the writer has not written yet have no stored records: that
   * Append, and every Append after it (their order matters to followers), waits in `shipQueue`
   * until the store calls back with them written (never blocking), then goes out as records, so
   * followers append the leader's bytes as in inline mode.
   */
  private sendReplicating(storage: LogRaftStorage, message: Message): void {
    if (message.type !== 'Append') return this.liveTransport().send(message.to, message);
    if (this.shipQueue.length === 0 && this.trySendAppend(storage, message)) return;
    this.shipQueue.push(message);
    this.armShipQueue(storage);
  }

  /** Send `message` (an Append) now; false when its entries are still with the writer. */
  private trySendAppend(storage: LogRaftStorage, message: Message & { type: 'Append' }): boolean {
    const ship = message.entries.length > 0 && this.config.shipStoredRecords;
    const raw = ship ? storage.storedRecordsOf(message.entries) : null;
    if (raw === null && ship && storage.entriesPending(message.entries)) return false;
    this.liveTransport().send(message.to, wireMessage(message, raw));
    return true;
  }

  private armShipQueue(storage: LogRaftStorage): void {
    if (this.shipQueueArmed) return;
    this.shipQueueArmed = true;
    this.writerWaits.shipWaits++;
    const store = this.liveStore();
    (store.afterWrites as NonNullable<LogStore['afterWrites']>)(() => {
      this.shipQueueArmed = false;
      if (this.closed) {
        this.shipQueue = [];
        return;
      }
      while (this.shipQueue.length > 0) {
        const next = this.shipQueue[0] as Message & { type: 'Append' };
        if (!this.trySendAppend(storage, next)) return this.armShipQueue(storage);
        this.shipQueue.shift();
      }
    });
  }

  private fatal(reason: string): void {
    // A store that cannot persist, or a log proven to differ from the group's, must not keep
    // acknowledging: stop the node (the operator sees why; the group carries on without it).
    if (this.closed) return;
    this.log(`FATAL: ${reason}; stopping this node`);
    void this.close().finally(() => this.options.onFatal?.(reason));
  }

  private failPending(error: DLedgerError): void {
    for (const q of this.appendQueue) this.settle(q.group, error);
    this.appendQueue = [];
    this.queuedBodies = 0;
    for (const pending of this.pendingAppends.values()) this.settle(pending.group, error);
    this.pendingAppends.clear();
    for (const [ctx, pending] of this.pendingReads) {
      this.pendingReads.delete(ctx);
      pending.reject(error);
    }
  }

  // ---------------------------------------------------------------- client sessions

  private openClientSession(socket: net.Socket): ClientSession {
    const transport = this.liveTransport();
    const reply = (response: ClientResponse): void => transport.writeFrame(socket, response);
    return {
      onFrame: (value) => {
        const problem = requestProblem(value);
        if (problem !== null) {
          const id = (value as { id?: unknown } | null)?.id;
          reply({ id: typeof id === 'number' ? id : -1, code: ResponseCode.UNEXPECTED_ARGUMENT, leaderId: this.role.leaderId, error: problem });
          return;
        }
        const request = value as ClientRequest;
        // A get is answered in this turn, so the transport sees its reply's bytes before it reads
        // the next request: pipelined gets of big entries stop being read while they pile up.
        if (request.op === 'get') reply(this.serveGet(request));
        else void this.serveRequest(request).then(reply);
      },
      onClose: () => undefined,
    };
  }

  private errorResponse(base: { id: number; leaderId: string | null }, error: unknown): ClientResponse {
    if (error instanceof DLedgerError) return { ...base, code: error.code, leaderId: error.leaderId ?? this.role.leaderId, error: error.message };
    return { ...base, code: ResponseCode.INTERNAL_ERROR, error: (error as Error).message };
  }

  private serveGet(request: Extract<ClientRequest, { op: 'get' }>): ClientResponse {
    const base = { id: request.id, leaderId: this.role.leaderId };
    try {
      const entry = this.get(request.index);
      if (entry === null) return { ...base, code: ResponseCode.INDEX_OUT_OF_RANGE, error: `index ${request.index} is not a committed entry on ${this.config.selfId}` };
      return { ...base, code: ResponseCode.SUCCESS, entry };
    } catch (error) {
      return this.errorResponse(base, error);
    }
  }

  private async serveRequest(request: ClientRequest): Promise<ClientResponse> {
    const base = { id: request.id, leaderId: this.role.leaderId };
    try {
      switch (request.op) {
        case 'append': {
          const results = await this.append(request.bodies);
          const appended: AppendedInfo[] = results.map(({ index, term, pos }) => ({ index, term, pos }));
          return { ...base, code: ResponseCode.SUCCESS, appended };
        }
        case 'get':
          return this.serveGet(request);
        case 'metadata':
          return { ...base, code: ResponseCode.SUCCESS, metadata: this.metadata() };
        case 'transfer':
          await this.transferLeadership(request.to);
          return { ...base, leaderId: this.role.leaderId, code: ResponseCode.SUCCESS };
        case 'read-barrier':
          return { ...base, code: ResponseCode.SUCCESS, readIndex: await this.readBarrier() };
        case 'read-latest': {
          // 'local' skips the barrier on purpose (stale reads; the chaos checker proves they are).
          const readIndex = request.consistency === 'local' ? this.appliedIndex : await this.readBarrier();
          return { ...base, code: ResponseCode.SUCCESS, readIndex, latest: this.latestNormalAtOrBefore(readIndex) };
        }
      }
    } catch (error) {
      return this.errorResponse(base, error);
    }
  }

  // ---------------------------------------------------------------- accessors

  private liveCore(): RaftCore {
    if (this.closed) throw new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed');
    assert(this.core !== null, 'server not started');
    return this.core;
  }

  /** Throws once closed; asserts started (either layout). */
  private assertOpen(): void {
    if (this.closed) throw new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed');
    assert(this.core !== null || this.remote !== null, 'server not started');
  }

  private liveStore(): LogStore {
    assert(this.store !== null, 'server not started');
    return this.store;
  }

  private liveStorage(): LogRaftStorage {
    assert(this.storage !== null, 'server not started');
    return this.storage;
  }

  private liveTransport(): PeerTransport {
    assert(this.transport !== null, 'server not started');
    return this.transport;
  }
}
