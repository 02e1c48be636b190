// The seeded PRNG must be reproducible from its seed and spread values evenly enough for jitter.
import t from 'tap';
import { Prng } from '../../src/util/prng.js';

t.test('same seed, same sequence; different seed, different sequence', async (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const seqA = Array.from({ length: 16 }, () => a.nextUint32());
  const seqB = Array.from({ length: 16 }, () => b.nextUint32());
  const seqC = Array.from({ length: 16 }, () => c.nextUint32());
  t.same(seqA, seqB);
  t.notSame(seqA, seqC);
});

t.test('intBetween stays in range and hits every value', async (t) => {
  const prng = new Prng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) seen.add(prng.intBetween(10, 20));
  t.same([...seen].sort((x, y) => x - y), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
});

t.test('rejects an empty range and a non-integer seed', async (t) => {
  t.throws(() => new Prng(1.5));
  t.throws(() => new Prng(1).intBetween(3, 3));
});
