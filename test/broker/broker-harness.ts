// A name server and a 3-broker DLedger group in this process, every port OS-assigned, stores in a
// temp dir, fast Raft timings; plus a remoting client. For the broker process tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import { buildBrokerConfig } from '../../src/broker/config.js';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import type { RaftConfig } from '../../src/raft/types.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import { MEMBER_IDS } from './group-harness.js';
import { testSecretFile } from '../util/peer-secret.js';

export interface Cluster {
  readonly namesrv: NameServer;
  readonly namesrvAddr: string;
  readonly brokers: Broker[];
  readonly client: RemotingClient;
  readonly logs: string[];
  /** Invoke a request (extFields as ali-ons sends them: numbers and booleans allowed). */
  call(addr: string, code: number, extFields?: Record<string, string | number | boolean>, body?: Buffer): Promise<RemotingCommand>;
  /** brokerId -> address for RaftNode00 at the name server. */
  brokerAddrs(): Map<number, string>;
  master(): Broker | undefined;
  close(): Promise<void>;
}

/**
 * extraConfig: more broker conf keys (e.g. messageDelayLevel), the same for every member;
 * raft: Raft core overrides for every member (e.g. checkQuorum off).
 */
export async function startCluster(extraConfig: Readonly<Record<string, string>> = {}, raft?: Partial<RaftConfig>, options: { readonly storeRootOf?: (i: number) => string } = {}): Promise<Cluster> {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-cluster-'));
  const logs: string[] = [];
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: (line) => logs.push(`namesrv: ${line}`) });
  const namesrvAddr = `127.0.0.1:${await namesrv.start()}`;
  const brokers = MEMBER_IDS.map((selfId, i) => new Broker({
    config: buildBrokerConfig({
      brokerClusterName: 'RaftCluster',
      brokerName: 'RaftNode00',
      brokerIP1: '127.0.0.1',
      listenPort: String(30911 + 10 * i),
      namesrvAddr,
      storePathRootDir: options.storeRootOf?.(i) ?? path.join(baseDir, `node0${i}`),
      enableDLegerCommitLog: 'true',
      dLegerGroup: 'RaftNode00',
      dLegerPeers: MEMBER_IDS.map((id, j) => `${id}-127.0.0.1:${40911 + j}`).join(';'),
      dLegerSelfId: selfId,
      dLegerPeerSecretFile: testSecretFile(),
      sendMessageThreadPoolNums: '16',
      maxMessageSize: String(256 * 1024),
      mappedFileSizeCommitLog: String(4 * 1024 * 1024),
      // Consume-queue files of 2,000 units (40 KB): small stores, and queues that span files.
      mappedFileSizeConsumeQueue: String(2000 * 20),
      ...extraConfig,
    }),
    log: (line) => logs.push(`${selfId}: ${line}`),
    listenPortOverride: 0,
    grpcPortOverride: 0,
    ...(raft === undefined ? {} : { raft }),
    nodeConfigOverrides: { mappedFileSizeForEntryIndex: 4096, tickIntervalMs: 10, heartBeatTimeIntervalMs: 50, maxHeartBeatLeak: 6 },
    mapNodeConfig: (config) => ({ ...config, peers: config.peers.map((p) => ({ ...p, port: 0 })) }),
  }));
  // Peers listen on OS-assigned ports (mapNodeConfig above), then are introduced to each other.
  for (const broker of brokers) await broker.start();
  for (const broker of brokers) {
    for (const other of brokers) if (other !== broker) broker.commitLog.server.setPeerPort(other.config.dLegerSelfId, '127.0.0.1', other.commitLog.server.port);
  }
  const client = new RemotingClient();
  return {
    namesrv,
    namesrvAddr,
    brokers,
    client,
    logs,
    call: (addr, code, extFields = {}, body) => client.invoke(addr, createRequest(code, { extFields, body: body ?? null }), 20_000),
    brokerAddrs: () => new Map(namesrv.routeInfo.clusterInfo().brokerAddrTable['RaftNode00']?.brokerAddrs ?? []),
    master: () => brokers.find((b) => { try { return b.commitLog.isWritable(); } catch { return false; } }),
    async close() {
      client.close();
      for (const broker of brokers) await broker.close();
      await namesrv.close();
      fs.rmSync(baseDir, { recursive: true, force: true });
    },
  };
}
