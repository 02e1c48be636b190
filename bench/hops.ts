// `npm run bench -- hops [--quick]`: what one thread hop costs on this machine, for the issue's
// rule "a hop that does not pay becomes optional, and the default is what measures faster".
//
// (a) Flush hop: a store append of 1 / 16 x 1 KiB under flush sync, acknowledged when durable,
//     with the msync on the libuv pool (flushInBackground, a hop there and back) or inline on the
//     calling thread, or on the storage worker of threads=workers (src/node/storage-worker.ts: a
//     ring record there, msync on the worker, Atomics.waitAsync back). Closed loop; latency per
//     append and entries/s.
// (b) SharedArrayBuffer SPSC ring + Atomics between the main thread and a worker (src/node/
//     spsc-ring.ts): a batch of 1 / 64 x 1 KiB entries goes to the worker, which CRCs it and
//     answers on a second ring the main thread awaits with Atomics.waitAsync. Closed loop (one
//     batch in flight: the hop's round-trip latency) and pipelined (8 in flight: throughput),
//     against the same work done inline on the main thread, and postMessage as the other hop.
//
// Method: the machine is shared, so cases run in short slices, interleaved over several rounds,
// and results are pooled per case; compare rows of one run only (ratios), and note `uptime`.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { crc32Of } from '../src/store/crc.js';
import { openLogStore } from '../src/store/index.js';
import { SpscRing } from '../src/node/spsc-ring.js';
import { StorageWorker } from '../src/node/storage-worker.js';
import { IoPool } from '../src/node/io-pool.js';
import { PremadeSegmentFiles } from '../src/node/premade-segment-files.js';
import { segmentName } from '../src/store/segment-list.js';
import { mmapSegmentFileFactory } from '../src/store/mmap-segment-file.js';
import { writeResults } from './lib/results.js';
import { LatencySamples, nowUs } from './lib/stats.js';
import { fixed, formatTable, grouped } from './lib/table.js';

const ENTRY_BYTES = 1024;
const RING_BYTES = 4 * 1024 * 1024;
const PIPELINE_DEPTH = 8;

interface CaseTotals {
  readonly samples: LatencySamples;
  entries: number;
  elapsedUs: number;
}

interface HopCase {
  readonly name: string;
  readonly hop: string;
  readonly batch: number;
  /** Runs for about sliceMs; returns entries done, records one latency sample per batch. */
  readonly slice: (sliceMs: number, samples: LatencySamples) => Promise<number>;
}

function batchOf(entries: number): Uint8Array {
  const bytes = new Uint8Array(entries * ENTRY_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  return bytes;
}

type FlushMode = 'inline' | 'pool' | 'worker';

function flushCase(batch: number, mode: FlushMode, baseDir: string, worker: StorageWorker | null = null): HopCase {
  const body = new Uint8Array(ENTRY_BYTES).fill(0x61);
  const bodies = Array.from({ length: batch }, () => body);
  let slices = 0;
  const where = mode === 'inline' ? 'inline' : mode === 'pool' ? 'on the libuv pool' : 'on the storage worker';
  return {
    name: `flush sync ${batch} x 1 KiB, msync ${where}`,
    hop: mode === 'inline' ? 'none' : mode === 'pool' ? 'libuv pool' : 'storage worker',
    batch,
    slice: async (sliceMs, samples) => {
      const nodeDir = join(baseDir, `flush-${batch}-${mode}-${slices++}`);
      const store = openLogStore({
        nodeDir, dataSegmentSizeBytes: 64 * 1024 * 1024, indexSegmentSizeBytes: 4 * 1024 * 1024, maxEntryBodyBytes: 4096, flush: { kind: 'sync' },
        flushInBackground: mode !== 'inline',
        ...(mode === 'worker' && worker !== null ? { segmentFiles: worker.wrap(mmapSegmentFileFactory) } : {}),
      });
      let entries = 0;
      try {
        const endUs = nowUs() + sliceMs * 1000;
        while (nowUs() < endUs) {
          const t0 = nowUs();
          const appended = store.append(1, bodies);
          await store.whenDurable((appended[appended.length - 1] as { index: number }).index);
          samples.add(nowUs() - t0);
          entries += batch;
        }
      } finally {
        await store.close();
        rmSync(nodeDir, { recursive: true, force: true });
      }
      return entries;
    },
  };
}

/** One worker at the far end of a hop, reused across slices. */
class HopPeer {
  readonly worker: Worker;
  readonly toWorker: SpscRing | null;
  readonly toMain: SpscRing | null;
  private readonly replies: Uint8Array[] = [];
  private waiting: (() => void) | null = null;

  constructor(readonly mode: 'ring' | 'postMessage') {
    this.toWorker = mode === 'ring' ? SpscRing.create(RING_BYTES) : null;
    this.toMain = mode === 'ring' ? SpscRing.create(64 * 1024) : null;
    this.worker = new Worker(new URL('./hops-worker.js', import.meta.url), { workerData: { mode, toWorker: this.toWorker?.buffer, toMain: this.toMain?.buffer } });
    this.worker.on('message', (reply: Uint8Array) => {
      this.replies.push(reply);
      this.waiting?.();
    });
  }

  send(batch: Uint8Array): void {
    if (this.toWorker === null) return this.worker.postMessage(batch);
    if (!this.toWorker.tryWrite(batch)) throw new Error('ring full: the pipeline depth exceeds the ring');
  }

  /** The next reply; the main thread never blocks (Atomics.waitAsync / a message event). */
  async receive(): Promise<Uint8Array> {
    for (let waits = 0; waits < 100_000; waits++) {
      if (this.toMain !== null) {
        const reply = this.toMain.tryRead();
        if (reply !== null) return reply;
        await this.toMain.waitForDataAsync(1000);
      } else {
        const reply = this.replies.shift();
        if (reply !== undefined) return reply;
        await new Promise<void>((resolve) => (this.waiting = resolve));
        this.waiting = null;
      }
    }
    throw new Error(`no reply from the ${this.mode} worker`);
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.send(new Uint8Array(0));
    await exited;
  }
}

function hopCase(batch: number, depth: number, peer: HopPeer | null): HopCase {
  const bytes = batchOf(batch);
  const hop = peer === null ? 'none' : peer.mode === 'ring' ? 'SPSC ring + Atomics' : 'postMessage';
  return {
    name: `${batch} x 1 KiB, ${depth} in flight, ${peer === null ? 'inline (same work on the main thread)' : `worker via ${hop}`}`,
    hop,
    batch,
    slice: async (sliceMs, samples) => {
      let entries = 0;
      const endUs = nowUs() + sliceMs * 1000;
      if (peer === null) {
        let sink = 0;
        while (nowUs() < endUs) {
          const t0 = nowUs();
          sink ^= crc32Of(bytes);
          // The inline stage still yields once per batch, as an event-loop node does.
          await new Promise<void>((resolve) => setImmediate(resolve));
          samples.add(nowUs() - t0);
          entries += batch;
        }
        if (sink === 0.5) throw new Error('unreachable');
        return entries;
      }
      const sentAt: number[] = [];
      while (sentAt.length < depth) {
        sentAt.push(nowUs());
        peer.send(bytes);
      }
      while (sentAt.length > 0) {
        await peer.receive();
        samples.add(nowUs() - (sentAt.shift() as number));
        entries += batch;
        if (nowUs() < endUs) {
          sentAt.push(nowUs());
          peer.send(bytes);
        }
      }
      return entries;
    },
  };
}

/**
 * (c) Segment preparation: event-loop time of creating a segment inline (fallocate, fdatasync,
 * rename, directory fsync, mmap) vs taking one the I/O pool premade (rename, directory fsync,
 * mmap), per size; medians over `rounds`.
 */
async function preparationCases(rounds: number, baseDir: string): Promise<Array<{ sizeBytes: number; inlineMs: number[]; premadeMs: number[] }>> {
  const pool = new IoPool();
  const out: Array<{ sizeBytes: number; inlineMs: number[]; premadeMs: number[] }> = [];
  try {
    for (const sizeBytes of [64 * 1024 * 1024, 1024 * 1024 * 1024]) {
      const inlineMs: number[] = [];
      const premadeMs: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const dir = join(baseDir, `prep-${sizeBytes}-${round}`);
        mkdirSync(dir);
        let t0 = performance.now();
        mmapSegmentFileFactory.create(join(dir, segmentName(0)), sizeBytes).close();
        inlineMs.push(performance.now() - t0);
        const premade = new PremadeSegmentFiles(pool);
        const factory = premade.wrap(mmapSegmentFileFactory);
        // Creating segment 1 inline asks the pool for segment 2; wait until it is built.
        factory.create(join(dir, segmentName(sizeBytes)), sizeBytes).close();
        await premade.settled();
        t0 = performance.now();
        factory.create(join(dir, segmentName(2 * sizeBytes)), sizeBytes).close();
        const took = performance.now() - t0;
        if (premade.stats.premadeUsed === 1) premadeMs.push(took);
        premade.close();
        // The premake of the segment after it is still running on the pool: let it finish (and
        // discard its file) before the directory goes, or rmSync races with its creation.
        await premade.settled();
        rmSync(dir, { recursive: true, force: true });
      }
      out.push({ sizeBytes, inlineMs, premadeMs });
    }
  } finally {
    await pool.close();
  }
  return out;
}

export async function run(args: readonly string[]): Promise<void> {
  const quick = args.includes('--quick');
  const rounds = quick ? 2 : 6;
  const sliceMs = quick ? 100 : 250;
  const baseDir = mkdtempSync(join(os.tmpdir(), 'dledger-hops-'));
  const ring = new HopPeer('ring');
  const post = new HopPeer('postMessage');
  const storageWorker = await StorageWorker.start();
  const cases: HopCase[] = [
    flushCase(1, 'inline', baseDir),
    flushCase(1, 'pool', baseDir),
    flushCase(16, 'inline', baseDir),
    flushCase(16, 'pool', baseDir),
    hopCase(1, 1, null),
    hopCase(1, 1, ring),
    hopCase(1, 1, post),
    hopCase(64, 1, null),
    hopCase(64, 1, ring),
    hopCase(64, 1, post),
    hopCase(64, PIPELINE_DEPTH, ring),
    hopCase(64, PIPELINE_DEPTH, post),
    flushCase(1, 'worker', baseDir, storageWorker),
    flushCase(16, 'worker', baseDir, storageWorker),
  ];
  const totals = new Map<HopCase, CaseTotals>(cases.map((c) => [c, { samples: new LatencySamples(), entries: 0, elapsedUs: 0 }]));
  const loadBefore = os.loadavg();
  let preparation: Awaited<ReturnType<typeof preparationCases>> = [];
  try {
    for (let round = 0; round < rounds; round++) {
      // Alternate the order so no case always runs first (warm-up) or last.
      const order = round % 2 === 0 ? cases : [...cases].reverse();
      for (const c of order) {
        const total = totals.get(c) as CaseTotals;
        const t0 = nowUs();
        total.entries += await c.slice(sliceMs, total.samples);
        total.elapsedUs += nowUs() - t0;
      }
    }
    preparation = await preparationCases(quick ? 2 : 5, baseDir);
  } finally {
    await ring.stop();
    await post.stop();
    await storageWorker.close();
    rmSync(baseDir, { recursive: true, force: true });
  }
  const results = cases.map((c) => {
    const total = totals.get(c) as CaseTotals;
    const summary = total.samples.summary();
    return { name: c.name, hop: c.hop, batch: c.batch, entriesPerSecond: total.entries / (total.elapsedUs / 1e6), batches: summary.count, p50Us: summary.p50Us, p99Us: summary.p99Us, meanUs: summary.meanUs };
  });
  console.log(formatTable(['case', 'entries/s', 'p50 us', 'p99 us', 'batches'], results.map((r) => [r.name, grouped(r.entriesPerSecond), fixed(r.p50Us, 1), fixed(r.p99Us, 1), grouped(r.batches)])));
  const byName = new Map(results.map((r) => [r.name, r]));
  const ratio = (a: string, b: string): number => (byName.get(a)?.entriesPerSecond ?? NaN) / (byName.get(b)?.entriesPerSecond ?? NaN);
  const verdicts = {
    flushPoolVsInline1: ratio(cases[1]?.name as string, cases[0]?.name as string),
    flushPoolVsInline16: ratio(cases[3]?.name as string, cases[2]?.name as string),
    ringVsInline64: ratio(cases[8]?.name as string, cases[7]?.name as string),
    ringPipelinedVsInline64: ratio(cases[10]?.name as string, cases[7]?.name as string),
    ringVsPostMessage64Pipelined: ratio(cases[10]?.name as string, cases[11]?.name as string),
    flushWorkerVsPool1: ratio(cases[12]?.name as string, cases[1]?.name as string),
    flushWorkerVsPool16: ratio(cases[13]?.name as string, cases[3]?.name as string),
    flushWorkerVsInline1: ratio(cases[12]?.name as string, cases[0]?.name as string),
  };
  console.log(`throughput ratios (same run): flush pool/inline ${fixed(verdicts.flushPoolVsInline1, 2)} (1 entry), ${fixed(verdicts.flushPoolVsInline16, 2)} (16); ring worker/inline ${fixed(verdicts.ringVsInline64, 2)} (64, closed loop), ${fixed(verdicts.ringPipelinedVsInline64, 2)} (64, ${PIPELINE_DEPTH} in flight); ring/postMessage ${fixed(verdicts.ringVsPostMessage64Pipelined, 2)} (64, ${PIPELINE_DEPTH} in flight); flush storage worker/pool ${fixed(verdicts.flushWorkerVsPool1, 2)} (1 entry), ${fixed(verdicts.flushWorkerVsPool16, 2)} (16), worker/inline ${fixed(verdicts.flushWorkerVsInline1, 2)} (1 entry)`);
  const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  for (const p of preparation) {
    console.log(`segment of ${p.sizeBytes / 1024 / 1024} MiB, event-loop ms to prepare: inline ${p.inlineMs.map((v) => fixed(v, 1)).join(' / ')} (median ${fixed(median(p.inlineMs), 1)}), premade by the I/O pool ${p.premadeMs.map((v) => fixed(v, 1)).join(' / ')} (median ${fixed(median(p.premadeMs), 1)})`);
  }
  const loadAfter = os.loadavg();
  console.log(`load average before ${loadBefore.map((v) => v.toFixed(1)).join(' ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' ')}; ${os.cpus().length} CPUs`);
  const path = writeResults('hops', { machine: { cpus: os.cpus().length, node: process.version, loadBefore, loadAfter }, rounds, sliceMs, results, verdicts, preparation });
  console.log(`wrote ${path}`);
}
