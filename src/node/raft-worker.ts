// Main-thread side of the Raft worker (threads=workers, raftWorker=true; the thread is
// raft-worker-thread.ts). DLedgerServer delegates its embedding API here: append, reads,
// leadership transfer, status/metadata, and it applies committed entries to the state machine on
// this thread, in log order, from the worker's Applied records (the stored bytes travel with
// them). Reads of committed entries (get, read-latest, storedPos) map the store's segment files
// read-only (src/store/log-reader.ts) instead of asking the worker.
//
// Waiting: this thread drains the worker's ring whenever Atomics.waitAsync on it resolves (or a
// 50 ms guard passes): it never blocks. Appends of one event-loop turn go as one ring record; a
// full ring is back-pressure (records wait in order, re-tried every millisecond), never a drop,
// and the bodies waiting anywhere on this side are bounded by maxPendingRequestsNum.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DLedgerNodeConfig } from './config.js';
import { ConfigError } from './config.js';
import { ResponseCode } from './client-protocol.js';
import { type AppendResult, DLedgerError, type DLedgerServerOptions, type RoleChange } from './server.js';
import { openLogReader, type LogReader } from '../store/log-reader.js';
import type { StoredEntry } from '../store/types.js';
import type { RaftStatus, Role } from '../raft/types.js';
import type { Metrics } from '../metrics/metrics.js';
import { assert } from '../util/assert.js';
import { packBatches, type MainControl, type RaftWorkerData, ToMain, ToWorker, type WorkerControl, type WorkerSnapshot, unpackBatch, Word, WORDS } from './raft-worker-protocol.js';
import { SpscRing } from './spsc-ring.js';

/** Each direction's ring; a record holds one turn's batch (split when bigger than half of it). */
const RING_BYTES = 64 * 1024 * 1024;
const BACKPRESSURE_RECHECK_MS = 1;
const GUARD_WAKE_MS = 50;
/** How often main publishes the state machine's retention floor for the worker. */
const FLOOR_EVERY_MS = 100;
const CLOSE_TIMEOUT_MS = 30_000;

function workerScriptUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./raft-worker-thread.js', import.meta.url);
  return pathToFileURL(path.join(path.dirname(here), '../../dist/src/node/raft-worker-thread.js'));
}

/**
 * A module URL the worker (compiled JS, no loaders) can import: a module under the repository's
 * src/, test/ or bench/ named from source (x.ts, or x.js beside it as TypeScript imports spell it)
 * -> the same path under dist/ as .js; a file already under dist/, or elsewhere, unchanged.
 */
export function workerImportUrl(href: string): string {
  const url = new URL(href);
  if (url.protocol !== 'file:') return href;
  const file = fileURLToPath(url);
  if (file.includes(`${path.sep}dist${path.sep}`)) return pathToFileURL(file).href;
  const at = Math.max(...['src', 'test', 'bench'].map((dir) => file.lastIndexOf(`${path.sep}${dir}${path.sep}`)));
  if (at < 0) return pathToFileURL(file).href;
  const compiled = `${file.slice(0, at)}${path.sep}dist${file.slice(at)}`.replace(/\.ts$/, '.js');
  return pathToFileURL(compiled).href;
}

interface HostGroup {
  readonly results: AppendResult[];
  remaining: number;
  settled: boolean;
  firstIndex: number;
  readonly count: number;
  readonly deadlineMs: number;
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: DLedgerError) => void;
}

export interface RaftWorkerHostEvents {
  readonly onRole: (change: RoleChange) => void;
  /** The worker's node stopped itself (FATAL) or the thread died; the host is closed already. */
  readonly onFatal: (reason: string) => void;
  readonly log: (line: string) => void;
  readonly metrics: Metrics;
}

export class RaftWorkerHost {
  private readonly toWorker: SpscRing;
  private readonly toMain: SpscRing;
  private readonly words: Float64Array;
  private outbox: unknown[] = [];
  private waiting: Uint8Array[] = [];
  private flushScheduled = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private nextId = 1;
  // Invariant: every group here is unsettled or about to be deleted; bodiesPending counts the
  // bodies of the groups in `groups` (the bound checked against maxPendingRequestsNum).
  private readonly groups = new Map<number, HostGroup>();
  private bodiesPending = 0;
  /** index -> [term, group id, slot], from Proposed until the entry is applied. */
  private readonly byIndex = new Map<number, [number, number, number]>();
  private readonly reads = new Map<number, { resolve: (index: number) => void; reject: (error: DLedgerError) => void }>();
  private readonly transfers = new Map<number, { resolve: () => void; reject: (error: DLedgerError) => void }>();
  private appliedIndex: number;
  private last: WorkerSnapshot;
  private role: RoleChange = { role: 'follower', term: 0, leaderId: null };
  private readonly floorTimer: NodeJS.Timeout | null;
  private closedSignal: (() => void) | null = null;
  private workerExited = false;

  private constructor(
    private readonly worker: Worker,
    rings: { toWorker: SpscRing; toMain: SpscRing; words: Float64Array },
    readonly port: number,
    first: WorkerSnapshot,
    private readonly reader: LogReader,
    private readonly config: DLedgerNodeConfig,
    private readonly options: DLedgerServerOptions,
    private readonly events: RaftWorkerHostEvents,
  ) {
    this.toWorker = rings.toWorker;
    this.toMain = rings.toMain;
    this.words = rings.words;
    this.last = first;
    this.appliedIndex = first.retainedRange.firstIndex - 1;
    const floor = options.retentionFloor;
    this.floorTimer = floor === undefined ? null : setInterval(() => (this.words[Word.RetentionFloor] = floor()), FLOOR_EVERY_MS);
    this.floorTimer?.unref();
    worker.on('message', (message: WorkerControl) => this.onControl(message));
    worker.on('error', (error) => this.die(`the Raft worker thread failed: ${error.message}`));
    worker.on('exit', (code) => {
      this.workerExited = true;
      if (!this.closed) this.die(`the Raft worker thread exited (code ${code})`);
      this.closedSignal?.();
    });
    void this.pump();
  }

  /** Start the worker's node (store recovery, listener) and attach to it. */
  static async start(options: DLedgerServerOptions, events: RaftWorkerHostEvents): Promise<RaftWorkerHost> {
    const config = options.config;
    if (options.patchBody !== undefined && options.patchBodyModule === undefined) throw new ConfigError(['raftWorker: a store hook (patchBody) is a function and cannot cross to the Raft worker; name its module (patchBodyModule) or run with raftWorker=false']);
    const toWorker = SpscRing.create(RING_BYTES);
    const toMain = SpscRing.create(RING_BYTES);
    const words = new SharedArrayBuffer(WORDS * 8);
    const wordView = new Float64Array(words);
    if (options.retentionFloor !== undefined) wordView[Word.RetentionFloor] = options.retentionFloor();
    const data: RaftWorkerData = {
      config,
      toWorker: toWorker.buffer,
      toMain: toMain.buffer,
      words,
      hasStateMachine: options.stateMachine !== undefined,
      hasInstallSnapshot: options.stateMachine?.installSnapshot !== undefined,
      hasRetentionFloor: options.retentionFloor !== undefined,
      acceptClients: options.acceptClients !== false,
      appendTimeoutMs: options.appendTimeoutMs,
      raft: options.raft,
      retention: options.retention,
      patchBodyModule: options.patchBodyModule === undefined ? null : { url: workerImportUrl(options.patchBodyModule.url), exportName: options.patchBodyModule.exportName },
    };
    // execArgv []: the worker runs compiled JS (dist) and needs none of the parent's loaders.
    const worker = new Worker(workerScriptUrl(), { workerData: data, name: 'dledger-raft', execArgv: [] });
    const started = await new Promise<Extract<WorkerControl, { kind: 'started' }>>((resolve, reject) => {
      const onMessage = (message: WorkerControl): void => {
        if (message.kind === 'started') {
          cleanup();
          resolve(message);
        } else if (message.kind === 'start-failed') {
          cleanup();
          void worker.terminate();
          reject(message.configProblems !== null ? new ConfigError(message.configProblems) : new Error(message.message));
        }
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(error);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`the Raft worker thread exited during start (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    const reader = openLogReader({ nodeDir: path.join(config.storeBaseDir, `dledger-${config.selfId}`), dataSegmentSizeBytes: config.mappedFileSizeForEntryData, indexSegmentSizeBytes: config.mappedFileSizeForEntryIndex });
    return new RaftWorkerHost(worker, { toWorker, toMain, words: wordView }, started.port, started.snapshot, reader, config, options, events);
  }

  // ------------------------------------------------------------ the embedding API

  append(bodies: Uint8Array[], evenIfDiskFull: boolean): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed'));
    if (bodies.length === 0) return Promise.resolve([]);
    for (const body of bodies) {
      if (body.byteLength > this.config.maxEntryBodyBytes) {
        return Promise.reject(new DLedgerError(ResponseCode.UNEXPECTED_ARGUMENT, `entry of ${body.byteLength} bytes exceeds maxEntryBodyBytes ${this.config.maxEntryBodyBytes}`));
      }
    }
    if (this.bodiesPending + bodies.length > this.config.maxPendingRequestsNum) {
      return Promise.reject(new DLedgerError(ResponseCode.LEADER_PENDING_FULL, `${this.bodiesPending} appends pending (maxPendingRequestsNum ${this.config.maxPendingRequestsNum})`, this.role.leaderId));
    }
    const id = this.nextId++;
    return new Promise<AppendResult[]>((resolve, reject) => {
      this.groups.set(id, { results: new Array<AppendResult>(bodies.length), remaining: bodies.length, settled: false, firstIndex: -1, count: bodies.length, deadlineMs: Date.now() + (this.options.appendTimeoutMs ?? 10_000), resolve, reject });
      this.bodiesPending += bodies.length;
      this.send([ToWorker.Append, id, bodies, evenIfDiskFull]);
    });
  }

  readBarrier(): Promise<number> {
    if (this.closed) return Promise.reject(new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.reads.set(id, { resolve, reject });
      this.send([ToWorker.ReadBarrier, id]);
    });
  }

  transferLeadership(to: string, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.transfers.set(id, { resolve, reject });
      this.send([ToWorker.Transfer, id, to, timeoutMs]);
    });
  }

  setPeerPort(peerId: string, host: string, port: number): void {
    this.send([ToWorker.SetPeerPort, peerId, host, port]);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  /**
   * A committed entry from the shared files, or null. Bounded by what status() reports committed
   * (the worker's applied word as well as this thread's applied index), as a node without a Raft
   * worker is (it applies in the same turn it commits): a caller that saw commitIndex >= N reads
   * N, even before this thread has applied it (test/node/server-group.test.ts read null there).
   */
  getApplied(index: number): StoredEntry | null {
    const committed = Math.max(this.appliedIndex, this.words[Word.WorkerApplied] as number);
    if (index > committed || index < this.last.retainedRange.firstIndex) return null;
    return this.reader.get(index);
  }

  /** Any stored entry (applied or not) from the shared files, or null. */
  getStored(index: number): StoredEntry | null {
    return this.reader.get(index);
  }

  status(): RaftStatus {
    const status = this.last.status;
    const workerApplied = this.words[Word.WorkerApplied] as number;
    return {
      ...status,
      role: this.role.role === status.role || this.role.term < status.term ? status.role : this.role.role,
      commitIndex: Math.max(status.commitIndex, workerApplied),
      appliedIndex: this.appliedIndex,
      lastIndex: Math.max(status.lastIndex, workerApplied),
      progress: new Map(status.progress),
    };
  }

  get snapshot(): WorkerSnapshot {
    return this.last;
  }

  /** Stop the worker's node (it flushes and closes the store), then fail what is still pending. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      this.closed = true;
      if (this.floorTimer !== null) clearInterval(this.floorTimer);
      const exited = new Promise<void>((resolve) => (this.closedSignal = resolve));
      const done = new Promise<void>((resolve) => {
        this.worker.on('message', (message: WorkerControl) => {
          if (message.kind === 'closed' || message.kind === 'fatal') resolve();
        });
      });
      this.worker.postMessage({ kind: 'close' } satisfies MainControl);
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
      if (!this.workerExited) await Promise.race([done, exited, timeout]);
      this.drain();
      await this.worker.terminate();
      this.failPending(new DLedgerError(ResponseCode.INTERNAL_ERROR, 'server closed'));
      this.reader.close();
    })();
    return this.closing;
  }

  // ------------------------------------------------------------ rings

  private send(record: unknown[]): void {
    this.outbox.push(record);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Everything asked in this turn goes as one ring record.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length > 0) {
      this.waiting.push(...packBatches(this.outbox, this.toWorker.maxRecordBytes));
      this.outbox = [];
    }
    while (this.waiting.length > 0) {
      if (!this.toWorker.tryWrite(this.waiting[0] as Uint8Array)) {
        // Back-pressure: the worker has not taken the ring's records yet; nothing is dropped.
        this.flushScheduled = true;
        setTimeout(() => this.flush(), BACKPRESSURE_RECHECK_MS);
        return;
      }
      this.waiting.shift();
    }
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      this.drain();
      this.expireUnsent();
      await this.toMain.waitForDataAsync(GUARD_WAKE_MS);
    }
  }

  private drain(): void {
    let bytes: Uint8Array | null;
    while ((bytes = this.toMain.tryRead()) !== null) {
      for (const record of unpackBatch(bytes)) this.handle(record);
    }
  }

  private handle(record: unknown[]): void {
    switch (record[0] as ToMain) {
      case ToMain.Proposed: {
        const group = this.groups.get(record[1] as number);
        if (group === undefined) return;
        const firstIndex = record[2] as number;
        group.firstIndex = firstIndex;
        for (let slot = 0; slot < group.count; slot++) this.byIndex.set(firstIndex + slot, [record[3] as number, record[1] as number, slot]);
        return;
      }
      case ToMain.AppendFailed:
        this.failGroup(record[1] as number, new DLedgerError(record[2] as number, record[3] as string, (record[4] as string | null) ?? this.role.leaderId));
        return;
      case ToMain.Applied:
        this.apply(record[1] as number, record[2] as Array<[number, number, number, number, Uint8Array | null]>);
        return;
      case ToMain.Snapshot: {
        const index = record[1] as number;
        this.options.stateMachine?.installSnapshot?.(index);
        this.appliedIndex = Math.max(this.appliedIndex, index);
        return;
      }
      case ToMain.Role:
        this.role = { role: record[1] as Role, term: record[2] as number, leaderId: record[3] as string | null };
        this.events.onRole(this.role);
        return;
      case ToMain.ReadDone: {
        const read = this.reads.get(record[1] as number);
        this.reads.delete(record[1] as number);
        // Invariant: the worker resolved this read after forwarding the entries up to it.
        assert(read === undefined || (record[2] as number) <= this.appliedIndex, `read at ${String(record[2])} beyond main's applied index ${this.appliedIndex}`);
        read?.resolve(record[2] as number);
        return;
      }
      case ToMain.ReadFailed: {
        const read = this.reads.get(record[1] as number);
        this.reads.delete(record[1] as number);
        read?.reject(new DLedgerError(record[2] as number, record[3] as string, record[4] as string | null));
        return;
      }
      case ToMain.TransferDone: {
        const transfer = this.transfers.get(record[1] as number);
        this.transfers.delete(record[1] as number);
        const error = record[2] as [number, string, string | null] | null;
        if (error === null) transfer?.resolve();
        else transfer?.reject(new DLedgerError(error[0], error[1], error[2]));
        return;
      }
      case ToMain.Status:
        this.last = record[1] as WorkerSnapshot;
        return;
      case ToMain.Log:
        this.events.log(record[1] as string);
        return;
      case ToMain.Metric: {
        const method = (this.events.metrics as unknown as Record<string, (...args: unknown[]) => void>)[record[1] as string];
        if (typeof method === 'function') method.apply(this.events.metrics, record[2] as unknown[]);
        return;
      }
      case ToMain.LogStartMoved:
        this.options.onLogStartMoved?.(record[1] as never, record[2] as number, record[3] as number);
        return;
      default:
        throw new Error(`raft worker: unknown record op ${String(record[0])} from the worker`);
    }
  }

  /** Committed entries, in log order: the state machine, then the appends they complete. */
  private apply(lastIndex: number, entries: Array<[number, number, number, number, Uint8Array | null]>): void {
    const stateMachine = this.options.stateMachine;
    for (const [index, term, pos, normal, body] of entries) {
      // Invariant: applied entries arrive without a gap (after a snapshot, from just after it).
      assert(index === this.appliedIndex + 1 || index > this.appliedIndex, `applied entry ${index} out of order after ${this.appliedIndex}`);
      const result = normal === 1 && stateMachine !== undefined && body !== null ? stateMachine.apply({ index, term, body }) : undefined;
      this.appliedIndex = index;
      const mine = this.byIndex.get(index);
      if (mine === undefined) continue;
      this.byIndex.delete(index);
      const group = this.groups.get(mine[1]);
      if (group === undefined) continue;
      if (mine[0] !== term) {
        this.failGroup(mine[1], new DLedgerError(ResponseCode.TERM_CHANGED, `append at index ${index} (term ${mine[0]}) was replaced by term ${term}`, this.role.leaderId));
        continue;
      }
      group.results[mine[2]] = { index, term, pos, result };
      if (--group.remaining === 0) {
        this.groups.delete(mine[1]);
        this.bodiesPending -= group.count;
        group.settled = true;
        group.resolve(group.results);
      }
    }
    this.appliedIndex = Math.max(this.appliedIndex, lastIndex);
    this.words[Word.MainApplied] = this.appliedIndex;
  }

  private failGroup(id: number, error: DLedgerError): void {
    const group = this.groups.get(id);
    if (group === undefined) return;
    this.groups.delete(id);
    this.bodiesPending -= group.count;
    if (group.firstIndex >= 0) for (let i = 0; i < group.count; i++) this.byIndex.delete(group.firstIndex + i);
    group.settled = true;
    group.reject(error);
  }

  /** Appends still waiting for ring space past their deadline (the worker never saw them). */
  private expireUnsent(): void {
    if (this.waiting.length === 0) return;
    const now = Date.now();
    for (const [id, group] of this.groups) {
      if (group.firstIndex < 0 && group.deadlineMs < now) this.failGroup(id, new DLedgerError(ResponseCode.WAIT_QUORUM_ACK_TIMEOUT, `append not proposed within ${this.options.appendTimeoutMs ?? 10_000} ms (the Raft worker's ring stayed full); its outcome is unknown`, this.role.leaderId));
    }
  }

  private failPending(error: DLedgerError): void {
    for (const id of [...this.groups.keys()]) this.failGroup(id, error);
    this.byIndex.clear();
    for (const read of this.reads.values()) read.reject(error);
    this.reads.clear();
    for (const transfer of this.transfers.values()) transfer.reject(error);
    this.transfers.clear();
  }

  private onControl(message: WorkerControl): void {
    if (message.kind === 'fatal') {
      // The worker's node logged FATAL and closed; what it flushed before is applied first.
      this.drain();
      this.die(message.reason);
    }
  }

  private die(reason: string): void {
    if (this.closed) return;
    void this.close().finally(() => this.events.onFatal(reason));
  }
}
