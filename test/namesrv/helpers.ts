// Shared helpers for name server tests: a name server on a free port with a hand-driven clock,
// and brokers that register over their own connections (one RemotingClient each, as each broker
// process has its own channel).
import zlib from 'node:zlib';
import { RemotingClient } from '../../src/remoting/client.js';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import { RequestCode } from '../../src/remoting/codes.js';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import { encodeRegisterBrokerBody } from '../../src/namesrv/register-body.js';
import type { TopicConfig } from '../../src/namesrv/route-types.js';

export interface Clock {
  nowMs: number;
}

export async function startNameServer(expiryMs = 120_000): Promise<{ namesrv: NameServer; address: string; clock: Clock; logs: string[] }> {
  const clock: Clock = { nowMs: 1_000_000 };
  const logs: string[] = [];
  const namesrv = new NameServer({
    // A scan interval far beyond the test: expiry happens only when the test calls the scan.
    config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0, brokerChannelExpiredTimeMs: expiryMs, scanNotActiveBrokerIntervalMs: 3_600_000 },
    log: (line) => logs.push(line),
    nowMs: () => clock.nowMs,
  });
  const port = await namesrv.start();
  return { namesrv, address: `127.0.0.1:${port}`, clock, logs };
}

export function topic(topicName: string, queues = 4, perm = 6): TopicConfig {
  return { topicName, readQueueNums: queues, writeQueueNums: queues, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
}

export interface BrokerIdentity {
  clusterName: string;
  brokerName: string;
  brokerAddr: string;
  brokerId: number;
}

/** One broker process: its own connection to the name server. */
export class FakeBrokerConnection {
  readonly client = new RemotingClient();
  constructor(readonly namesrvAddress: string) {}

  register(identity: BrokerIdentity, topics: TopicConfig[], extra: Record<string, string | number | boolean> = {}): Promise<RemotingCommand> {
    const body = encodeRegisterBrokerBody(topics, { timestamp: 1, counter: topics.length, stateVersion: 0 });
    const request = createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, haServerAddr: identity.brokerAddr.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) + 1}`), ...extra }, body });
    return this.client.invoke(this.namesrvAddress, request, 2000);
  }

  send(request: RemotingCommand): Promise<RemotingCommand> {
    return this.client.invoke(this.namesrvAddress, request, 2000);
  }

  close(): void {
    this.client.close();
  }
}

/** RegisterBrokerBody.encode(compress=true) as a 4.x Java broker writes it. */
export function compressedRegisterBody(topics: TopicConfig[], trailer: Buffer = Buffer.alloc(0)): Buffer {
  const int = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32BE(n, 0); return b; };
  const block = (text: string): Buffer => Buffer.concat([int(Buffer.byteLength(text)), Buffer.from(text)]);
  const parts = [block('{"counter":3,"stateVersion":0,"timestamp":1700000000000}'), int(topics.length)];
  for (const t of topics) parts.push(block(`${t.topicName} ${t.readQueueNums} ${t.writeQueueNums} ${t.perm} ${t.topicFilterType}`));
  parts.push(block('[]'), trailer);
  return zlib.deflateSync(Buffer.concat(parts), { level: 9 });
}
