// Goal: the frames ali-ons actually writes for every request of its producer and consumer
// sequences (fixtures/ali-ons-requests.json, recorded from ali-ons 3.12.0's encoder) decode as
// Java would read them — numbers and booleans in extFields become strings — and a live server
// answers every one of them exactly once, in frames ali-ons' own decoder reads as responses,
// even when they arrive coalesced and split at arbitrary points.
// Method: decode each recorded frame; replay all of them through one socket to a name server
// (which knows 105 and answers the broker codes with REQUEST_CODE_NOT_SUPPORTED).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { ResponseCode } from '../../src/remoting/codes.js';
import { RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import { Prng } from '../../src/util/prng.js';

interface Recorded {
  name: string;
  code: number;
  opaque: number;
  header: Record<string, string | number | boolean>;
  body: string | null;
  hex: string;
}
const recorded = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'fixtures/ali-ons-requests.json'), 'utf8')) as Recorded[];
const require = createRequire(import.meta.url);
const AliOnsCommand = require('ali-ons/lib/protocol/command/remoting_command') as {
  decode(packet: Buffer): { opaque: number; code: number; isResponseType: boolean; extFields: Record<string, unknown> };
};

t.test('every recorded ali-ons request decodes as Java reads it', async (t) => {
  t.equal(recorded.length, 11);
  for (const frame of recorded) {
    const commands = new RemotingFrameDecoder().push(Buffer.from(frame.hex, 'hex'));
    t.equal(commands.length, 1, `${frame.name}: one command`);
    const command = commands[0]!;
    const expected = Object.fromEntries(Object.entries(frame.header).map(([k, v]) => [k, String(v)]));
    t.same({ code: command.code, opaque: command.opaque, flag: command.flag, version: command.version, language: command.language },
      { code: frame.code, opaque: frame.opaque, flag: 0, version: 121, language: 'JAVA' }, `${frame.name}: header fields`);
    t.same({ ...command.extFields }, expected, `${frame.name}: extFields as strings`);
    t.equal(command.body?.toString('utf8') ?? null, frame.body, `${frame.name}: body`);
  }
});

t.test('a live server answers each recorded request once, readable by ali-ons, across any split', async (t) => {
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: () => undefined });
  const port = await namesrv.start();
  t.teardown(() => namesrv.close());
  const stream = Buffer.concat(recorded.map((frame) => Buffer.from(frame.hex, 'hex')));
  const prng = new Prng(3);
  for (let trial = 0; trial < 5; trial++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const raw: Buffer[] = [];
    const decoder = new RemotingFrameDecoder();
    const answers: Array<{ opaque: number; code: number }> = [];
    socket.on('data', (chunk: Buffer) => {
      raw.push(chunk);
      answers.push(...decoder.push(chunk));
    });
    for (let at = 0; at < stream.length; ) {
      const size = prng.intBetween(1, 300);
      socket.write(stream.subarray(at, at + size));
      at += size;
      if (prng.intBetween(0, 3) === 0) await new Promise((r) => setTimeout(r, 1));
    }
    for (let i = 0; i < 200 && answers.length < recorded.length; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50)); // nothing more may arrive
    socket.destroy();
    t.equal(answers.length, recorded.length, `trial ${trial}: one answer per request`);
    t.same(answers.map((a) => a.opaque).sort(), recorded.map((f) => f.opaque).sort(), `trial ${trial}: matched by opaque`);
    const byOpaque = new Map(answers.map((a) => [a.opaque, a.code]));
    t.equal(byOpaque.get(100), ResponseCode.TOPIC_NOT_EXIST, 'the route query is answered by the name server');
    t.ok(recorded.slice(1).every((f) => byOpaque.get(f.opaque) === ResponseCode.REQUEST_CODE_NOT_SUPPORTED), 'broker requests: not supported here');
    // ali-ons' own decoder must see responses (flag bit0), or it would wait 30 s for them.
    const bytes = Buffer.concat(raw);
    for (let at = 0; at < bytes.length; ) {
      const length = bytes.readInt32BE(at);
      const decoded = AliOnsCommand.decode(bytes.subarray(at, at + 4 + length).subarray(0));
      if (!decoded.isResponseType) return t.fail(`ali-ons does not see opaque ${decoded.opaque} as a response`);
      at += 4 + length;
    }
  }
});
