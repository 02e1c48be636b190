// Goal: the peer path from bytes to a Raft message — FrameDecoder (src/node/peer-frame.ts) then
// parseWireMessage (src/node/raft-message-wire.ts) — round-trips every message type (Appends with
// entries and with raw store records) across arbitrary chunk splits, and on mutated input only
// ever yields a well-formed Message, a FrameError or a WireMessageError: never another exception
// (TypeError, RangeError from a DataView), never a message with a field the core would assert on.
// test/node/peer-frame.test.ts already fuzzes the frame decoder alone with bytes; this covers the
// message checks behind it, which had no test.
// Method: seeded generators of valid messages; structured mutations (a field removed, retyped,
// set out of range; from/to swapped; entries and raw records damaged) and byte mutations of whole
// frames; bounded in count and time; FUZZ_SEED=<n> replays (the seed is printed).
import t from 'tap';
import { encodeFrame, FrameDecoder, FrameError } from '../../src/node/peer-frame.js';
import { parseWireMessage, wireMessage, WireMessageError } from '../../src/node/raft-message-wire.js';
import type { Entry, Message } from '../../src/raft/types.js';
import { openMemoryLogStore, type RawRecords } from '../../src/store/index.js';
import { Prng } from '../../src/util/prng.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261125);
const MAX_FRAME_BYTES = 256 * 1024;
const TIME_BUDGET_MS = 10_000;
const FROM = 'n1';
const SELF = 'n0';

/** A store holding entries 0..39 (terms 1..4, some NOOPs) to cut raw records from. */
function makeRecords(): { entries: Entry[]; rawFrom: (first: number, maxBytes: number) => RawRecords } {
  const store = openMemoryLogStore({ nodeDir: '/fuzz', dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 32 * 256, maxEntryBodyBytes: 4000, flush: { kind: 'sync' } });
  const entries: Entry[] = [];
  for (let i = 0; i < 40; i++) {
    const term = 1 + Math.floor(i / 10);
    const noop = i % 10 === 0;
    const data = noop ? new Uint8Array(0) : new Uint8Array((i * 53) % 300).fill(i);
    store.append(term, [data], noop ? 2 : 1);
    entries.push({ index: i, term, type: noop ? 2 : 1, data });
  }
  return { entries, rawFrom: (first, maxBytes) => store.readRaw(first, maxBytes)! };
}

function validMessage(prng: Prng, records: ReturnType<typeof makeRecords>): { message: Message; raw: RawRecords | null } {
  const term = prng.intBetween(0, 50);
  const base = { from: FROM, to: SELF, term };
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => prng.intBetween(0, 256));
  switch (prng.intBetween(0, 10)) {
    case 0:
      return { message: { ...base, type: prng.chance(0.5) ? 'PreVote' : 'Vote', lastLogIndex: prng.intBetween(-1, 1000), lastLogTerm: prng.intBetween(0, 50), transfer: prng.chance(0.2) }, raw: null };
    case 1:
      return { message: { ...base, type: prng.chance(0.5) ? 'PreVoteResp' : 'VoteResp', reject: prng.chance(0.5) }, raw: null };
    case 2:
    case 3: {
      const first = prng.intBetween(1, 35);
      const count = prng.intBetween(0, 6);
      const entries = records.entries.slice(first, first + count);
      const message: Message = { ...base, type: 'Append', prevLogIndex: first - 1, prevLogTerm: records.entries[first - 1]!.term, entries, commitIndex: prng.intBetween(-1, first) };
      if (entries.length > 0 && prng.chance(0.5)) {
        const raw = records.rawFrom(first, 1);
        // readRaw returns whole records up to maxBytes (at least one): keep the Append's entries equal to them.
        const rawCount = raw.lastIndex - raw.firstIndex + 1;
        return { message: { ...message, entries: records.entries.slice(first, first + rawCount) }, raw };
      }
      return { message, raw: null };
    }
    case 4:
      return { message: { ...base, type: 'AppendResp', reject: prng.chance(0.3), index: prng.intBetween(-1, 1000), conflictTerm: prng.intBetween(0, 50), conflictIndex: prng.intBetween(-1, 1000) }, raw: null };
    case 5:
      return { message: { ...base, type: 'Heartbeat', commitIndex: prng.intBetween(-1, 1000), readCtx: prng.chance(0.5) ? '' : `r${prng.intBetween(0, 99)}`, sentAtTick: prng.intBetween(0, 1e6) }, raw: null };
    case 6:
      return { message: { ...base, type: 'HeartbeatResp', readCtx: prng.chance(0.5) ? '' : `r${prng.intBetween(0, 99)}`, sentAtTick: prng.intBetween(0, 1e6) }, raw: null };
    case 7:
      return { message: { ...base, type: 'TimeoutNow' }, raw: null };
    case 8:
      return { message: { ...base, type: 'Snapshot', snapshot: { index: prng.intBetween(0, 1000), term: prng.intBetween(1, 50), sizeBytes: prng.intBetween(0, 5000) }, offset: prng.intBetween(0, 5000), data: bytes(prng.intBetween(0, 200)), done: prng.chance(0.5) }, raw: null };
    default:
      return { message: { ...base, type: 'SnapshotResp', snapshotIndex: prng.intBetween(-1, 1000), nextOffset: prng.intBetween(0, 5000), reject: prng.chance(0.3), done: prng.chance(0.5) }, raw: null };
  }
}

/** Feed a frame in random chunks; the decoded values. */
function decodeChunked(prng: Prng, frame: Buffer): unknown[] {
  const decoder = new FrameDecoder(MAX_FRAME_BYTES);
  const out: unknown[] = [];
  for (let at = 0; at < frame.length; ) {
    const size = Math.min(frame.length - at, 1 + prng.intBetween(0, 64));
    out.push(...decoder.push(frame.subarray(at, at + size)));
    at += size;
  }
  return out;
}

/** A canonical text of a message: keys sorted, bytes as arrays. */
function canonical(value: unknown): string {
  if (value instanceof Uint8Array) return `[${[...value].join(',')}]`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${k}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

/** What the core relies on in a parsed message (a failure here is a hole in the checks). */
function messageProblem(m: Message): string | null {
  if (m.from !== FROM || m.to !== SELF) return `from/to ${m.from}->${m.to}`;
  for (const [key, value] of Object.entries(m)) {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) return `${key} = ${value}`;
  }
  if (m.term < 0) return `term ${m.term}`;
  if (m.type === 'Append') {
    let previousTerm = 0;
    for (const [i, e] of m.entries.entries()) {
      if (e.index !== m.prevLogIndex + 1 + i) return `entries[${i}].index ${e.index}`;
      if (!Number.isSafeInteger(e.term) || e.term < Math.max(1, previousTerm)) return `entries[${i}].term ${e.term}`;
      if (e.type !== 1 && e.type !== 2) return `entries[${i}].type ${e.type}`;
      if (!(e.data instanceof Uint8Array)) return `entries[${i}].data`;
      previousTerm = e.term;
    }
  }
  return null;
}

const WEIRD_VALUES: readonly unknown[] = [null, undefined, -1, -2, 0.5, Number.MAX_SAFE_INTEGER + 2, 2 ** 53, -(2 ** 60), 'x', '', true, [], {}, new Uint8Array(3), 'n0', 'n1', 'a'.repeat(300), NaN, Infinity];

function mutateObject(prng: Prng, wire: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...wire };
  const keys = Object.keys(out);
  const key = keys[prng.intBetween(0, keys.length)]!;
  const pick = <T>(items: readonly T[]): T => items[prng.intBetween(0, items.length)]!;
  switch (prng.intBetween(0, 6)) {
    case 0:
      delete out[key];
      break;
    case 1:
      out[key] = pick(WEIRD_VALUES);
      break;
    case 2:
      out['type'] = pick(['PreVote', 'Vote', 'Append', 'AppendResp', 'Heartbeat', 'HeartbeatResp', 'TimeoutNow', 'Snapshot', 'SnapshotResp', 'VoteResp', 'Bogus', 7]);
      break;
    case 3: {
      const entries = out['entries'];
      if (Array.isArray(entries) && entries.length > 0) {
        const copy = entries.map((e: Record<string, unknown>) => ({ ...e }));
        const victim = copy[prng.intBetween(0, copy.length)]!;
        const field = pick(['index', 'term', 'type', 'data']);
        victim[field] = pick(WEIRD_VALUES);
        out['entries'] = prng.chance(0.2) ? [...copy, 'junk'] : copy;
      } else out['entries'] = pick([[{}], [null], 'x', [{ index: 0, term: 1, type: 1, data: new Uint8Array(1) }]]);
      break;
    }
    case 4: {
      const raw = out['raw'];
      if (raw instanceof Uint8Array && raw.length > 0) {
        const bytes = Uint8Array.from(raw);
        if (prng.chance(0.3)) out['raw'] = bytes.subarray(0, prng.intBetween(0, bytes.length));
        else {
          for (let k = prng.intBetween(1, 5); k > 0; k--) bytes[prng.intBetween(0, bytes.length)] = prng.intBetween(0, 256);
          out['raw'] = bytes;
        }
      } else {
        out['raw'] = pick([new Uint8Array(0), new Uint8Array(47), new Uint8Array(48), Uint8Array.from({ length: 100 }, () => prng.intBetween(0, 256)), 'raw']);
        out['rawPos'] = pick([0, -1, 48, 'x']);
      }
      break;
    }
    default:
      out['rawPos'] = pick(WEIRD_VALUES);
  }
  return out;
}

t.test(`peer frames and Raft wire messages under fuzzing (seed ${SEED})`, async (t) => {
  t.comment(`FUZZ_SEED=${SEED} to replay`);
  const prng = new Prng(SEED);
  const records = makeRecords();
  const started = Date.now();
  const tally = { roundTrips: 0, mutated: 0, accepted: 0, wireErrors: 0, frameErrors: 0 };
  let failures = 0;
  const judge = (where: string, value: unknown): void => {
    try {
      const m = parseWireMessage(value, FROM, SELF);
      const problem = messageProblem(m);
      if (problem !== null && failures++ < 20) t.fail(`${where}: accepted a message the core cannot trust: ${problem}`);
      tally.accepted++;
    } catch (error) {
      if (error instanceof WireMessageError) tally.wireErrors++;
      else if (failures++ < 20) t.fail(`${where}: parseWireMessage threw ${(error as Error).name}: ${(error as Error).message}`);
    }
  };
  for (let i = 0; i < 20_000 && Date.now() - started < TIME_BUDGET_MS; i++) {
    const { message, raw } = validMessage(prng, records);
    const wire = wireMessage(message, raw) as Record<string, unknown>;
    const frame = encodeFrame(wire, MAX_FRAME_BYTES);
    // Round trip: exactly the message back.
    const decoded = decodeChunked(prng, frame);
    let back: Message | null = null;
    try {
      back = parseWireMessage(decoded[0], FROM, SELF);
    } catch (error) {
      if (failures++ < 20) t.fail(`iteration ${i}: valid ${message.type}${raw !== null ? ' (raw)' : ''} refused: ${(error as Error).message}`);
    }
    if (decoded.length !== 1 || (back !== null && canonical(back) !== canonical(message))) {
      if (failures++ < 20) t.fail(`iteration ${i}: ${message.type} did not round-trip`);
    } else tally.roundTrips++;
    // Structured mutation, through a real frame.
    const mutated = mutateObject(prng, wire);
    tally.mutated++;
    let values: unknown[] = [];
    try {
      values = decodeChunked(prng, encodeFrame(mutated, MAX_FRAME_BYTES));
    } catch (error) {
      if (!(error instanceof FrameError) && failures++ < 20) t.fail(`iteration ${i}: encoding/decoding a mutated message threw ${(error as Error).message}`);
    }
    for (const value of values) judge(`iteration ${i} (structured ${message.type})`, value);
    // Byte mutation of the whole frame: the decoder may refuse; what it yields must be judged.
    const bytes = Buffer.from(frame);
    for (let k = prng.intBetween(1, 4); k > 0; k--) bytes[prng.intBetween(5, bytes.length)] = prng.intBetween(0, 256);
    try {
      for (const value of decodeChunked(prng, bytes)) judge(`iteration ${i} (bytes ${message.type})`, value);
    } catch (error) {
      if (error instanceof FrameError) tally.frameErrors++;
      else if (failures++ < 20) t.fail(`iteration ${i}: FrameDecoder threw ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  t.comment(`${Date.now() - started} ms: ${JSON.stringify(tally)}`);
  t.equal(failures, 0, 'no unexpected exception, no untrustworthy message accepted, every valid message round-trips');
  t.ok(tally.roundTrips >= 2000 && tally.wireErrors > 1000 && tally.accepted > 100, 'enough round trips, refusals and accepted mutations to mean something');
});
