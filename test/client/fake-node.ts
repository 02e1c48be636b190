// A fake DLedger node on loopback for client tests: a real TCP server that decodes the client's
// frames and counts the appends it receives, with a hook that decides what to do with each
// (answer, stay silent, reset the connection). The hook sees every append, so a test can assert
// what actually reached the socket, not what the client believes it sent.
import net from 'node:net';
import { encodeFrame, FrameDecoder } from '../../src/node/peer-frame.js';
import { AcceptorHandshake, loadSecretFile } from '../../src/node/peer-auth.js';
import { listenOn } from '../../src/util/listen.js';
import { testSecretFile } from '../util/peer-secret.js';

export interface FakeNode {
  readonly port: number;
  /** Append requests decoded so far, over all connections. */
  appends(): number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function fakeNode(onAppend: (socket: net.Socket, id: number, count: number) => void, onConnection?: (socket: net.Socket) => void): Promise<FakeNode> {
  let appends = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    const decoder = new FrameDecoder(1 << 20);
    // The real acceptor handshake (client secret = this process's test secret), as whichever
    // member id the client dialed: the tests point several member ids at one fake node.
    let handshake: AcceptorHandshake | null = null;
    let authenticated = false;
    socket.on('data', (chunk: Buffer) => {
      for (const value of decoder.push(chunk)) {
        if (!authenticated) {
          if (handshake === null) {
            const secrets = loadSecretFile(testSecretFile(), 'clientSecretFile');
            const to = String((value as { to?: unknown }).to);
            handshake = new AcceptorHandshake({ group: 'g', selfId: to, isPeer: () => false, acceptsClients: true, secrets: { peer: secrets, client: secrets } });
            socket.write(encodeFrame(handshake.onHello(value), 1 << 20));
          } else {
            handshake.onAuth(value);
            authenticated = true;
          }
          continue;
        }
        const request = value as { op?: string; id?: number };
        if (request.op === 'append') onAppend(socket, request.id as number, ++appends);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection?.(socket);
  });
  const port = await listenOn(server, '127.0.0.1', 0);
  return {
    port,
    appends: () => appends,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A loopback port nothing listens on: bound by the OS, then released (connect gets ECONNREFUSED). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOn(server, '127.0.0.1', 0);
  await new Promise((resolve) => server.close(resolve));
  return port;
}
