// A 3-member DLedgerServer group in one process on OS-assigned loopback ports, small segments
// and fast Raft timings, for the node tests; and a bounded polling wait. Not a test file itself.
import { DLedgerServer, type DLedgerServerOptions } from '../../src/node/server.js';
import { buildNodeConfig, type DLedgerNodeConfig } from '../../src/node/config.js';
import { testSecretFile } from '../util/peer-secret.js';

export const MEMBER_IDS = ['n0', 'n1', 'n2'];

export async function until<T>(probe: () => T | null | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Start the members (config keys in `overrides` as strings or numbers; other server options, e.g.
 * a state machine or a store hook, per member from `serverOptions`) and tell them each other's ports.
 */
export async function startInProcessGroup(
  baseDir: string,
  overrides: Readonly<Record<string, unknown>> = {},
  serverOptions: (selfId: string) => Omit<DLedgerServerOptions, 'config'> = () => ({}),
): Promise<DLedgerServer[]> {
  const base = buildNodeConfig({
    group: 'g',
    peers: MEMBER_IDS.map((id, i) => `${id}-127.0.0.1:${20000 + i}`).join(';'),
    storeBaseDir: baseDir,
    mappedFileSizeForEntryData: 64 * 1024,
    mappedFileSizeForEntryIndex: 4096,
    maxEntryBodyBytes: 8 * 1024,
    tickIntervalMs: 10,
    heartBeatTimeIntervalMs: 50,
    maxHeartBeatLeak: 6,
    peerSecretFile: testSecretFile(),
    ...overrides,
  });
  const servers = MEMBER_IDS.map((selfId) => {
    const config: DLedgerNodeConfig = { ...base, selfId, peers: base.peers.map((p) => ({ ...p, port: 0 })) };
    return new DLedgerServer({ config, log: () => undefined, ...serverOptions(selfId) });
  });
  for (const server of servers) await server.start();
  for (const server of servers) {
    for (const other of servers) if (other !== server) server.setPeerPort(other.config.selfId, '127.0.0.1', other.port);
  }
  return servers;
}
