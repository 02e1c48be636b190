// Child process of test/store/crash.test.ts (run as compiled JS: dist/test/store/helpers/crash-child.js).
//
// Opens (and so recovers) the store under `flush: sync` with small segments, prints
// "opened <lastIndex>", then appends entries whose bodies follow entry-content.ts, in random
// batches with up to MAX_IN_FLIGHT batches waiting for durability at once (so group commit
// covers several), and prints "durable <index>" each time whenDurable(index) resolves. It runs
// until the parent kills it with SIGKILL, or stops appending after --max-entries and idles.
// Lines go out with writeSync on fd 1, so a line the parent reads was written before the kill.
//
// usage: crash-child.js <nodeDir> <contentSeed> <batchSeed> <minBodyBytes> <maxBodyBytes> <maxEntries>

import { writeSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Prng } from '../../../src/util/prng.js';
import { expectedBody, type ContentShape } from './entry-content.js';
import { openLogStore } from '../../../src/store/index.js';
import { CRASH_STORE_GEOMETRY } from './crash-geometry.js';

const MAX_IN_FLIGHT = 4;
const MAX_BATCH = 16;
/** The child ends by itself after this long if nobody kills it (a stuck parent must not leak it). */
const SELF_EXIT_AFTER_MS = 30_000;

function line(text: string): void {
  writeSync(1, `${text}\n`);
}

function parseArgs(argv: readonly string[]): { nodeDir: string; contentSeed: number; batchSeed: number; shape: ContentShape; maxEntries: number } {
  if (argv.length !== 6) throw new Error(`usage: crash-child <nodeDir> <contentSeed> <batchSeed> <minBody> <maxBody> <maxEntries>, got ${argv.join(' ')}`);
  const [nodeDir, ...numbers] = argv as [string, ...string[]];
  const [contentSeed, batchSeed, minBodyBytes, maxBodyBytes, maxEntries] = numbers.map((value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${value}`);
    return n;
  }) as [number, number, number, number, number];
  return { nodeDir, contentSeed, batchSeed, shape: { minBodyBytes, maxBodyBytes }, maxEntries };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Keeps the process alive while idle, and ends it if the parent never kills it.
  setTimeout(() => process.exit(3), SELF_EXIT_AFTER_MS);
  const prng = new Prng(args.batchSeed);
  const store = openLogStore({ nodeDir: args.nodeDir, flush: { kind: 'sync' }, ...CRASH_STORE_GEOMETRY });
  line(`opened ${store.lastIndex}`);

  const inFlight: Promise<void>[] = [];
  let appended = 0;
  while (appended < args.maxEntries) {
    const batchSize = Math.min(prng.intBetween(1, MAX_BATCH + 1), args.maxEntries - appended);
    const firstIndex = store.lastIndex + 1;
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < batchSize; i++) bodies.push(expectedBody(args.contentSeed, firstIndex + i, args.shape));
    const entries = store.append(1, bodies);
    const last = entries[entries.length - 1];
    if (entries.length !== batchSize || entries[0]?.index !== firstIndex || last === undefined) {
      throw new Error(`append of ${batchSize} at ${firstIndex} returned ${JSON.stringify(entries)}`);
    }
    appended += batchSize;
    inFlight.push(store.whenDurable(last.index).then(() => line(`durable ${last.index}`)));
    if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
    else if (prng.chance(0.5)) await yieldToEventLoop();
  }
  await Promise.all(inFlight);
  line('idle'); // then wait for SIGKILL (the self-exit timer keeps the process alive)
}

main().catch((error: unknown) => {
  line(`error ${error instanceof Error ? (error.stack ?? error.message).replace(/\n/g, ' | ') : String(error)}`);
  process.exit(2);
});
