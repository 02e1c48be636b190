// The classic single-node commit log (enableDLegerCommitLog=false): a master broker without Raft,
// its messages appended to mapped files under storePathCommitLog (classic-files.ts) in RocketMQ's
// stored-message format, PHYSICALOFFSET = the message's file offset. The same BrokerState as the
// DLedger group's indexes them into consume queues, rebuilt by re-reading the files on start.
//
// Topic configs and consumer offsets are broker commands stored as messages of the internal
// BROKER_STATE_TOPIC (state/commands.ts), as in the DLedger group, instead of RocketMQ's
// config/topics.json and consumerOffset.json: one durable, ordered record of everything, and an
// upgrade to DLedger carries topics and offsets over by re-reading the same files.
//
// Flushing follows flushDiskType: SYNC_FLUSH acknowledges a put once one msync covering every put
// of the event-loop turn returns (RocketMQ's GroupCommitService); ASYNC_FLUSH acknowledges from
// the page cache and msyncs every flushIntervalMs (flushIntervalCommitLog, 500 ms).
import { assert } from '../util/assert.js';
import { ClassicLogFiles, type ClassicRecoveryReport } from './classic-files.js';
import type { BrokerCommitLog, BrokerRoleChange, MessageToPut, PutResult } from './dledger-commit-log.js';
import { PutMessageError, readQueueMessages } from './dledger-commit-log.js';
import { createMessageId, encodeMessage, type HostAddress } from './message-codec.js';
import { BrokerState, CLASSIC_LOG_INDEX } from './state/broker-state.js';
import { type BrokerCommand, encodeCommand } from './state/commands.js';
import { propertiesToStore } from './state/attached-command.js';

export interface ClassicCommitLogOptions {
  /** storePathCommitLog */
  readonly directoryPath: string;
  /** mappedFileSizeCommitLog */
  readonly fileSizeBytes: number;
  /** The largest stored message a put may write. */
  readonly maxMessageBytes: number;
  readonly flushDiskType: 'SYNC_FLUSH' | 'ASYNC_FLUSH';
  /** ASYNC_FLUSH: msync period (RocketMQ's flushIntervalCommitLog). */
  readonly flushIntervalMs?: number;
  /** brokerIP1:listenPort, written into STOREHOST and msgIds. */
  readonly storeHost: HostAddress;
  readonly log: (line: string) => void;
}

const DEFAULT_FLUSH_INTERVAL_MS = 500;

interface FlushWaiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class ClassicCommitLog implements BrokerCommitLog {
  readonly state: BrokerState;
  readonly files: ClassicLogFiles;
  /** What the last start found on disk. */
  recovery: ClassicRecoveryReport | null = null;
  private readonly roleHandlers: Array<(change: BrokerRoleChange) => void> = [];
  private brokerRole: BrokerRoleChange = { role: 'slave', term: 0, leaderId: null };
  private flushTimer: NodeJS.Timeout | null = null;
  // Invariant: non-empty only while a group flush is scheduled (flushScheduled).
  private flushWaiters: FlushWaiter[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly options: ClassicCommitLogOptions) {
    this.state = new BrokerState(options.log);
    this.files = new ClassicLogFiles(options.directoryPath, options.fileSizeBytes, options.maxMessageBytes);
  }

  get role(): BrokerRoleChange {
    return this.brokerRole;
  }

  /** Recover the files, index every message, then serve as master (RocketMQ's brokerId 0). */
  async start(): Promise<void> {
    assert(this.recovery === null && !this.closed, 'start() called twice');
    const report = this.files.open((_offset, bytes) => this.state.applyClassic(bytes));
    this.recovery = report;
    this.options.log(`classic commit log ${this.options.directoryPath}: ${report.messages} messages in ${this.files.fileCount} files, end offset ${report.endOffset}`
      + (report.cutBytes > 0 ? `, torn tail of ${report.cutBytes} bytes cut (${report.stopReason})` : '')
      + (report.removedFiles.length > 0 ? `, removed ${report.removedFiles.join(', ')}` : ''));
    if (this.options.flushDiskType === 'ASYNC_FLUSH') {
      this.flushTimer = setInterval(() => this.flushNow(), this.options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
      this.flushTimer.unref();
    }
    this.brokerRole = { role: 'master', term: 0, leaderId: null };
    for (const handler of this.roleHandlers) handler(this.brokerRole);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    this.brokerRole = { role: 'slave', term: 0, leaderId: null };
    this.files.close();
    this.settleFlush(null);
  }

  onBrokerRoleChange(handler: (change: BrokerRoleChange) => void): void {
    this.roleHandlers.push(handler);
  }

  /** A single node: its own master whenever it serves. */
  confirmMaster(): Promise<boolean> {
    return Promise.resolve(this.isWritable());
  }

  isWritable(): boolean {
    return !this.closed && this.brokerRole.role === 'master';
  }

  raftStatus(): null {
    return null;
  }

  /** A classic broker keeps every file (retention runs on the DLedger commit log only). */
  retentionStats(): null {
    return null;
  }

  retainedRange(): null {
    return null;
  }

  onLogStartMoved(): void {}

  /** Store messages of one (topic, queueId) at consecutive queue offsets; resolves once flushed per flushDiskType. */
  async putMessages(messages: readonly MessageToPut[]): Promise<PutResult[]> {
    assert(messages.length > 0, 'putMessages needs messages');
    const first = messages[0] as MessageToPut;
    assert(messages.every((m) => m.topic === first.topic && m.queueId === first.queueId), 'one put = one queue');
    this.checkWritable();
    const nowMs = Date.now();
    const results: PutResult[] = [];
    for (const message of messages) {
      // Appends are synchronous, so the consume queue's length is the next queue offset.
      const queueOffset = this.state.maxOffset(message.topic, message.queueId);
      const bytes = encodeMessage({ ...message, properties: propertiesToStore(message.properties, message.attachedCommand), queueOffset, physicalOffset: 0, storeTimestampMs: nowMs, storeHost: this.options.storeHost, preparedTransactionOffset: message.preparedTransactionOffset ?? 0 });
      const physicalOffset = this.appendAndIndex(bytes);
      results.push({ msgId: createMessageId(this.options.storeHost, physicalOffset), queueId: message.queueId, queueOffset, physicalOffset, logIndex: CLASSIC_LOG_INDEX });
    }
    await this.whenDurable();
    return results;
  }

  async proposeCommand(command: BrokerCommand): Promise<void> {
    this.checkWritable();
    this.appendAndIndex(encodeCommand(command, this.options.storeHost, Date.now()));
    await this.whenDurable();
  }

  private checkWritable(): void {
    if (!this.isWritable()) throw new PutMessageError('SERVICE_NOT_AVAILABLE', `the classic commit log ${this.options.directoryPath} is ${this.closed ? 'closed' : 'not started'}`);
  }

  private appendAndIndex(bytes: Uint8Array): number {
    let physicalOffset: number;
    try {
      physicalOffset = this.files.append(bytes);
    } catch (error) {
      // A new file could not be made (a full disk): nothing of this message was written.
      throw new PutMessageError('SERVICE_NOT_AVAILABLE', `classic commit log append failed: ${(error as Error).message}`);
    }
    const applied = this.state.applyClassic(bytes);
    assert(applied.kind !== 'skipped', `message at ${physicalOffset} not indexed: ${applied.kind === 'skipped' ? applied.reason : ''}`);
    return physicalOffset;
  }

  /** SYNC_FLUSH: resolves after the next group msync; ASYNC_FLUSH: at once. */
  private whenDurable(): Promise<void> {
    if (this.options.flushDiskType === 'ASYNC_FLUSH') return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.groupFlush());
    }
    return done;
  }

  private groupFlush(): void {
    let failure: Error | null = null;
    try {
      if (!this.closed) this.files.flush();
    } catch (error) {
      failure = error as Error;
      this.options.log(`classic commit log flush failed: ${failure.message}`);
    }
    this.settleFlush(failure);
  }

  private settleFlush(failure: Error | null): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    this.flushScheduled = false;
    for (const waiter of waiters) {
      if (failure === null) waiter.resolve();
      else waiter.reject(new PutMessageError('UNKNOWN_ERROR', `FLUSH_DISK failed: ${failure.message}`));
    }
  }

  private flushNow(): void {
    try {
      this.files.flush();
    } catch (error) {
      this.options.log(`classic commit log flush failed: ${(error as Error).message}`);
    }
  }

  readMessages(topic: string, queueId: number, queueOffset: number, maxNums: number, maxBytes: number): Uint8Array[] {
    return readQueueMessages(this.state, topic, queueId, queueOffset, maxNums, maxBytes, (unit) => this.files.read(unit.commitLogOffset, unit.size));
  }

  readByPhysicalOffset(physicalOffset: number): Uint8Array | null {
    return this.files.readAt(physicalOffset);
  }
}
