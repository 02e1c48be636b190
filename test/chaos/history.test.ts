// Goal: the chaos history records an append as "fail" only when it provably is in no log, since
// checkers.ts then calls its presence a violation. Method: classify() on real DLedgerClient errors
// from loopback sockets (a port nothing listens on; a fake node that reads the append and stays
// silent; one that refuses with NOT_LEADER), and ClientLoops against a dead group: every append
// fails as not sent and the checker passes on empty logs.
import t from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { encodeFrame } from '../../src/node/peer-frame.js';
import { ResponseCode } from '../../src/node/client-protocol.js';
import { closedPort, fakeNode } from '../client/fake-node.js';
import { checkLogs } from './checkers.js';
import { classify, ClientLoops, summarize } from './history.js';
import { testSecretFile } from '../util/peer-secret.js';

async function appendError(peers: string, requestTimeoutMs = 1000): Promise<unknown> {
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: 'g', peers, retryTimeoutMs: -1, requestTimeoutMs });
  try {
    await client.append(new Uint8Array([1]));
    return null;
  } catch (error) {
    return error;
  } finally {
    client.close();
  }
}

t.test('classify: not sent or refused -> fail; written without an answer -> unknown', async (t) => {
  const refusedConnect = await appendError(`n0-127.0.0.1:${await closedPort()}`);
  t.match(classify(refusedConnect), { type: 'fail', error: /^not sent: .*ECONNREFUSED/ });

  const silent = await fakeNode(() => undefined);
  const timedOut = await appendError(`n0-127.0.0.1:${silent.port}`, 300);
  t.equal(silent.appends(), 1, 'the silent node decoded the append');
  t.match(classify(timedOut), { type: 'unknown' });
  await silent.close();

  const follower = await fakeNode((socket, id) => socket.write(encodeFrame({ id, code: ResponseCode.NOT_LEADER, leaderId: null, error: 'not leader' }, 1 << 20)));
  t.match(classify(await appendError(`n0-127.0.0.1:${follower.port}`)), { type: 'fail' }, 'a NOT_LEADER refusal is a fail');
  await follower.close();

  t.match(classify(new DLedgerClientError(ResponseCode.WAIT_QUORUM_ACK_TIMEOUT, 'quorum wait timed out')), { type: 'unknown' });
  t.match(classify(new DLedgerClientError(ResponseCode.TIMEOUT, 'lost after the request was sent', true)), { type: 'unknown' });
  t.match(classify(new Error('anything else')), { type: 'unknown' });
});

t.test('client loops against members that are all down: every append fails as not sent', async (t) => {
  const peers = `n0-127.0.0.1:${await closedPort()};n1-127.0.0.1:${await closedPort()}`;
  for (const mode of ['single-attempt', 'library-retry'] as const) {
    const loops = new ClientLoops({ group: 'g', peers, clients: 2, retryTimeoutMs: 100, requestTimeoutMs: 300, thinkMs: 0, maxOpsPerClient: 5, mode });
    const history = await loops.stop();
    const counts = summarize(history);
    t.ok(counts.operations >= 2 && counts.fail === counts.operations, `${mode}: ${JSON.stringify(counts)}`);
    t.ok(history.ops.every((op) => op.outcome?.type === 'fail' && op.outcome.error.startsWith('not sent: ')), `${mode}: each one not sent`);
    t.same(checkLogs(history, [{ id: 'n0', firstIndex: 0, entries: [] }], -1).violations, [], `${mode}: empty logs pass`);
  }
});
