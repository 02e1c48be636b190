// The peer transport must deliver frames in order between live peers, drop (never block or
// grow without bound) while a peer is down, reconnect when it comes back on the same port, and
// close connections that send garbage, a wrong group or an unknown peer id. Method: real TCP
// sockets on 127.0.0.1 with OS-assigned ports; every wait is bounded.
import t from 'tap';
import net from 'node:net';
import { PeerTransport, type PeerTransportOptions } from '../../src/node/peer-transport.js';
import type { PeerAddress } from '../../src/node/config.js';

const ids = ['n0', 'n1', 'n2'];

function makeTransport(selfId: string, inbox: Array<[string, unknown]>, logs: string[]): PeerTransport {
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
  t.ok(await until(() => { a.send('n1', { seq: -1 }); return inbox1.length > 0; }, 5000), 'n0 -> n1 connected');
  inbox1.length = 0;
  for (let i = 0; i < 1000; i++) a.send('n1', { seq: i, body: new Uint8Array(100).fill(i & 0xff) });
  b.send('n0', { seq: 'back' });
  const burst = (): number[] => inbox1.map(([, m]) => (m as { seq: number }).seq).filter((seq) => seq >= 0);
  t.ok(await until(() => burst().length === 1000 && inbox0.length === 1, 5000), 'all frames arrived');
  t.same(burst(), Array.from({ length: 1000 }, (_, i) => i), 'in order, none lost');
  t.equal(inbox1[0]?.[0], 'n0', 'sender identified by its hello');

  await b.close();
  // While n1 is down, sends are queued up to the bound and the rest dropped; nothing throws.
  const sentBefore = a.stats.framesSent;
  for (let i = 0; i < 500; i++) a.send('n1', { seq: 2000 + i });
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Some frames may go into the socket before n0 notices the close; the rest wait in the queue
  // (at most maxQueuedFramesPerPeer = 100) or are dropped.
  const written = a.stats.framesSent - sentBefore;
  t.ok(a.stats.framesDropped > 0 && a.stats.framesDropped + written >= 400, `dropped ${a.stats.framesDropped}, written ${written}: at most 100 queued`);

  inbox1.length = 0;
  b = makeTransport('n1', inbox1, logs);
  await b.listen('127.0.0.1', portB);
  t.ok(await until(() => { a.send('n1', { seq: 'after' }); return inbox1.some(([, m]) => (m as { seq: unknown }).seq === 'after'); }, 5000), 'reconnected to the restarted peer');
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
  wrongGroup.send('n0', { x: 1 });
  const sendRaw = async (bytes: Buffer): Promise<void> => {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(bytes);
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
