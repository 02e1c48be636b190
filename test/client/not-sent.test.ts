// DLedgerClientError.notSent must be true only when the request provably never reached a socket:
// a chaos history records such an append as failed, and its checker then calls the value in any
// log a violation, so a wrong `true` would turn a correct run red and a wrong `false` only weakens
// the check. Method: real TCP on loopback — a port nothing listens on, and fake nodes
// (fake-node.ts) that count the append frames they decode and then stay silent, reset the
// connection, or refuse with NOT_LEADER. Wherever a node decoded the append, the flag must be
// false; where nothing listened, it must be true.
import t from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { encodeFrame } from '../../src/node/peer-frame.js';
import { ResponseCode } from '../../src/node/client-protocol.js';
import { closedPort, fakeNode } from './fake-node.js';
import { testSecretFile } from '../util/peer-secret.js';

async function appendError(client: DLedgerClient): Promise<DLedgerClientError> {
  try {
    await client.append(new Uint8Array([1]));
  } catch (error) {
    if (error instanceof DLedgerClientError) return error;
    throw error;
  }
  throw new Error('the append succeeded');
}

t.test('a closed port: connect refused, the append was not sent', async (t) => {
  const port = await closedPort();
  // retryTimeoutMs -1: exactly one attempt, as the chaos single-attempt appender uses it.
  const single = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${port}`, retryTimeoutMs: -1 });
  const error = await appendError(single);
  t.equal(error.notSent, true, `not sent: ${error.message}`);
  t.equal(error.outcomeUnknown, false);
  t.match(error.message, /ECONNREFUSED/);
  single.close();

  // Library retries over two dead members: many attempts, none written.
  const retrying = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${port};n1-127.0.0.1:${await closedPort()}`, retryTimeoutMs: 300 });
  const retried = await appendError(retrying);
  t.equal(retried.notSent, true, `not sent after retries: ${retried.message}`);
  retrying.close();
});

t.test('a node that reads the append and never answers: timeout, outcome unknown, not "not sent"', async (t) => {
  const node = await fakeNode(() => undefined);
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: -1, requestTimeoutMs: 300 });
  const error = await appendError(client);
  t.equal(node.appends(), 1, 'the node decoded the append');
  t.equal(error.code, ResponseCode.TIMEOUT);
  t.equal(error.outcomeUnknown, true);
  t.equal(error.notSent, false, `sent: ${error.message}`);
  client.close();
  await node.close();
});

t.test('a node that resets the connection once the append arrived: not "not sent"', async (t) => {
  const node = await fakeNode((socket) => socket.resetAndDestroy());
  for (const retryTimeoutMs of [-1, 1000]) {
    const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs });
    const error = await appendError(client);
    t.equal(error.outcomeUnknown, true, `retryTimeoutMs ${retryTimeoutMs}: ${error.message}`);
    t.equal(error.notSent, false);
    client.close();
  }
  t.equal(node.appends(), 2, 'each client wrote its append once (no re-send after the reset)');
  await node.close();
});

t.test('library retries: a refusal by one member and a dead other member is not "not sent"', async (t) => {
  const node = await fakeNode((socket, id) => socket.write(encodeFrame({ id, code: ResponseCode.NOT_LEADER, leaderId: null, error: 'not leader' }, 1 << 20)));
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${await closedPort()};n1-127.0.0.1:${node.port}`, retryTimeoutMs: 300 });
  const error = await appendError(client);
  t.ok(node.appends() >= 1, `n1 refused ${node.appends()} attempts`);
  // The last attempt (refused or not connected) names the code; either way one attempt wrote.
  t.equal(error.notSent, false, `some attempt wrote the request: ${error.message}`);
  client.close();
  await node.close();
});

t.test('the in-flight limit refuses a second append before writing it; the first was written', async (t) => {
  const node = await fakeNode(() => undefined);
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: -1, requestTimeoutMs: 500, maxInflightRequests: 1 });
  const first = appendError(client);
  // The second call waits for the same connection; by then the first holds the only slot.
  const second = await appendError(client);
  t.equal(second.code, ResponseCode.LEADER_PENDING_FULL);
  t.equal(second.notSent, true, second.message);
  t.equal((await first).notSent, false);
  t.equal(node.appends(), 1, 'only the first append reached the node');
  client.close();
  await node.close();
});

t.test('a closed client sends nothing', async (t) => {
  const node = await fakeNode(() => undefined);
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}` });
  client.close();
  const error = await appendError(client);
  t.equal(error.notSent, true, error.message);
  t.equal(node.connections(), 0);
  await node.close();
});
