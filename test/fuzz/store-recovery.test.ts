// Goal: opening a store whose files were damaged at random either recovers — and then never
// returns an entry that differs from what was written, and stays usable (append, close, reopen) —
// or refuses with a StoreCorruptionError naming a file of the store and a byte offset. It never
// throws anything else (TypeError, RangeError, an assertion), crashes or hangs.
// Method: build one store on disk (several small data and index segments, entries of varied sizes
// and terms, a checkpoint), then per iteration copy it, damage the copy (flipped bytes, a zeroed
// range, a truncated or extended file, a rewritten checkpoint, deleted index files) with a seeded
// PRNG, open it and judge. Bounded in iterations and time; FUZZ_SEED=<n> replays a run (the seed
// is printed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openLogStore, StoreCorruptionError, type LogStoreOptions } from '../../src/store/index.js';
import { Prng } from '../../src/util/prng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261125);
const MAX_ITERATIONS = 150;
const TIME_BUDGET_MS = 20_000;
const ENTRIES = 220;

const options = (nodeDir: string): LogStoreOptions => ({ nodeDir, dataSegmentSizeBytes: 16 * 1024, indexSegmentSizeBytes: 32 * 128, maxEntryBodyBytes: 2000, flush: { kind: 'sync' } });

function bodyOf(i: number): Uint8Array {
  const body = new Uint8Array((i * 37) % 400);
  for (let k = 0; k < body.length; k++) body[k] = (i * 31 + k) & 0xff;
  return body;
}

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** Damage one file of the copy; returns what was done, for the failure message. */
function damage(prng: Prng, nodeDir: string): string {
  const files = listFiles(nodeDir).filter((f) => !f.endsWith('space-reserve'));
  const pick = <T>(items: readonly T[]): T => items[prng.intBetween(0, items.length)]!;
  const file = pick(files);
  const name = path.relative(nodeDir, file);
  const bytes = fs.readFileSync(file);
  switch (prng.intBetween(0, 6)) {
    case 0: {
      const flips = prng.intBetween(1, 9);
      const at: number[] = [];
      for (let k = 0; k < flips && bytes.length > 0; k++) {
        const offset = prng.intBetween(0, bytes.length);
        bytes[offset] = bytes[offset]! ^ (1 + prng.intBetween(0, 255));
        at.push(offset);
      }
      fs.writeFileSync(file, bytes);
      return `flipped bytes of ${name} at ${at.join(',')}`;
    }
    case 1: {
      const start = prng.intBetween(0, Math.max(1, bytes.length));
      const length = Math.min(prng.intBetween(1, 2048), bytes.length - start);
      bytes.fill(0, start, start + length);
      fs.writeFileSync(file, bytes);
      return `zeroed ${name} [${start}, ${start + length})`;
    }
    case 2: {
      const length = prng.intBetween(0, Math.max(1, bytes.length));
      fs.truncateSync(file, length);
      return `truncated ${name} to ${length} bytes`;
    }
    case 3: {
      const garbage = Buffer.alloc(prng.intBetween(1, 600));
      for (let k = 0; k < garbage.length; k++) garbage[k] = prng.intBetween(0, 256);
      fs.appendFileSync(file, garbage);
      return `appended ${garbage.length} random bytes to ${name}`;
    }
    case 4: {
      const checkpoint = files.find((f) => path.basename(f) === 'checkpoint') ?? file;
      const text = fs.readFileSync(checkpoint, 'utf8');
      const replaced = text.replace(/\d+/g, (digits) => (prng.chance(0.3) ? String(prng.intBetween(0, 100_000)) : digits));
      fs.writeFileSync(checkpoint, replaced);
      return `rewrote numbers in ${path.relative(nodeDir, checkpoint)}`;
    }
    default: {
      const index = files.filter((f) => f.includes(`${path.sep}index${path.sep}`));
      const victims = index.slice(prng.intBetween(0, index.length));
      for (const v of victims) fs.rmSync(v);
      return `deleted index files ${victims.map((v) => path.basename(v)).join(',')}`;
    }
  }
}

t.test(`store recovery over randomly damaged files (seed ${SEED})`, { timeout: 90_000 }, async (t) => {
  t.comment(`FUZZ_SEED=${SEED} to replay`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-fuzz-store-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const pristine = path.join(root, 'pristine');
  const store = openLogStore(options(pristine));
  for (let i = 0; i < ENTRIES; i++) store.append(1 + Math.floor(i / 50), [bodyOf(i)]);
  const lastIndex = store.lastIndex;
  await store.close();

  const prng = new Prng(SEED);
  const started = Date.now();
  const tally = { intact: 0, truncated: 0, refused: 0, refusedOnRead: 0, maxDropped: 0 };
  let iteration = 0;
  for (; iteration < MAX_ITERATIONS && Date.now() - started < TIME_BUDGET_MS; iteration++) {
    const nodeDir = path.join(root, `copy-${iteration}`);
    fs.cpSync(pristine, nodeDir, { recursive: true });
    const what = damage(prng, nodeDir);
    const where = `seed ${SEED} iteration ${iteration} (${what})`;
    let opened;
    try {
      opened = openLogStore(options(nodeDir));
    } catch (error) {
      if (!(error instanceof StoreCorruptionError)) {
        t.fail(`${where}: open threw ${(error as Error).name}: ${(error as Error).message}`);
      } else if (!error.filePath.startsWith(nodeDir) || !/ at offset \d+/.test(error.message)) {
        t.fail(`${where}: the refusal names no file of the store and offset: ${error.message}`);
      } else tally.refused++;
      fs.rmSync(nodeDir, { recursive: true, force: true });
      continue;
    }
    try {
      if (opened.lastIndex > lastIndex) t.fail(`${where}: recovered lastIndex ${opened.lastIndex} beyond the ${lastIndex} written`);
      let readRefusals = 0;
      for (let i = opened.beforeBeginIndex + 1; i <= opened.lastIndex; i++) {
        try {
          const entry = opened.get(i);
          if (entry === null || entry.index !== i || Buffer.compare(Buffer.from(entry.body), Buffer.from(bodyOf(i))) !== 0) {
            t.fail(`${where}: entry ${i} read back wrong (${entry === null ? 'null' : `index ${entry.index}, ${entry.body.length} bytes`})`);
            break;
          }
        } catch (error) {
          if (!(error instanceof StoreCorruptionError)) {
            t.fail(`${where}: get(${i}) threw ${(error as Error).name}: ${(error as Error).message}`);
            break;
          }
          readRefusals++;
        }
      }
      if (readRefusals > 0) tally.refusedOnRead++;
      else {
        // Usable: one more append survives a close and a reopen.
        const next = opened.lastIndex + 1;
        opened.append(opened.lastTerm, [bodyOf(next)]);
        await opened.close();
        opened = openLogStore(options(nodeDir));
        const back = opened.get(next);
        if (back === null || Buffer.compare(Buffer.from(back.body), Buffer.from(bodyOf(next))) !== 0) t.fail(`${where}: the append after recovery did not survive a reopen`);
        if (next - 1 === lastIndex) tally.intact++;
        else {
          tally.truncated++;
          tally.maxDropped = Math.max(tally.maxDropped, lastIndex - (next - 1));
        }
      }
    } catch (error) {
      t.fail(`${where}: using the recovered store threw ${(error as Error).name}: ${(error as Error).message}`);
    } finally {
      await opened.close().catch(() => undefined);
      fs.rmSync(nodeDir, { recursive: true, force: true });
    }
  }
  t.comment(`${iteration} damaged copies in ${Date.now() - started} ms: ${JSON.stringify(tally)}`);
  t.ok(iteration >= 30, `${iteration} iterations ran`);
  t.ok(tally.refused > 0 && tally.intact + tally.truncated > 0, 'both refusals and recoveries happened (the damage reaches the checks)');
});
