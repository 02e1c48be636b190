// The Raft worker thread (threads=workers with raftWorker=true). It runs a whole DLedgerServer
// here: the pure core, LogRaftStorage and the store (with its own storage worker and I/O pool),
// the peer listener (handshakes, Append/AppendResp, and DLedgerClient connections on the same
// port), the ticks and retention. The main thread (raft-worker.ts) keeps the embedding API and
// the state machine: appends arrive over one ring, applied entries leave over the other, in order.
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from './config.js';
import { DLedgerError, DLedgerServer, type AppliedRecord } from './server.js';
import type { Metrics } from '../metrics/metrics.js';
import { packBatches, type MainControl, type RaftWorkerData, type WorkerControl, type WorkerSnapshot, ToMain, ToWorker, unpackBatch, Word } from './raft-worker-protocol.js';
import { SpscRing } from './spsc-ring.js';
import { assert } from '../util/assert.js';
import { ResponseCode } from './client-protocol.js';

/** Records for main waiting for ring space at most (bytes, estimated): beyond it main fell behind. */
const OUTBOX_MAX_BYTES = 512 * 1024 * 1024;
/** How often the worker publishes status() and the stats getters for main. */
const SNAPSHOT_EVERY_MS = 50;
/** While records wait for ring space the worker re-checks this often. */
const BACKPRESSURE_RECHECK_MS = 1;

const data = workerData as RaftWorkerData;
const port = parentPort;
assert(port !== null, 'raft-worker-thread runs as a worker thread');
const toWorker = new SpscRing(data.toWorker);
const toMain = new SpscRing(data.toMain);
const words = new Float64Array(data.words);

let outbox: unknown[] = [];
let outboxBytes = 0;
let waiting: Uint8Array[] = [];
let flushScheduled = false;
let stopped = false;

function post(record: unknown[], approxBytes = 32): void {
  outbox.push(record);
  outboxBytes += approxBytes;
  if (outboxBytes > OUTBOX_MAX_BYTES && !stopped) {
    stopped = true;
    void server.close().finally(() => control({ kind: 'fatal', reason: `the main thread fell ${outboxBytes} bytes behind the Raft worker's applied entries` }));
  }
  scheduleFlush();
}

function scheduleFlush(): void {
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flush);
}

/** Everything posted this turn goes as few ring records as fit; what does not fit waits, in order. */
function flush(): void {
  flushScheduled = false;
  if (outbox.length > 0) {
    waiting.push(...packBatches(outbox, toMain.maxRecordBytes));
    outbox = [];
  }
  while (waiting.length > 0) {
    if (!toMain.tryWrite(waiting[0] as Uint8Array)) {
      // Back-pressure: main has not consumed yet; nothing is dropped.
      flushScheduled = true;
      setTimeout(flush, BACKPRESSURE_RECHECK_MS);
      return;
    }
    waiting.shift();
  }
  outboxBytes = 0;
}

function control(message: WorkerControl): void {
  flush();
  port?.postMessage(message);
}

function errorTriple(error: unknown): [number, string, string | null] {
  if (error instanceof DLedgerError) return [error.code, error.message, error.leaderId];
  return [ResponseCode.INTERNAL_ERROR, error instanceof Error ? error.message : String(error), null];
}

// Every metric the node reports goes to main's Metrics as a record (one per call; they are per
// Ready at most, and batched with the rest of the turn).
const forwardingMetrics = new Proxy({} as Metrics, {
  get: (_target, name) => (...args: unknown[]) => post([ToMain.Metric, name, args]),
});

async function importPatchBody(): Promise<((body: Uint8Array, pos: number) => void) | undefined> {
  if (data.patchBodyModule === null) return undefined;
  const module = (await import(data.patchBodyModule.url)) as Record<string, unknown>;
  const hook = module[data.patchBodyModule.exportName];
  if (typeof hook !== 'function') throw new Error(`patchBodyModule: ${data.patchBodyModule.url} has no function ${data.patchBodyModule.exportName}`);
  return hook as (body: Uint8Array, pos: number) => void;
}
const patchBody = await importPatchBody();

const server = new DLedgerServer({
  ...(patchBody === undefined ? {} : { patchBody }),
  isRaftWorkerNode: true,
  config: { ...data.config, threads: 'workers', raftWorker: false },
  metrics: forwardingMetrics,
  log: (line) => post([ToMain.Log, line], line.length),
  ...(data.appendTimeoutMs === undefined ? {} : { appendTimeoutMs: data.appendTimeoutMs }),
  onFatal: (reason) => {
    stopped = true;
    control({ kind: 'fatal', reason });
  },
  ...(data.raft === undefined ? {} : { raft: data.raft }),
  acceptClients: data.acceptClients,
  // The worker's own state machine is a stand-in that makes the node behave as one with a state
  // machine (bodies read as stored, snapshots refused without installSnapshot); main applies.
  ...(data.hasStateMachine
    ? { stateMachine: { apply: () => undefined, ...(data.hasInstallSnapshot ? { installSnapshot: (index: number) => post([ToMain.Snapshot, index]) } : {}) } }
    : {}),
  ...(data.retention === undefined ? {} : { retention: data.retention }),
  ...(data.hasRetentionFloor ? { retentionFloor: () => words[Word.RetentionFloor] as number } : {}),
  onLogStartMoved: (run, firstIndex, firstPos) => post([ToMain.LogStartMoved, run, firstIndex, firstPos]),
  appliedSink: {
    withBodies: data.hasStateMachine,
    take: (lastIndex: number, entries: AppliedRecord[]) => {
      let bytes = 16 + entries.length * 24;
      for (const entry of entries) bytes += entry[4]?.byteLength ?? 0;
      post([ToMain.Applied, lastIndex, entries], bytes);
      // A hint for main's status() between snapshots; main's own applied index comes from these
      // records, in order, never from the word.
      words[Word.WorkerApplied] = lastIndex;
    },
  },
});

function snapshot(): WorkerSnapshot {
  const status = server.status();
  return {
    status: { ...status, progress: [...status.progress] },
    retainedRange: server.retainedRange(),
    retentionStats: server.retentionStats(),
    persistedCounts: server.persistedEntryCounts(),
    storageWorkerStats: server.storageWorkerStats(),
    premadeSegmentStats: server.premadeSegmentStats(),
    ioPoolStats: server.ioPoolStats(),
  };
}

function handle(record: unknown[]): void {
  switch (record[0] as ToWorker) {
    case ToWorker.Append: {
      const id = record[1] as number;
      const bodies = record[2] as Uint8Array[];
      server.append(bodies, { evenIfDiskFull: record[3] === true, onProposed: (firstIndex, term) => post([ToMain.Proposed, id, firstIndex, term]) }).catch((error: unknown) => post([ToMain.AppendFailed, id, ...errorTriple(error)]));
      return;
    }
    case ToWorker.ReadBarrier: {
      const id = record[1] as number;
      let promise: Promise<number>;
      try {
        promise = server.readBarrier();
      } catch (error) {
        post([ToMain.ReadFailed, id, ...errorTriple(error)]);
        return;
      }
      promise.then(
        (readIndex) => post([ToMain.ReadDone, id, readIndex]),
        (error: unknown) => post([ToMain.ReadFailed, id, ...errorTriple(error)]),
      );
      return;
    }
    case ToWorker.Transfer: {
      const id = record[1] as number;
      server.transferLeadership(record[2] as string, record[3] as number).then(
        () => post([ToMain.TransferDone, id, null]),
        (error: unknown) => post([ToMain.TransferDone, id, errorTriple(error)]),
      );
      return;
    }
    case ToWorker.SetPeerPort:
      server.setPeerPort(record[1] as string, record[2] as string, record[3] as number);
      return;
    default:
      throw new Error(`raft worker: unknown record op ${String(record[0])}`);
  }
}

/** Main's records, drained whenever the ring has some; Atomics.waitAsync keeps this loop free. */
async function pump(): Promise<void> {
  while (!stopped) {
    let bytes: Uint8Array | null;
    while ((bytes = toWorker.tryRead()) !== null) {
      for (const record of unpackBatch(bytes)) {
        if (stopped) return;
        try {
          handle(record);
        } catch (error) {
          // A closed server refuses: say so for the record's id (appends and reads settle on main).
          const id = record[1];
          if (typeof id === 'number' && record[0] === ToWorker.Append) post([ToMain.AppendFailed, id, ...errorTriple(error)]);
          else if (typeof id === 'number' && record[0] === ToWorker.ReadBarrier) post([ToMain.ReadFailed, id, ...errorTriple(error)]);
          else if (typeof id === 'number' && record[0] === ToWorker.Transfer) post([ToMain.TransferDone, id, errorTriple(error)]);
          else throw error;
        }
      }
    }
    await toWorker.waitForDataAsync(50);
  }
}

port.on('message', (message: MainControl) => {
  if (message.kind !== 'close') return;
  stopped = true;
  clearInterval(snapshotTimer);
  void server.close().finally(() => control({ kind: 'closed' }));
});

let snapshotTimer: NodeJS.Timeout;
server.onRoleChange((change) => {
  post([ToMain.Role, change.role, change.term, change.leaderId]);
  post([ToMain.Status, snapshot()], 1024);
});
server.start().then(
  () => {
    snapshotTimer = setInterval(() => {
      if (!stopped) post([ToMain.Status, snapshot()], 1024);
    }, SNAPSHOT_EVERY_MS);
    control({ kind: 'started', port: server.port, snapshot: snapshot() });
    void pump();
  },
  (error: unknown) => control({ kind: 'start-failed', message: error instanceof Error ? error.message : String(error), configProblems: error instanceof ConfigError ? [...error.problems] : null }),
);
