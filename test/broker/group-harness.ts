// An in-process 3-member broker commit-log group on OS-assigned loopback ports and temp dirs,
// with fast Raft timings, for the broker tests. Not a test file itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBrokerConfig, toNodeConfig } from '../../src/broker/config.js';
import { DLedgerCommitLog, type MessageToPut } from '../../src/broker/dledger-commit-log.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';

// The member ids and the bounded wait are the node tests' (one copy for both).
import { MEMBER_IDS, until } from '../node/in-process-group.js';
import { testSecretFile } from '../util/peer-secret.js';
export { MEMBER_IDS, until };

export interface Group {
  readonly members: DLedgerCommitLog[];
  readonly baseDir: string;
  /** Start (again) the member with this id; its previous instance must be closed. */
  restart(id: string): Promise<DLedgerCommitLog>;
  close(): Promise<void>;
}

/** extraKeys: more broker conf keys; with retention keys among them the members run retention. */
function memberOf(baseDir: string, selfId: string, storePort: number, extraKeys: Readonly<Record<string, string>> = {}): DLedgerCommitLog {
  const brokerConfig = buildBrokerConfig({
    brokerClusterName: 'RaftCluster',
    brokerName: 'RaftNode00',
    namesrvAddr: '127.0.0.1:9876',
    brokerIP1: '127.0.0.1',
    storePathRootDir: path.join(baseDir, selfId),
    enableDLegerCommitLog: 'true',
    dLegerPeers: MEMBER_IDS.map((id, i) => `${id}-127.0.0.1:${40911 + i}`).join(';'),
    dLegerSelfId: selfId,
    dLegerPeerSecretFile: testSecretFile(),
    maxMessageSize: String(64 * 1024),
    mappedFileSizeCommitLog: String(1024 * 1024),
    // Consume-queue files of 2,000 units (40 KB): small stores, and queues that span files.
    mappedFileSizeConsumeQueue: String(2000 * 20),
    ...extraKeys,
  });
  const base = toNodeConfig(brokerConfig, {
    mappedFileSizeForEntryIndex: 4096,
    tickIntervalMs: 10,
    heartBeatTimeIntervalMs: 50,
    maxHeartBeatLeak: 6,
  });
  // Port 0 for every peer: each listens where the OS says, then the others are told.
  const nodeConfig = { ...base, peers: base.peers.map((p) => ({ ...p, port: 0 })) };
  const withRetention = Object.keys(extraKeys).some((key) => ['fileReservedTime', 'deleteWhen', 'cleanResourceInterval'].includes(key));
  return new DLedgerCommitLog({
    nodeConfig, storeHost: { ip: Uint8Array.of(127, 0, 0, 1), port: storePort }, log: (line) => logLine?.(selfId, line),
    ...(withRetention ? { retention: brokerConfig.retention.settings } : {}),
    consumeQueues: { directoryPath: path.join(brokerConfig.storePathRootDir, 'consumequeue'), fileSizeBytes: brokerConfig.mappedFileSizeConsumeQueue, flushIntervalMs: brokerConfig.flushIntervalConsumeQueueMs, durableStateDir: brokerConfig.storePathRootDir },
  });
}

let logLine: ((selfId: string, line: string) => void) | null = null;

/** extraKeys: broker conf keys for every member; log: the members' log lines (default: dropped). */
export async function startGroup(extraKeys: Readonly<Record<string, string>> = {}, log: ((selfId: string, line: string) => void) | null = null): Promise<Group> {
  logLine = log;
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-group-'));
  const members = MEMBER_IDS.map((id, i) => memberOf(baseDir, id, 30911 + 10 * i, extraKeys));
  for (const member of members) await member.start();
  const connect = (): void => {
    for (const member of members) {
      for (const other of members) {
        if (other !== member) member.server.setPeerPort(other.server.config.selfId, '127.0.0.1', other.server.port);
      }
    }
  };
  connect();
  return {
    members,
    baseDir,
    async restart(id: string): Promise<DLedgerCommitLog> {
      const i = MEMBER_IDS.indexOf(id);
      const member = memberOf(baseDir, id, 30911 + 10 * i, extraKeys);
      await member.start();
      members[i] = member;
      connect();
      return member;
    },
    async close(): Promise<void> {
      for (const member of members) await member.close();
      fs.rmSync(baseDir, { recursive: true, force: true });
    },
  };
}

/** The member that is master (leader with its log applied), once there is one. */
export function masterOf(members: readonly DLedgerCommitLog[]): DLedgerCommitLog | undefined {
  return members.find((m) => m.isWritable());
}

export function message(topic: string, queueId: number, text: string, tags?: string): MessageToPut {
  return {
    topic,
    queueId,
    flag: 0,
    sysFlag: 0,
    bornTimestampMs: Date.now(),
    bornHost: { ip: Uint8Array.of(127, 0, 0, 1), port: 50000 },
    reconsumeTimes: 0,
    body: new TextEncoder().encode(text),
    properties: formatMessageProperties(tags === undefined ? [['KEYS', text]] : [['TAGS', tags], ['KEYS', text]]),
  };
}
