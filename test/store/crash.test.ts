// Goal: under `flush: sync`, a process killed with SIGKILL at any moment loses nothing it
// reported durable, and the store it leaves behind recovers to a dense prefix 0..lastIndex whose
// bodies and CRCs (body and chain) all verify; the next process appends on top and the cycle repeats.
// Method: a child process (helpers/crash-child.ts, compiled) appends deterministic entries
// (helpers/entry-content.ts) to a store with 64 KiB data / 4 KiB index segments, printing
// "durable N" after each whenDurable. The parent SIGKILLs it after a seeded random delay —
// usually while appending, sometimes while it is still opening/recovering — then reopens the
// store itself and verifies the whole log from outside (helpers/verify-log.ts).
// Note: SIGKILL keeps the page cache, so this proves recovery from torn writes and half-done
// segment/index updates at any instruction boundary, not durability across power loss.
// Reproduce a failure with the printed CRASH_SEED (and CRASH_ITERATIONS).

import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/util/prng.js';
import { compiledPath } from '../native/helpers/compiled-path.js';
import { ExpectedBodies, type ContentShape } from './helpers/entry-content.js';
import { openLogStore } from '../../src/store/index.js';
import { CRASH_STORE_GEOMETRY } from './helpers/crash-geometry.js';
import { verifyLog } from './helpers/verify-log.js';

const childPath = compiledPath(import.meta.url, './helpers/crash-child.js');
const ci = process.env.CI === 'true';
const seed = process.env.CRASH_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.CRASH_SEED);
const iterations = process.env.CRASH_ITERATIONS === undefined ? (ci ? 50 : 12) : Number(process.env.CRASH_ITERATIONS);
/** Bodies up to ~7 KiB: several per 64 KiB segment, so kills land in BLANK fillers and segment rolls. */
const SHAPE: ContentShape = { minBodyBytes: 0, maxBodyBytes: 7000 };
/** Per child: bounds the log (and the parent's full verification) to a few MB over the run. */
const MAX_ENTRIES_PER_CHILD = 300;
const reproduce = `CRASH_SEED=${seed} CRASH_ITERATIONS=${iterations} npx tap test/store/crash.test.ts`;

interface ChildRun {
  readonly openedLastIndex: number | null;
  readonly maxDurableIndex: number;
  readonly killedDuring: 'open' | 'append' | 'idle' | 'not-killed';
  readonly openMs: number | null;
}

/** Runs one child and kills it per the plan; resolves after it has exited. */
function runChild(nodeDir: string, batchSeed: number, kill: { afterOpen: boolean; delayMs: number }): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const startedMs = performance.now();
    const child = spawn(
      process.execPath,
      [childPath, nodeDir, String(seed), String(batchSeed), String(SHAPE.minBodyBytes), String(SHAPE.maxBodyBytes), String(MAX_ENTRIES_PER_CHILD)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let openedLastIndex: number | null = null;
    let openMs: number | null = null;
    let maxDurableIndex = -1;
    let idle = false;
    let killedDuring: ChildRun['killedDuring'] = 'not-killed';
    let stdoutRest = '';
    let stderr = '';
    let protocolError: Error | null = null;
    const killNow = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killedDuring = openedLastIndex === null ? 'open' : idle ? 'idle' : 'append';
      child.kill('SIGKILL');
    };
    let killTimer: NodeJS.Timeout | null = kill.afterOpen ? null : setTimeout(killNow, kill.delayMs);
    const guard = setTimeout(() => {
      protocolError ??= new Error('child did not finish within 20 s');
      child.kill('SIGKILL');
    }, 20_000);

    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (stdoutRest + chunk).split('\n');
      stdoutRest = lines.pop() ?? '';
      for (const text of lines) {
        const [word, value] = text.split(' ', 2);
        if (word === 'opened') {
          openedLastIndex = Number(value);
          openMs = performance.now() - startedMs;
          if (kill.afterOpen) killTimer = setTimeout(killNow, kill.delayMs);
        } else if (word === 'durable') {
          maxDurableIndex = Math.max(maxDurableIndex, Number(value));
        } else if (word === 'idle') {
          idle = true;
        } else {
          protocolError ??= new Error(`child said: ${text}`);
          killNow();
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (killTimer !== null) clearTimeout(killTimer);
      if (protocolError !== null) return reject(new Error(`${protocolError.message}\nchild stderr:\n${stderr}`));
      if (signal !== 'SIGKILL') return reject(new Error(`child exited by itself (code ${code}, signal ${signal})\nstderr:\n${stderr}`));
      resolve({ openedLastIndex, maxDurableIndex, killedDuring, openMs });
    });
  });
}

t.test(`SIGKILL during sync appends, ${iterations} iterations (seed ${seed})`, { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'store-crash-'));
  const nodeDir = join(dir, 'dledger-n0');
  const prng = new Prng(seed);
  const expectedBodies = new ExpectedBodies(seed, SHAPE);
  const stats = { open: 0, append: 0, idle: 0, notKilled: 0 };
  let maxDurableEver = -1;
  let verifiedLastIndex = -1;
  let lastOpenMs = 150;
  let childMs = 0;
  const startedMs = performance.now();
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      // One in six kills aims at the child's open/recovery window (the later part of its start-up,
      // judged by the previous child); the rest land while it appends.
      const afterOpen = !prng.chance(1 / 6);
      const delayMs = afterOpen ? prng.intBetween(0, 120) : prng.intBetween(Math.floor(lastOpenMs * 0.6), Math.ceil(lastOpenMs * 1.2) + 1);
      const childStartMs = performance.now();
      const run = await runChild(nodeDir, prng.nextUint32(), { afterOpen, delayMs });
      childMs += performance.now() - childStartMs;
      if (run.openMs !== null) lastOpenMs = run.openMs;
      stats[run.killedDuring === 'not-killed' ? 'notKilled' : run.killedDuring]++;
      const where = `iteration ${iteration} (killed during ${run.killedDuring}, delay ${delayMs} ms)`;
      if (run.openedLastIndex !== null && run.openedLastIndex !== verifiedLastIndex) {
        throw new Error(`${where}: child recovered lastIndex ${run.openedLastIndex}, the parent had verified ${verifiedLastIndex}`);
      }
      maxDurableEver = Math.max(maxDurableEver, run.maxDurableIndex);

      const store = openLogStore({ nodeDir, flush: { kind: 'sync' }, ...CRASH_STORE_GEOMETRY });
      try {
        if (store.lastIndex < maxDurableEver) {
          throw new Error(`entry ${maxDurableEver} was reported durable but the recovered log ends at ${store.lastIndex}`);
        }
        const verified = verifyLog(store, expectedBodies);
        if (verified.firstIndex !== 0) throw new Error(`the log starts at ${verified.firstIndex}, expected 0`);
        verifiedLastIndex = verified.lastIndex;
      } catch (error) {
        throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      } finally {
        await store.close();
      }
    }
    t.ok(verifiedLastIndex >= maxDurableEver, `all ${maxDurableEver + 1} entries reported durable survived`);
    t.ok(maxDurableEver > 0, 'children made progress');
    t.comment(
      `${iterations} kills in ${((performance.now() - startedMs) / 1000).toFixed(1)} s: ${stats.append} while appending, ` +
        `${stats.open} while opening/recovering, ${stats.idle} idle; final log 0..${verifiedLastIndex}; ` +
        `${(childMs / 1000).toFixed(1)} s in children, last child open ${lastOpenMs.toFixed(0)} ms`,
    );
  } catch (error) {
    t.comment(`FAILED with seed ${seed}; reproduce: ${reproduce}`);
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
