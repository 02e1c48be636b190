// In-process pieces for the upgrade tests: a name server, brokers on OS-assigned ports (DLedger
// peers on port 0, introduced with setPeerPort), a remoting client, and a classic broker that
// stores messages before the switch. Every broker and the name server are closed by teardown.
// Not a test file itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { Broker } from '../../src/broker/broker.js';
import { type BrokerConfig, buildBrokerConfig } from '../../src/broker/config.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import type { RaftConfig } from '../../src/raft/types.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import { MEMBER_IDS } from './group-harness.js';
import { testSecretFile } from '../util/peer-secret.js';

export const TOPIC = 'TopicTest';
export const QUEUES = 4;

export interface UpgradeWorld {
  readonly baseDir: string;
  readonly logs: string[];
  readonly namesrv: NameServer;
  /** The broker config of these tests with `keys` on top. */
  brokerConfig(keys: Record<string, string>): BrokerConfig;
  rootOf(i: number): string;
  call(addr: string, code: number, extFields?: Record<string, string | number | boolean>, body?: Buffer | null): Promise<RemotingCommand>;
  send(addr: string, queueId: number, i: number): Promise<RemotingCommand>;
  startBroker(keys: Record<string, string>, name: string, raftMember?: boolean, raft?: Partial<RaftConfig>): Promise<Broker>;
  stopBroker(broker: Broker): Promise<void>;
  /** The DLedger keys of member i (storePathRootDir = rootOf(i)). */
  dledgerKeys(i: number): Record<string, string>;
  /** Tell each member the others' DLedger ports. */
  introduce(members: readonly Broker[]): void;
  /** Run a classic broker on rootOf(0), create TOPIC, store `count` messages, stop it. */
  classicMessages(count: number): Promise<void>;
}

export async function upgradeWorld(t: Test, fileBytes: number): Promise<UpgradeWorld> {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'upgrade-'));
  const logs: string[] = [];
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: () => undefined });
  const namesrvAddr = `127.0.0.1:${await namesrv.start()}`;
  const client = new RemotingClient();
  const running = new Set<Broker>();
  t.teardown(async () => {
    client.close();
    for (const broker of running) await broker.close();
    await namesrv.close();
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  t.teardown(() => { if (t.passing() === false) t.comment(logs.slice(-60).join('\n')); });
  const common = {
    brokerClusterName: 'RaftCluster', brokerName: 'RaftNode00', brokerIP1: '127.0.0.1', listenPort: '30911', namesrvAddr,
    maxMessageSize: String(64 * 1024), mappedFileSizeCommitLog: String(fileBytes),
  };
  const rootOf = (i: number): string => path.join(baseDir, `node0${i}`);
  const call: UpgradeWorld['call'] = (addr, code, extFields = {}, body = null) => client.invoke(addr, createRequest(code, { extFields, body }), 20_000);
  const brokerConfig = (keys: Record<string, string>): BrokerConfig => buildBrokerConfig({ ...common, ...keys });
  const world: UpgradeWorld = {
    baseDir,
    logs,
    namesrv,
    brokerConfig,
    rootOf,
    call,
    send: (addr, queueId, i) => call(addr, RequestCode.SEND_MESSAGE_V2, {
      a: 'PG', b: TOPIC, c: 'TBW102', d: QUEUES, e: queueId, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA'], ['KEYS', `k${i}`], ['WAIT', 'true']]), j: 0, k: false,
    }, Buffer.from(`message ${i} ${'x'.repeat(1000)}`)),
    async startBroker(keys, name, raftMember = true, raft) {
      const broker = new Broker({
        config: brokerConfig(keys),
        log: (line) => logs.push(`${name}: ${line}`),
        listenPortOverride: 0,
        grpcPortOverride: 0,
        ...(raft === undefined ? {} : { raft }),
        ...(raftMember ? {
          nodeConfigOverrides: { mappedFileSizeForEntryIndex: 4096, tickIntervalMs: 10, heartBeatTimeIntervalMs: 50, maxHeartBeatLeak: 6 },
          mapNodeConfig: (config) => ({ ...config, peers: config.peers.map((p) => ({ ...p, port: 0 })) }),
        } : {}),
      });
      running.add(broker);
      await broker.start();
      return broker;
    },
    async stopBroker(broker) {
      running.delete(broker);
      await broker.close();
    },
    dledgerKeys: (i) => ({
      storePathRootDir: rootOf(i), enableDLegerCommitLog: 'true', dLegerGroup: 'RaftNode00', flushDiskType: 'SYNC_FLUSH',
      dLegerPeers: MEMBER_IDS.map((id, j) => `${id}-127.0.0.1:${40911 + j}`).join(';'), dLegerSelfId: MEMBER_IDS[i] as string,
      dLegerPeerSecretFile: testSecretFile(),
    }),
    introduce(members) {
      for (const broker of members) {
        for (const other of members) if (other !== broker) broker.commitLog.server.setPeerPort(other.config.dLegerSelfId, '127.0.0.1', other.commitLog.server.port);
      }
    },
    async classicMessages(count) {
      const classic = await world.startBroker({ storePathRootDir: rootOf(0), enableDLegerCommitLog: 'false', brokerId: '0', brokerRole: 'ASYNC_MASTER', flushDiskType: 'SYNC_FLUSH' }, 'classic', false);
      const created = await call(classic.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
      t.equal(created.code, ResponseCode.SUCCESS, `${TOPIC} created on the classic broker`);
      const sent: RemotingCommand[] = [];
      for (let i = 0; i < count; i += 20) sent.push(...await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, j) => world.send(classic.brokerAddr, (i + j) % QUEUES, i + j))));
      t.ok(sent.every((r) => r.code === ResponseCode.SUCCESS), `${count} sends to the classic broker succeed`);
      await world.stopBroker(classic);
    },
  };
  return world;
}
