// The peer transport must deliver frames in order between live peers, drop (never block or
// grow without bound) while a peer is down, reconnect when it comes back on the same port, and
// close connections that send garbage, a wrong group or an unknown peer id. Method: real TCP
// sockets on 127.0.0.1 with OS-assigned ports; every wait is bounded.
import t from 'tap';
import net from 'node:net';
import { PeerTransport, type PeerTransportOptions } from '../../src/node/peer-transport.js';
import type { PeerAddress } from '../../src/node/config.js';
import type { NodeSecrets } from '../../src/node/peer-auth.js';

const ids = ['n0', 'n1', 'n2'];
const secretsOf = (secret: string): NodeSecrets => ({ peer: { secrets: [Buffer.from(secret)] }, client: { secrets: [Buffer.from(secret)] } });
const SECRETS = secretsOf('the-group-secret-for-this-test');

function makeTransport(selfId: string, inbox: Array<[string, unknown]>, logs: string[], secrets = SECRETS): PeerTransport {
  const peers: PeerAddress[] = ids.map((id) => ({ id, host: '127.0.0.1', port: 1 }));
  const options: PeerTransportOptions = {
    group: 'g1',
    selfId,
    peers,
    maxFrameBytes: 1 << 20,
    maxQueuedFramesPerPeer: 100,
    reconnectInitialDelayMs: 20,
    reconnectMaxDelayMs: 200,
    onMessage: (from, message) => inbox.push([from, message]),
    log: (line) => logs.push(line),
    secrets,
  };
  return new PeerTransport(options);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

t.test('in-order delivery, bounded drops while down, reconnect after restart', async (t) => {
  const inbox0: Array<[string, unknown]> = [];
  const inbox1: Array<[string, unknown]> = [];
  const logs: string[] = [];
  const a = makeTransport('n0', inbox0, logs);
  let b = makeTransport('n1', inbox1, logs);
  const portA = await a.listen('127.0.0.1', 0);
  const portB = await b.listen('127.0.0.1', 0);
  a.setPeerAddress({ id: 'n1', host: '127.0.0.1', port: portB });
  b.setPeerAddress({ id: 'n0', host: '127.0.0.1', port: portA });

  // Connections are dialled lazily by the first send; wait until both directions are up, since
  // frames sent while connecting only fit in the bounded queue.
  t.ok(await until(() => { a.send('n1', { from: 'n0', seq: -1 }); return inbox1.length > 0; }, 5000), 'n0 -> n1 connected');
  inbox1.length = 0;
  for (let i = 0; i < 1000; i++) a.send('n1', { from: 'n0', seq: i, body: new Uint8Array(100).fill(i & 0xff) });
  b.send('n0', { from: 'n1', seq: 'back' });
  const burst = (): number[] => inbox1.map(([, m]) => (m as { seq: number }).seq).filter((seq) => seq >= 0);
  t.ok(await until(() => burst().length === 1000 && inbox0.length === 1, 5000), 'all frames arrived');
  t.same(burst(), Array.from({ length: 1000 }, (_, i) => i), 'in order, none lost');
  t.equal(inbox1[0]?.[0], 'n0', 'sender identified by its hello');

  await b.close();
  // While n1 is down, sends are queued up to the bound and the rest dropped; nothing throws.
  const sentBefore = a.stats.framesSent;
  for (let i = 0; i < 500; i++) a.send('n1', { from: 'n0', seq: 2000 + i });
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Some frames may go into the socket before n0 notices the close; the rest wait in the queue
  // (at most maxQueuedFramesPerPeer = 100) or are dropped.
  const written = a.stats.framesSent - sentBefore;
  t.ok(a.stats.framesDropped > 0 && a.stats.framesDropped + written >= 400, `dropped ${a.stats.framesDropped}, written ${written}: at most 100 queued`);

  inbox1.length = 0;
  b = makeTransport('n1', inbox1, logs);
  await b.listen('127.0.0.1', portB);
  t.ok(await until(() => { a.send('n1', { from: 'n0', seq: 'after' }); return inbox1.some(([, m]) => (m as { seq: unknown }).seq === 'after'); }, 5000), 'reconnected to the restarted peer');
  await a.close();
  await b.close();
});

t.test('garbage, a wrong group or an unknown peer closes the inbound connection', async (t) => {
  const inbox: Array<[string, unknown]> = [];
  const logs: string[] = [];
  const a = makeTransport('n0', inbox, logs);
  const port = await a.listen('127.0.0.1', 0);
  const other = makeTransport('n1', [], []);
  const wrongGroup = new PeerTransport({ ...(other as unknown as { options: PeerTransportOptions }).options, group: 'g2', peers: ids.map((id) => ({ id, host: '127.0.0.1', port })) });
  wrongGroup.send('n0', { from: 'n1', x: 1 });
  const sendRaw = async (bytes: Buffer): Promise<void> => {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(bytes);
    // The node answers a refused connection with a {refused: reason} frame before closing: read it.
    socket.resume();
    await new Promise<void>((resolve) => { socket.once('close', () => resolve()); socket.on('error', () => undefined); });
  };
  await sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  t.ok(await until(() => logs.some((l) => /group "g2"/.test(l)), 3000), 'wrong group refused');
  t.ok(logs.some((l) => /exceeds the maximum/.test(l)), 'oversize frame refused');
  t.equal(inbox.length, 0, 'nothing was delivered');
  await wrongGroup.close();
  await other.close();
  await a.close();
});

t.test('a peer with the wrong secret is refused both ways; a message claiming another sender is dropped', async (t) => {
  const inbox0: Array<[string, unknown]> = [];
  const inbox1: Array<[string, unknown]> = [];
  const logs0: string[] = [];
  const logs1: string[] = [];
  const a = makeTransport('n0', inbox0, logs0);
  const b = makeTransport('n1', inbox1, logs1, secretsOf('some-other-secret-not-the-group'));
  const portA = await a.listen('127.0.0.1', 0);
  const portB = await b.listen('127.0.0.1', 0);
  a.setPeerAddress({ id: 'n1', host: '127.0.0.1', port: portB });
  b.setPeerAddress({ id: 'n0', host: '127.0.0.1', port: portA });
  b.send('n0', { from: 'n1', seq: 1 });
  a.send('n1', { from: 'n0', seq: 1 });
  t.ok(await until(() => a.stats.authFailures > 0 && b.stats.authFailures > 0, 5000), `both refused (n0 ${a.stats.authFailures}, n1 ${b.stats.authFailures})`);
  t.ok(logs0.some((l) => /did not prove/.test(l)), 'the reason is logged');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(inbox0.length + inbox1.length, 0, 'nothing delivered either way');
  await b.close();

  const c = makeTransport('n2', [], []);
  const portC = await c.listen('127.0.0.1', 0);
  c.setPeerAddress({ id: 'n0', host: '127.0.0.1', port: portA });
  t.ok(await until(() => { c.send('n0', { from: 'n2', seq: 'hi' }); return inbox0.length > 0; }, 5000), 'n2 with the right secret gets through');
  t.equal(inbox0[0]?.[0], 'n2');
  c.send('n0', { from: 'n1', seq: 'forged' });
  t.ok(await until(() => a.stats.fromMismatches === 1, 3000), 'a message from n2 claiming to be from n1 is counted');
  t.notOk(inbox0.some(([, m]) => (m as { seq: unknown }).seq === 'forged'), 'and dropped');
  void portC;
  await c.close();
  await a.close();
});

t.test('before authentication: a silent connection is closed at the hello deadline, a frame over 1 KiB is refused', async (t) => {
  const logs: string[] = [];
  const peers: PeerAddress[] = ids.map((id) => ({ id, host: '127.0.0.1', port: 1 }));
  const a = new PeerTransport({ group: 'g1', selfId: 'n0', peers, maxFrameBytes: 1 << 20, maxQueuedFramesPerPeer: 10, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200, onMessage: () => undefined, log: (line) => logs.push(line), secrets: SECRETS, helloTimeoutMs: 300 });
  const port = await a.listen('127.0.0.1', 0);
  const open = async (bytes: Buffer | null): Promise<number> => {
    const startedAt = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    socket.resume();
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    if (bytes !== null) socket.write(bytes);
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return Date.now() - startedAt;
  };
  const silentMs = await open(null);
  t.ok(silentMs >= 250 && silentMs < 3000, `a silent connection closed after ${silentMs} ms (deadline 300 ms)`);
  t.ok(logs.some((l) => /no complete handshake within 300 ms/.test(l)), 'the deadline is logged');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(2000, 0);
  await open(header);
  t.ok(logs.some((l) => /frame length 2000 exceeds the maximum of 1024/.test(l)), 'a 2000-byte frame before authentication is refused by its length alone');
  t.equal(a.stats.authFailures, 2, 'both counted');
  await a.close();
});
