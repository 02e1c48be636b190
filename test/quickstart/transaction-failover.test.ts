// Goal (issue 14 item 3's failover case): a transactional producer (Java 4.9's remoting frames,
// test/broker/java-producer.ts) against fast-try's real broker processes; the leader broker is
// SIGKILLed between prepare and commit. Before the kill: A prepared and committed (consumed),
// B and E prepared and left open, D prepared and its commit sent oneway at the very moment of the
// kill. After it: the producer heartbeats to the new master and answers its checks (commit for
// B and D, rollback for E). Then A is consumed exactly once (never re-committed, never checked
// again), B once, D once whether its commit reached the old master's quorum or was decided again
// by the check, E never; nothing stays pending. The confs are the quick start's with
// transactionCheckInterval=300 and transactionTimeOut=1000 appended. ~25 s.
import t from 'tap';
import { parseMessageProperties, type StoredMessage } from '../../src/broker/message-codec.js';
import { HALF_TOPIC, OP_HALF_TOPIC } from '../../src/broker/transaction/transaction-state.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { COMMIT, endFields, JavaProducer, ROLLBACK, TOPIC } from '../broker/java-producer.js';
import { startFastTryGroup } from '../grpc/fast-try-group.js';
import { addrPort, alive, awaitClusterList, requireDist, untilDefined, type Row } from './helpers.js';

t.before(requireDist);

const uniq = (n: number): string => `0A00000700002A9F0000000001${String(n).padStart(6, '0')}`;

t.test('a transaction survives a SIGKILL of the leader between prepare and commit', async (t) => {
  const fastTry = await startFastTryGroup(t, 'tx-failover-', 'transactionCheckInterval=300\ntransactionTimeOut=1000');
  t.equal((await fastTry.createTopic(TOPIC, {})).code, ResponseCode.SUCCESS, 'topic created');
  const oldLeader = fastTry.leader.addr;
  let producer = new JavaProducer(oldLeader);
  const producers = [producer];
  t.teardown(() => producers.forEach((p) => p.close()));
  t.equal((await producer.heartbeat()).code, ResponseCode.SUCCESS, 'producer heartbeat to the leader');
  const prepare = async (n: number, body: string): Promise<{ commitLogOffset: number; queueOffset: number; uniqKey: string }> => {
    const answer = await producer.prepare(uniq(n), body);
    t.equal(answer.code, ResponseCode.SUCCESS, `${body} prepared`);
    return { commitLogOffset: Number.parseInt((answer.extFields['msgId'] as string).slice(16), 16), queueOffset: Number(answer.extFields['queueOffset']), uniqKey: uniq(n) };
  };
  const consumedOn = async (addr: string, body: string): Promise<StoredMessage[]> => {
    const all: StoredMessage[] = [];
    for (let q = 0; q < 4; q++) all.push(...await fastTry.pull(TOPIC, q, addr));
    return all.filter((m) => Buffer.from(m.body).toString() === body);
  };

  const a = await prepare(1, 'tx-a');
  t.equal((await producer.invoke(RequestCode.END_TRANSACTION, endFields(a, COMMIT, false))).code, ResponseCode.SUCCESS, 'A committed');
  t.equal((await consumedOn(oldLeader, 'tx-a')).length, 1, 'A consumable');
  const b = await prepare(2, 'tx-b');
  const e = await prepare(5, 'tx-e');
  const d = await prepare(4, 'tx-d');
  producer.oneway(RequestCode.END_TRANSACTION, endFields(d, COMMIT, false));
  const leaderPid = fastTry.brokerPid(fastTry.leaderIndex);
  t.ok(alive(leaderPid), `the leader n${fastTry.leaderIndex} (pid ${leaderPid}) is alive`);
  process.kill(leaderPid, 'SIGKILL');
  const killedAt = Date.now();
  t.comment(`SIGKILLed the leader n${fastTry.leaderIndex} (pid ${leaderPid}) right after D's commit was written to it`);
  producer.close();

  const newLeader = await awaitClusterList(fastTry.namesrvAddr, (rows) => rows.find((r) => r.bid === 0 && r.addr !== oldLeader), 30_000, 'a new leader') as Row;
  t.comment(`new leader ${newLeader.addr} after ${Date.now() - killedAt} ms`);
  t.not(addrPort(newLeader.addr), addrPort(oldLeader), 'another broker leads');
  producer = new JavaProducer(newLeader.addr);
  producers.push(producer);
  await untilDefined(async () => ((await producer.heartbeat()).code === ResponseCode.SUCCESS ? true : undefined), 10_000, 'a heartbeat to the new master');

  // Answer every check the new master sends: commit B and D, roll back E.
  const decisions = new Map([[b.uniqKey, { sent: b, answer: COMMIT }], [d.uniqKey, { sent: d, answer: COMMIT }], [e.uniqKey, { sent: e, answer: ROLLBACK }]]);
  const askedAbout = new Set<string>();
  let answered = 0;
  const opsOn = async (): Promise<string[]> => (await fastTry.pull(OP_HALF_TOPIC, 0, newLeader.addr)).map((m) => Buffer.from(m.body).toString());
  await untilDefined(async () => {
    for (; answered < producer.checks.length; answered++) {
      const check = producer.checks[answered]!;
      const uniqKey = check.extFields['msgId'] as string;
      askedAbout.add(uniqKey);
      const decision = decisions.get(uniqKey);
      if (decision !== undefined) producer.oneway(RequestCode.END_TRANSACTION, endFields(decision.sent, decision.answer, true));
    }
    const done = (await consumedOn(newLeader.addr, 'tx-b')).length === 1 && (await consumedOn(newLeader.addr, 'tx-d')).length === 1 && (await opsOn()).includes(String(e.queueOffset));
    return done ? true : undefined;
  }, 30_000, 'B and D committed, E rolled back, by the new master');
  t.ok(askedAbout.has(b.uniqKey) && askedAbout.has(e.uniqKey), 'the new master checked the transactions left open (B, E)');
  t.notOk(askedAbout.has(a.uniqKey), 'and never A, committed before the kill');
  t.comment(`D's commit ${askedAbout.has(d.uniqKey) ? 'did not survive the kill: the new master checked D and the answer committed it' : 'reached the quorum before the kill: D was never checked'}`);
  t.equal((await consumedOn(newLeader.addr, 'tx-a')).length, 1, 'A consumed exactly once');
  t.equal((await consumedOn(newLeader.addr, 'tx-b')).length, 1, 'B consumed exactly once');
  const dMessages = await consumedOn(newLeader.addr, 'tx-d');
  t.equal(dMessages.length, 1, 'D consumed exactly once');
  t.equal(parseMessageProperties(dMessages[0]!.properties).get('UNIQ_KEY'), d.uniqKey, 'under its message id');
  t.same(await consumedOn(newLeader.addr, 'tx-e'), [], 'E never consumed');
  t.equal((await fastTry.pull(HALF_TOPIC, 0, newLeader.addr)).length, 4, 'the four half messages are in the half topic');
  // No check comes for anything after the end: wait two more check intervals.
  const checksAtEnd = producer.checks.length;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(producer.checks.length, checksAtEnd, 'no more checks: nothing is pending');
  t.equal((await fastTry.stop()).code, 0, 'fast-try stop');
});
