// Goal: the proxy's `duplicate` fault sends each peer frame twice, whole and in order, however the
// byte stream is chunked, and never the connection's first frame (the hello).
// Method: FrameBoundaries over random chunkings of encoded frames; then a real LinkProxy in front
// of a TCP server that decodes with the node's own FrameDecoder (src/node/peer-frame.ts).
import net from 'node:net';
import t from 'tap';
import { encodeFrame, FrameDecoder } from '../../src/node/peer-frame.js';
import { freePorts, until } from '../cluster/helpers.js';
import { prng } from './campaign.js';
import { FrameBoundaries, LinkProxy } from './proxy.js';

const MAX_FRAME_BYTES = 1024 * 1024;

t.test('FrameBoundaries cuts a stream at every frame end, whatever the chunking', async (t) => {
  const frames = Array.from({ length: 40 }, (_, i) => encodeFrame({ i, pad: 'y'.repeat((i * 37) % 500) }, MAX_FRAME_BYTES));
  const stream = Buffer.concat(frames);
  const random = prng(99);
  for (let round = 0; round < 20; round++) {
    const boundaries = new FrameBoundaries();
    const completed: Buffer[] = [];
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < stream.length; ) {
      const size = 1 + Math.floor(random() * (round % 2 === 0 ? 7 : 900));
      for (const { piece, completed: frame } of boundaries.split(stream.subarray(offset, offset + size))) {
        pieces.push(piece);
        if (frame !== null) completed.push(Buffer.concat(frame));
      }
      offset += size;
    }
    t.ok(Buffer.concat(pieces).equals(stream), `round ${round}: the pieces are the stream`);
    t.same(completed.map((f) => f.toString('hex')), frames.map((f) => f.toString('hex')), `round ${round}: every frame completed once, whole`);
  }
});

t.test('a duplicating proxy delivers every frame but the hello twice, decodable', async (t) => {
  const [serverPort, proxyPort] = await freePorts(2);
  const received: unknown[] = [];
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder(MAX_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk)));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(serverPort, '127.0.0.1', resolve));
  const proxy = new LinkProxy('dup', proxyPort!, serverPort!);
  await proxy.start();
  const socket = net.connect(proxyPort!, '127.0.0.1');
  t.teardown(async () => {
    socket.destroy();
    await proxy.close();
    await new Promise((resolve) => server.close(resolve));
  });
  proxy.setFault({ kind: 'duplicate' });
  await new Promise((resolve) => socket.once('connect', resolve));
  const frames = [{ hello: 1 }, { n: 1 }, { n: 2, big: 'z'.repeat(200_000) }, { n: 3 }];
  // One write with every frame, and a frame split across writes.
  const bytes = Buffer.concat(frames.map((f) => encodeFrame(f, MAX_FRAME_BYTES)));
  socket.write(bytes.subarray(0, 10));
  socket.write(bytes.subarray(10));
  await until(() => received.length >= 7, 10_000, 'seven frames through the proxy');
  t.same(received.map((v) => JSON.stringify(v).slice(0, 20)), [frames[0], frames[1], frames[1], frames[2], frames[2], frames[3], frames[3]].map((v) => JSON.stringify(v).slice(0, 20)));
  t.equal(proxy.stats.framesDuplicated, 3);
});
