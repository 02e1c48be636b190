// The broker's commit log is a DLedger group (RocketMQ's DLedgerCommitLog): every message is one
// entry whose body is the stored message, PHYSICALOFFSET = entry pos + 48 written by the store's
// append hook on every replica, and the replicated BrokerState indexes committed messages into
// consume queues on every member. This class is the broker's only path into the group: puts
// (leader only, queue offsets from the allocator), commands, reads by queue offset, and the
// master/slave role RocketMQ derives from the Raft role.
import type { Metrics } from '../metrics/metrics.js';
import { type CommittedEntry, DLedgerError, DLedgerServer, type AppendResult, type RestoreView, type RoleChange } from '../node/server.js';
import type { DLedgerNodeConfig } from '../node/config.js';
import type { RetentionSettings } from '../node/retention-settings.js';
import type { RetentionStats } from '../node/retention-service.js';
import type { RetainedRange } from '../store/types.js';
import { StoreDiskFullError } from '../store/errors.js';
import { isNoSpaceError } from '../store/fs-util.js';
import type { RaftConfig, RaftStatus } from '../raft/types.js';
import { ResponseCode as DLedgerCode } from '../node/client-protocol.js';
import { assert } from '../util/assert.js';
import { createMessageId, DLEDGER_ENTRY_HEADER_BYTES, encodeMessage, type HostAddress, patchPhysicalOffset, physicalOffsetField, storeTimestampField } from './message-codec.js';
import { readStoreCheckpoint, writeStoreCheckpoint } from './store/store-checkpoint.js';
import type { ClassicLogFiles } from './classic-files.js';
import { type LogStartExpectation, logStartMismatch } from './log-start-check.js';
import { BrokerState, type ApplyResult } from './state/broker-state.js';
import { MappedConsumeQueueStore } from './store/mapped-consume-queue.js';
import { type DurableBrokerState, DURABLE_STATE_FILE, type IndexMark, loadDurableState, removeDurableState, saveDurableState } from './state/durable-state.js';
import type { ConsumeQueueUnit } from './state/consume-queue.js';
import { type BrokerCommand, encodeCommand } from './state/commands.js';
import { QueueOffsetAllocator } from './state/queue-offset-allocator.js';
import { propertiesToStore } from './state/attached-command.js';

/** A producer's message before the broker stores it (offsets and store fields come from us). */
export interface MessageToPut {
  readonly topic: string;
  readonly queueId: number;
  readonly flag: number;
  readonly sysFlag: number;
  readonly bornTimestampMs: number;
  readonly bornHost: HostAddress;
  readonly reconsumeTimes: number;
  readonly body: Uint8Array;
  readonly properties: string;
  /** The half message a transaction's committed message ends (its physical offset; 0 or absent otherwise). */
  readonly preparedTransactionOffset?: number;
  /** A broker command applied in the same entry (state/attached-command.ts); only the broker sets it. */
  readonly attachedCommand?: BrokerCommand;
}

export interface PutResult {
  readonly msgId: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly logIndex: number;
}

/** RocketMQ's PutMessageStatus values a put can end with, besides PUT_OK. */
export type PutFailure = 'SERVICE_NOT_AVAILABLE' | 'IN_SYNC_REPLICAS_NOT_ENOUGH' | 'OS_PAGE_CACHE_BUSY' | 'MESSAGE_ILLEGAL' | 'UNKNOWN_ERROR';

export class PutMessageError extends Error {
  override name = 'PutMessageError';
  constructor(readonly status: PutFailure, message: string, readonly leaderId: string | null = null) {
    super(message);
  }
}

/** RocketMQ's broker role: master = the Raft leader once it has applied its whole log. */
export interface BrokerRoleChange {
  readonly role: 'master' | 'slave';
  readonly term: number;
  readonly leaderId: string | null;
}

/**
 * What the broker uses of its commit log: this DLedger group, or before an upgrade the classic
 * single-node log (classic-commit-log.ts). Both index into a BrokerState the same way.
 */
export interface BrokerCommitLog {
  readonly state: BrokerState;
  readonly role: BrokerRoleChange;
  start(): Promise<void>;
  close(): Promise<void>;
  onBrokerRoleChange(handler: (change: BrokerRoleChange) => void): void;
  isWritable(): boolean;
  /**
   * Whether this member is still the master a quorum follows, with everything committed applied
   * (a ReadIndex barrier, false on refusal or after timeoutMs). A deposed master that has not
   * heard of its successor yet answers false.
   */
  confirmMaster(timeoutMs: number): Promise<boolean>;
  putMessages(messages: readonly MessageToPut[]): Promise<PutResult[]>;
  proposeCommand(command: BrokerCommand): Promise<void>;
  readMessages(topic: string, queueId: number, queueOffset: number, maxNums: number, maxBytes: number): Uint8Array[];
  readByPhysicalOffset(physicalOffset: number): Uint8Array | null;
  /** The DLedger member's Raft status; null for a classic log. */
  raftStatus(): RaftStatus | null;
  /** Retention counters and the last disk measurement; null when this log has no retention. */
  retentionStats(): RetentionStats | null;
  /** What the commit log retains; null for a classic log. */
  retainedRange(): RetainedRange | null;
  /** Called on every member after its retention moved the commit log's start (physical offset of the first message kept). */
  onLogStartMoved(handler: (minPhysicalOffset: number) => void): void;
}

/**
 * The classic commit log this group continues after an upgrade (classic-upgrade.ts): physical
 * offsets below dividedOffset are its messages, indexed before the first Raft entry; the DLedger
 * store's first entry lies at dividedOffset.
 */
export interface ClassicPrefix {
  readonly files: ClassicLogFiles;
  readonly dividedOffset: number;
}

export interface DLedgerCommitLogOptions {
  readonly nodeConfig: DLedgerNodeConfig;
  /** brokerIP1:listenPort, written into STOREHOST and msgIds. */
  readonly storeHost: HostAddress;
  readonly log: (line: string) => void;
  /** A put not committed within this long fails with IN_SYNC_REPLICAS_NOT_ENOUGH (DLedger: 2.5 s). */
  readonly appendTimeoutMs?: number;
  /** Raft core overrides (tests). */
  readonly raft?: Partial<RaftConfig>;
  /** The old commit log after an upgrade from a classic broker. */
  readonly classic?: ClassicPrefix;
  /** storePathCommitLog (named when the group's first position disagrees with this member's). */
  readonly classicDirectoryPath?: string;
  /**
   * Commit-log retention (the broker's RocketMQ keys); null or absent: none. Not with a classic
   * prefix (RocketMQ too disables DLedger deletion while old commit log files exist).
   */
  readonly retention?: RetentionSettings | null;
  /** The member's metrics (the broker's Prometheus endpoint); absent: none. */
  readonly metrics?: Metrics;
  /**
   * Consume queues on disk ({storePathRootDir}/consumequeue, mappedFileSizeConsumeQueue bytes per
   * file, flushed every flushIntervalMs); absent: in memory (tests).
   */
  readonly consumeQueues?: {
    readonly directoryPath: string;
    readonly fileSizeBytes: number;
    readonly flushIntervalMs: number;
    /**
     * {storePathRootDir}: every flush also writes the durable applied point there
     * (durable-state.ts), and a start restores from it and replays only the entries after it.
     */
    readonly durableStateDir?: string;
    /** The index files, flushed before and restored with the durable point. */
    readonly index?: DurableIndex;
  };
}

/** What the durable point needs of the index service (store/index-service.ts). */
export interface DurableIndex {
  load(mark: IndexMark | null): void;
  mark(): IndexMark;
  flush(): void;
}

/** The exit code of a member that stopped by itself (as a `dledger server` that stops itself). */
export const SELF_STOP_EXIT_CODE = 3;

/**
 * Stored messages of (topic, queueId) from queueOffset on: at most maxNums messages and (after the
 * first) maxBytes bytes, each read by `readUnit` from its consume-queue unit.
 */
export function readQueueMessages(
  state: BrokerState, topic: string, queueId: number, queueOffset: number, maxNums: number, maxBytes: number,
  readUnit: (unit: ConsumeQueueUnit, what: string) => Uint8Array,
): Uint8Array[] {
  const queue = state.consumeQueue(topic, queueId);
  const out: Uint8Array[] = [];
  if (queue === null) return out;
  let bytes = 0;
  for (let offset = queueOffset; offset < queue.maxOffset && out.length < maxNums; offset++) {
    const unit = queue.get(offset);
    if (unit === null) break;
    if (out.length > 0 && bytes + unit.size > maxBytes) break;
    out.push(readUnit(unit, `CQ ${topic}-${queueId}@${offset}`));
    bytes += unit.size;
  }
  return out;
}

/** How often a restarted member checks whether it has re-applied its recovered log. */
const REPLAY_POLL_MS = 20;
/** How often a new leader checks whether it has applied its whole log. */
const MASTER_READY_POLL_MS = 10;
/** How often a member looks for the group's entry 0 until it has it (leaders' NOOPs are not applied). */
const LOG_START_POLL_MS = 50;

export class DLedgerCommitLog implements BrokerCommitLog {
  readonly state: BrokerState;
  readonly server: DLedgerServer;
  private readonly allocator: QueueOffsetAllocator;
  private readonly roleHandlers: Array<(change: BrokerRoleChange) => void> = [];
  private brokerRole: BrokerRoleChange = { role: 'slave', term: 0, leaderId: null };
  private masterTimer: NodeJS.Timeout | null = null;
  /** Bumped on every Raft role change, so a check scheduled for an older one does nothing. */
  private roleGeneration = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly logStart: LogStartExpectation;
  private logStartChecked = false;
  private logStartTimer: NodeJS.Timeout | null = null;
  // Invariant: once set, no entry reaches the broker state (this member is stopping).
  private refusal: string | null = null;
  // Invariant: once set, no durable point is written (the state holds a half-applied entry).
  private stateBroken = false;
  private resolveStopped: (code: number) => void = () => undefined;
  private readonly logStartHandlers: Array<(minPhysicalOffset: number) => void> = [];
  private checkpointTimer: NodeJS.Timeout | null = null;
  private checkpointInFlight = false;
  private checkpointTooLargeLogged = false;
  private queueFlushTimer: NodeJS.Timeout | null = null;
  /** The entry the last durable point was written at (-1: none this run). */
  private durableApplied = -1;
  /** Bumped when a snapshot install replaces the state: a durable point captured before is not written. */
  private durableGeneration = 0;
  /** The entry this start restored from (-1: replayed from the log's start). */
  restoredAt = -1;
  /**
   * The entries of the recovered log this start re-applies (after the durable point, or all of
   * them), counted as they are applied; null once done (logged: "restart replay done: ...").
   */
  private replay: { readonly from: number; readonly to: number; readonly startedMs: number; entries: number; messages: number } | null = null;
  private replayTimer: NodeJS.Timeout | null = null;
  /** STORETIMESTAMP of the last message applied (RocketMQ's checkpoint file takes it at the durable point). */
  private lastStoreTimestampMs = 0;
  /** What the last restart re-applied: entries and messages of the recovered log past the restore point; null while running. */
  replayed: { readonly entries: number; readonly messages: number; readonly ms: number } | null = null;
  /** The consume-queue flush running now, if any (one at a time; close waits for it). */
  private queueFlush: Promise<void> | null = null;
  /** Resolves with an exit code when this member stops by itself (log start refused, fatal store error). */
  readonly stoppedByItself: Promise<number> = new Promise((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly options: DLedgerCommitLogOptions) {
    const queues = options.consumeQueues;
    this.state = new BrokerState(options.log, queues === undefined ? undefined : new MappedConsumeQueueStore({ directoryPath: queues.directoryPath, fileSizeBytes: queues.fileSizeBytes }));
    // RocketMQ's DLedgerCommitLog serves offsets below dividedCommitlogOffset from the old files;
    // their consume-queue units come first, so queue offsets continue across the boundary.
    this.logStart = {
      dividedOffset: options.classic?.dividedOffset ?? 0,
      upgraded: options.classic !== undefined,
      classicDirectoryPath: options.classicDirectoryPath ?? '(storePathCommitLog)',
    };
    const retention = options.classic === undefined ? options.retention ?? null : null;
    this.server = new DLedgerServer({
      config: options.nodeConfig,
      stateMachine: {
        apply: (entry) => this.applyChecked(entry),
        // The leader deleted entries we lacked: rebuild from its next state checkpoint.
        installSnapshot: (index) => {
          // The durable point no longer describes this state: forget it before the queues go.
          this.durableGeneration++;
          const dir = this.options.consumeQueues?.durableStateDir;
          if (dir !== undefined) removeDurableState(dir);
          this.durableApplied = -1;
          this.state.beginFromCompactedLog(index + 1);
        },
        restore: (view) => this.restore(view),
      },
      retention,
      // Never delete past the last state checkpoint: a member that restarts from what is left rebuilds from it.
      // Nor past this member's durable point: a restart needs the entry it was written at and those after it.
      retentionFloor: () => Math.min(this.state.lastCheckpoint === null ? 0 : this.state.lastCheckpoint.capturedAt + 1, this.options.consumeQueues?.durableStateDir === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, this.durableApplied)),
      onLogStartMoved: (_run, _firstIndex, firstPos) => {
        const minPhysicalOffset = firstPos + DLEDGER_ENTRY_HEADER_BYTES;
        const dropped = this.state.truncateBelow(minPhysicalOffset);
        options.log(`commit log starts at offset ${minPhysicalOffset}: ${dropped} consume queue units below it dropped`);
        for (const handler of this.logStartHandlers) handler(minPhysicalOffset);
      },
      patchBody: patchPhysicalOffset,
      // The same function for a Raft worker thread (raftWorker), which imports it by name.
      patchBodyModule: { url: new URL('./message-codec.js', import.meta.url).href, exportName: 'patchPhysicalOffset' },
      log: options.log,
      // The node logged "FATAL: ...; stopping this node" and closes itself; the broker goes too.
      onFatal: () => void this.close().finally(() => this.resolveStopped(SELF_STOP_EXIT_CODE)),
      appendTimeoutMs: options.appendTimeoutMs ?? 2500,
      // The broker is this group's only client: an external DLedgerClient append would put bytes
      // in the commit log past every broker check, a transfer would move leadership.
      acceptClients: false,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.raft === undefined ? {} : { raft: options.raft }),
    });
    this.allocator = new QueueOffsetAllocator({
      appliedMaxOffset: (topic, queueId) => this.state.maxOffset(topic, queueId),
      leaderCaughtUp: () => {
        const status = this.server.status();
        return status.role === 'leader' && status.appliedIndex >= status.lastIndex;
      },
    });
    this.server.onRoleChange((change) => this.onRaftRole(change));
  }

  async start(): Promise<void> {
    await this.server.start();
    // Retention deleted the beginning of the log: the state comes back from its next checkpoint.
    const retention = this.server.retentionStats() === null ? null : (this.options.retention ?? null);
    if (retention !== null) {
      this.checkpointTimer = setInterval(() => {
        try {
          this.proposeCheckpoint();
        } catch (error) {
          // The node stopped itself (fatal) and the broker's close has not run yet: nothing to write.
          if (!this.closed) this.options.log(`state checkpoint not proposed: ${(error as Error).message}`);
        }
      }, retention.checkIntervalMs);
      this.checkpointTimer.unref();
    }
    const queues = this.options.consumeQueues;
    if (queues !== undefined) {
      this.queueFlushTimer = setInterval(() => void this.flushQueues(false), queues.flushIntervalMs);
      this.queueFlushTimer.unref();
    }
    // Entry 0 is the first leader's NOOP, which is never applied: a member that only has it (no
    // message or command yet) checks here.
    this.logStartTimer = setInterval(() => this.checkLogStart(), LOG_START_POLL_MS);
    this.logStartTimer.unref();
    this.checkLogStart();
    // Done when everything the recovered log held is applied (its last entries may be NOOPs, which are never handed to apply).
    if (this.replay !== null && !this.replayDone()) {
      this.replayTimer = setInterval(() => this.replayDone(), REPLAY_POLL_MS);
      this.replayTimer.unref();
    }
  }

  /** Logs the restart's replay once this member applied the recovered log's last entry. */
  private replayDone(): boolean {
    const replay = this.replay;
    if (replay === null) return true;
    // A killed leader's uncommitted tail may be cut by the new leader: then the recovered log's end
    // never gets applied, and the replay is done at the log's end as it is now (a run saw the old
    // check wait for index 3019 after the log was cut to 3015 and never log the line).
    const status = this.server.status();
    if (status.appliedIndex < Math.min(replay.to, status.lastIndex)) return false;
    this.replay = null;
    if (this.replayTimer !== null) clearInterval(this.replayTimer);
    this.replayed = { entries: replay.entries, messages: replay.messages, ms: Date.now() - replay.startedMs };
    // A first start (empty log, nothing restored) has nothing to report.
    if (replay.to >= replay.from || this.restoredAt >= 0) this.options.log(`restart replay done: ${replay.entries} entries re-applied (${replay.messages} messages) of the recovered log's ${replay.from}..${replay.to} in ${this.replayed.ms} ms`);
    return true;
  }

  raftStatus(): RaftStatus {
    return this.server.status();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.masterTimer !== null) clearInterval(this.masterTimer);
      if (this.logStartTimer !== null) clearInterval(this.logStartTimer);
      if (this.checkpointTimer !== null) clearInterval(this.checkpointTimer);
      if (this.queueFlushTimer !== null) clearInterval(this.queueFlushTimer);
      if (this.replayTimer !== null) clearInterval(this.replayTimer);
      // A last durable point while the member still runs (a restart then replays next to nothing).
      await this.queueFlush?.catch(() => undefined);
      if (this.options.consumeQueues !== undefined && !this.stateBroken) await this.flushQueues(true);
      await this.server.close();
      // Nothing is applied any more: the last flush covers every unit, then the files are unmapped.
      await this.state.flushQueues().catch((error: Error) => this.options.log(`consume queue flush at close failed: ${error.message}`));
      this.state.closeQueues();
      this.options.classic?.files.close();
    })();
    return this.closing;
  }

  /**
   * The state machine the node applies committed entries to: the broker state, after checking
   * once per start (before the first entry is indexed) that the group's entry 0 lies at this
   * member's dividedCommitlogOffset (log-start-check.ts).
   */
  private applyChecked(entry: CommittedEntry): ApplyResult {
    // Applied entries are stored here, so entry 0 is too unless the log starts later.
    if (!this.logStartChecked) this.checkLogStart(true);
    if (this.refusal !== null) return { kind: 'skipped', reason: this.refusal };
    // The node may hand the leader an entry whose body is still the proposal, which the store
    // hook did not patch (it patches the bytes it writes): since 71b1341 a leader applies once
    // committed, possibly from its unstable log. Its stored bytes carry PHYSICALOFFSET, so take
    // the position from the store. Seen in chaos (seed 13, 10 min, SYNC_FLUSH): 43 leader crashes
    // 'CQ TopicChaos-3: offset 0 after 8020729' in the consume queue.
    if (physicalOffsetField(entry.body) === 0) {
      const pos = this.server.storedPos(entry.index);
      if (pos !== null) patchPhysicalOffset(entry.body, pos);
    }
    let result: ApplyResult;
    try {
      result = this.state.apply(entry);
    } catch (error) {
      if (!(error instanceof StoreDiskFullError) && !isNoSpaceError(error)) throw error;
      return this.stopOnFullDisk(entry.index, error as Error);
    }
    if (result.kind === 'message') this.lastStoreTimestampMs = storeTimestampField(entry.body) ?? this.lastStoreTimestampMs;
    const replay = this.replay;
    if (replay !== null && entry.index <= replay.to) {
      replay.entries++;
      if (result.kind === 'message') replay.messages++;
    }
    return result;
  }

  /**
   * A consume-queue (or index) file could not be created for entry `index`: the disk is full. As
   * the commit log does when it cannot write (the node's FATAL stop), this member stops (exit
   * SELF_STOP_EXIT_CODE) with the reason instead of an exception out of the apply loop, applies
   * nothing more, and writes no durable point (the state holds part of this entry): a restart
   * with space replays from the last durable point, so no unit is lost or doubled. The rest of
   * the group goes on; a leader's process takes its leadership with it.
   */
  private stopOnFullDisk(index: number, error: Error): ApplyResult {
    this.stateBroken = true;
    this.refusal = `entry ${index} not applied: disk full (${error.message})`;
    this.options.log(`FATAL: disk full: a consume-queue or index file for entry ${index} cannot be created (${error.message}); stopping this broker (exit ${SELF_STOP_EXIT_CODE}); free space and restart it: it replays from its last durable point`);
    // Not from inside the node's apply loop: close on the next turn.
    setImmediate(() => void this.close().finally(() => this.resolveStopped(SELF_STOP_EXIT_CODE)));
    return { kind: 'skipped', reason: this.refusal };
  }

  /**
   * Master: write the state into the log once the applied state has moved into a later segment
   * than the last checkpoint's floor (the entry after the one it was captured at), or there is
   * none: retention may then delete every segment before the one being applied, while the log
   * carries about one checkpoint per segment (a checkpoint holds every topic and offset). Goes
   * through even on a full disk: it is what lets space return.
   */
  private proposeCheckpoint(): void {
    if (this.closed || this.checkpointInFlight || this.brokerRole.role !== 'master' || this.state.isRestoring) return;
    const last = this.state.lastCheckpoint;
    const applied = this.state.lastAppliedIndex;
    if (applied <= (last?.index ?? -1)) return;
    if (last !== null) {
      // Compared by the applied index, not the written end: the leader writes ahead of what it
      // applied, and a checkpoint captured behind a segment boundary cannot free the segment.
      const segmentBytes = this.options.nodeConfig.mappedFileSizeForEntryData;
      const floorPos = this.server.storedPos(last.capturedAt + 1);
      const appliedPos = this.server.storedPos(applied);
      if (floorPos !== null && appliedPos !== null && Math.floor(floorPos / segmentBytes) >= Math.floor(appliedPos / segmentBytes)) return;
    }
    const body = encodeCommand(this.state.checkpoint(), this.options.storeHost, Date.now());
    if (body.length > this.options.nodeConfig.maxEntryBodyBytes) {
      if (!this.checkpointTooLargeLogged) this.options.log(`state checkpoint of ${body.length} bytes is over maxEntryBodyBytes ${this.options.nodeConfig.maxEntryBodyBytes}: retention cannot move past the last checkpoint`);
      this.checkpointTooLargeLogged = true;
      return;
    }
    this.checkpointInFlight = true;
    this.server.append([body], { evenIfDiskFull: true }).then(
      () => undefined,
      (error: Error) => this.options.log(`state checkpoint not written: ${error.message}`),
    ).finally(() => {
      this.checkpointInFlight = false;
    });
  }

  /**
   * One consume-queue flush at a time, each followed by a durable point when configured; a
   * failure is logged (the durable point stays where it was: a restart replays more).
   */
  private flushQueues(final: boolean): Promise<void> {
    if (this.queueFlush !== null || (this.closed && !final)) return this.queueFlush ?? Promise.resolve();
    this.queueFlush = this.writeDurablePoint().catch((error: Error) => this.options.log(`consume queue flush / durable point failed: ${error.message}`)).finally(() => {
      this.queueFlush = null;
    });
    return this.queueFlush;
  }

  /**
   * The durable applied point: capture the state at the last applied entry N (with the index
   * files' mark, which stands at N too: both are updated synchronously by apply), wait until the
   * commit log is durable up to N, flush the consume queues and index files (they hold at least
   * everything up to N), then write the state file (atomic rename). A restart trusts it only
   * after this order completed.
   */
  private async writeDurablePoint(): Promise<void> {
    if (this.stateBroken) return;
    const dir = this.options.consumeQueues?.durableStateDir;
    const captured = dir === undefined ? null : this.state.captureDurable();
    if (dir === undefined || captured === null || captured.state.capturedAt <= this.durableApplied) {
      await this.state.flushQueues();
      return;
    }
    const appliedIndex = captured.state.capturedAt;
    const storeTimestampMs = this.lastStoreTimestampMs; // at appliedIndex too (same turn as the capture)
    const entry = this.server.get(appliedIndex);
    if (entry === null) return;
    const index = this.options.consumeQueues?.index;
    const mark = index?.mark() ?? null;
    const generation = this.durableGeneration;
    await this.server.whenDurable(appliedIndex);
    await this.state.flushQueues();
    index?.flush();
    if (generation !== this.durableGeneration) return; // a snapshot install replaced the state meanwhile
    saveDurableState(dir, { ...captured, term: entry.term, pos: entry.pos, index: mark });
    // RocketMQ's checkpoint file for tools that read it: commit log and consume queues are durable
    // up to the same message; the index's end time as of the mark (header bytes 8..16).
    const indexEndMs = mark === null || mark.lastHeader.length < 32 ? storeTimestampMs : Number(Buffer.from(mark.lastHeader, 'hex').readBigInt64BE(8));
    writeStoreCheckpoint(dir, { physicMsgTimestampMs: storeTimestampMs, logicsMsgTimestampMs: storeTimestampMs, indexMsgTimestampMs: indexEndMs });
    this.durableApplied = appliedIndex;
  }

  /**
   * StateMachine.restore: load the durable point if the recovered log still has its entry (same
   * term and position) and the consume-queue files hold what it says; otherwise rebuild: forget
   * it, empty the queues and index, index the classic prefix, and re-apply the log from its start
   * (from its next state checkpoint when retention deleted the beginning).
   */
  private restore(view: RestoreView): number {
    const dir = this.options.consumeQueues?.durableStateDir;
    const index = this.options.consumeQueues?.index;
    if (dir !== undefined) {
      let saved: DurableBrokerState | null = null;
      try {
        saved = loadDurableState(dir);
      } catch (error) {
        this.options.log(`durable point ignored: ${(error as Error).message}`);
      }
      if (saved !== null) {
        const appliedIndex = saved.state.capturedAt;
        const entry = view.entryAt(appliedIndex);
        if (entry === null || entry.term !== saved.term || entry.pos !== saved.pos) {
          this.options.log(`durable point at entry ${appliedIndex} (term ${saved.term}, pos ${saved.pos}) ignored: the log [${view.firstIndex}, ${view.lastIndex}] has ${entry === null ? 'no such entry' : `term ${entry.term}, pos ${entry.pos}`}`);
        } else {
          try {
            this.state.restoreDurable(saved);
            index?.load(saved.index);
            // RocketMQ's correctMinOffset: the log may start later than the saved minimums.
            const first = view.entryAt(view.firstIndex);
            if (first !== null) this.state.truncateBelow(first.pos + DLEDGER_ENTRY_HEADER_BYTES);
            this.durableApplied = appliedIndex;
            this.restoredAt = appliedIndex;
            this.lastStoreTimestampMs = readStoreCheckpoint(dir)?.physicMsgTimestampMs ?? 0;
            this.options.log(`restored the broker state and consume queues at entry ${appliedIndex} from ${DURABLE_STATE_FILE}: entries ${appliedIndex + 1}..${view.lastIndex} of the log [${view.firstIndex}, ${view.lastIndex}] are re-applied`);
            this.replay = { from: appliedIndex + 1, to: view.lastIndex, startedMs: Date.now(), entries: 0, messages: 0 };
            return appliedIndex;
          } catch (error) {
            this.options.log(`durable point at entry ${appliedIndex} ignored: ${(error as Error).message}`);
          }
        }
      }
      removeDurableState(dir);
      this.state.removeAllQueues();
    }
    index?.load(null);
    this.options.classic?.files.forEachMessage((_offset, bytes) => this.state.applyClassic(bytes));
    // Retention deleted the beginning of the log: the state comes back from its next checkpoint.
    if (view.firstIndex > 0 && this.options.classic === undefined) this.state.beginFromCompactedLog(view.firstIndex);
    this.options.log(`no durable point: the log [${view.firstIndex}, ${view.lastIndex}] is re-applied from its start`);
    this.replay = { from: view.firstIndex, to: view.lastIndex, startedMs: Date.now(), entries: 0, messages: 0 };
    return view.firstIndex - 1;
  }

  retentionStats(): RetentionStats | null {
    return this.server.retentionStats();
  }

  retainedRange(): RetainedRange {
    return this.server.retainedRange();
  }

  onLogStartMoved(handler: (minPhysicalOffset: number) => void): void {
    this.logStartHandlers.push(handler);
  }

  /** Compare entry 0's position with ours once it is stored (or give up on a log starting later). */
  private checkLogStart(applying = false): void {
    if (this.logStartChecked || this.closed) return;
    const firstPos = this.server.storedPos(0);
    if (firstPos === null && !applying && this.server.status().firstIndex <= 0) return; // not received yet
    this.logStartChecked = true;
    if (this.logStartTimer !== null) clearInterval(this.logStartTimer);
    const mismatch = logStartMismatch(this.logStart, firstPos, this.server.status().leaderId);
    if (mismatch === null) return;
    this.refusal = mismatch;
    this.options.log(`FATAL: ${mismatch}`);
    // Not from inside the node's apply loop: close on the next turn.
    setImmediate(() => void this.close().finally(() => this.resolveStopped(SELF_STOP_EXIT_CODE)));
  }

  /** Called with 'slave' on every Raft role other than leader, 'master' once a leader is ready. */
  onBrokerRoleChange(handler: (change: BrokerRoleChange) => void): void {
    this.roleHandlers.push(handler);
  }

  get role(): BrokerRoleChange {
    return this.brokerRole;
  }

  confirmMaster(timeoutMs: number): Promise<boolean> {
    if (this.closed || this.brokerRole.role !== 'master') return Promise.resolve(false);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const barrier = this.server.readBarrier().then(() => !this.closed && this.brokerRole.role === 'master', () => false);
    return Promise.race([barrier, timeout]).finally(() => clearTimeout(timer));
  }

  /** Sends are accepted: this member leads and its queue offsets are exact. */
  isWritable(): boolean {
    return !this.closed && this.brokerRole.role === 'master' && this.allocator.ready();
  }

  /**
   * Store messages for one (topic, queueId) at consecutive queue offsets; resolves once they are
   * committed and indexed (on this member; followers index them as they apply).
   */
  async putMessages(messages: readonly MessageToPut[]): Promise<PutResult[]> {
    assert(messages.length > 0, 'putMessages needs messages');
    const first = messages[0] as MessageToPut;
    assert(messages.every((m) => m.topic === first.topic && m.queueId === first.queueId), 'one put = one queue');
    if (!this.isWritable()) {
      throw new PutMessageError('SERVICE_NOT_AVAILABLE', `${this.options.nodeConfig.selfId} is not the master (${this.brokerRole.role}, leader ${this.brokerRole.leaderId ?? 'unknown'})`, this.brokerRole.leaderId);
    }
    const nowMs = Date.now();
    const baseOffset = this.allocator.reserve(first.topic, first.queueId, messages.length);
    let ok = false;
    try {
      const bodies = messages.map((m, i) => encodeMessage({
        ...m,
        properties: propertiesToStore(m.properties, m.attachedCommand),
        queueOffset: baseOffset + i,
        physicalOffset: 0, // written by the store's append hook: pos + 48
        storeTimestampMs: nowMs,
        storeHost: this.options.storeHost,
        preparedTransactionOffset: m.preparedTransactionOffset ?? 0,
      }));
      const appended = await this.appendOrExplain(bodies);
      const results = appended.map((entry, i) => this.putResultOf(entry, baseOffset + i));
      ok = true;
      return results;
    } finally {
      this.allocator.settle(ok);
    }
  }

  private putResultOf(entry: AppendResult, expectedQueueOffset: number): PutResult {
    const applied = entry.result as ApplyResult;
    const physicalOffset = entry.pos + DLEDGER_ENTRY_HEADER_BYTES;
    if (applied.kind !== 'message' || applied.queueOffset !== expectedQueueOffset) {
      throw new PutMessageError('UNKNOWN_ERROR', `entry ${entry.index} applied as ${JSON.stringify(applied)}, expected queue offset ${expectedQueueOffset}`);
    }
    assert(applied.physicalOffset === physicalOffset, `entry ${entry.index}: PHYSICALOFFSET ${applied.physicalOffset} but pos ${entry.pos}`);
    return { msgId: createMessageId(this.options.storeHost, physicalOffset), queueId: applied.queueId, queueOffset: applied.queueOffset, physicalOffset, logIndex: entry.index };
  }

  /** Replicate a broker command; resolves once it is committed and applied here. */
  async proposeCommand(command: BrokerCommand): Promise<void> {
    if (this.closed || this.brokerRole.role !== 'master') {
      throw new PutMessageError('SERVICE_NOT_AVAILABLE', `${this.options.nodeConfig.selfId} is not the master`, this.brokerRole.leaderId);
    }
    const [entry] = await this.appendOrExplain([encodeCommand(command, this.options.storeHost, Date.now())]);
    const applied = entry?.result as ApplyResult | undefined;
    if (applied?.kind !== 'command') throw new PutMessageError('UNKNOWN_ERROR', `command applied as ${JSON.stringify(applied)}`);
  }

  /** DLedger's outcome as RocketMQ's PutMessageStatus (DLedgerCommitLog.asyncPutMessage). */
  private async appendOrExplain(bodies: readonly Uint8Array[]): Promise<AppendResult[]> {
    try {
      return await this.server.append(bodies);
    } catch (error) {
      if (!(error instanceof DLedgerError)) throw error;
      switch (error.code) {
        case DLedgerCode.NOT_LEADER:
        case DLedgerCode.LEADER_NOT_READY:
        case DLedgerCode.LEADER_TRANSFERRING:
        case DLedgerCode.TERM_CHANGED:
        case DLedgerCode.DISK_FULL:
        case DLedgerCode.DISK_ERROR:
          throw new PutMessageError('SERVICE_NOT_AVAILABLE', error.message, error.leaderId);
        case DLedgerCode.WAIT_QUORUM_ACK_TIMEOUT:
          // RocketMQ's remark is "in-sync replicas not enough"; the node's message may already say so.
          throw new PutMessageError('IN_SYNC_REPLICAS_NOT_ENOUGH', error.message.startsWith('in-sync replicas not enough') ? error.message : `in-sync replicas not enough: ${error.message}`, error.leaderId);
        case DLedgerCode.LEADER_PENDING_FULL:
          throw new PutMessageError('OS_PAGE_CACHE_BUSY', error.message, error.leaderId);
        case DLedgerCode.UNEXPECTED_ARGUMENT:
          throw new PutMessageError('MESSAGE_ILLEGAL', error.message, error.leaderId);
        default:
          throw new PutMessageError('UNKNOWN_ERROR', error.message, error.leaderId);
      }
    }
  }

  /**
   * Stored messages of (topic, queueId) from queueOffset on: at most maxNums messages and (after
   * the first) maxBytes bytes, each the exact stored bytes a PULL body carries.
   */
  readMessages(topic: string, queueId: number, queueOffset: number, maxNums: number, maxBytes: number): Uint8Array[] {
    return readQueueMessages(this.state, topic, queueId, queueOffset, maxNums, maxBytes, (unit, what) => this.readUnit(unit, what));
  }

  private readUnit(unit: ConsumeQueueUnit, what: string): Uint8Array {
    const classic = this.options.classic;
    if (classic !== undefined && unit.commitLogOffset < classic.dividedOffset) return classic.files.read(unit.commitLogOffset, unit.size);
    const entry = this.server.getAtPos(unit.commitLogOffset - DLEDGER_ENTRY_HEADER_BYTES);
    // Invariant: an indexed message is an applied entry of exactly the unit's size.
    assert(entry !== null && entry.body.length === unit.size, `${what} (commit log offset ${unit.commitLogOffset}, ${unit.size} bytes) does not match an applied entry`);
    return entry.body;
  }

  /**
   * The stored message at a physical offset (entry pos + 48), or null if none starts there.
   * Found in one read: the header there names the entry's index (no offset-to-index table).
   */
  readByPhysicalOffset(physicalOffset: number): Uint8Array | null {
    const classic = this.options.classic;
    if (classic !== undefined && physicalOffset < classic.dividedOffset) return classic.files.readAt(physicalOffset);
    // The entry header at pos = offset - 48 names its index, checked against the index record.
    return this.server.getAtPos(physicalOffset - DLEDGER_ENTRY_HEADER_BYTES)?.body ?? null;
  }

  // ---------------------------------------------------------------- roles

  private onRaftRole(change: RoleChange): void {
    const generation = ++this.roleGeneration;
    this.allocator.reset();
    if (this.masterTimer !== null) {
      clearInterval(this.masterTimer);
      this.masterTimer = null;
    }
    if (change.role !== 'leader') {
      this.setBrokerRole({ role: 'slave', term: change.term, leaderId: change.leaderId });
      return;
    }
    // RocketMQ's DLedgerRoleChangeHandler: become master only once the whole log is applied.
    this.setBrokerRole({ role: 'slave', term: change.term, leaderId: change.leaderId });
    const becomeMaster = (): boolean => {
      if (this.closed || !this.allocator.ready()) return false;
      if (this.masterTimer !== null) clearInterval(this.masterTimer);
      this.masterTimer = null;
      this.setBrokerRole({ role: 'master', term: change.term, leaderId: change.leaderId });
      return true;
    };
    // The core reports the role before this Ready's entries are applied: check on the next turn.
    setImmediate(() => {
      if (this.closed || generation !== this.roleGeneration) return;
      if (!becomeMaster()) this.masterTimer = setInterval(becomeMaster, MASTER_READY_POLL_MS);
    });
  }

  private setBrokerRole(change: BrokerRoleChange): void {
    const previous = this.brokerRole;
    this.brokerRole = change;
    if (previous.role === change.role && previous.term === change.term && previous.leaderId === change.leaderId) return;
    for (const handler of this.roleHandlers) handler(change);
  }
}
