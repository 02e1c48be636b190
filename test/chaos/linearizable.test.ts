// Goal: prove the register checker bites — a stale read, a read of a never-written value, a read
// going back in time, a read from the future, a read of a refused write — and that valid
// concurrent histories (either order of overlapping writes, reads overlapping a write, unknown
// writes observed or not, failed reads) pass. Then a seeded property check: histories generated
// from a real atomic register (linearization point drawn inside each op's interval) always pass,
// and the same histories with one read's value replaced by an older one are caught.
import t from 'tap';
import { prng } from './campaign.js';
import { checkRegisterHistory, formatViolation, type RegisterOp } from './linearizable.js';

const w = (process: string, value: string, invokeMs: number, completeMs: number | null, status: RegisterOp['status'] = 'ok'): RegisterOp => ({ kind: 'write', process, value, invokeMs, completeMs, status });
const r = (process: string, value: string | null, invokeMs: number, completeMs: number | null, status: RegisterOp['status'] = 'ok'): RegisterOp => ({ kind: 'read', process, value, invokeMs, completeMs, status });

t.test('valid histories pass', async (t) => {
  const cases: [string, RegisterOp[]][] = [
    ['empty register read', [r('r', null, 0, 1)]],
    ['sequential', [w('a', 'x', 0, 1), r('r', 'x', 2, 3), w('a', 'y', 4, 5), r('r', 'y', 6, 7)]],
    ['read overlapping a write sees the old value', [w('a', 'x', 0, 1), w('a', 'y', 2, 6), r('r', 'x', 3, 4)]],
    ['read overlapping a write sees the new value', [w('a', 'x', 0, 1), w('a', 'y', 2, 6), r('r', 'y', 3, 4)]],
    ['overlapping writes, reads see y then x (y, x order)', [w('a', 'x', 0, 10), w('b', 'y', 0, 10), r('r', 'y', 1, 2), r('r', 'x', 3, 4), r('r', 'x', 11, 12)]],
    ['overlapping writes, reads see x then y (x, y order)', [w('a', 'x', 0, 10), w('b', 'y', 0, 10), r('r', 'x', 1, 2), r('r', 'y', 3, 4), r('r', 'y', 11, 12)]],
    ['two readers overlapping each other and a write', [w('a', 'x', 0, 1), w('a', 'y', 2, 9), r('r1', 'y', 3, 8), r('r2', 'x', 4, 7)]],
    ['unknown write observed later', [w('a', 'x', 0, 1), w('a', 'u', 2, null, 'unknown'), w('b', 'y', 3, 4), r('r', 'y', 5, 6), r('r', 'u', 7, 8)]],
    ['unknown write never observed', [w('a', 'x', 0, 1), w('a', 'u', 2, 3, 'unknown'), r('r', 'x', 4, 5)]],
    ['refused write not observed, failed and unknown reads constrain nothing', [w('a', 'x', 0, 1), w('a', 'f', 2, 3, 'fail'), r('r', 'bogus', 4, 5, 'fail'), r('r', 'f', 6, 7, 'unknown'), r('r', 'x', 8, 9)]],
    ['ops touching at one instant are concurrent', [w('a', 'x', 0, 1), w('a', 'y', 2, 3), r('r', 'x', 3, 4)]],
  ];
  for (const [name, ops] of cases) {
    const result = checkRegisterHistory(ops);
    t.equal(result.violationCount, 0, `${name}: ${result.violations.map(formatViolation).join(' | ')}`);
    t.equal(result.inconclusive, null, `${name}: conclusive`);
  }
});

t.test('violations are caught and name the offending op', async (t) => {
  const cases: [string, RegisterOp[], string, string][] = [
    ['stale read', [w('a', 'x', 0, 1), w('a', 'y', 2, 3), r('r', 'x', 4, 5)], 'stale-read', 'r read -> "x"'],
    ['stale read of the initial value', [w('a', 'x', 0, 1), r('r', null, 2, 3)], 'stale-read', 'r read -> null'],
    ['never-written value', [w('a', 'x', 0, 1), r('r', 'zz', 2, 3)], 'never-written', 'r read -> "zz"'],
    ['read going back in time', [w('a', 'x', 0, 1), w('a', 'y', 2, 10), r('r1', 'y', 3, 4), r('r2', 'x', 5, 6)], 'read-went-back', 'r2 read -> "x"'],
    ['read from the future', [r('r', 'x', 0, 1), w('a', 'x', 2, 3)], 'read-from-future', 'r read -> "x"'],
    ['refused write observed', [w('a', 'x', 0, 1, 'fail'), r('r', 'x', 2, 3)], 'refused-write-observed', 'r read -> "x"'],
    ['overlapping writes seen in both orders', [w('a', 'x', 0, 10), w('b', 'y', 0, 10), r('r1', 'x', 1, 2), r('r1', 'y', 3, 4), r('r2', 'x', 5, 6)], 'no-linearization', 'r2 read -> "x"'],
  ];
  for (const [name, ops, kind, op] of cases) {
    const result = checkRegisterHistory(ops);
    t.equal(result.violationCount, 1, `${name}: one violation`);
    const v = result.violations[0];
    t.equal(v?.kind, kind, `${name}: kind ${v?.kind}`);
    t.match(v?.op ?? '', op, `${name}: names ${v?.op}`);
    t.comment(v === undefined ? 'none' : formatViolation(v));
  }
  // After a violation the checker goes on: two independent stale reads are both reported.
  const two = checkRegisterHistory([w('a', 'x', 0, 1), w('a', 'y', 2, 3), r('r', 'x', 4, 5), w('a', 'z', 6, 7), r('r', 'y', 8, 9), r('r', 'z', 10, 11)]);
  t.equal(two.violationCount, 2, 'both stale reads reported, the good read after them passes');
});

/** A history of a real atomic register: each op takes effect at a point drawn inside its interval. */
function generate(seed: number, ops: number, processes: number): RegisterOp[] {
  const random = prng(seed);
  const busyUntil = new Array<number>(processes).fill(0);
  const planned: { p: number; kind: 'write' | 'read'; invokeMs: number; pointMs: number; completeMs: number; value: string | null; status: RegisterOp['status'] }[] = [];
  for (let i = 0; i < ops; i++) {
    const p = Math.floor(random() * processes);
    const invokeMs = busyUntil[p]! + random() * 3;
    const completeMs = invokeMs + 0.1 + random() * 8;
    busyUntil[p] = completeMs;
    const kind = random() < 0.5 ? 'write' : 'read';
    const status = kind === 'write' && random() < 0.05 ? 'unknown' : 'ok';
    planned.push({ p, kind, invokeMs, pointMs: invokeMs + random() * (completeMs - invokeMs), completeMs, value: kind === 'write' ? `v${i}` : null, status });
  }
  let register: string | null = null;
  for (const op of [...planned].sort((a, b) => a.pointMs - b.pointMs)) {
    if (op.kind === 'write') register = op.value;
    else op.value = register;
  }
  return planned.map((op) => ({ kind: op.kind, process: `p${op.p}`, value: op.value, invokeMs: op.invokeMs, completeMs: op.status === 'unknown' ? null : op.completeMs, status: op.status }));
}

t.test('property: generated atomic-register histories pass; one stale read in them is caught', async (t) => {
  const started = Date.now();
  let caught = 0;
  let planted = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const ops = generate(seed, 1500, 5);
    const result = checkRegisterHistory(ops);
    if (result.violationCount !== 0 || result.inconclusive !== null) t.fail(`seed ${seed}: valid history rejected: ${result.violations.map(formatViolation).join(' | ')} ${result.inconclusive ?? ''}`);
    // Plant: a read that began after two non-overlapping ok writes completed returns the older one.
    const random = prng(seed * 7919);
    for (let attempt = 0; attempt < 50; attempt++) {
      const i = Math.floor(random() * ops.length);
      const read = ops[i]!;
      if (read.kind !== 'read') continue;
      const done = ops.filter((o) => o.kind === 'write' && o.status === 'ok' && o.completeMs! < read.invokeMs);
      const older = done.find((a) => done.some((b) => b.invokeMs > a.completeMs!) && a.value !== read.value);
      if (older === undefined) continue;
      const mutated = ops.map((o, j) => (j === i ? { ...o, value: older.value } : o));
      planted++;
      const bad = checkRegisterHistory(mutated);
      if (bad.violationCount > 0 && bad.violations[0]!.op.includes(`read -> ${JSON.stringify(older.value)}`)) caught++;
      else t.fail(`seed ${seed}: planted stale read of ${older.value} at op ${i} not caught (${bad.violations.map(formatViolation).join(' | ')})`);
      break;
    }
  }
  t.ok(planted >= 30, `${planted} stale reads planted`);
  t.equal(caught, planted, `every planted stale read caught (${caught}/${planted})`);
  t.comment(`40 histories x 1500 ops checked twice in ${Date.now() - started} ms`);
});

t.test('the configuration cap makes a huge window inconclusive, not passed', async (t) => {
  // 20 overlapping writes and a read of each value after them: 2^20 orders.
  const ops: RegisterOp[] = [];
  for (let i = 0; i < 20; i++) ops.push(w(`p${i}`, `v${i}`, 0, 100));
  ops.push(r('r', 'v3', 1, 2));
  const result = checkRegisterHistory(ops, { maxConfigurations: 1000 });
  t.not(result.inconclusive, null, `inconclusive: ${result.inconclusive}`);
});
