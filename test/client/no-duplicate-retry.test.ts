// DLedgerClient must never send an append twice on its own: when the connection dies after the
// request was written, the outcome is unknown and the caller is told so (chaos finding F2),
// while a refusal before anything happened (NOT_LEADER) is still retried. Method: a fake node on
// loopback that speaks the client protocol and counts the appends it receives.
import t from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { encodeFrame } from '../../src/node/peer-frame.js';
import { ResponseCode } from '../../src/node/client-protocol.js';
import { fakeNode } from './fake-node.js';
import { testSecretFile } from '../util/peer-secret.js';

t.test('a connection lost after the append was sent is not retried', async (t) => {
  const node = await fakeNode((socket) => socket.destroy());
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: 2000 });
  try {
    await client.append(new Uint8Array([1]));
    t.fail('expected an unknown outcome');
  } catch (error) {
    t.ok(error instanceof DLedgerClientError && error.outcomeUnknown, `outcome unknown: ${(error as Error).message}`);
  }
  t.equal(node.appends(), 1, 'the append reached the node exactly once');
  client.close();
  await node.close();
});

t.test('NOT_LEADER is still retried (nothing was written)', async (t) => {
  const node = await fakeNode((socket, id, count) => {
    const response = count === 1
      ? { id, code: ResponseCode.NOT_LEADER, leaderId: null, error: 'not leader' }
      : { id, code: ResponseCode.SUCCESS, leaderId: 'n0', appended: [{ index: 7, term: 2, pos: 48 }] };
    socket.write(encodeFrame(response, 1 << 20));
  });
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: 2000 });
  const [info] = await client.append(new Uint8Array([1]));
  t.equal(info?.index, 7);
  t.equal(node.appends(), 2, 'one refused attempt, one accepted');
  client.close();
  await node.close();
});

t.test('an append answered TIMEOUT is not re-sent (the node may have appended it)', async (t) => {
  const node = await fakeNode((socket, id, count) => {
    const response = count === 1
      ? { id, code: ResponseCode.TIMEOUT, leaderId: 'n0', error: 'timed out' }
      : { id, code: ResponseCode.SUCCESS, leaderId: 'n0', appended: [{ index: 7, term: 2, pos: 48 }] };
    socket.write(encodeFrame(response, 1 << 20));
  });
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: 2000 });
  try {
    await client.append(new Uint8Array([1]));
    t.fail('expected an unknown outcome');
  } catch (error) {
    t.ok(error instanceof DLedgerClientError && error.outcomeUnknown && !error.notSent, `outcome unknown: ${(error as Error).message}`);
  }
  t.equal(node.appends(), 1, 'the append reached the node exactly once');
  client.close();
  await node.close();
});
