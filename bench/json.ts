// `npm run bench -- json [--quick]`: milliseconds per MiB of RocketMQ JSON bodies parsed on the
// event loop, old parser (bench/lib/fastjson-old.ts, main before issue 11) against the current
// one (src/remoting/fastjson.ts), with plain JSON.parse as the floor. Issue 11 asks ≤ 20 ms/MiB.
//
// Bodies (each built to the target size): a REGISTER_BROKER body of many topics, a route answer
// with fastjson's bare Long keys ({0:"h:p"}), a heartbeat with many subscriptions, and shapes an
// attacker would pick — a flat array of numbers (a `,` every two bytes), many empty objects
// (a `{` and `,` every three), strings full of escapes, deep nesting.
//
// Columns: old = the old parseRocketMqJson; new any = parseRocketMqJson now (builds everything,
// as JSON.parse does: V8's object building is the floor there); heartbeat / register = what the
// broker's HEART_BEAT and the name server's REGISTER_BROKER handlers do with that body now
// (readJson with their shapes: unused parts are checked and skipped). The broker only ever
// parses request bodies the second way.
//
// Method: each case runs old and new alternately for a few rounds (the machine is shared) and
// reports the best round per MiB; the old parser only runs up to 4 MiB (it takes seconds beyond).
import { HEARTBEAT_SHAPE } from '../src/broker/processors/client.js';
import { REGISTER_BROKER_BODY_SHAPE } from '../src/namesrv/register-body.js';
import os from 'node:os';
import { parseRocketMqJson } from '../src/remoting/fastjson.js';
import { readJson, RocketMqJsonError } from '../src/remoting/json-reader.js';
import { parseRocketMqJsonOld } from './lib/fastjson-old.js';
import { writeResults } from './lib/results.js';
import { fixed, formatTable } from './lib/table.js';

const MIB = 1024 * 1024;
const OLD_MAX_BYTES = 4 * MIB;
const LIMIT_MS_PER_MIB = 20;

interface BodyCase {
  readonly name: string;
  /** A body of about `bytes` characters (ASCII: bytes = characters). */
  readonly build: (bytes: number) => string;
}

function repeatTo(bytes: number, open: string, item: (i: number) => string, close: string): string {
  const parts: string[] = [open];
  let size = open.length + close.length;
  for (let i = 0; size < bytes; i++) {
    const piece = (i === 0 ? '' : ',') + item(i);
    parts.push(piece);
    size += piece.length;
  }
  parts.push(close);
  return parts.join('');
}

const CASES: readonly BodyCase[] = [
  {
    name: 'register body (topics)',
    build: (bytes) => `{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":7,"timestamp":1700000000000},"topicConfigTable":` +
      repeatTo(bytes, '{', (i) => `"Topic${i}":{"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"Topic${i}","topicSysFlag":0,"writeQueueNums":8}`, '}') + '}}',
  },
  {
    name: 'route, bare Long keys',
    build: (bytes) => `{"brokerDatas":` + repeatTo(bytes, '[', (i) => `{"brokerAddrs":{0:"10.0.0.${i % 250}:30911",1:"10.0.1.${i % 250}:30911",2:"10.0.2.${i % 250}:30911"},"brokerName":"b${i}","cluster":"c"}`, ']') + ',"queueDatas":[]}',
  },
  {
    name: 'heartbeat (subscriptions)',
    build: (bytes) => `{"clientID":"10.0.0.1@1","consumerDataSet":[{"groupName":"g","subscriptionDataSet":` +
      repeatTo(bytes, '[', (i) => `{"classFilterMode":false,"codeSet":[${i}],"subString":"tag${i} || x","subVersion":1700000000000,"tagsSet":["tag${i}"],"topic":"T${i}"}`, ']') + '}],"producerDataSet":[]}',
  },
  { name: 'flat array of digits', build: (bytes) => repeatTo(bytes, '[', () => '1', ']') },
  { name: 'many empty objects', build: (bytes) => repeatTo(bytes, '[', () => '{}', ']') },
  { name: 'bare-key objects', build: (bytes) => repeatTo(bytes, '[', (i) => `{${i % 10}:1}`, ']') },
  { name: 'escaped strings', build: (bytes) => repeatTo(bytes, '[', () => '"\\"\\\\\\n\\u0041{0:1,2:3}"', ']') },
  { name: 'distinct keys', build: (bytes) => repeatTo(bytes, '[', (i) => `{"k${i}":1}`, ']') },
  { name: 'deep nesting', build: (bytes) => { const depth = Math.floor(bytes / 2); return '['.repeat(depth) + ']'.repeat(depth); } },
];

let refusals = 0;

/** Best of `rounds` runs, in ms; a parser that refuses the body (nesting bound) is timed until it refuses. */
function bestMs(parse: (text: string) => unknown, text: string, rounds: number): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    try {
      parse(text);
    } catch (error) {
      if (!(error instanceof RocketMqJsonError)) throw error;
      refusals++;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

export async function run(args: readonly string[]): Promise<void> {
  const quick = args.includes('--quick');
  const sizes = quick ? [1 * MIB] : [1 * MIB, 4 * MIB, 16 * MIB];
  const rounds = quick ? 2 : 3;
  const rows: string[][] = [];
  const results: Array<Record<string, unknown>> = [];
  let worstHandlerMsPerMiB = 0;
  let worstAnyMsPerMiB = 0;
  for (const bodyCase of CASES) {
    for (const bytes of sizes) {
      const text = bodyCase.build(bytes);
      const mib = text.length / MIB;
      // Same value from both (a bench of a wrong parser measures nothing).
      const oldMs = text.length <= OLD_MAX_BYTES * 1.01 ? bestMs(parseRocketMqJsonOld, text, rounds) : NaN;
      const refusalsBefore = refusals;
      const newMs = bestMs(parseRocketMqJson, text, rounds);
      const body = Buffer.from(text, 'utf8');
      const heartbeatMs = bestMs(() => readJson(body, HEARTBEAT_SHAPE), text, rounds);
      const registerMs = bestMs(() => readJson(body, REGISTER_BROKER_BODY_SHAPE), text, rounds);
      const refused = refusals > refusalsBefore;
      let nativeMs = NaN;
      try {
        nativeMs = bestMs(JSON.parse, text, rounds);
      } catch {
        // bare keys: not standard JSON
      }
      worstHandlerMsPerMiB = Math.max(worstHandlerMsPerMiB, heartbeatMs / mib, registerMs / mib);
      worstAnyMsPerMiB = Math.max(worstAnyMsPerMiB, newMs / mib);
      rows.push([bodyCase.name + (refused ? ' (refused)' : ''), fixed(mib, 1), fixed(oldMs / mib, 1), fixed(newMs / mib, 1), fixed(heartbeatMs / mib, 1), fixed(registerMs / mib, 1), fixed(nativeMs / mib, 1)]);
      results.push({ case: bodyCase.name, mib, refused, oldMsPerMiB: oldMs / mib, newAnyMsPerMiB: newMs / mib, heartbeatShapeMsPerMiB: heartbeatMs / mib, registerShapeMsPerMiB: registerMs / mib, jsonParseMsPerMiB: nativeMs / mib });
    }
  }
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`ms per MiB, best of ${rounds}; load average ${load} on ${os.availableParallelism()} cores (compare rows of one run: a loaded machine slows every column)`);
  console.log(formatTable(['body', 'MiB', 'old', 'new any', 'heartbeat', 'register', 'JSON.parse'], rows));
  console.log(`\nworst handler read (heartbeat/register shapes): ${fixed(worstHandlerMsPerMiB, 1)} ms/MiB (issue 11 limit ${LIMIT_MS_PER_MIB}); ` +
    `worst build-everything read: ${fixed(worstAnyMsPerMiB, 1)} ms/MiB; old runs up to ${OLD_MAX_BYTES / MIB} MiB only`);
  const path = writeResults('json', { node: process.version, loadAverage: os.loadavg(), quick, rounds, limitMsPerMiB: LIMIT_MS_PER_MIB, worstHandlerMsPerMiB, worstAnyMsPerMiB, results });
  console.log(`results: ${path}`);
}
