// Goal: the power-loss and slow-disk machinery itself, on a real mmap'd store in this process:
// what was flushed survives a simulated power loss, what was not is gone (drop) or cut by recovery
// (prefix / torn, often mid-record), metadata reverts to its last durable copy, and the slow-disk
// control file delays flushes. If any of these did not bite, the chaos power-loss results would
// prove nothing.
// Method: DLEDGER_FAULT_JOURNAL set for this process; openLogStore with small segments and flush
// async with an interval too long to fire (so only store.flush() makes bytes durable); append,
// flush, append more, simulateCrash() (a dead process), losePower(), reopen and compare.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { FAULT_JOURNAL_ENV, faultJournalDirOf, openLogStore, SLOW_DISK_CONTROL_FILE, type LogStoreOptions } from '../../src/store/index.js';
import { prng } from './campaign.js';
import { losePower, type TailFate } from './power-loss-disk.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-fault-journal-'));
const journalRoot = path.join(root, 'journal');
process.env[FAULT_JOURNAL_ENV] = journalRoot;
t.teardown(() => {
  delete process.env[FAULT_JOURNAL_ENV];
  fs.rmSync(root, { recursive: true, force: true });
});

let dirs = 0;
function options(): LogStoreOptions {
  return {
    nodeDir: path.join(root, `node-${dirs++}`),
    dataSegmentSizeBytes: 64 * 1024,
    indexSegmentSizeBytes: 32 * 1024,
    maxEntryBodyBytes: 4096,
    flush: { kind: 'async', intervalMs: 3_600_000 },
  };
}

const body = (i: number): Uint8Array => new TextEncoder().encode(`entry-${i}-${'x'.repeat(i % 300)}`);

/** Append `durable` entries and flush, then `volatile` more without a flush, then die. */
function writeAndDie(opts: LogStoreOptions, durable: number, volatile: number): void {
  const store = openLogStore(opts);
  for (let i = 0; i < durable; i++) store.append(1, [body(i)]);
  store.flush();
  for (let i = durable; i < durable + volatile; i++) store.append(1, [body(i)]);
  store.simulateCrash();
}

function reopenLastIndex(t: Test, opts: LogStoreOptions): number {
  const store = openLogStore(opts);
  try {
    for (let i = 0; i <= store.lastIndex; i++) {
      const entry = store.get(i);
      if (entry === null || Buffer.compare(Buffer.from(entry.body), Buffer.from(body(i))) !== 0) t.fail(`entry ${i} differs after the power loss`);
    }
    return store.lastIndex;
  } finally {
    store.close();
  }
}

t.test('drop: everything after the last flush is gone, everything before survives', async (t) => {
  const opts = options();
  // 400 entries of up to ~330 bytes span two 64 KiB data segments; 150 more are never flushed.
  writeAndDie(opts, 400, 150);
  const report = losePower(opts.nodeDir, journalRoot, prng(1), ['drop']);
  t.ok(report.files.some((f) => f.file.startsWith('data/') && f.unflushedBytes > 0), 'unflushed data bytes were found and dropped');
  t.equal(reopenLastIndex(t, opts), 399, 'the log ends at the last flushed entry');
});

t.test('without a power loss (a plain crash) nothing is lost', async (t) => {
  const opts = options();
  writeAndDie(opts, 100, 50);
  t.equal(reopenLastIndex(t, opts), 149, 'the page cache kept the unflushed entries');
});

t.test('prefix and torn tails: recovery cuts them, the flushed part always survives', async (t) => {
  const cut: Record<TailFate, number> = { drop: 0, prefix: 0, torn: 0 };
  for (let seed = 1; seed <= 12; seed++) {
    const opts = options();
    writeAndDie(opts, 200, 100);
    const fate: TailFate = seed % 2 === 0 ? 'prefix' : 'torn';
    losePower(opts.nodeDir, journalRoot, prng(seed), [fate]);
    const last = reopenLastIndex(t, opts);
    t.ok(last >= 199 && last <= 299, `seed ${seed} (${fate}): recovered through ${last}`);
    if (last < 299) cut[fate]++;
  }
  t.ok(cut.prefix > 0 && cut.torn > 0, `some tails were cut (${JSON.stringify(cut)})`);
});

t.test('currterm reverts to its last durable version', async (t) => {
  const opts = options();
  const store = openLogStore(opts);
  store.saveTermVote({ term: 5, votedFor: 'n1' });
  store.simulateCrash();
  // A later replace whose rename was not yet durable when the power went.
  fs.writeFileSync(path.join(opts.nodeDir, 'currterm'), 'currTerm=9\nvoteLeader=n2\n');
  const report = losePower(opts.nodeDir, journalRoot, prng(3));
  t.same(report.metadataReverted, ['currterm']);
  const reopened = openLogStore(opts);
  t.same(reopened.loadTermVote(), { term: 5, votedFor: 'n1' });
  reopened.close();
});

t.test('slow disk: the control file delays every flush', async (t) => {
  const opts = options();
  const store = openLogStore(opts);
  const control = path.join(faultJournalDirOf(journalRoot, opts.nodeDir), SLOW_DISK_CONTROL_FILE);
  const timeFlush = (): number => {
    store.append(1, [body(1)]);
    const started = performance.now();
    store.flush();
    return performance.now() - started;
  };
  const fast = timeFlush();
  fs.writeFileSync(control, '300\n');
  await new Promise((resolve) => setTimeout(resolve, 150)); // the store polls the file every 100 ms
  const slow = timeFlush();
  fs.writeFileSync(control, '0\n');
  await new Promise((resolve) => setTimeout(resolve, 150));
  const fastAgain = timeFlush();
  store.close();
  t.ok(slow >= 290, `a flush took ${slow.toFixed(0)} ms with the 300 ms delay`);
  t.ok(fast < slow - 200 && fastAgain < slow - 200, `without it ${fast.toFixed(0)} and ${fastAgain.toFixed(0)} ms`);
});
