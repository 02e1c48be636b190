// Bind a server and learn its port (port 0 asks the OS for a free one, as tests do).
import type net from 'node:net';
import { assert } from './assert.js';

export async function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  assert(address !== null && typeof address === 'object', 'server has no address');
  return address.port;
}
