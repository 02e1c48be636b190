// fast-try's group for the rocketmq-client-nodejs tests: the quick start's confs (ports and store
// paths changed, `extraConf` lines appended), `fast-try.sh start`, the leader found with
// clusterList, a remoting client to create topics and read queues back (PULL_MESSAGE from the
// master), and a teardown that closes what the test registered in `closers`, then KILLs every
// process fast-try started (by pid) and removes the temp dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { decodeMessages, type StoredMessage } from '../../src/broker/message-codec.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import { addrPort, alive, awaitClusterList, FAST_TRY, NODES, runSh, writeQuickConfs, type Row, type Run } from '../quickstart/helpers.js';

export interface FastTryGroup {
  readonly leader: Row;
  readonly leaderIndex: number;
  readonly followerIndex: number;
  readonly grpcPorts: readonly number[];
  readonly clientPorts: readonly number[];
  readonly namesrvAddr: string;
  readonly remoting: RemotingClient;
  /** Closed first in the teardown (clients before the brokers). */
  readonly closers: Array<() => Promise<void>>;
  createTopic(topic: string, attributes: Record<string, string>): Promise<RemotingCommand>;
  /** Up to 64 stored messages of (topic, queueId) from offset 0, pulled from the master (or `addr`). */
  pull(topic: string, queueId: number, addr?: string): Promise<StoredMessage[]>;
  /** The pid of broker n<index> (from fast-try's pid file). */
  brokerPid(index: number): number;
  stop(): Promise<Run>;
}

export async function startFastTryGroup(t: Test, prefix: string, extraConf = ''): Promise<FastTryGroup> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const logDir = path.join(dir, 'logs');
  const { confDir, namesrvPort, clientPorts, grpcPorts } = await writeQuickConfs(dir);
  if (extraConf !== '') for (const node of NODES) fs.appendFileSync(path.join(confDir, `broker-${node}.conf`), `\n${extraConf}\n`);
  const env = { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, NAMESRV_PORT: String(namesrvPort), FAST_TRY_GRACE_SECONDS: '8' };
  const pids = (): number[] => ['namesrv', ...NODES.map((node) => `broker-${node}`)].map((name) => path.join(logDir, `${name}.pid`)).filter((f) => fs.existsSync(f)).map((f) => Number(fs.readFileSync(f, 'utf8').trim()));
  const remoting = new RemotingClient();
  const seen = new Set<number>();
  const closers: Array<() => Promise<void>> = [];
  t.teardown(async () => {
    for (const close of closers) await close().catch(() => undefined);
    remoting.close();
    for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const start = await runSh(FAST_TRY, ['start'], env, 60_000);
  for (const pid of pids()) seen.add(pid);
  t.equal(start.code, 0, start.stdout + start.stderr);
  const leader = await awaitClusterList(`127.0.0.1:${namesrvPort}`, (rows) => (rows.length === 3 ? rows.find((r) => r.bid === 0) : undefined), 30_000, 'a leader with two followers') as Row;
  const leaderIndex = clientPorts.indexOf(addrPort(leader.addr));
  return {
    leader, leaderIndex, followerIndex: (leaderIndex + 1) % 3, grpcPorts, clientPorts, namesrvAddr: `127.0.0.1:${namesrvPort}`, remoting, closers,
    brokerPid: (index) => Number(fs.readFileSync(path.join(logDir, `broker-n${index}.pid`), 'utf8').trim()),
    createTopic: (topic, attributes) => remoting.invoke(leader.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      extFields: { topic, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: JSON.stringify(attributes) },
    }), 10_000),
    pull: async (topic, queueId, addr = leader.addr) => {
      const answer = await remoting.invoke(addr, createRequest(RequestCode.PULL_MESSAGE, {
        extFields: { consumerGroup: 'CG_check', topic, queueId, queueOffset: 0, maxMsgNums: 64, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 },
      }), 10_000);
      return answer.code === ResponseCode.SUCCESS && answer.body !== null ? decodeMessages(answer.body) : [];
    },
    stop: () => runSh(FAST_TRY, ['stop'], env, 60_000),
  };
}
