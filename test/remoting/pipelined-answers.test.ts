// A caller that pipelines requests with large answers and never reads them must not make the
// server build every answer: the server takes a few requests per turn and stops while the
// caller's unread answers exceed the write buffer; reads resume when the caller drains. Across
// connections, the listener's unread-output budget closes the connection that would take it over.
// Method: a real RemotingServer on loopback whose handler answers 1 MiB bodies and counts calls;
// raw sockets pipeline 500 requests in one write.
import net from 'node:net';
import t from 'tap';
import { RemotingServer } from '../../src/remoting/server.js';
import { createRequest, createResponse } from '../../src/remoting/command.js';
import { encodeCommand, RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { ResponseCode } from '../../src/remoting/codes.js';

const MIB = 1024 * 1024;
const CODE = 9001;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function serverWith(options: { unreadOutputBudgetBytes?: number } = {}): Promise<{ server: RemotingServer; port: number; calls: () => number; logs: string[] }> {
  const logs: string[] = [];
  let calls = 0;
  const body = Buffer.alloc(MIB, 1);
  const server = new RemotingServer({ name: 'pipelined', log: (line) => logs.push(line), limits: options.unreadOutputBudgetBytes === undefined ? {} : { unreadOutputBudgetBytes: options.unreadOutputBudgetBytes } });
  server.registerHandler(CODE, (request) => {
    calls++;
    return { ...createResponse(request, ResponseCode.SUCCESS), body };
  });
  const port = await server.listen('127.0.0.1', 0);
  return { server, port, calls: () => calls, logs };
}

function pipeline(port: number, count: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.pause(); // never read
      socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => encodeCommand({ ...createRequest(CODE, {}), opaque: i + 1 }))));
      resolve(socket);
    });
    socket.on('error', () => undefined);
  });
}

t.test('500 pipelined requests with 1 MiB answers, never read: only what fits the buffers is built', async (t) => {
  const { server, port, calls } = await serverWith();
  const socket = await pipeline(port, 500);
  await sleep(1000);
  // Loopback kernel buffers take some MiB, the write buffer 8 MiB more, plus one turn's worth.
  t.ok(calls() <= 40, `answers built for a reader that reads nothing: ${calls()} of 500`);
  t.ok(calls() >= 1, 'the first ones were answered');

  // The caller starts reading: every request is answered, in order.
  const decoder = new RemotingFrameDecoder();
  const opaques: number[] = [];
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      for (const answer of decoder.push(chunk)) opaques.push(answer.opaque);
      if (opaques.length === 500) resolve();
    });
    socket.resume();
  });
  t.equal(calls(), 500, 'all 500 handled once the caller reads');
  t.same(opaques, Array.from({ length: 500 }, (_, i) => i + 1), 'answered in order');
  socket.destroy();
  await server.close(100);
});

t.test('the listener\'s unread-output budget closes connections that would exceed it', async (t) => {
  const { server, port, calls, logs } = await serverWith({ unreadOutputBudgetBytes: 32 * MIB });
  const sockets = await Promise.all(Array.from({ length: 8 }, () => pipeline(port, 100)));
  await sleep(1500);
  t.ok(server.limitRefusals['unread-output-budget'] >= 1, `connections closed for the budget: ${server.limitRefusals['unread-output-budget']}`);
  t.ok(logs.some((line) => /unread-output-budget/.test(line)), 'and logged with the reason');
  t.ok(calls() <= 8 * 40, `answers built: ${calls()} of 800`);
  // A caller that reads is still served meanwhile.
  const reader = net.connect({ host: '127.0.0.1', port });
  reader.on('error', () => undefined);
  const answered = await new Promise<number>((resolve) => {
    const decoder = new RemotingFrameDecoder();
    let count = 0;
    reader.on('data', (chunk: Buffer) => {
      count += decoder.push(chunk).length;
      if (count === 5) resolve(count);
    });
    reader.on('connect', () => reader.write(Buffer.concat(Array.from({ length: 5 }, (_, i) => encodeCommand({ ...createRequest(CODE, {}), opaque: i + 1 })))));
    setTimeout(() => resolve(count), 5000);
  });
  t.equal(answered, 5, 'a reading caller got its 5 answers of 1 MiB');
  for (const s of [...sockets, reader]) s.destroy();
  await server.close(100);
});
