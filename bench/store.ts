// `npm run bench -- store [--quick] [--rounds N] [--slice-ms N]`
//
// Append latency and throughput of the commit-log store for entry sizes 128 B / 1 KiB / 16 KiB,
// flush `sync` vs `async(10 ms)` (and `sync` with flushInBackground: the msync on the libuv pool,
// labelled "(pool)"), batches of 1 / 16 / 256, against a baseline of plain fs.writeSync +
// fs.fdatasyncSync measured in the same run, plus informational floors of the raw I/O paths.
//
// Method. The machine is shared and its fdatasync latency drifts between regimes over minutes
// (reference/deps-and-limits.md §2a), so nothing is measured in one long block: the run is R
// rounds, and each round runs every case (the baselines, the floors and the 27 store rows) for one short
// slice, in a freshly shuffled order (seeded). Samples are pooled per case across rounds, so each
// store row and the baseline it is compared with sample the same stretch of time.
//
// What a row measures (closed loop, one append call outstanding):
//   sync:  latency = store.append(batch) until whenDurable(last index) resolves: the ack point
//          under `flush: sync`.
//   async: latency = store.append(batch) until it returns (bytes in the page cache): the ack point
//          under `flush: async`, as DLedger acks. The loop yields to the event loop after each
//          append so the flush timer runs; the final whenDurable is inside the measured time, so
//          throughput counts only durable entries.
// Throughput = entries (and body bytes, MB = 10^6 B) / measured wall time. Every slice uses a new
// store directory; opening it (segment preallocation) is outside the measured time.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FlushPolicy, LogStore, StoreOptions } from '../src/store/types.js';
import { Prng } from '../src/util/prng.js';
import { deviceBytesWrittenCounter } from './lib/diskstats.js';
import { writeResults } from './lib/results.js';
import { LatencySamples, nowUs, type LatencySummary } from './lib/stats.js';
import { fixed, formatTable, grouped } from './lib/table.js';
import { runBaselineSlice, type BaselineMethod, type SliceResult, type SliceTiming } from './store-baseline.js';
import { openLogStore } from '../src/store/index.js';

const ENTRY_SIZES_BYTES = [128, 1024, 16 * 1024] as const;
const BATCH_SIZES = [1, 16, 256] as const;
/** The store's flush modes: sync and async(10 ms) on the calling thread, and sync with the msync on the thread pool. */
const FLUSH_MODES: readonly { readonly flush: FlushPolicy; readonly flushInBackground: boolean }[] = [
  { flush: { kind: 'sync' }, flushInBackground: false },
  { flush: { kind: 'sync' }, flushInBackground: true },
  { flush: { kind: 'async', intervalMs: 10 }, flushInBackground: false },
];
/** Segment sizes for the bench: big enough that a slice crosses few boundaries, small enough to preallocate fast. */
const DATA_SEGMENT_BYTES = 256 * 1024 * 1024;
const INDEX_SEGMENT_BYTES = 32 * 1024 * 1024;
const MAX_ENTRY_BODY_BYTES = 4 * 1024 * 1024;
const TERM = 1;

interface BenchConfig {
  readonly rounds: number;
  readonly timing: SliceTiming;
  readonly seed: number;
  readonly dir: string;
}

type CaseSpec =
  | { readonly kind: 'baseline'; readonly method: BaselineMethod; readonly entryBytes: number; readonly batch: number }
  | {
      readonly kind: 'store';
      readonly entryBytes: number;
      readonly batch: number;
      readonly flush: FlushPolicy;
      readonly flushInBackground: boolean;
    };

interface CaseTotals {
  readonly spec: CaseSpec;
  readonly samples: LatencySamples;
  entries: number;
  payloadBytes: number;
  elapsedUs: number;
  deviceBytes: number;
}

function caseLabel(spec: CaseSpec): string {
  if (spec.kind === 'baseline') {
    const what = {
      grow: 'baseline write+fdatasync',
      prealloc: '(info) fallocated write+fdatasync',
      mmap: '(info) fallocated mmap memcpy+msync',
      'mmap-random': '(info) fallocated mmap+MADV_RANDOM memcpy+msync',
    }[spec.method];
    return `${what} ${spec.batch} x 1KiB`;
  }
  const flush = (spec.flush.kind === 'sync' ? 'sync' : `async(${spec.flush.intervalMs}ms)`) + (spec.flushInBackground ? '(pool)' : '');
  return `store ${sizeLabel(spec.entryBytes)} ${flush} batch ${spec.batch}`;
}

function sizeLabel(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024}KiB` : `${bytes}B`;
}

function parseArgs(args: readonly string[]): BenchConfig {
  let quick = false;
  let rounds: number | undefined;
  let sliceMs: number | undefined;
  let seed = Date.now() % 1_000_000;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = (): number => {
      const value = Number(args[++i]);
      if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${arg} needs a positive integer, got ${args[i]}`);
      return value;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--rounds') rounds = next();
    else if (arg === '--slice-ms') sliceMs = next();
    else if (arg === '--seed') seed = next();
    else throw new Error(`unknown flag ${arg}; flags: --quick, --rounds N, --slice-ms N, --seed N`);
  }
  const measureMs = sliceMs ?? (quick ? 100 : 700);
  return {
    rounds: rounds ?? (quick ? 1 : 3),
    timing: { warmupMs: quick ? 20 : 60, measureMs },
    seed,
    dir: mkdtempSync(join(tmpdir(), 'bench-store-')),
  };
}

function allCases(): CaseSpec[] {
  const cases: CaseSpec[] = [];
  for (const method of ['grow', 'prealloc', 'mmap', 'mmap-random'] as const) {
    for (const batch of [1, 256]) cases.push({ kind: 'baseline', method, entryBytes: 1024, batch });
  }
  for (const { flush, flushInBackground } of FLUSH_MODES) {
    for (const entryBytes of ENTRY_SIZES_BYTES) {
      for (const batch of BATCH_SIZES) cases.push({ kind: 'store', entryBytes, batch, flush, flushInBackground });
    }
  }
  return cases;
}

async function runStoreSlice(config: BenchConfig, spec: Extract<CaseSpec, { kind: 'store' }>, prng: Prng): Promise<SliceResult> {
  const nodeDir = mkdtempSync(join(config.dir, 'node-'));
  const options: StoreOptions = {
    nodeDir,
    dataSegmentSizeBytes: DATA_SEGMENT_BYTES,
    indexSegmentSizeBytes: INDEX_SEGMENT_BYTES,
    flush: spec.flush,
    flushInBackground: spec.flushInBackground,
    maxEntryBodyBytes: MAX_ENTRY_BODY_BYTES,
  };
  const store: LogStore = openLogStore(options);
  try {
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < spec.batch; i++) {
      const body = new Uint8Array(spec.entryBytes);
      for (let b = 0; b < body.length; b += 4) body[b] = prng.nextUint32() & 0xff;
      bodies.push(body);
    }
    const isSync = spec.flush.kind === 'sync';
    const deviceBytes = deviceBytesWrittenCounter(nodeDir) ?? (() => NaN);
    let deviceBytesAtStart = NaN;
    const samples = new LatencySamples();
    const measureFromUs = nowUs() + config.timing.warmupMs * 1000;
    const endUs = measureFromUs + config.timing.measureMs * 1000;
    let measuredFromUs = NaN;
    let entries = 0;
    for (;;) {
      let startUs = nowUs();
      if (startUs >= endUs) break;
      const measured = startUs >= measureFromUs;
      if (measured && Number.isNaN(measuredFromUs)) {
        // Make the warm-up durable first so that neither its time nor its bytes are counted.
        await store.whenDurable(store.lastIndex);
        deviceBytesAtStart = deviceBytes();
        startUs = nowUs();
        measuredFromUs = startUs;
      }
      const appended = store.append(TERM, bodies);
      const last = appended[appended.length - 1];
      if (last === undefined) throw new Error('store.append returned no entries');
      if (isSync) await store.whenDurable(last.index);
      const doneUs = nowUs();
      if (measured) {
        samples.add(doneUs - startUs);
        entries += spec.batch;
      }
      if (!isSync) await yieldToEventLoop();
    }
    await store.whenDurable(store.lastIndex);
    const elapsedUs = Number.isNaN(measuredFromUs) ? 0 : nowUs() - measuredFromUs;
    return { samples, entries, payloadBytes: entries * spec.entryBytes, elapsedUs, deviceBytes: deviceBytes() - deviceBytesAtStart };
  } finally {
    await store.close();
    rmSync(nodeDir, { recursive: true, force: true });
  }
}

function shuffled<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.intBetween(0, i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface RowReport {
  readonly label: string;
  readonly spec: CaseSpec;
  readonly latency: LatencySummary;
  readonly entriesPerSec: number;
  readonly payloadMBPerSec: number;
  /** Bytes the device wrote per payload byte (all writers of the device; ~1 plus journal overhead is ideal). */
  readonly deviceBytesPerPayloadByte: number;
  /** store only: payload bytes/s divided by the batch baseline's bytes/s. */
  readonly throughputVsBaseline?: number;
  /** store only: p50 minus the single baseline's p50, microseconds. */
  readonly p50MinusBaselineUs?: number;
}

export async function run(args: readonly string[]): Promise<void> {
  const config = parseArgs(args);
  const prng = new Prng(config.seed);
  const cases = allCases();
  const totals = new Map<CaseSpec, CaseTotals>(
    cases.map((spec) => [spec, { spec, samples: new LatencySamples(), entries: 0, payloadBytes: 0, elapsedUs: 0, deviceBytes: 0 }]),
  );
  const startedAt = new Date().toISOString();
  const wallStartUs = nowUs();
  console.log(
    `store bench: ${config.rounds} round(s) x ${cases.length} cases x ${config.timing.measureMs} ms ` +
      `(+${config.timing.warmupMs} ms warm-up each), seed ${config.seed}, dir ${config.dir}`,
  );
  try {
    for (let round = 0; round < config.rounds; round++) {
      for (const spec of shuffled(cases, prng)) {
        const result =
          spec.kind === 'baseline'
            ? runBaselineSlice(config.dir, spec.method, spec.entryBytes, spec.batch, config.timing)
            : await runStoreSlice(config, spec, prng);
        const total = totals.get(spec);
        if (total === undefined) throw new Error('unknown case');
        total.samples.addAll(result.samples);
        total.entries += result.entries;
        total.payloadBytes += result.payloadBytes;
        total.elapsedUs += result.elapsedUs;
        total.deviceBytes += result.deviceBytes;
      }
      process.stdout.write(`  round ${round + 1}/${config.rounds} done (${fixed((nowUs() - wallStartUs) / 1e6, 1)} s)\n`);
    }
  } finally {
    rmSync(config.dir, { recursive: true, force: true });
  }

  const rowOf = (total: CaseTotals): RowReport => {
    const seconds = total.elapsedUs / 1e6;
    return {
      label: caseLabel(total.spec),
      spec: total.spec,
      latency: total.samples.summary(),
      entriesPerSec: total.entries / seconds,
      payloadMBPerSec: total.payloadBytes / 1e6 / seconds,
      deviceBytesPerPayloadByte: total.deviceBytes / total.payloadBytes,
    };
  };
  const baselineTotals = [...totals.values()].filter((t) => t.spec.kind === 'baseline');
  const baselineRows = baselineTotals.map(rowOf);
  const single = baselineTotals.find((t) => t.spec.kind === 'baseline' && t.spec.method === 'grow' && t.spec.batch === 1);
  const batch = baselineTotals.find((t) => t.spec.kind === 'baseline' && t.spec.method === 'grow' && t.spec.batch === 256);
  if (single === undefined || batch === undefined) throw new Error('baseline cases missing');
  const singleRow = rowOf(single);
  const batchRow = rowOf(batch);
  const storeRows: RowReport[] = [...totals.values()]
    .filter((t) => t.spec.kind === 'store')
    .map((t) => {
      const row = rowOf(t);
      return {
        ...row,
        throughputVsBaseline: row.payloadMBPerSec / batchRow.payloadMBPerSec,
        p50MinusBaselineUs: row.latency.p50Us - singleRow.latency.p50Us,
      };
    });

  // The targets are evaluated for both sync modes: inline (msync on the calling thread) and pool
  // (msync on the libuv pool, what a DLedger node uses); each is reported, neither is hidden.
  const targetsFor = (pool: boolean) => {
    const find = (batch: number) =>
      storeRows.find((r) => r.spec.kind === 'store' && r.spec.flush.kind === 'sync' && r.spec.flushInBackground === pool && r.spec.entryBytes === 1024 && r.spec.batch === batch);
    const targetBatch = find(256);
    const targetSingle = find(1);
    return {
      syncBatch256x1KiBAtLeast80PercentOfBaselineBytesPerSec: {
        ratio: targetBatch?.throughputVsBaseline ?? NaN,
        met: (targetBatch?.throughputVsBaseline ?? 0) >= 0.8,
      },
      syncSingle1KiBP50Within50UsOfBaseline: {
        differenceUs: targetSingle?.p50MinusBaselineUs ?? NaN,
        met: (targetSingle?.p50MinusBaselineUs ?? Infinity) <= 50,
      },
    };
  };
  const targetsByMode = { inline: targetsFor(false), pool: targetsFor(true) };

  const header = ['case', 'ops', 'p50 us', 'p99 us', 'p999 us', 'entries/s', 'MB/s', 'dev B/B', 'MB/s vs base', 'p50 - base us'];
  const cells = (row: RowReport): string[] => [
    row.label,
    grouped(row.latency.count),
    fixed(row.latency.p50Us),
    fixed(row.latency.p99Us),
    fixed(row.latency.p999Us),
    grouped(row.entriesPerSec),
    fixed(row.payloadMBPerSec, 1),
    fixed(row.deviceBytesPerPayloadByte, 2),
    row.throughputVsBaseline === undefined ? '' : `${fixed(row.throughputVsBaseline * 100)}%`,
    row.p50MinusBaselineUs === undefined ? '' : fixed(row.p50MinusBaselineUs),
  ];
  console.log('');
  console.log(formatTable(header, [...baselineRows, ...storeRows].map(cells)));
  console.log('');
  console.log('ops = latency samples (one per append call; a batch is one call). sync latency is until durable;');
  console.log('async latency is until append returns (page cache). MB/s counts body bytes (10^6 B/s).');
  console.log('dev B/B = bytes the block device wrote per body byte (from /proc/diskstats; counts every writer of the device).');
  console.log(`MB/s vs base: against "${batchRow.label}"; p50 - base: against "${singleRow.label}".`);
  for (const [mode, targets] of Object.entries(targetsByMode)) {
    console.log(
      `target sync(${mode}) 256 x 1 KiB >= 80% of baseline bytes/s: ${fixed(targets.syncBatch256x1KiBAtLeast80PercentOfBaselineBytesPerSec.ratio * 100)}% ` +
        `-> ${targets.syncBatch256x1KiBAtLeast80PercentOfBaselineBytesPerSec.met ? 'MET' : 'MISSED'}`,
    );
    console.log(
      `target sync(${mode}) single 1 KiB p50 within 50 us of baseline p50: ${fixed(targets.syncSingle1KiBP50Within50UsOfBaseline.differenceUs)} us ` +
        `-> ${targets.syncSingle1KiBP50Within50UsOfBaseline.met ? 'MET' : 'MISSED'}`,
    );
  }
  const path = writeResults('store', {
    bench: 'store',
    startedAt,
    wallSeconds: (nowUs() - wallStartUs) / 1e6,
    node: process.version,
    config: { rounds: config.rounds, timing: config.timing, seed: config.seed, dataSegmentBytes: DATA_SEGMENT_BYTES, indexSegmentBytes: INDEX_SEGMENT_BYTES },
    baseline: { single: singleRow, batch: batchRow },
    informationalFloors: baselineRows.filter((row) => row.spec.kind === 'baseline' && row.spec.method !== 'grow'),
    store: storeRows,
    targets: targetsByMode,
  });
  console.log(`\nJSON: ${path}`);
}
