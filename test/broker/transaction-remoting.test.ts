// Goal: transactional messages over remoting as a Java 4.9 producer drives them, against
// broker-harness's in-process 3-broker DLedger group: a prepared send (TRAN_MSG=true, sysFlag
// TRANSACTION_PREPARED_TYPE) lands in RMQ_SYS_TRANS_HALF_TOPIC and nowhere a consumer reads;
// END_TRANSACTION (37, oneway as Java sends it) commit makes it visible in its topic once (type
// COMMIT, PREPAREDTRANSACTIONOFFSET = the half's offset, REAL_TOPIC/REAL_QID/TRAN_MSG gone), with an
// op message "d"; rollback never makes it visible; a repeated or contradicting end, a wrong group
// are answered as Java's checkPrepareMessage would; a transaction left open is checked with
// CHECK_TRANSACTION_STATE (39, oneway, Java's header fields, the message encoded with its real
// topic) on the producer's own connection and ended by the producer's answer (commit and
// rollback), or, answered "unknown" every time, discarded into TRANS_CHECK_MAX_TIME_TOPIC after
// transactionCheckMax checks; every member holds the same pending table; after the master closes,
// the new master's check loop resolves what was pending (its count continued, not restarted).
// Frames are built to Java's encoding by test/remoting/fixtures/make-java-requests.cjs's encoder.
import t from 'tap';
import { decodeMessage, decodeMessages, parseMessageProperties, type StoredMessage } from '../../src/broker/message-codec.js';
import { CHECK_MAX_TIME_TOPIC, HALF_TOPIC, OP_HALF_TOPIC } from '../../src/broker/transaction/transaction-state.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import type { RemotingCommand } from '../../src/remoting/command.js';
import { startCluster, type Cluster } from './broker-harness.js';
import { until } from './group-harness.js';
import { COMMIT, endFields, GROUP, JavaProducer, NOT_TYPE, ROLLBACK, TOPIC } from './java-producer.js';

async function pullAll(cluster: Cluster, addr: string, topic: string, queueId: number): Promise<StoredMessage[]> {
  const answer = await cluster.call(addr, RequestCode.PULL_MESSAGE, { consumerGroup: 'CG_tx_check', topic, queueId, queueOffset: 0, maxMsgNums: 64, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 });
  return answer.code === ResponseCode.SUCCESS && answer.body !== null ? decodeMessages(answer.body) : [];
}

/** until() for a probe that reads over the network. */
async function eventually<T>(probe: () => Promise<T | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const uniq = (n: number): string => `0A00000700002A9F0000000000${String(n).padStart(6, '0')}`;

t.test('remoting transactions: prepare, end, check, discard, failover', async (t) => {
  const cluster = await startCluster({ transactionCheckInterval: '150', transactionTimeOut: '400', transactionCheckMax: '3' });
  const producers: JavaProducer[] = [];
  t.teardown(async () => {
    for (const p of producers) p.close();
    await cluster.close();
  });
  let master = await until(() => cluster.master(), 15_000, 'a master');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(created.code, ResponseCode.SUCCESS, 'topic created');
  let producer = new JavaProducer(master.brokerAddr);
  producers.push(producer);
  t.equal((await producer.heartbeat()).code, ResponseCode.SUCCESS, 'producer heartbeat');

  const prepare = async (n: number, body: string): Promise<{ commitLogOffset: number; queueOffset: number; uniqKey: string }> => {
    const answer = await producer.prepare(uniq(n), body);
    t.equal(answer.code, ResponseCode.SUCCESS, `${body} prepared: ${answer.remark ?? ''}`);
    const msgId = answer.extFields['msgId'] as string;
    return { commitLogOffset: Number.parseInt(msgId.slice(16), 16), queueOffset: Number(answer.extFields['queueOffset']), uniqKey: uniq(n) };
  };
  const visible = async (body: string): Promise<StoredMessage[]> => {
    const all: StoredMessage[] = [];
    for (let q = 0; q < 4; q++) all.push(...await pullAll(cluster, master.brokerAddr, TOPIC, q));
    return all.filter((m) => Buffer.from(m.body).toString() === body);
  };
  const pendingEverywhere = (n: number): boolean => cluster.brokers.every((b) => { try { return b.transactions?.state.size === n; } catch { return false; } });

  // 1. Prepare, then commit (oneway, as Java's endTransactionOneway).
  const first = await prepare(1, 'tx-commit');
  t.same(await visible('tx-commit'), [], 'a half message is not in its topic');
  const halves = await pullAll(cluster, master.brokerAddr, HALF_TOPIC, 0);
  t.equal(halves.length, 1, 'it is in RMQ_SYS_TRANS_HALF_TOPIC queue 0');
  const halfProps = parseMessageProperties(halves[0]!.properties);
  t.same([halfProps.get('REAL_TOPIC'), halfProps.get('REAL_QID'), halfProps.get('PGROUP'), halfProps.get('TRAN_MSG')], [TOPIC, '1', GROUP, 'true'], 'REAL_TOPIC, REAL_QID, PGROUP, TRAN_MSG');
  t.equal(halves[0]!.sysFlag & 12, 0, 'the half message is stored with transaction type NOT_TYPE');
  t.equal(halves[0]!.physicalOffset, first.commitLogOffset, 'the answer msgId is the half offset message id');
  await until(() => pendingEverywhere(1), 5000, 'every member holds the half message');
  producer.oneway(RequestCode.END_TRANSACTION, endFields(first, COMMIT, false));
  const committed = await eventually(async () => { const v = await visible('tx-commit'); return v.length === 1 ? v : null; }, 5000, 'the committed message in its topic');
  const message = committed[0]!;
  const props = parseMessageProperties(message.properties);
  t.equal(message.sysFlag & 12, COMMIT, 'transaction type COMMIT');
  t.equal(message.preparedTransactionOffset, first.commitLogOffset, 'PREPAREDTRANSACTIONOFFSET = the half message offset');
  t.equal(message.queueId, 1, 'in its REAL_QID');
  t.same([props.get('REAL_TOPIC'), props.get('REAL_QID'), props.get('TRAN_MSG'), props.get('UNIQ_KEY'), props.get('TAGS'), props.get('PGROUP')], [undefined, undefined, undefined, first.uniqKey, 'TagTx', GROUP], 'half-only properties cleared, the rest kept');
  await until(() => pendingEverywhere(0), 5000, 'no member holds it pending');
  const ops = await eventually(async () => { const o = await pullAll(cluster, master.brokerAddr, OP_HALF_TOPIC, 0); return o.length === 1 ? o : null; }, 5000, 'an op message');
  t.same([Buffer.from(ops[0]!.body).toString(), parseMessageProperties(ops[0]!.properties).get('TAGS')], [String(first.queueOffset), 'd'], 'op message: body = half queue offset, tag d');

  // 2. A repeated commit is answered from the table (no second message); a contradicting end or a wrong group is refused.
  const again = await producer.invoke(RequestCode.END_TRANSACTION, endFields(first, COMMIT, false));
  t.equal(again.code, ResponseCode.SUCCESS, `a repeated commit: SUCCESS (${again.remark ?? ''})`);
  const contra = await producer.invoke(RequestCode.END_TRANSACTION, endFields(first, ROLLBACK, false));
  t.equal(contra.code, ResponseCode.SYSTEM_ERROR, `a rollback after the commit: SYSTEM_ERROR (${contra.remark ?? ''})`);
  t.equal((await visible('tx-commit')).length, 1, 'still exactly one committed message');
  const unknownHalf = await producer.invoke(RequestCode.END_TRANSACTION, endFields({ commitLogOffset: 123456789, queueOffset: 77, uniqKey: uniq(99) }, COMMIT, false));
  t.same([unknownHalf.code, unknownHalf.remark], [ResponseCode.SYSTEM_ERROR, 'Find prepared transaction message failed'], 'an unknown half message');

  // 3. Rollback: never visible.
  const second = await prepare(2, 'tx-rollback');
  const wrongGroup = await producer.invoke(RequestCode.END_TRANSACTION, endFields(second, COMMIT, false, 'OTHER_GROUP'));
  t.same([wrongGroup.code, wrongGroup.remark], [ResponseCode.SYSTEM_ERROR, 'The producer group wrong'], 'a wrong producer group');
  const rolledBack = await producer.invoke(RequestCode.END_TRANSACTION, endFields(second, ROLLBACK, false));
  t.equal(rolledBack.code, ResponseCode.SUCCESS, 'rollback answered SUCCESS');
  await until(() => pendingEverywhere(0), 5000, 'rolled back everywhere');

  // 4. Left open: the check loop asks this producer; it answers commit for one, rollback for the other.
  const third = await prepare(3, 'tx-check-commit');
  const fourth = await prepare(4, 'tx-check-rollback');
  const checkOf = (sent: { uniqKey: string }): RemotingCommand | undefined => producer.checks.find((c) => c.extFields['msgId'] === sent.uniqKey);
  const check3 = await until(() => checkOf(third), 10_000, 'CHECK_TRANSACTION_STATE for the third');
  await until(() => checkOf(fourth), 10_000, 'CHECK_TRANSACTION_STATE for the fourth');
  t.equal(check3.code, RequestCode.CHECK_TRANSACTION_STATE, 'code 39');
  t.equal(check3.flag, 2, 'sent oneway (flag 2), as Broker2Client.checkProducerTransactionState');
  t.same(Object.keys(check3.extFields).sort(), ['commitLogOffset', 'msgId', 'offsetMsgId', 'tranStateTableOffset', 'transactionId'], "CheckTransactionStateRequestHeader's fields");
  t.same([Number(check3.extFields['commitLogOffset']), Number(check3.extFields['tranStateTableOffset']), check3.extFields['transactionId']], [third.commitLogOffset, third.queueOffset, third.uniqKey], 'offsets and transaction id of the half message');
  const checked = decodeMessage(check3.body as Buffer);
  t.same([checked.topic, checked.queueId, Buffer.from(checked.body).toString(), checked.physicalOffset], [TOPIC, 1, 'tx-check-commit', third.commitLogOffset], 'the body: the half message with its real topic and queue');
  t.ok(cluster.brokers.every((b) => (b.transactions?.state.byQueueOffset(third.queueOffset)?.checkTimes ?? 0) >= 1), 'the check count is replicated to every member');
  t.same(await visible('tx-check-commit'), [], 'not visible before the answer');
  producer.oneway(RequestCode.END_TRANSACTION, endFields(third, COMMIT, true));
  producer.oneway(RequestCode.END_TRANSACTION, endFields(fourth, ROLLBACK, true));
  await eventually(async () => (await visible('tx-check-commit')).length === 1, 5000, 'the checked-and-committed message visible');
  await until(() => pendingEverywhere(0), 5000, 'both ended everywhere');
  t.same(await visible('tx-check-rollback'), [], 'the checked-and-rolled-back message never visible');

  // 5. Answered "unknown" (NOT_TYPE) every time: discarded after transactionCheckMax (3) checks.
  const fifth = await prepare(5, 'tx-unknown');
  const checksOf = (sent: { uniqKey: string }): number => producer.checks.filter((c) => c.extFields['msgId'] === sent.uniqKey).length;
  let answered = 0;
  await until(() => {
    while (answered < checksOf(fifth)) {
      answered++;
      producer.oneway(RequestCode.END_TRANSACTION, endFields(fifth, NOT_TYPE, true));
    }
    return pendingEverywhere(0);
  }, 15_000, 'the unknown transaction discarded');
  t.equal(checksOf(fifth), 3, 'checked exactly transactionCheckMax = 3 times');
  const graveyard = await pullAll(cluster, master.brokerAddr, CHECK_MAX_TIME_TOPIC, 0);
  t.same(graveyard.map((m) => Buffer.from(m.body).toString()), ['tx-unknown'], `moved to ${CHECK_MAX_TIME_TOPIC}`);
  t.same(await visible('tx-unknown'), [], 'never visible in its topic');
  const late = await producer.invoke(RequestCode.END_TRANSACTION, endFields(fifth, COMMIT, true));
  t.equal(late.code, ResponseCode.SYSTEM_ERROR, `a commit after the discard is refused (${late.remark ?? ''})`);

  // 6. Failover: prepared and checked once on the old master, resolved by the new master's checker.
  const sixth = await prepare(6, 'tx-failover');
  await until(() => checkOf(sixth), 10_000, 'a first check on the old master');
  await until(() => cluster.brokers.every((b) => (b.transactions?.state.byQueueOffset(sixth.queueOffset)?.checkTimes ?? 0) >= 1), 5000, 'its count replicated');
  const countBefore = checksOf(sixth);
  const old = master;
  producer.close();
  await old.close();
  master = await until(() => cluster.brokers.find((b) => b !== old && b.commitLog.isWritable()), 15_000, 'a new master');
  producer = new JavaProducer(master.brokerAddr);
  producers.push(producer);
  t.equal((await producer.heartbeat()).code, ResponseCode.SUCCESS, 'the producer heartbeats to the new master');
  const newCheck = await until(() => checkOf(sixth), 10_000, 'the new master checks the pending transaction');
  t.equal(Number(newCheck.extFields['commitLogOffset']), sixth.commitLogOffset, 'the same half message');
  t.ok((master.transactions?.state.byQueueOffset(sixth.queueOffset)?.checkTimes ?? 0) > countBefore, 'its check count continued from the old master');
  producer.oneway(RequestCode.END_TRANSACTION, endFields(sixth, COMMIT, true));
  await eventually(async () => (await visible('tx-failover')).length === 1, 5000, 'committed by the new master');
  await until(() => cluster.brokers.filter((b) => b !== old).every((b) => b.transactions?.state.size === 0), 5000, 'ended on the live members');
  t.equal((await visible('tx-commit')).length, 1, 'the first transaction still committed once');
});
