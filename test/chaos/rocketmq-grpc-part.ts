// Goal: what the RocketMQ chaos campaign (rocketmq-campaign.ts) does for its gRPC client mix, kept
// out of the campaign loop: create the FIFO topic (message.type FIFO), run the mix
// (rocketmq-grpc-clients.ts), after healing drain the FIFO topic with a fresh ali-ons group and
// wait until the gRPC groups have received and acked every acknowledged send, then judge: the FIFO
// topic's log and drain by checkRocketMQ (as the campaign's topic), the gRPC group by checkGrpc.
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { performance } from 'node:perf_hooks';
import type { AliClient } from '../quickstart/ali-ons-client.js';
import { OffsetCoverage, waitForCoverage } from './offset-coverage.js';
import { checkRocketMQ, type LogMessage, type RocketMQCheckInput, type RocketMQCheckResult } from './rocketmq-checker.js';
import { recordingConsumer, type Delivery, type SendOp } from './rocketmq-clients.js';
import { checkGrpc, type GrpcCheckResult } from './rocketmq-grpc-checker.js';
import { GRPC_FIFO_GROUP, GRPC_GROUP, GrpcClientMix, INVISIBLE_MS, type GrpcSendOp } from './rocketmq-grpc-clients.js';

export const CLIENT_KINDS = ['remoting', 'grpc'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];
export const FIFO_TOPIC = 'TopicChaosFifo';
export { GRPC_GROUP };
const FIFO_GROUPS = 4;
/** Slack of the invisible-time check: timer rounding between the broker's clock reads and ours. */
const INVISIBLE_SLACK_MS = 250;

export interface GrpcPartReport {
  readonly fifo: RocketMQCheckResult;
  readonly check: GrpcCheckResult;
  readonly clientRestarts: number;
  readonly clientErrors: string[];
}

export class GrpcPart {
  readonly mix: GrpcClientMix;
  readonly fifoTopic = FIFO_TOPIC;
  private grpcOps: GrpcSendOp[] = [];
  readonly fifoDrain: Delivery[] = [];

  private constructor(options: { endpoints: readonly string[]; topic: string; producers: number; inFlight: number }) {
    this.mix = new GrpcClientMix({ endpoints: options.endpoints, normalTopic: options.topic, fifoTopic: FIFO_TOPIC, producers: options.producers, inFlight: options.inFlight, fifoGroups: FIFO_GROUPS, thinkMs: 5, maxSendsPerLane: 10_000_000 });
  }

  /** Creates the FIFO topic on the master and starts the mix. */
  static async start(options: { masterAddr: string; endpoints: readonly string[]; topic: string; queues: number; producers: number; inFlight: number }): Promise<GrpcPart> {
    const remoting = new RemotingClient();
    try {
      const answer = await remoting.invoke(options.masterAddr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, {
        extFields: { topic: FIFO_TOPIC, defaultTopic: 'TBW102', readQueueNums: options.queues, writeQueueNums: options.queues, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: JSON.stringify({ 'message.type': 'FIFO' }) },
      }), 10_000);
      if (answer.code !== ResponseCode.SUCCESS) throw new Error(`creating ${FIFO_TOPIC}: code ${answer.code} ${answer.remark ?? ''}`);
      // The FIFO topic's consumer group is a FIFO group (RocketMQ 5's consumeMessageOrderly): its receives keep each message group's order.
      const group = await remoting.invoke(options.masterAddr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, { body: Buffer.from(JSON.stringify({ groupName: GRPC_FIFO_GROUP, consumeMessageOrderly: true })) }), 10_000);
      if (group.code !== ResponseCode.SUCCESS) throw new Error(`creating ${GRPC_FIFO_GROUP}: code ${group.code} ${group.remark ?? ''}`);
    } finally {
      remoting.close();
    }
    const part = new GrpcPart(options);
    part.mix.start();
    return part;
  }

  async stopSending(): Promise<GrpcSendOp[]> {
    this.grpcOps = await this.mix.stopSending();
    return this.grpcOps;
  }

  get normalOps(): GrpcSendOp[] {
    return this.grpcOps.filter((op) => op.messageGroup === null);
  }

  /** A fresh ali-ons group drains the FIFO topic up to the given max offsets (the consumer is added to `clients`). */
  async drainFifo(namesrvAddr: string, group: string, maxOffsets: readonly number[], minOffsets: readonly number[], clients: AliClient[], errors: Error[], idleTimeoutMs: number, log: (line: string) => void): Promise<void> {
    const consumer = recordingConsumer(namesrvAddr, group, FIFO_TOPIC, this.fifoDrain, errors);
    clients.push(consumer);
    await consumer.ready();
    await waitForCoverage(new OffsetCoverage(maxOffsets, this.fifoDrain, minOffsets), { idleTimeoutMs, capMs: 15 * 60_000, what: `the FIFO drain to receive queue offsets up to ${maxOffsets.join('/')}` }).catch((error: Error) => log(error.message));
  }

  /** Wait until the gRPC group received every acknowledged send's body, or nothing new came for idleMs. */
  async catchUp(remotingOps: readonly SendOp[], idleMs: number, capMs: number): Promise<number> {
    const wanted = new Set<string>();
    for (const op of [...remotingOps, ...this.grpcOps]) if (op.outcome?.type === 'ok') wanted.add(op.body);
    const startedAt = performance.now();
    let scanned = 0;
    let lastProgress = startedAt;
    while (wanted.size > 0 && performance.now() - lastProgress < idleMs && performance.now() - startedAt < capMs) {
      const before = wanted.size;
      for (; scanned < this.mix.receives.length; scanned++) wanted.delete(this.mix.receives[scanned]!.body);
      if (wanted.size < before) lastProgress = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return wanted.size;
  }

  check(options: { topic: string; remotingOps: readonly SendOp[]; logMessages: readonly LogMessage[]; faultTimesMs: readonly number[]; retention?: RocketMQCheckInput['retention'] }): GrpcPartReport {
    const fifoOps = this.grpcOps.filter((op) => op.messageGroup !== null);
    const fifoLive: Delivery[] = this.mix.receives.filter((r) => r.topic === FIFO_TOPIC).map((r) => ({ body: r.body, queueId: r.queueId, queueOffset: r.queueOffset, msgId: '', atMs: r.atMs }));
    const fifo = checkRocketMQ({
      topic: FIFO_TOPIC, ops: fifoOps, drain: this.fifoDrain, live: fifoLive, liveGroup: GRPC_FIFO_GROUP, logMessages: options.logMessages, offsetCommits: [], faultTimesMs: options.faultTimesMs,
      ...(options.retention === undefined ? {} : { retention: options.retention }),
    });
    const check = checkGrpc({
      normalTopic: options.topic, fifoTopic: FIFO_TOPIC, remotingOps: options.remotingOps, grpcOps: this.grpcOps, receives: this.mix.receives, acks: this.mix.acks,
      logMessages: options.logMessages, invisibleMs: INVISIBLE_MS, slackMs: INVISIBLE_SLACK_MS,
      ...(options.retention === undefined ? {} : { retainedFromIndex: options.retention.retainedFromIndex }),
    });
    return { fifo, check, clientRestarts: this.mix.restarts, clientErrors: this.mix.errors.slice(0, 30) };
  }

  /** The gRPC group's deliveries of `topic` as a live group's (for the campaign topic's check when ali-ons is off). */
  liveDeliveries(topic: string): Delivery[] {
    return this.mix.receives.filter((r) => r.topic === topic).map((r) => ({ body: r.body, queueId: r.queueId, queueOffset: r.queueOffset, msgId: '', atMs: r.atMs }));
  }

  close(): Promise<void> {
    return this.mix.close();
  }
}

export function formatGrpcPart(report: GrpcPartReport): string[] {
  const c = report.check;
  const f = report.fifo;
  return [
    `gRPC clients (rocketmq-client-nodejs): ${c.sent} sends counted with ali-ons' (acknowledged ${c.acknowledged}, of them FIFO ${c.fifoAcknowledged} in ${c.fifoGroups} message groups); ${report.clientRestarts} client restarts (after 3 s of failures)`,
    `gRPC SimpleConsumer ${GRPC_GROUP}: ${c.receives} receives of ${c.distinctReceived} positions, acks ${c.acksOk} OK / ${c.acksFailed} failed, redeliveries ${c.redeliveries}, received with every ack failed and not redelivered (the ack may have committed) ${c.ackUnknownNotRedelivered}; unconsumed ${c.unconsumed}, acks lost ${c.acksLost}, early ${c.early}${c.expiredSkipped > 0 ? `, expired ${c.expiredSkipped}` : ''}`,
    `FIFO ${FIFO_TOPIC}: stored order violations ${c.fifoStoreViolations}; ${GRPC_FIFO_GROUP} (consumeMessageOrderly) received ${c.fifoDeliveries} in ${c.fifoReceives} receives, per-group order violations ${c.fifoOrderViolations}; drain ${f.drainDeliveries} deliveries, lost ${f.lost}, moved ${f.moved}, phantoms ${f.phantoms}, drain gaps ${f.drainGaps}, queue violations ${f.queueViolations}, unexplained duplicates ${f.duplicatesUnexplained}`,
  ];
}
