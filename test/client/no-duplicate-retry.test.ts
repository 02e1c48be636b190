// DLedgerClient must never send an append twice on its own: when the connection dies after the
// request was written, the outcome is unknown and the caller is told so (chaos finding F2),
// while a refusal before anything happened (NOT_LEADER) is still retried. Method: a fake node on
// loopback that speaks the client protocol and counts the appends it receives.
import t from 'tap';
import net from 'node:net';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { encodeFrame, FrameDecoder } from '../../src/node/peer-frame.js';
import { ResponseCode } from '../../src/node/client-protocol.js';
import { listenOn } from '../../src/util/listen.js';

async function fakeNode(onAppend: (socket: net.Socket, id: number, count: number) => void): Promise<{ port: number; appends: () => number; close: () => Promise<void> }> {
  let appends = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      for (const value of decoder.push(chunk)) {
        const request = value as { op?: string; id?: number };
        if (request.op === 'append') onAppend(socket, request.id as number, ++appends);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listenOn(server, '127.0.0.1', 0);
  return {
    port,
    appends: () => appends,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

t.test('a connection lost after the append was sent is not retried', async (t) => {
  const node = await fakeNode((socket) => socket.destroy());
  const client = new DLedgerClient({ group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: 2000 });
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
  const client = new DLedgerClient({ group: 'g', peers: `n0-127.0.0.1:${node.port}`, retryTimeoutMs: 2000 });
  const [info] = await client.append(new Uint8Array([1]));
  t.equal(info?.index, 7);
  t.equal(node.appends(), 2, 'one refused attempt, one accepted');
  client.close();
  await node.close();
});
