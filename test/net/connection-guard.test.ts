// Goal: the listener bounds decide as documented: caps in total and per address, the first-frame
// deadline, idleness counted in frames (a busy connection is not idle), the partial-frame budget
// shared by all connections, the unread-output budget, and the metrics listener's own connection cap.
import net from 'node:net';
import t from 'tap';
import { Registry } from 'prom-client';
import { ConnectionGuard, type ConnectionLimits } from '../../src/net/connection-guard.js';
import { serveMetrics } from '../../src/metrics/prometheus.js';

const LIMITS: ConnectionLimits = { maxConnections: 3, maxConnectionsPerAddress: 2, firstFrameDeadlineMs: 1000, idleTimeoutMs: 5000, partialFrameBudgetBytes: 100 };

function fakeSocket(address: string): net.Socket & { destroyedByGuard: boolean } {
  const socket = { remoteAddress: address, destroyedByGuard: false, destroy() { this.destroyedByGuard = true; } };
  return socket as unknown as net.Socket & { destroyedByGuard: boolean };
}

t.test('caps in total and per address; release frees the slot', async (t) => {
  const logs: string[] = [];
  const guard = new ConnectionGuard({ name: 'g', limits: LIMITS, log: (l) => logs.push(l) });
  t.teardown(() => guard.close());
  const a1 = guard.admit(fakeSocket('10.0.0.1'));
  const a2 = guard.admit(fakeSocket('::ffff:10.0.0.1'));
  const a3 = fakeSocket('10.0.0.1');
  t.ok(a1 !== null && a2 !== null, 'two from one address are admitted');
  t.equal(guard.admit(a3), null, 'a third from the same address is refused');
  t.ok(a3.destroyedByGuard, 'and destroyed');
  t.ok(guard.admit(fakeSocket('10.0.0.2')) !== null, 'another address is admitted');
  t.equal(guard.admit(fakeSocket('10.0.0.3')), null, 'the total cap refuses a fourth');
  guard.release(a1 as NonNullable<typeof a1>);
  t.ok(guard.admit(fakeSocket('10.0.0.1')) !== null, 'a released slot is free again');
  t.same({ total: guard.refusals['max-connections'], perAddress: guard.refusals['max-connections-per-address'] }, { total: 1, perAddress: 1 });
  t.match(logs.join('\n'), /max-connections-per-address/);
});

t.test('first-frame deadline, idleness in frames, busy connections', async (t) => {
  let busy = false;
  const guard = new ConnectionGuard({ name: 'g', limits: { ...LIMITS, maxConnections: 10, maxConnectionsPerAddress: 10 }, log: () => undefined });
  t.teardown(() => guard.close());
  const silentSocket = fakeSocket('10.0.0.1');
  const silent = guard.admit(silentSocket);
  const talkerSocket = fakeSocket('10.0.0.1');
  const talker = guard.admit(talkerSocket, () => busy);
  if (silent === null || talker === null) throw new Error('not admitted');
  const t0 = silent.acceptedAtMs;
  guard.frameReceived(talker);
  guard.sweep(t0 + 500);
  t.notOk(silentSocket.destroyedByGuard, 'before the deadline a silent connection stays');
  guard.sweep(t0 + 1000);
  t.ok(silentSocket.destroyedByGuard, 'at the deadline a connection without a complete frame is closed');
  t.equal(guard.refusals['first-frame-deadline'], 1);
  busy = true;
  guard.sweep(t0 + 6000);
  t.notOk(talkerSocket.destroyedByGuard, 'a busy connection is not idle');
  busy = false;
  guard.frameReceived(talker);
  guard.sweep(t0 + 7000);
  guard.sweep(t0 + 11_000);
  t.notOk(talkerSocket.destroyedByGuard, 'a frame at 7 s keeps it until 12 s');
  guard.sweep(t0 + 12_000);
  t.ok(talkerSocket.destroyedByGuard, 'no complete frame for idleTimeoutMs closes it');
  t.equal(guard.refusals.idle, 1);
});

t.test('the partial-frame budget is shared by the listener and released with the connection', async (t) => {
  const guard = new ConnectionGuard({ name: 'g', limits: { ...LIMITS, maxConnections: 10, maxConnectionsPerAddress: 10 }, log: () => undefined });
  t.teardown(() => guard.close());
  const a = guard.admit(fakeSocket('10.0.0.1'));
  const bSocket = fakeSocket('10.0.0.2');
  const b = guard.admit(bSocket);
  if (a === null || b === null) throw new Error('not admitted');
  t.ok(guard.holdPartial(a, 60), 'a holds 60 of 100');
  t.notOk(guard.holdPartial(b, 50), 'b would take the total to 110: refused');
  t.ok(bSocket.destroyedByGuard, 'and closed');
  t.equal(guard.partialFrameBytes, 60, 'the refused connection holds nothing');
  t.ok(guard.holdPartial(a, 100), 'a may grow to the whole budget');
  t.ok(guard.holdPartial(a, 0), 'and shrink when its frame completes');
  guard.release(a);
  t.equal(guard.partialFrameBytes, 0);
  t.equal(guard.refusals['partial-frame-budget'], 1);
});

t.test('the unread-output budget: shared, small holders spared, refreshed by the sweep', async (t) => {
  const MIB = 1024 * 1024;
  const guard = new ConnectionGuard({ name: 'g', limits: { ...LIMITS, maxConnections: 10, maxConnectionsPerAddress: 10, unreadOutputBudgetBytes: 10 * MIB }, log: () => undefined, sweepIntervalMs: 60_000 });
  t.teardown(() => guard.close());
  const sockets = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((address) => Object.assign(fakeSocket(address), { writableLength: 0 }));
  const [a, b, c] = sockets.map((socket) => guard.admit(socket));
  if (a === null || b === null || c === null || a === undefined || b === undefined || c === undefined) throw new Error('not admitted');
  t.ok(guard.holdOutput(a, 8 * MIB), 'a leaves 8 of 10 MiB unread');
  t.notOk(guard.holdOutput(b, 3 * MIB), 'b would take the total to 11 MiB with 3 MiB of its own: closed');
  t.ok(sockets[1]?.destroyedByGuard, 'b destroyed');
  t.equal(guard.refusals['unread-output-budget'], 1);
  t.ok(guard.holdOutput(c, 512 * 1024), 'c over the budget with 512 KiB of its own: spared (small answers always go)');
  t.equal(guard.unreadOutputBytes, 8 * MIB + 512 * 1024);
  // a's reader took its bytes without a 'drain' yet: the sweep reads writableLength again.
  (sockets[0] as { writableLength: number }).writableLength = MIB;
  (sockets[2] as { writableLength: number }).writableLength = 512 * 1024;
  guard.sweep(Date.now());
  t.equal(guard.unreadOutputBytes, MIB + 512 * 1024, `the sweep refreshed a's unread bytes (${guard.unreadOutputBytes})`);
  t.ok(guard.holdOutput(c, 4 * MIB), 'now c may leave 4 MiB unread');
  guard.release(c);
  t.equal(guard.unreadOutputBytes, MIB, 'release forgets the connection\'s bytes');
});

t.test('the metrics listener caps its connections and still answers a scrape', async (t) => {
  const { server, port } = await serveMetrics(new Registry(), '127.0.0.1', 0);
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sockets = await Promise.all(Array.from({ length: 80 }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', () => resolve(s));
  })));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const closed = sockets.filter((s) => s.destroyed || s.readableEnded).length;
  t.ok(closed >= 16, `connections over the cap of 64 are closed (${closed} of 80)`);
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(response.status, 200, 'a scrape after the flood is answered');
});

t.test('the remoting bounds are name-server and broker keys, validated', async (t) => {
  const { buildNamesrvConfig } = await import('../../src/namesrv/config.js');
  const config = buildNamesrvConfig({ serverMaxConnectionsPerAddress: '50', serverChannelMaxIdleTimeSeconds: '30' }, 'namesrv.conf');
  t.equal(config.listenerLimits.limits.maxConnectionsPerAddress, 50);
  t.equal(config.listenerLimits.idleTimeoutMs, 30_000);
  t.equal(config.listenerLimits.limits.partialFrameBudgetBytes, 64 * 1024 * 1024, 'unset keys keep their defaults');
  t.throws(() => buildNamesrvConfig({ serverPartialFrameBudgetBytes: '1000' }, 'namesrv.conf'), /serverPartialFrameBudgetBytes/);
  t.equal(config.listenerLimits.limits.unreadOutputBudgetBytes, 256 * 1024 * 1024, 'the unread-output budget defaults to 256 MiB');
  t.equal(buildNamesrvConfig({ serverUnreadOutputBudgetBytes: String(64 * 1024 * 1024) }, 'namesrv.conf').listenerLimits.limits.unreadOutputBudgetBytes, 64 * 1024 * 1024);
  t.throws(() => buildNamesrvConfig({ serverUnreadOutputBudgetBytes: '1000' }, 'namesrv.conf'), /serverUnreadOutputBudgetBytes/);
});
