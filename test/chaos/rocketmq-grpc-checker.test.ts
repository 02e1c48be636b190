// Goal: the gRPC checks of the RocketMQ chaos campaign bite — a clean history passes, and an
// acknowledged send never acked by the gRPC group, a receive after an OK ack, a redelivery before
// the invisible time, a FIFO group stored out of send order or in two queues, a FIFO group's
// message received before the previous one of its group was acked, a phantom receive,
// are each reported; a redelivery after the invisible time is only counted. Also checkRocketMQ's
// 'moved' for gRPC sends (found by body at the receipt's queue offset, the receipt names no queue).
// Method: hand-made histories; pure functions, no processes.
import t from 'tap';
import { checkGrpc, type GrpcCheckInput } from './rocketmq-grpc-checker.js';
import { checkRocketMQ, type LogMessage } from './rocketmq-checker.js';
import { parseReceiptHandle, RECEIPT_NAMES_NO_QUEUE, type GrpcAck, type GrpcReceive, type GrpcSendOp } from './rocketmq-grpc-clients.js';

const N = 'TN';
const F = 'TF';

function send(topic: string, body: string, queueOffset: number, group: string | null, seq: number, invokeMs = 0): GrpcSendOp {
  return { via: 'grpc', producer: 100, topic, body, messageGroup: group, seq, invokeMs, completeMs: invokeMs + 1, outcome: { type: 'ok', msgId: `01${body}`, queueId: RECEIPT_NAMES_NO_QUEUE, queueOffset }, attempts: ['stored'] };
}

function clean(): GrpcCheckInput & { receives: GrpcReceive[]; acks: GrpcAck[]; grpcOps: GrpcSendOp[]; logMessages: LogMessage[] } {
  const grpcOps = [send(N, 'g0-0', 0, null, 0), send(F, 'f0-0', 0, 'grp0', 0), send(F, 'f0-1', 1, 'grp0', 1)];
  const logMessages: LogMessage[] = [
    { index: 1, physicalOffset: 100, topic: N, queueId: 2, queueOffset: 0, body: 'g0-0' },
    { index: 2, physicalOffset: 200, topic: F, queueId: 1, queueOffset: 0, body: 'f0-0' },
    { index: 3, physicalOffset: 300, topic: F, queueId: 1, queueOffset: 1, body: 'f0-1' },
  ];
  // The FIFO group's two messages come in one receive (a FIFO group's next receive gets nothing of grp0 before they are acked).
  const receives: GrpcReceive[] = logMessages.map((m, i) => ({ body: m.body, topic: m.topic, queueId: m.queueId, queueOffset: m.queueOffset, attempt: 1, messageGroup: m.topic === F ? 'grp0' : null, invokeMs: m.topic === F ? 101 : 100 + i, atMs: m.topic === F ? 111 : 110 + i }));
  const acks: GrpcAck[] = logMessages.map((m, i) => ({ body: m.body, topic: m.topic, queueId: m.queueId, queueOffset: m.queueOffset, ok: true, atMs: 120 + i }));
  return { normalTopic: N, fifoTopic: F, remotingOps: [], grpcOps, receives, acks, logMessages, invisibleMs: 4000, slackMs: 250 };
}

t.test('a clean history passes; our receipt handles parse', async (t) => {
  const result = checkGrpc(clean());
  t.same(result.violations, []);
  t.equal(result.acknowledged, 3);
  t.equal(result.fifoAcknowledged, 2);
  t.same(parseReceiptHandle('TF 1 7 2 1700000000000'), { topic: 'TF', queueId: 1, queueOffset: 7 });
  t.equal(parseReceiptHandle('garbage'), null);
});

t.test('an acknowledged send the group never received; one whose ack failed is only counted', async (t) => {
  const failedAck = clean();
  failedAck.acks[0] = { ...failedAck.acks[0]!, ok: false };
  const counted = checkGrpc(failedAck);
  t.same(counted.violations, []);
  t.equal(counted.ackUnknownNotRedelivered, 1);
  const never = clean();
  never.receives.splice(0, 1);
  never.acks.splice(0, 1);
  const result = checkGrpc(never);
  t.equal(result.unconsumed, 1);
  t.match(result.violations, [/^grpc-unconsumed: g0-0 acknowledged at TN-2@0 was never received/]);
});

t.test('a receive invoked after an OK ack (ack lost)', async (t) => {
  const input = clean();
  input.receives.push({ ...input.receives[0]!, attempt: 2, invokeMs: 5000, atMs: 5010 });
  const result = checkGrpc(input);
  t.equal(result.acksLost, 1);
  t.equal(result.early, 0, 'after the invisible time: not early');
});

t.test('a redelivery before the invisible time, and one after it', async (t) => {
  const redelivered = (invokeMs: number): GrpcCheckInput => {
    const input = clean();
    input.acks[1] = { ...input.acks[1]!, ok: false };
    input.receives.push({ ...input.receives[1]!, attempt: 2, invokeMs, atMs: invokeMs + 100 });
    input.acks.push({ ...input.acks[1]!, ok: true, atMs: invokeMs + 200 });
    return input;
  };
  const early = checkGrpc(redelivered(2000));
  t.equal(early.early, 1, 'again ~2 s after the first receive, invisible 4 s');
  t.match(early.violations, [/^pop-early: TF-1@0 \(f0-0\) received again 1999 ms after/]);
  const after = checkGrpc(redelivered(4000));
  t.equal(after.early, 0);
  t.equal(after.redeliveries, 1, 'counted, allowed');
  t.same(after.violations, []);
});

t.test('FIFO stored out of send order, or in two queues', async (t) => {
  const swapped = clean();
  swapped.grpcOps[1] = send(F, 'f0-0', 1, 'grp0', 0);
  swapped.grpcOps[2] = send(F, 'f0-1', 0, 'grp0', 1);
  swapped.logMessages[1] = { ...swapped.logMessages[1]!, queueOffset: 1 };
  swapped.logMessages[2] = { ...swapped.logMessages[2]!, queueOffset: 0 };
  t.match(checkGrpc(swapped).violations, [/^fifo-store: group grp0: f0-0 acknowledged at 1@1, the later f0-1 at 1@0/]);
  const split = clean();
  split.logMessages[2] = { ...split.logMessages[2]!, queueId: 3 };
  t.ok(checkGrpc(split).violations.some((v) => /^fifo-store: group grp0: .*(queues 1,3|at 1@0, the later f0-1 at 3@1)/.test(v)), 'two queues reported');
});

t.test("FIFO receive order per message group (the FIFO group's history)", async (t) => {
  // f0-0 at 1@0, f0-1 at 1@1; receives [i] of the FIFO topic are 1 (f0-0) and 2 (f0-1).
  const split = (f1InvokeMs: number, f0AckAtMs: number): GrpcCheckInput & { receives: GrpcReceive[]; acks: GrpcAck[] } => {
    const input = clean();
    input.receives[2] = { ...input.receives[2]!, invokeMs: f1InvokeMs, atMs: f1InvokeMs + 10 };
    input.acks[1] = { ...input.acks[1]!, atMs: f0AckAtMs };
    input.acks[2] = { ...input.acks[2]!, atMs: f1InvokeMs + 20 };
    return input;
  };
  t.same(checkGrpc(split(200, 150)).violations, [], 'f0-1 in the receive after f0-0 was acked: clean');
  const inflight = checkGrpc(split(200, 300));
  t.equal(inflight.fifoOrderViolations, 2, 'f0-1 while f0-0 was received and not acked: caught');
  t.match(inflight.violations, [/^fifo-order: grp0 offset 1 .*delivered while offset 0 of its group was delivered and not acked/, /^fifo-order: grp0 offset 1 .*not acked and invisible for 4000 ms/]);
  const reversed = clean();
  reversed.receives[1] = { ...reversed.receives[1]!, invokeMs: 300, atMs: 310 };
  reversed.acks[1] = { ...reversed.acks[1]!, atMs: 320 };
  t.match(checkGrpc(reversed).violations, [/^fifo-order: grp0 offset 1 .*before offset 0 of its group was ever delivered/], 'f0-1 received (and acked) before f0-0: caught');
  const head = clean();
  head.receives[2] = { ...head.receives[2]!, invokeMs: 5000, atMs: 5010 };
  head.acks[1] = { ...head.acks[1]!, ok: false };
  head.acks[2] = { ...head.acks[2]!, atMs: 5100 };
  head.receives.push({ ...head.receives[1]!, attempt: 2, invokeMs: 5000, atMs: 5010 });
  head.acks.push({ ...head.acks[1]!, ok: true, atMs: 5090 });
  const order = [0, 3, 2, 1].map((i) => head.receives[i]!);
  head.receives.splice(0, head.receives.length, ...order);
  t.same(checkGrpc(head).violations, [], "f0-0's ack failed: f0-0 again after its invisible time, f0-1 after it in the same receive: clean");
  const result = checkGrpc(split(200, 150));
  t.equal(result.fifoReceives, 2);
  t.equal(result.fifoDeliveries, 2);
});

t.test('a phantom receive', async (t) => {
  const input = clean();
  input.receives.push({ ...input.receives[0]!, body: 'nobody-sent-this' });
  t.match(checkGrpc(input).violations, [/^phantom: /]);
});

t.test("checkRocketMQ: a gRPC send is looked for by body at its receipt's offset", async (t) => {
  const input = clean();
  const fifoOps = input.grpcOps.filter((o) => o.topic === F);
  const drain = input.logMessages.filter((m) => m.topic === F).map((m) => ({ body: m.body, queueId: m.queueId, queueOffset: m.queueOffset, msgId: '', atMs: 1 }));
  const base = { topic: F, ops: fifoOps, drain, live: drain, liveGroup: 'g', offsetCommits: [], faultTimesMs: [] };
  t.same(checkRocketMQ({ ...base, logMessages: input.logMessages }).violations, [], 'found in queue 1 though the receipt names none');
  const other = input.logMessages.map((m) => (m.body === 'f0-1' ? { ...m, body: 'f0-0' } : m));
  const result = checkRocketMQ({ ...base, logMessages: other, ops: [...fifoOps] });
  t.ok(result.moved >= 1, `f0-1 not at its offset: moved (${result.violations.join('; ')})`);
});
