// Goal: judge the gRPC part of a RocketMQ chaos run (rocketmq-grpc-clients.ts) — what the
// SimpleConsumer group received and acked, and the FIFO order the brokers stored — against the
// sends of every client (ali-ons and gRPC) and the replicated log. Pure, so hand-made histories
// prove each check bites (rocketmq-grpc-checker.test.ts). The log, drain and duplicate checks of
// the sends themselves are rocketmq-checker.ts's (run once per topic).
// Violations:
//   grpc-unconsumed — an acknowledged send (any client) whose body the gRPC group never received
//                     (at least once is required; bodies are unique per send). A message received
//                     whose every ack failed and that never came again is counted (ackUnknownNotRedelivered),
//                     not judged: a failed ack (timeout, lost connection) may have been committed;
//   ack-lost        — a position received again by a receive invoked after an ack of it was answered
//                     OK (the ack is a committed POP command: no failover may forget it);
//   pop-early       — a position received again before its invisible time ran out: the answer came
//                     sooner than (the previous receive's invoke time + invisibleMs - slack); the
//                     pop happened after that invoke, its message stays invisible invisibleMs from then;
//   fifo-store      — the acknowledged sends of one message group (sent one after another's answer)
//                     are not stored in one queue at increasing queue offsets in send order (each
//                     found in the log as its body at its receipt's offset), or the log holds the
//                     group's messages in more than one queue;
//   fifo-order      — the FIFO topic's group (consumeMessageOrderly, one receive at a time) broke a
//                     message group's order (test/grpc/fifo-history.ts's rules, over the log's
//                     messages of the topic): a message delivered before every earlier stored one
//                     of its group was delivered and acked (or came before it in the same receive:
//                     RocketMQ's batch), or while one of its group from an earlier receive was
//                     neither acked nor past its invisible time (that receive's invoke + invisibleMs
//                     - slack), or again after its ack was answered OK;
//   phantom         — the gRPC group received a body no client sent.
import { fifoViolations, type FifoAck, type FifoDelivery, type FifoStored } from '../grpc/fifo-history.js';
import { positionOf, type GrpcAck, type GrpcReceive, type GrpcSendOp } from './rocketmq-grpc-clients.js';
import type { LogMessage } from './rocketmq-checker.js';
import type { SendOp } from './rocketmq-clients.js';
import { Violations } from './violations.js';

export interface GrpcCheckInput {
  /** The remoting topic ali-ons and the gRPC NORMAL producers send to. */
  readonly normalTopic: string;
  readonly fifoTopic: string;
  /** ali-ons' sends (to normalTopic). */
  readonly remotingOps: readonly SendOp[];
  readonly grpcOps: readonly GrpcSendOp[];
  readonly receives: readonly GrpcReceive[];
  readonly acks: readonly GrpcAck[];
  readonly logMessages: readonly LogMessage[];
  readonly invisibleMs: number;
  readonly slackMs: number;
  /** Retention on: positions before each queue's first offset at or after this index are expired (not required). */
  readonly retainedFromIndex?: number;
}

export interface GrpcCheckResult {
  readonly sent: number;
  readonly acknowledged: number;
  readonly fifoAcknowledged: number;
  readonly fifoGroups: number;
  readonly receives: number;
  readonly distinctReceived: number;
  readonly acksOk: number;
  readonly acksFailed: number;
  /** Receives of a position received before (after an invisible time: allowed). */
  readonly redeliveries: number;
  readonly expiredSkipped: number;
  /** Received, every ack failed, never received again: the failed ack may have been committed (allowed). */
  readonly ackUnknownNotRedelivered: number;
  readonly unconsumed: number;
  readonly acksLost: number;
  readonly early: number;
  readonly fifoStoreViolations: number;
  /** The FIFO topic's receives (answers with messages) and the messages in them. */
  readonly fifoReceives: number;
  readonly fifoDeliveries: number;
  readonly fifoOrderViolations: number;
  readonly violations: string[];
}

type Acked = { topic: string; body: string; queueId: number | null; queueOffset: number; invokeMs: number };

export function checkGrpc(input: GrpcCheckInput): GrpcCheckResult {
  const found = new Violations();
  const violate = found.violate.bind(found);
  const bodies = new Set([...input.remotingOps.map((o) => o.body), ...input.grpcOps.map((o) => o.body)]);
  // A gRPC receipt names no queue: the stored copy is the log's message of that body at that offset.
  const logByBody = new Map<string, LogMessage[]>();
  for (const m of input.logMessages) logByBody.set(m.body, [...(logByBody.get(m.body) ?? []), m]);
  const storedQueue = (topic: string, body: string, queueOffset: number): number | null => logByBody.get(body)?.find((m) => m.topic === topic && m.queueOffset === queueOffset)?.queueId ?? null;
  const acked: Acked[] = [];
  for (const op of input.remotingOps) if (op.outcome?.type === 'ok') acked.push({ topic: input.normalTopic, body: op.body, queueId: op.outcome.queueId, queueOffset: op.outcome.queueOffset, invokeMs: op.invokeMs });
  for (const op of input.grpcOps) if (op.outcome?.type === 'ok') acked.push({ topic: op.topic, body: op.body, queueId: storedQueue(op.topic, op.body, op.outcome.queueOffset), queueOffset: op.outcome.queueOffset, invokeMs: op.invokeMs });

  // Retention: each queue's first offset at or after retainedFromIndex; below it a position is expired.
  const retainedFirst = new Map<string, number>();
  if (input.retainedFromIndex !== undefined) {
    for (const m of input.logMessages) {
      const key = `${m.topic}-${m.queueId}`;
      if (m.index >= input.retainedFromIndex && !retainedFirst.has(key)) retainedFirst.set(key, m.queueOffset);
    }
  }
  const expired = (a: Acked): boolean => input.retainedFromIndex !== undefined && a.queueId !== null && a.queueOffset < (retainedFirst.get(`${a.topic}-${a.queueId}`) ?? Number.MAX_SAFE_INTEGER);

  // Receives and acks per position, in time order.
  const okAckAt = new Map<string, number>();
  const ackedBodies = new Set<string>();
  let acksOk = 0;
  for (const a of input.acks) {
    if (!a.ok) continue;
    acksOk++;
    ackedBodies.add(a.body);
    const key = positionOf(a.topic, a.queueId, a.queueOffset);
    const first = okAckAt.get(key);
    if (first === undefined || a.atMs < first) okAckAt.set(key, a.atMs);
  }
  const lastReceive = new Map<string, GrpcReceive>();
  let redeliveries = 0;
  for (const r of [...input.receives].sort((x, y) => x.atMs - y.atMs)) {
    const key = positionOf(r.topic, r.queueId, r.queueOffset);
    if (!bodies.has(r.body)) violate('phantom', `the gRPC group received ${JSON.stringify(r.body.slice(0, 64))} at ${key}, which no client sent`);
    const ackedAt = okAckAt.get(key);
    if (ackedAt !== undefined && r.invokeMs > ackedAt) violate('ack-lost', `${key} (${r.body}) received again (attempt ${r.attempt}) by a receive invoked ${Math.round(r.invokeMs - ackedAt)} ms after its ack was answered OK`);
    const previous = lastReceive.get(key);
    if (previous !== undefined) {
      redeliveries++;
      const earliest = previous.invokeMs + input.invisibleMs - input.slackMs;
      if (r.atMs < earliest) violate('pop-early', `${key} (${r.body}) received again ${Math.round(r.atMs - previous.invokeMs)} ms after the receive that got it before was invoked (invisible ${input.invisibleMs} ms)`);
    }
    lastReceive.set(key, r);
  }

  let expiredSkipped = 0;
  let ackUnknownNotRedelivered = 0;
  const receivedBodies = new Set(input.receives.map((r) => r.body));
  for (const a of acked) {
    if (ackedBodies.has(a.body)) continue;
    if (expired(a)) {
      expiredSkipped++;
      continue;
    }
    if (receivedBodies.has(a.body)) ackUnknownNotRedelivered++;
    else violate('grpc-unconsumed', `${a.body} acknowledged at ${a.topic}-${a.queueId ?? '?'}@${a.queueOffset} was never received by the gRPC group`);
  }

  // FIFO as stored: per group, acknowledged sends in send order at increasing offsets of one queue.
  const groups = new Map<string, GrpcSendOp[]>();
  for (const op of input.grpcOps) {
    if (op.messageGroup === null) continue;
    const list = groups.get(op.messageGroup) ?? [];
    list.push(op);
    groups.set(op.messageGroup, list);
  }
  let fifoAcknowledged = 0;
  for (const [group, ops] of groups) {
    const ok = ops.filter((o) => o.outcome?.type === 'ok').sort((a, b) => a.seq - b.seq);
    fifoAcknowledged += ok.length;
    const at = (op: GrpcSendOp): { queueId: number | null; queueOffset: number } => {
      const offset = (op.outcome as { queueOffset: number }).queueOffset;
      return { queueId: storedQueue(op.topic, op.body, offset), queueOffset: offset };
    };
    for (let i = 1; i < ok.length; i++) {
      const a = at(ok[i - 1]!);
      const b = at(ok[i]!);
      if (a.queueId === null || b.queueId === null) continue; // not in the log: rocketmq-checker's 'moved'
      if (a.queueId !== b.queueId || b.queueOffset <= a.queueOffset) violate('fifo-store', `group ${group}: ${ok[i - 1]!.body} acknowledged at ${a.queueId}@${a.queueOffset}, the later ${ok[i]!.body} at ${b.queueId}@${b.queueOffset}`);
    }
    const groupBodies = new Set(ops.map((o) => o.body));
    const queues = new Set(input.logMessages.filter((m) => m.topic === input.fifoTopic && groupBodies.has(m.body)).map((m) => m.queueId));
    if (queues.size > 1) violate('fifo-store', `group ${group}: its messages are stored in queues ${[...queues].join(',')}`);
  }
  // FIFO as received: the FIFO group's history judged by the per-group rules. A receive is one
  // answer (its messages share invokeMs and atMs; the FIFO group has one receive at a time), its
  // messages in answer order.
  const groupOf = new Map(input.grpcOps.filter((o) => o.messageGroup !== null).map((o) => [o.body, o.messageGroup!]));
  const receiveIds = new Map<string, number>();
  const deliveries: FifoDelivery[] = input.receives
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.topic === input.fifoTopic && groupOf.has(r.body))
    .sort((x, y) => x.r.atMs - y.r.atMs || x.i - y.i)
    .map(({ r }) => {
      const id = `${r.invokeMs}/${r.atMs}`;
      if (!receiveIds.has(id)) receiveIds.set(id, receiveIds.size + 1);
      return { group: groupOf.get(r.body)!, queueId: r.queueId, offset: r.queueOffset, attempt: r.attempt, receive: receiveIds.get(id)!, invokeMs: r.invokeMs, atMs: r.atMs };
    });
  const fifoAcks: FifoAck[] = input.acks.filter((a) => a.topic === input.fifoTopic).map((a) => ({ queueId: a.queueId, offset: a.queueOffset, outcome: a.ok ? 'ok' : 'unknown', atMs: a.atMs }));
  const fifoStored: FifoStored[] = input.logMessages
    .filter((m) => m.topic === input.fifoTopic && groupOf.has(m.body) && (input.retainedFromIndex === undefined || m.index >= input.retainedFromIndex))
    .map((m) => ({ group: groupOf.get(m.body)!, queueId: m.queueId, offset: m.queueOffset }));
  for (const v of fifoViolations(deliveries, fifoAcks, fifoStored, input.invisibleMs, input.slackMs)) violate('fifo-order', v);

  return {
    sent: input.remotingOps.length + input.grpcOps.length,
    acknowledged: acked.length,
    fifoAcknowledged,
    fifoGroups: groups.size,
    receives: input.receives.length,
    distinctReceived: new Set(input.receives.map((r) => positionOf(r.topic, r.queueId, r.queueOffset))).size,
    acksOk,
    acksFailed: input.acks.length - acksOk,
    redeliveries,
    expiredSkipped,
    ackUnknownNotRedelivered,
    unconsumed: found.count('grpc-unconsumed'),
    acksLost: found.count('ack-lost'),
    early: found.count('pop-early'),
    fifoStoreViolations: found.count('fifo-store'),
    fifoReceives: receiveIds.size,
    fifoDeliveries: deliveries.length,
    fifoOrderViolations: found.count('fifo-order'),
    violations: found.list,
  };
}
