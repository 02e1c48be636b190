// Goal: the remoting server answers every two-way request exactly once — the handler's response
// matched by opaque, REQUEST_CODE_NOT_SUPPORTED for unknown codes, SYSTEM_BUSY past the in-flight
// bound, SYSTEM_ERROR when a handler throws — sends nothing for oneway requests, answers a
// malformed frame and closes only that connection, and closes gracefully; the client matches
// many concurrent responses by opaque and reports timeouts and refused connections as typed errors.
// Method: a real server on an OS-assigned port, RemotingClient and raw sockets against it.
import net from 'node:net';
import t, { type Test } from 'tap';
import { RemotingClient, RemotingClientError } from '../../src/remoting/client.js';
import { createRequest, createResponse, FLAG_ONEWAY, SerializeType, type RemotingCommand } from '../../src/remoting/command.js';
import { ResponseCode } from '../../src/remoting/codes.js';
import { encodeCommand, RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { RemotingServer } from '../../src/remoting/server.js';

const ECHO = 9001;
const SLOW = 9002;
const THROWS = 9003;
const GATED = 9004;

async function startServer(t: Test, maxInFlightPerConnection = 1024): Promise<{ server: RemotingServer; address: string; seen: RemotingCommand[]; logs: string[]; gate: { open: () => void } }> {
  const logs: string[] = [];
  const server = new RemotingServer({ name: 'test', log: (line) => logs.push(line), maxInFlightPerConnection });
  const seen: RemotingCommand[] = [];
  let release: () => void = () => undefined;
  let gatePromise = new Promise<void>((resolve) => (release = resolve));
  server.registerHandler(ECHO, (request) => {
    seen.push(request);
    return createResponse(request, ResponseCode.SUCCESS, { extFields: { echo: request.extFields['value'] ?? '' }, body: request.body });
  });
  server.registerHandler(SLOW, async (request) => {
    await new Promise((resolve) => setTimeout(resolve, Number(request.extFields['delayMs'] ?? '0')));
    return createResponse(request, ResponseCode.SUCCESS, { extFields: { echo: request.extFields['value'] ?? '' } });
  });
  server.registerHandler(THROWS, () => {
    throw new Error('handler exploded');
  });
  server.registerHandler(GATED, async (request) => {
    await gatePromise;
    return createResponse(request, ResponseCode.SUCCESS);
  });
  const port = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close(100));
  return {
    server, address: `127.0.0.1:${port}`, seen, logs,
    gate: { open: () => { release(); gatePromise = Promise.resolve(); } },
  };
}

/** A raw connection that collects every command the server writes. */
async function rawConnection(address: string): Promise<{ socket: net.Socket; received: RemotingCommand[]; closed: Promise<void> }> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = new RemotingFrameDecoder();
  const received: RemotingCommand[] = [];
  socket.on('data', (chunk: Buffer) => received.push(...decoder.push(chunk)));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received, closed };
}

async function rejectsWithKind(t: Test, promise: Promise<unknown>, kind: string): Promise<void> {
  try {
    await promise;
    t.fail(`resolved; expected a RemotingClientError of kind ${kind}`);
  } catch (error) {
    t.ok(error instanceof RemotingClientError && error.kind === kind, `${kind}: ${(error as Error).message}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('unknown codes get REQUEST_CODE_NOT_SUPPORTED; a throwing handler gets SYSTEM_ERROR', async (t) => {
  const { address } = await startServer(t);
  const client = new RemotingClient();
  t.teardown(() => client.close());
  const unknown = await client.invoke(address, createRequest(12345), 2000);
  t.equal(unknown.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
  t.equal(unknown.remark, ' request type 12345 not supported');
  const failed = await client.invoke(address, createRequest(THROWS), 2000);
  t.equal(failed.code, ResponseCode.SYSTEM_ERROR);
  t.match(failed.remark, /handler exploded/);
  const ok = await client.invoke(address, createRequest(ECHO, { extFields: { value: 'still here' } }), 2000);
  t.equal(ok.extFields['echo'], 'still here', 'the connection survives both');
});

t.test('oneway requests are handled and never answered', async (t) => {
  const { address, seen } = await startServer(t);
  const raw = await rawConnection(address);
  t.teardown(() => raw.socket.destroy());
  const oneway = createRequest(ECHO, { extFields: { value: 'oneway' } });
  oneway.flag |= FLAG_ONEWAY;
  const unknownOneway = createRequest(777);
  unknownOneway.flag |= FLAG_ONEWAY;
  const twoWay = createRequest(ECHO, { extFields: { value: 'two-way' } });
  raw.socket.write(Buffer.concat([encodeCommand(oneway), encodeCommand(unknownOneway), encodeCommand(twoWay)]));
  for (let i = 0; i < 100 && raw.received.length < 1; i++) await sleep(10);
  await sleep(100);
  t.equal(seen.length, 2, 'the handler ran for the oneway and the two-way request');
  t.same(raw.received.map((c) => c.opaque), [twoWay.opaque], 'only the two-way request was answered');
  t.equal(raw.received[0]?.flag, 1, 'the answer carries the response flag');
});

t.test('many requests in flight on one connection are each answered once, matched by opaque', async (t) => {
  const { address } = await startServer(t);
  const client = new RemotingClient();
  t.teardown(() => client.close());
  const count = 300;
  const results = await Promise.all(Array.from({ length: count }, (_, i) =>
    client.invoke(address, createRequest(SLOW, { extFields: { value: `v${i}`, delayMs: (i * 7) % 40 } }), 5000)));
  t.same(results.map((r) => r.extFields['echo']), Array.from({ length: count }, (_, i) => `v${i}`));
});

t.test('requests past the in-flight bound get SYSTEM_BUSY at once; the rest complete', async (t) => {
  const { address, gate } = await startServer(t, 4);
  const raw = await rawConnection(address);
  t.teardown(() => raw.socket.destroy());
  const requests = Array.from({ length: 6 }, () => createRequest(GATED));
  raw.socket.write(Buffer.concat(requests.map((r) => encodeCommand(r))));
  for (let i = 0; i < 100 && raw.received.length < 2; i++) await sleep(10);
  t.same(raw.received.map((c) => c.code), [ResponseCode.SYSTEM_BUSY, ResponseCode.SYSTEM_BUSY]);
  t.same(raw.received.map((c) => c.opaque), [requests[4]!.opaque, requests[5]!.opaque]);
  gate.open();
  for (let i = 0; i < 100 && raw.received.length < 6; i++) await sleep(10);
  t.same(raw.received.slice(2).map((c) => c.code), [0, 0, 0, 0]);
  t.same(raw.received.slice(2).map((c) => c.opaque).sort(), requests.slice(0, 4).map((r) => r.opaque).sort());
});

t.test('a malformed frame is answered with SYSTEM_ERROR and closes only its connection', async (t) => {
  const { address, logs } = await startServer(t);
  const raw = await rawConnection(address);
  const header = Buffer.from('{"code":"nope","opaque":99}');
  const frame = Buffer.alloc(8 + header.length);
  frame.writeInt32BE(4 + header.length, 0);
  frame.writeInt32BE(header.length, 4);
  header.copy(frame, 8);
  raw.socket.write(frame);
  await raw.closed;
  t.equal(raw.received.length, 1);
  t.equal(raw.received[0]?.code, ResponseCode.SYSTEM_ERROR);
  t.equal(raw.received[0]?.opaque, 99);
  t.match(raw.received[0]?.remark, /"code" is the string/);
  t.match(logs.join('\n'), /closing connection from 127\.0\.0\.1:\d+: header field "code"/);
  const client = new RemotingClient();
  t.teardown(() => client.close());
  t.equal((await client.invoke(address, createRequest(ECHO), 2000)).code, 0, 'other connections are served');
});

t.test('client errors: timeout, refused connection, bad address', async (t) => {
  const { address } = await startServer(t);
  const client = new RemotingClient({ connectTimeoutMs: 1000 });
  t.teardown(() => client.close());
  await rejectsWithKind(t, client.invoke(address, createRequest(SLOW, { extFields: { delayMs: 500 } }), 100), 'timeout');
  const closedPort = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
  await rejectsWithKind(t, client.invoke(`127.0.0.1:${closedPort}`, createRequest(ECHO), 1000), 'connect');
  await rejectsWithKind(t, client.invoke('no-port', createRequest(ECHO), 1000), 'address');
  t.ok(new RemotingClientError('closed', 'a:1', 'x') instanceof Error);
});

t.test('graceful close answers requests in flight before closing connections', async (t) => {
  const { server, address } = await startServer(t);
  const client = new RemotingClient();
  t.teardown(() => client.close());
  await client.invoke(address, createRequest(ECHO), 2000); // connected
  const inFlight = client.invoke(address, createRequest(SLOW, { extFields: { delayMs: 200, value: 'late' } }), 5000);
  await sleep(20);
  const closing = server.close(2000);
  const response = await inFlight;
  t.equal(response.extFields['echo'], 'late', 'the request in flight was answered');
  await closing;
  t.equal(server.connectionCount, 0);
  await t.rejects(client.invoke(address, createRequest(ECHO), 1000), RemotingClientError, 'nothing listens afterwards');
});

t.test('a request with a ROCKETMQ binary header is answered in the same serialize type', async (t) => {
  const { address } = await startServer(t);
  const raw = await rawConnection(address);
  t.teardown(() => raw.socket.destroy());
  const request = createRequest(ECHO, { extFields: { value: 'binary' } });
  request.serializeType = SerializeType.ROCKETMQ;
  raw.socket.write(encodeCommand(request));
  for (let i = 0; i < 100 && raw.received.length < 1; i++) await sleep(10);
  t.equal(raw.received[0]?.serializeType, SerializeType.ROCKETMQ);
  t.equal(raw.received[0]?.extFields['echo'], 'binary');
  t.equal(raw.received[0]?.opaque, request.opaque);
});

t.test('idle connections are closed; a connection with a request in flight is not', async (t) => {
  const logs: string[] = [];
  const server = new RemotingServer({ name: 'idle', log: (line) => logs.push(line), idleTimeoutMs: 150 });
  server.registerHandler(SLOW, async (request) => {
    await sleep(Number(request.extFields['delayMs']));
    return createResponse(request, ResponseCode.SUCCESS);
  });
  const port = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close(100));
  const idle = await rawConnection(`127.0.0.1:${port}`);
  const busy = await rawConnection(`127.0.0.1:${port}`);
  t.teardown(() => { idle.socket.destroy(); busy.socket.destroy(); });
  busy.socket.write(encodeCommand(createRequest(SLOW, { extFields: { delayMs: 400 } })));
  await idle.closed;
  t.match(logs.join('\n'), /no complete frame for 150 ms/);
  for (let i = 0; i < 100 && busy.received.length < 1; i++) await sleep(10);
  t.equal(busy.received[0]?.code, ResponseCode.SUCCESS, 'the slow request outlived the idle timeout and was answered');
});

t.test('the client answers requests a server sends it: onRequest, else REQUEST_CODE_NOT_SUPPORTED', async (t) => {
  // A bare TCP server stands in for a broker that pushes NOTIFY_CONSUMER_IDS_CHANGED (40).
  const received: RemotingCommand[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const decoder = new RemotingFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const command of decoder.push(chunk)) {
        if ((command.flag & 1) === 1) { received.push(command); continue; }
        // Answer the client's request, then ask it something ourselves.
        socket.write(encodeCommand(createResponse(command, ResponseCode.SUCCESS)));
        socket.write(encodeCommand(createRequest(40, { extFields: { consumerGroup: 'CG' } })));
      }
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close(); });

  const plain = new RemotingClient();
  const answering = new RemotingClient({ onRequest: (request) => createResponse(request, ResponseCode.SUCCESS, { remark: `seen ${request.extFields['consumerGroup']}` }) });
  t.teardown(() => { plain.close(); answering.close(); });
  await plain.invoke(`127.0.0.1:${port}`, createRequest(ECHO), 2000);
  await answering.invoke(`127.0.0.1:${port}`, createRequest(ECHO), 2000);
  for (let i = 0; i < 100 && received.length < 2; i++) await sleep(10);
  t.same(received.map((c) => c.code).sort(), [ResponseCode.SUCCESS, ResponseCode.REQUEST_CODE_NOT_SUPPORTED].sort());
  t.ok(received.some((c) => c.remark === 'seen CG'), 'onRequest built the answer');
});
