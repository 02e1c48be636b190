// Goal: FIFO consumption keeps its order through a SIGKILL of the master (fast-try: 3 broker
// processes + name server, rocketmq-client-nodejs 1.0.8 unchanged, both clients on a follower's
// gRPC endpoint, which routes them to the master). A Producer sends FIFO messages in 5 message
// groups (G0..G4: queues 0,0,2,2,1 of 4, so two groups share a queue's order lock), one send at a
// time; a SimpleConsumer of a consumeMessageOrderly group receives (batches of up to 4) and acks in
// order; G1's 4th message is not acked on its first delivery (nor what follows it in its queue in
// that batch). The master is SIGKILLed (by pid) after 30 acks. Judged by fifo-history.ts on what
// the client saw and what the new master's queues hold:
//  - every acknowledged send is consumed (acked OK), no ack lost (nothing received after its ack
//    was answered OK);
//  - per message group: nothing delivered before every earlier stored message of the group was
//    delivered and acked (or in the same batch before it); redeliveries only of the unacked head;
//    nothing while an earlier one of the group is in flight and invisible;
//  - the unacked G1 message comes again (attempt 2) before the rest of G1.
// 1.0.8's clients keep the dead master's endpoint (their route refresh is 30 s): after 2 s of
// failures the test makes new ones on the same access point (an application restart).
// ~20-25 s (fast-try start ~8 s, election + restart of the clients ~5 s).
import t from 'tap';
import { decodeMessages } from '../../src/broker/message-codec.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { queueOfMessageGroup } from '../../src/grpc/queue-selection.js';
import { awaitClusterList, requireDist, type Row } from '../quickstart/helpers.js';
import { rocketmq5, silentLogger } from './client.js';
import { startFastTryGroup } from './fast-try-group.js';
import { fifoViolations, type FifoAck, type FifoDelivery, type FifoStored } from './fifo-history.js';

t.before(requireDist);

const TOPIC = 'TopicFifoFailover';
const GROUP = 'CG_fifo_failover';
const GROUPS = ['G0', 'G1', 'G2', 'G3', 'G4'];
const PER_GROUP = 20;
const INVISIBLE_MS = 2000;
const KILL_AFTER_ACKS = 30;
const RESTART_AFTER_FAILING_MS = 2000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('the history checker fails on histories that break FIFO', async (t) => {
  const stored: FifoStored[] = [{ group: 'G', queueId: 0, offset: 0 }, { group: 'G', queueId: 0, offset: 1 }, { group: 'H', queueId: 0, offset: 2 }];
  const d = (offset: number, receive: number, atMs: number, attempt = 1): FifoDelivery => ({ group: offset === 2 ? 'H' : 'G', queueId: 0, offset, attempt, receive, invokeMs: atMs - 5, atMs });
  const ok = (offset: number, atMs: number): FifoAck => ({ queueId: 0, offset, outcome: 'ok', atMs });
  t.same(fifoViolations([d(0, 1, 0), d(1, 1, 0)], [ok(0, 5), ok(1, 6)], stored, 2000, 500), [], 'one batch in order, acked: clean');
  t.same(fifoViolations([d(0, 1, 0), d(1, 2, 10)], [ok(0, 5), ok(1, 20)], stored, 2000, 500), [], 'the next after the ack: clean');
  t.match(fifoViolations([d(1, 1, 0), d(0, 2, 10)], [ok(1, 5), ok(0, 20)], stored, 2000, 500), [/offset 1 .*before offset 0 of its group was ever delivered/], 'out of order: caught');
  t.match(fifoViolations([d(0, 1, 0), d(1, 2, 10)], [ok(0, 50), ok(1, 60)], stored, 2000, 500), [/delivered while offset 0 of its group was delivered and not acked/, /not acked and invisible/], 'the next while the previous is in flight: caught');
  t.same(fifoViolations([d(0, 1, 0), d(0, 2, 2000, 2), d(1, 2, 2000)], [ok(0, 2010), ok(1, 2020)], stored, 2000, 500), [], 'the unacked head again after its invisible time, then the next: clean');
  t.match(fifoViolations([d(0, 1, 0), d(0, 2, 100, 2)], [ok(0, 200)], stored, 2000, 500), [/not acked and invisible/], 'redelivered before its invisible time: caught');
  t.match(fifoViolations([d(0, 1, 0), d(0, 2, 100, 2)], [ok(0, 50)], stored, 2000, 500), [/after its ack was answered OK/], 'delivered after its ack: caught');
  t.same(fifoViolations([d(0, 1, 0), d(2, 2, 10)], [], stored, 2000, 500), [], 'another group of the same queue is not judged by G');
});

t.test('FIFO per message group through a SIGKILL of the master', async (t) => {
  const started = Date.now();
  const fastTry = await startFastTryGroup(t, 'grpc-fifo-failover-', 'grpcMinInvisibleTimeMs=1000\ngrpcMaxLongPollingMs=1000');
  const { leader, leaderIndex, followerIndex, grpcPorts, remoting, closers, namesrvAddr } = fastTry;
  let stopping = false;
  t.teardown(() => {
    stopping = true;
  });
  const made = await remoting.invoke(leader.addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {
    body: Buffer.from(JSON.stringify({ groupName: GROUP, consumeMessageOrderly: true })),
  }), 10_000);
  t.equal(made.code, ResponseCode.SUCCESS, `${GROUP} with consumeMessageOrderly=true`);
  t.equal((await fastTry.createTopic(TOPIC, { 'message.type': 'FIFO' })).code, ResponseCode.SUCCESS, `FIFO topic ${TOPIC}`);
  t.same(GROUPS.map((g) => queueOfMessageGroup(g, 4)), [0, 0, 2, 2, 1], 'G0/G1 share queue 0, G2/G3 queue 2');

  const endpoints = `127.0.0.1:${grpcPorts[followerIndex]}`;
  t.comment(`master n${leaderIndex}, clients' access point n${followerIndex} (${endpoints}); fast-try up after ${Date.now() - started} ms`);
  const newProducer = async (): Promise<any> => {
    const producer = new rocketmq5.Producer({ endpoints, namespace: '', topics: [TOPIC], logger: silentLogger, requestTimeout: 2000 });
    await producer.startup();
    closers.push(() => Promise.race([producer.shutdown(), sleep(2000)]));
    return producer;
  };
  const newConsumer = async (): Promise<any> => {
    const consumer = new rocketmq5.SimpleConsumer({ endpoints, namespace: '', consumerGroup: GROUP, subscriptions: new Map([[TOPIC, '*']]), awaitDuration: 1000, logger: silentLogger, requestTimeout: 2000 });
    await consumer.startup();
    closers.push(() => Promise.race([consumer.shutdown(), sleep(2000)]));
    return consumer;
  };
  let producer = await newProducer();
  let consumer = await newConsumer();
  let producers = 1;
  let consumers = 1;

  const ackedSends = new Set<string>();
  const deliveries: FifoDelivery[] = [];
  const acks: FifoAck[] = [];
  const ackedBodies = new Set<string>();
  /** Bodies whose ack's answer failed (it may have been applied: never redelivered then, as RocketMQ allows). */
  const ackUnknownBodies = new Set<string>();
  const bodyOf = new Map<string, string>();
  let receives = 0;
  let killedAt = 0;
  let skipped: FifoDelivery | null = null;
  let skippedAgain: FifoDelivery | null = null;
  const giveUpAt = Date.now() + 40_000;

  const produce = (async () => {
    // The new topic reaches the follower's route once it applied it: the first send retries (bounded).
    for (let n = 0; n < PER_GROUP; n++) {
      for (const g of GROUPS) {
        const body = `${g}:${n}`;
        let failingSince = 0;
        while (!stopping && Date.now() < giveUpAt) {
          try {
            await producer.send({ topic: TOPIC, messageGroup: g, body: Buffer.from(body) });
            ackedSends.add(body);
            break;
          } catch {
            failingSince ||= Date.now();
            if (killedAt > 0 && Date.now() - failingSince > RESTART_AFTER_FAILING_MS) {
              producer = await newProducer().catch(() => producer);
              producers++;
              failingSince = Date.now();
            }
            await sleep(200);
          }
        }
      }
    }
  })();
  const done = (): boolean => ackedSends.size === GROUPS.length * PER_GROUP && [...ackedSends].every((b) => ackedBodies.has(b) || ackUnknownBodies.has(b));
  const consume = (async () => {
    let failingSince = 0;
    while (!stopping && Date.now() < giveUpAt && !done()) {
      let got: any[];
      let invokeMs = 0;
      try {
        invokeMs = Date.now();
        got = await consumer.receive(4, INVISIBLE_MS);
        failingSince = 0;
      } catch {
        failingSince ||= Date.now();
        if (killedAt > 0 && Date.now() - failingSince > RESTART_AFTER_FAILING_MS) {
          consumer = await newConsumer().catch(() => consumer);
          consumers++;
          failingSince = Date.now();
        }
        await sleep(100);
        continue;
      }
      if (got.length === 0) continue;
      const atMs = Date.now();
      receives++;
      const batch = got.map((m) => {
        const [, queueId, offset] = String(m.receiptHandle).split(' ');
        const body = m.body.toString() as string;
        const d: FifoDelivery = { group: body.split(':')[0] as string, queueId: Number(queueId), offset: Number(offset), attempt: m.deliveryAttempt, receive: receives, invokeMs, atMs };
        bodyOf.set(`${d.queueId}:${d.offset}`, body);
        deliveries.push(d);
        return { m, d, body };
      });
      const stoppedQueues = new Set<number>();
      for (const { m, d, body } of batch) {
        // The application stops at a failure: nothing after it in its queue is acked either.
        if (stoppedQueues.has(d.queueId)) continue;
        if (body === 'G1:3' && skipped === null) {
          skipped = d;
          stoppedQueues.add(d.queueId);
          continue;
        }
        if (body === 'G1:3' && skippedAgain === null) skippedAgain = d;
        const sentAt = Date.now();
        try {
          await consumer.ack(m);
          acks.push({ queueId: d.queueId, offset: d.offset, outcome: 'ok', atMs: Date.now() });
          ackedBodies.add(body);
        } catch {
          acks.push({ queueId: d.queueId, offset: d.offset, outcome: 'unknown', atMs: sentAt });
          ackUnknownBodies.add(body);
          stoppedQueues.add(d.queueId);
        }
      }
    }
  })();
  const kill = (async () => {
    while (ackedBodies.size < KILL_AFTER_ACKS && !stopping && Date.now() < giveUpAt) await sleep(10);
    // 1.0.8's clients of the dead master (their shutdown() stops at it) keep Telemetry streams that
    // emit UNAVAILABLE with no listener: that error, and only it, is tolerated from here on.
    process.on('uncaughtException', (error: Error & { code?: number }) => {
      if (error.code !== 14) throw error;
    });
    const pid = fastTry.brokerPid(leaderIndex);
    process.kill(pid, 'SIGKILL');
    killedAt = Date.now();
    t.comment(`SIGKILL of the master n${leaderIndex} (pid ${pid}) after ${ackedBodies.size} acks, ${ackedSends.size} sends acknowledged, ${Date.now() - started} ms in`);
  })();
  await Promise.all([produce, consume, kill]);
  const lastAckAt = Math.max(...acks.filter((a) => a.outcome === 'ok').map((a) => a.atMs));

  // What the queues hold, read from the new master.
  const master = await awaitClusterList(namesrvAddr, (rows) => rows.find((r) => r.bid === 0 && r.addr !== leader.addr), 15_000, 'a new master') as Row;
  const stored: FifoStored[] = [];
  for (const queueId of new Set(GROUPS.map((g) => queueOfMessageGroup(g, 4)))) {
    for (let offset = 0; ;) {
      const answer = await remoting.invoke(master.addr, createRequest(RequestCode.PULL_MESSAGE, {
        extFields: { consumerGroup: 'CG_check', topic: TOPIC, queueId, queueOffset: offset, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 },
      }), 10_000);
      const messages = answer.code === ResponseCode.SUCCESS && answer.body !== null ? decodeMessages(answer.body) : [];
      if (messages.length === 0) break;
      for (const m of messages) stored.push({ group: Buffer.from(m.body).toString().split(':')[0] as string, queueId, offset: m.queueOffset });
      offset = (messages.at(-1)?.queueOffset ?? offset) + 1;
    }
  }
  const unknownAcks = acks.filter((a) => a.outcome === 'unknown').length;
  t.comment(`${ackedSends.size} sends acknowledged (${producers} producers), ${stored.length} stored, ${receives} receives with ${deliveries.length} deliveries (${deliveries.filter((d) => d.attempt > 1).length} redelivered), ${acks.length - unknownAcks} acks OK, ${unknownAcks} failed (${consumers} consumers); last ack ${lastAckAt - killedAt} ms after the kill; ${Date.now() - started} ms in all`);
  t.ok(killedAt > 0 && lastAckAt > killedAt, 'acks went on after the kill (the new master took over)');
  t.equal(ackedSends.size, GROUPS.length * PER_GROUP, 'every send acknowledged in the end (retried through the failover)');
  t.same([...ackedSends].filter((b) => !ackedBodies.has(b) && !ackUnknownBodies.has(b)), [], `every acknowledged send consumed and acked (${[...ackedSends].filter((b) => !ackedBodies.has(b)).length} only with an ack whose answer failed: it may have been applied)`);
  t.ok(stored.length >= ackedSends.size, `the queues hold every acknowledged send (${stored.length} stored; a send retried after a lost answer may be stored twice)`);
  t.same(fifoViolations(deliveries, acks, stored, INVISIBLE_MS, 250), [], 'per message group: in order, nothing before the previous one acked, redeliveries only of the unacked head, no ack lost');
  const s = skipped as FifoDelivery | null;
  const again = skippedAgain as FifoDelivery | null;
  t.ok(s !== null && again !== null && again.attempt > s.attempt && again.atMs - s.atMs >= INVISIBLE_MS - 1000, `G1:3 unacked at attempt ${s?.attempt}, again at attempt ${again?.attempt} ${again !== null && s !== null ? again.atMs - s.atMs : '?'} ms later`);
  const seqOf = (d: FifoDelivery): number => Number(bodyOf.get(`${d.queueId}:${d.offset}`)?.split(':')[1]);
  const laterG1 = deliveries.find((d) => d.group === 'G1' && s !== null && d.receive > s.receive && seqOf(d) > 3);
  t.ok(again !== null && (laterG1 === undefined || laterG1.receive >= again.receive), `nothing of G1 after G1:3 in a later receive before G1:3 came again (G1:3 again in receive ${again?.receive}, the next later G1 in ${laterG1?.receive})`);
});

// 1.0.8's clients whose shutdown() stopped at the dead master keep renewing their Telemetry
// streams every second: once every test here has ended and reported, stop.
t.teardown(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
