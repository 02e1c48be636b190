// Goal: the linear-time body reader (src/remoting/json-reader.ts) reads exactly what JSON.parse
// reads, plus fastjson's bare integer keys, and nothing else: every malformed text is a
// RocketMqJsonError saying what was expected at which byte; shapes build only the fields asked
// for but still check the parts they skip; nesting is bounded.
// Method: seeded random JSON documents (all value kinds, escapes, non-ASCII, "__proto__" keys,
// random whitespace) compared with JSON.parse; random one-character mutations of them compared
// with the old parser (bare keys rewritten, then JSON.parse: bench/lib/fastjson-old.ts) as the
// oracle for the extended grammar, for the build-everything and the skip-everything reads.
import t from 'tap';
import { parseRocketMqJsonOld } from '../../bench/lib/fastjson-old.js';
import { HEARTBEAT_SHAPE } from '../../src/broker/processors/client.js';
import { parseRocketMqJson } from '../../src/remoting/fastjson.js';
import { ANY, JSON_DEPTH_MAX, readJson, RocketMqJsonError, SKIPPED_ARRAY, SKIPPED_OBJECT, type JsonShape } from '../../src/remoting/json-reader.js';
import { Prng } from '../../src/util/prng.js';

const SEED = 20261206;
const DOCUMENTS = 3000;
const MUTATIONS_PER_DOCUMENT = 4;
/** Keeps nothing: every part of the body is checked and skipped. */
const NOTHING: JsonShape = { kind: 'object', fields: {} };

const STRING_PIECES = ['a', 'topic', 'é', '日本', '😀', '"', '\\', '/', '\n', '\t', '\u0001', '\u2028', '\ud800', '{0:1}', ',', ':', ' ', '__proto__'];

function randomString(prng: Prng): string {
  let s = '';
  for (let n = prng.intBetween(0, 6); n > 0; n--) s += STRING_PIECES[prng.intBetween(0, STRING_PIECES.length)] as string;
  return s;
}

function randomNumber(prng: Prng): number {
  switch (prng.intBetween(0, 6)) {
    case 0: return prng.intBetween(-1000, 1000);
    case 1: return prng.nextFloat() * 1e6 - 5e5;
    case 2: return Number.MAX_SAFE_INTEGER - prng.intBetween(0, 10);
    case 3: return (prng.nextFloat() - 0.5) * 1e-300;
    case 4: return (prng.nextFloat() - 0.5) * 1e300;
    default: return 0;
  }
}

function randomValue(prng: Prng, depth: number): unknown {
  const kind = prng.intBetween(0, depth > 6 ? 5 : 7);
  switch (kind) {
    case 0: return null;
    case 1: return prng.chance(0.5);
    case 2: return randomNumber(prng);
    case 3:
    case 4: return randomString(prng);
    case 5: return Array.from({ length: prng.intBetween(0, 5) }, () => randomValue(prng, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let n = prng.intBetween(0, 5); n > 0; n--) {
        const key = prng.chance(0.2) ? String(prng.intBetween(0, 20)) : randomString(prng);
        Object.defineProperty(object, key, { value: randomValue(prng, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return object;
    }
  }
}

/** JSON.stringify with random JSON whitespace between tokens (outside strings). */
function withSpaces(prng: Prng, text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    out += ch;
    if (inString) {
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if ('{}[],:'.includes(ch) && prng.chance(0.2)) out += [' ', '\n', '\t', '\r'][prng.intBetween(0, 4)];
  }
  return out;
}

function mutate(prng: Prng, text: string): string {
  const at = prng.intBetween(0, text.length + 1);
  const junk = '{}[],:"\\0123456789-+.eEtrufalsn x'[prng.intBetween(0, 33)] as string;
  switch (prng.intBetween(0, 3)) {
    case 0: return text.slice(0, at) + text.slice(at + 1);
    case 1: return text.slice(0, at) + junk + text.slice(at);
    default: return text.slice(0, at) + junk + text.slice(at + 1);
  }
}

/** The value, or the error: what a parser does with a text. */
function outcome(parse: () => unknown): { value: unknown } | { error: Error } {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: error as Error };
  }
}

t.test('valid documents: the same value as JSON.parse', async (t) => {
  const prng = new Prng(SEED);
  let mismatches = 0;
  for (let i = 0; i < DOCUMENTS; i++) {
    const text = withSpaces(prng, JSON.stringify(randomValue(prng, 0)));
    const expected = JSON.parse(text) as unknown;
    const actual = readJson(Buffer.from(text, 'utf8'), ANY);
    // Compare through JSON.stringify (exact key order, -0 aside) and structurally.
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      if (mismatches++ < 3) t.fail(`document ${i} differs: ${text.slice(0, 200)}`);
      continue;
    }
    t.strictSame(actual, expected, `document ${i}`, { diagnostic: false });
    t.doesNotThrow(() => readJson(Buffer.from(text, 'utf8'), NOTHING), 'a skip-everything read accepts it too');
  }
  t.equal(mismatches, 0);
});

t.test('mutated documents: accepted and rejected exactly as the extended grammar says', async (t) => {
  const prng = new Prng(SEED + 1);
  let rejected = 0;
  let accepted = 0;
  let disagreements = 0;
  for (let i = 0; i < DOCUMENTS; i++) {
    const valid = JSON.stringify(randomValue(prng, 0));
    for (let m = 0; m < MUTATIONS_PER_DOCUMENT; m++) {
      const text = mutate(prng, valid);
      // Bodies are bytes: a mutation that split a surrogate pair is U+FFFD for both.
      const bytes = Buffer.from(text, 'utf8');
      const oracle = outcome(() => parseRocketMqJsonOld(bytes.toString('utf8')));
      const full = outcome(() => readJson(bytes, ANY));
      const skipped = outcome(() => readJson(bytes, NOTHING));
      if ('value' in oracle) {
        accepted++;
        const ok = 'value' in full && JSON.stringify(full.value) === JSON.stringify(oracle.value) && 'value' in skipped;
        if (!ok && disagreements++ < 5) t.fail(`accepted by the oracle, not read the same: ${JSON.stringify(text)} ${JSON.stringify([text.length, oracle, full, skipped, "error" in full ? full.error.message : "", "error" in skipped ? skipped.error.message : ""])}`);
      } else {
        rejected++;
        for (const [mode, result] of [['any', full], ['skip', skipped]] as const) {
          const ok = 'error' in result && result.error instanceof RocketMqJsonError && /^malformed JSON body: (expected .+ at byte \d+, found .+|nested deeper than \d+ at byte \d+)$/s.test(result.error.message);
          if (!ok && disagreements++ < 5) t.fail(`rejected by the oracle, ${mode} read gave ${'error' in result ? result.error.message : 'a value'}: ${JSON.stringify(text)}`);
        }
      }
    }
  }
  t.equal(disagreements, 0);
  t.ok(rejected > 1000 && accepted > 1000, `both outcomes exercised (${rejected} rejected, ${accepted} accepted)`);
});

t.test('fastjson bare integer keys, in every read mode', async (t) => {
  const text = '{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"T","subString":"*",0:{1:2}}]}],"x":{-7 :"y"}}';
  t.same(parseRocketMqJson(text), JSON.parse(text.replace('0:{1:2}', '"0":{"1":2}').replace('-7 :', '"-7":')));
  t.same(readJson(Buffer.from(text), HEARTBEAT_SHAPE), { clientID: 'c', consumerDataSet: [{ groupName: 'g', subscriptionDataSet: [{ topic: 'T', subString: '*' }] }] }, 'a shape keeps only its fields');
  t.throws(() => readJson(Buffer.from('{"a":1,b:2}')), /expected a string or integer object key at byte 7, found 'b'/);
  t.throws(() => readJson(Buffer.from('[1,2:3]')), /expected ',' or '\]' in an array at byte 4/, 'a bare key only where a key may be');
});

t.test('shapes check what they skip', async (t) => {
  for (const text of ['{"clientID":"c","producerDataSet":[1,]}', '{"clientID":"c","junk":{"a":tru}}', '{"clientID":"c","junk":"\\x"}', '{"clientID":"c"} x', '{"clientID":"c","junk":01}']) {
    t.throws(() => readJson(Buffer.from(text), HEARTBEAT_SHAPE), RocketMqJsonError, text);
  }
  const mismatched = readJson(Buffer.from('{"clientID":{"nested":[1,2]},"consumerDataSet":"x","more":[{"consumerDataSet":1}]}'), HEARTBEAT_SHAPE) as Record<string, unknown>;
  t.equal(mismatched['clientID'], SKIPPED_OBJECT, 'a container where a scalar is expected is skipped and marked, for the type check');
  t.equal(mismatched['consumerDataSet'], 'x', 'a scalar where a container is expected is kept, for the type check');
  t.same(Object.keys(mismatched), ['clientID', 'consumerDataSet']);
  t.equal(readJson(Buffer.from('[1]'), HEARTBEAT_SHAPE), SKIPPED_ARRAY);
  const map = readJson(Buffer.from('{"t":{"b":1,"a":2,"__proto__":3}}'), { kind: 'object', fields: { t: { kind: 'map', values: { kind: 'any' } } } }) as { t: Map<string, unknown> };
  t.same([...map.t], [['b', 1], ['a', 2], ['__proto__', 3]], 'a map keeps data keys in order, __proto__ included');
  const proto = readJson(Buffer.from('{"__proto__":{"polluted":1}}')) as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(proto), Object.prototype, 'a "__proto__" key is an own property, as with JSON.parse');
  t.same(Object.keys(proto), ['__proto__']);
});

t.test(`nesting is bounded at ${JSON_DEPTH_MAX} in every mode`, async (t) => {
  const nested = (depth: number): Buffer => Buffer.from('['.repeat(depth) + ']'.repeat(depth));
  for (const shape of [ANY, NOTHING, HEARTBEAT_SHAPE]) {
    const deep = nested(JSON_DEPTH_MAX);
    if (shape === ANY) t.doesNotThrow(() => readJson(deep, shape), `${JSON_DEPTH_MAX} levels read`);
    else t.doesNotThrow(() => readJson(Buffer.from(`{"x":${'['.repeat(JSON_DEPTH_MAX - 1)}${']'.repeat(JSON_DEPTH_MAX - 1)}}`), shape), `${JSON_DEPTH_MAX} levels skipped`);
    t.throws(() => readJson(nested(JSON_DEPTH_MAX + 1), shape), /nested deeper than 64 at byte 64/);
    t.throws(() => readJson(nested(1_000_000), shape), /nested deeper than 64/, 'a million levels refused at the 65th, no stack overflow');
  }
});

t.test('empty and truncated bodies', async (t) => {
  t.throws(() => readJson(Buffer.alloc(0)), /expected a value at byte 0, found the end of the body/);
  t.throws(() => readJson(Buffer.from('{"a":"b')), /expected '"' closing a string/);
  t.throws(() => readJson(Buffer.from('  ')), /expected a value at byte 2/);
  t.throws(() => readJson(Buffer.from('{"a":1}{}')), /expected the end of the body after the value at byte 7/);
});
