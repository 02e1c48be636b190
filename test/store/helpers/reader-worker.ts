// Worker thread for test/store/worker-reader.test.ts (runs compiled, from dist/).
//
// Opens the store's read-only reader (openLogReader: its own read-only mappings of the segment
// files) while the main thread appends, and keeps reading until it has verified every entry up
// to workerData.targetLastIndex: it follows reader.lastIndex(), reads each new entry with get(),
// and also re-reads a random earlier one each round. Every entry must be whole: the exact
// expected body (entry-content.ts), bodyCrc = crc32(body), the right index. It reports a summary
// (or the first problem) with postMessage and exits.

import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { openLogReader } from '../../../src/store/index.js';
import { assert } from '../../../src/util/assert.js';
import { Prng } from '../../../src/util/prng.js';
import { ExpectedBodies, firstDifference, type ContentShape } from './entry-content.js';

export interface ReaderTask {
  readonly nodeDir: string;
  readonly dataSegmentSizeBytes: number;
  readonly indexSegmentSizeBytes: number;
  readonly seed: number;
  readonly shape: ContentShape;
  readonly targetLastIndex: number;
  readonly deadlineMs: number;
}

export interface ReaderReport {
  readonly ok: boolean;
  readonly problem: string | null;
  /** Entries verified the first time they became visible. */
  readonly verifiedEntries: number;
  readonly rereads: number;
  /** Polls of lastIndex that found nothing new (the reader was ahead of the writer). */
  readonly idlePolls: number;
  /** Distinct lastIndex values observed: > 1 proves the reads interleaved with the appends. */
  readonly distinctLastIndexes: number;
}

const task = workerData as ReaderTask;
assert(parentPort !== null, 'reader-worker must run in a worker thread');
const port = parentPort;
const bodies = new ExpectedBodies(task.seed, task.shape);
const prng = new Prng(task.seed ^ 0x5bd1e995);
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function check(reader: ReturnType<typeof openLogReader>, index: number): string | null {
  const entry = reader.get(index);
  if (entry === null) return `get(${index}) returned null although lastIndex() had reached it`;
  if (entry.index !== index) return `get(${index}) returned entry ${entry.index}`;
  const expected = bodies.of(index);
  const at = firstDifference(entry.body, expected);
  if (at !== -1) return `entry ${index} at pos ${entry.pos}: torn or wrong body, first difference at byte ${at} of ${expected.length} (found length ${entry.body.length})`;
  if ((crc32(entry.body) >>> 0) !== entry.bodyCrc >>> 0) return `entry ${index}: bodyCrc does not match its body`;
  return null;
}

function run(): ReaderReport {
  const reader = openLogReader({
    nodeDir: task.nodeDir,
    dataSegmentSizeBytes: task.dataSegmentSizeBytes,
    indexSegmentSizeBytes: task.indexSegmentSizeBytes,
  });
  let verifiedThrough = -1;
  let rereads = 0;
  let idlePolls = 0;
  const seenLastIndexes = new Set<number>();
  const fail = (problem: string): ReaderReport => ({ ok: false, problem, verifiedEntries: verifiedThrough + 1, rereads, idlePolls, distinctLastIndexes: seenLastIndexes.size });
  try {
    while (verifiedThrough < task.targetLastIndex) {
      if (Date.now() > task.deadlineMs) return fail(`deadline passed with entries verified through ${verifiedThrough} of ${task.targetLastIndex}`);
      const lastIndex = reader.lastIndex();
      seenLastIndexes.add(lastIndex);
      if (lastIndex < verifiedThrough) return fail(`lastIndex() went back from ${verifiedThrough} to ${lastIndex}`);
      if (lastIndex === verifiedThrough) {
        idlePolls++;
        Atomics.wait(sleeper, 0, 0, 0.2); // let the writer run (2 cores shared by everything)
        continue;
      }
      for (let index = verifiedThrough + 1; index <= lastIndex; index++) {
        const problem = check(reader, index);
        if (problem !== null) return fail(problem);
        verifiedThrough = index;
      }
      const earlier = prng.intBetween(0, verifiedThrough + 1);
      const problem = check(reader, earlier);
      if (problem !== null) return fail(`re-read: ${problem}`);
      rereads++;
    }
    return { ok: true, problem: null, verifiedEntries: verifiedThrough + 1, rereads, idlePolls, distinctLastIndexes: seenLastIndexes.size };
  } catch (error) {
    return fail(`reader threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    reader.close();
  }
}

// Tell the writer the reader is running: on a loaded machine a worker can take longer to start
// than the writer takes to append everything, and then nothing interleaves.
port.postMessage({ started: true });
port.postMessage(run());
