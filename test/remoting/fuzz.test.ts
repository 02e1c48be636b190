// Goal: no byte sequence makes the frame decoder throw anything but RemotingFrameError, hang, or
// hold more than one frame's bytes; and a live server fed garbage stays up and keeps serving.
// Method: a seeded loop over random byte strings and over valid frames with random mutations
// (flipped bytes, rewritten length fields, truncations), fed in random chunks; then garbage
// streams against a real RemotingServer followed by a normal request.
import net from 'node:net';
import t from 'tap';
import { RemotingClient } from '../../src/remoting/client.js';
import { createRequest, createResponse, RemotingFrameError, SerializeType } from '../../src/remoting/command.js';
import { ResponseCode } from '../../src/remoting/codes.js';
import { encodeCommand, RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { RemotingServer } from '../../src/remoting/server.js';
import { Prng } from '../../src/util/prng.js';

const FRAME_MAX_BYTES = 64 * 1024; // small, so random lengths often hit the cap

function validFrame(prng: Prng): Buffer {
  const request = createRequest(prng.intBetween(0, 400), {
    extFields: { topic: 'T'.repeat(prng.intBetween(0, 20)), queueId: prng.intBetween(0, 8), k: prng.intBetween(0, 1) === 1 },
    body: prng.intBetween(0, 1) === 1 ? Buffer.alloc(prng.intBetween(1, 300), 7) : null,
    remark: prng.intBetween(0, 3) === 0 ? 'r' : null,
  });
  request.serializeType = prng.intBetween(0, 1) === 0 ? SerializeType.JSON : SerializeType.ROCKETMQ;
  return encodeCommand(request, FRAME_MAX_BYTES);
}

function mutate(prng: Prng, frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  switch (prng.intBetween(0, 4)) {
    case 0: for (let i = prng.intBetween(1, 8); i > 0; i--) out[prng.intBetween(0, out.length - 1)] = prng.intBetween(0, 255); return out;
    case 1: out.writeInt32BE(prng.intBetween(-10, 70_000), 0); return out;
    case 2: out.writeUInt32BE((prng.intBetween(0, 3) << 24 | prng.intBetween(0, 500)) >>> 0, 4); return out;
    case 3: return out.subarray(0, prng.intBetween(0, out.length - 1));
    default: {
      const at = prng.intBetween(8, out.length - 1);
      return Buffer.concat([out.subarray(0, at), Buffer.from([prng.intBetween(0, 255)]), out.subarray(at)]);
    }
  }
}

t.test('random and mutated input yields commands or RemotingFrameError, nothing else', async (t) => {
  const prng = new Prng(20251125);
  let frameErrors = 0;
  let decoded = 0;
  const trials = 4000;
  for (let trial = 0; trial < trials; trial++) {
    const input = trial % 3 === 0
      ? Buffer.from(Array.from({ length: prng.intBetween(0, 200) }, () => prng.intBetween(0, 255)))
      : Buffer.concat([validFrame(prng), mutate(prng, validFrame(prng)), validFrame(prng)]);
    const decoder = new RemotingFrameDecoder(FRAME_MAX_BYTES);
    try {
      for (let at = 0; at < input.length; ) {
        const size = prng.intBetween(1, 64);
        decoded += decoder.push(input.subarray(at, at + size)).length;
        at += size;
        if (decoder.bufferedBytes > FRAME_MAX_BYTES) return t.fail(`trial ${trial}: holds ${decoder.bufferedBytes} bytes`);
      }
    } catch (error) {
      if (!(error instanceof RemotingFrameError)) return t.fail(`trial ${trial}: threw ${(error as Error).stack}`);
      frameErrors++;
    }
  }
  t.ok(frameErrors > trials / 4, `${frameErrors} of ${trials} inputs were rejected`);
  t.ok(decoded > trials / 2, `${decoded} commands decoded along the way`);
});

t.test('a live server survives garbage connections and keeps serving', async (t) => {
  const logs: string[] = [];
  const server = new RemotingServer({ name: 'fuzz', log: (line) => logs.push(line), frameMaxBytes: FRAME_MAX_BYTES, closeLingerMs: 50 });
  server.registerHandler(1, (request) => createResponse(request, ResponseCode.SUCCESS));
  const port = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close(100));
  const prng = new Prng(7);
  for (let i = 0; i < 40; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    const garbage = i % 2 === 0 ? mutate(prng, validFrame(prng)) : Buffer.from(Array.from({ length: 64 }, () => prng.intBetween(0, 255)));
    socket.write(garbage);
    // Either the server closes it (malformed) or it waits for more bytes; we end it after a moment.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { socket.destroy(); resolve(); }, 30);
      socket.once('close', () => { clearTimeout(timer); resolve(); });
    });
  }
  const client = new RemotingClient();
  t.teardown(() => client.close());
  t.equal((await client.invoke(`127.0.0.1:${port}`, createRequest(1), 2000)).code, 0, 'still serving');
  t.ok(logs.some((line) => /closing connection/.test(line)), 'malformed connections were closed with a logged reason');
});
