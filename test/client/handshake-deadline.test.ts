// A DLedger client must not hang on a listener that accepts and never finishes the peer-port
// handshake: a SIGSTOPped member (its kernel still accepts), a black-holing proxy, or a node that
// closes the connection mid-handshake without an error. The request timer starts only once the
// handshake is done, so without a handshake deadline such a call waited forever (it stalled the
// CI's five-member chaos campaign until tap's 600 s timeout). Each case is capped at 5 s here so the
// old code fails instead of hanging.
import net from 'node:net';
import t from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { listenOn } from '../../src/util/listen.js';
import { testSecretFile } from '../util/peer-secret.js';

const HANG_CAP_MS = 5000;

async function server(onConnection: (socket: net.Socket) => void): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const srv = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await listenOn(srv, '127.0.0.1', 0);
  const port = (srv.address() as net.AddressInfo).port;
  return {
    port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

async function appendOutcome(client: DLedgerClient): Promise<{ error: DLedgerClientError | Error | null; elapsedMs: number }> {
  const started = Date.now();
  const capped = new Promise<Error>((resolve) => setTimeout(() => resolve(new Error(`still waiting after ${HANG_CAP_MS} ms`)), HANG_CAP_MS).unref());
  const attempt = client.append(new Uint8Array([1])).then(
    () => null,
    (error: Error) => error,
  );
  const error = await Promise.race([attempt, capped]);
  return { error, elapsedMs: Date.now() - started };
}

t.test('a listener that accepts and never answers the hello', async (t) => {
  const silent = await server(() => undefined);
  const single = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${silent.port}`, retryTimeoutMs: -1, requestTimeoutMs: 300 });
  const { error, elapsedMs } = await appendOutcome(single);
  t.ok(error instanceof DLedgerClientError, `a DLedgerClientError: ${error?.message}`);
  t.ok(elapsedMs < 2000, `given up in ${elapsedMs} ms (request timeout 300 ms)`);
  t.match(error?.message ?? '', /handshake/);
  if (error instanceof DLedgerClientError) {
    t.equal(error.notSent, true, 'only the hello was written: the append was never sent');
    t.equal(error.outcomeUnknown, false);
  }
  single.close();

  // With library retries the call goes on dialing until its retry deadline, then gives up.
  const retrying = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${silent.port}`, retryTimeoutMs: 800, requestTimeoutMs: 200 });
  const retried = await appendOutcome(retrying);
  t.ok(retried.error instanceof DLedgerClientError, `gave up: ${retried.error?.message}`);
  t.ok(retried.elapsedMs < 3000, `within the retry deadline plus one attempt: ${retried.elapsedMs} ms`);
  t.ok(silent.accepted() >= 2, `it retried: ${silent.accepted()} connections`);
  if (retried.error instanceof DLedgerClientError) t.equal(retried.error.notSent, true);
  retrying.close();
  await silent.close();
});

t.test('a listener that closes the connection during the handshake without an error', async (t) => {
  // Reads the hello, then a clean FIN: no 'error' event on the client's socket.
  const closing = await server((socket) => socket.once('data', () => socket.end()));
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${closing.port}`, retryTimeoutMs: -1, requestTimeoutMs: 2000 });
  const { error, elapsedMs } = await appendOutcome(client);
  t.ok(error instanceof DLedgerClientError, `a DLedgerClientError: ${error?.message}`);
  t.ok(elapsedMs < 1500, `failed at the close, not at the deadline: ${elapsedMs} ms`);
  t.match(error?.message ?? '', /closed during the handshake/);
  if (error instanceof DLedgerClientError) t.equal(error.notSent, true);
  client.close();
  await closing.close();
});
