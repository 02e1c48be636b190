// Goal: the official RocketMQ 5 Node.js client (rocketmq-client-nodejs 1.0.8, unchanged) sends
// transactional messages through fast-try's group (3 broker processes + name server), its Producer
// started on a FOLLOWER's gRPC endpoint: a committed transaction's message is consumed (pulled
// from its topic over remoting), a rolled-back one never is; two transactions left open are
// resolved by the client's TransactionChecker, called through a Telemetry
// RecoverOrphanedTransactionCommand from the master's check loop (one answered COMMIT: then
// consumed; one answered ROLLBACK: never consumed, its op message written); a transactional send
// to a topic whose message.type is NORMAL is refused. The confs are the quick start's with
// transactionCheckInterval=500 and transactionTimeOut=1500 appended. ~25-35 s.
import { createRequire } from 'node:module';
import t from 'tap';
import { ResponseCode } from '../../src/remoting/codes.js';
import { parseMessageProperties, type StoredMessage } from '../../src/broker/message-codec.js';
import { OP_HALF_TOPIC } from '../../src/broker/transaction/transaction-state.js';
import { requireDist, untilDefined } from '../quickstart/helpers.js';
import { rocketmq5, silentLogger } from './client.js';
import { startFastTryGroup } from './fast-try-group.js';

const require = createRequire(import.meta.url);
const { TransactionResolution } = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb') as { TransactionResolution: { COMMIT: number; ROLLBACK: number } };

t.before(requireDist);

t.test('rocketmq-client-nodejs Producer: transactions committed, rolled back, and resolved by the checker', async (t) => {
  const fastTry = await startFastTryGroup(t, 'grpc-transaction-', 'transactionCheckInterval=500\ntransactionTimeOut=1500');
  const { followerIndex, grpcPorts, closers, pull } = fastTry;
  for (const [topic, type] of [['TopicTx', 'TRANSACTION'], ['TopicPlain', 'NORMAL']] as const) {
    const answer = await fastTry.createTopic(topic, { 'message.type': type });
    t.equal(answer.code, ResponseCode.SUCCESS, `topic ${topic} (${type}) created: ${answer.remark ?? ''}`);
  }
  const consumed = async (body: string): Promise<StoredMessage[]> => {
    const all: StoredMessage[] = [];
    for (let q = 0; q < 4; q++) all.push(...await pull('TopicTx', q));
    return all.filter((m) => Buffer.from(m.body).toString() === body);
  };

  // The checker answers by body; it records what it was asked.
  const asked: string[] = [];
  const answers = new Map([['open-commit', TransactionResolution.COMMIT], ['open-rollback', TransactionResolution.ROLLBACK]]);
  const checker = {
    check: async (view: { body: Buffer; messageId: string; topic: string }): Promise<number> => {
      asked.push(view.body.toString());
      return answers.get(view.body.toString()) ?? TransactionResolution.ROLLBACK;
    },
  };
  const producer = new rocketmq5.Producer({ endpoints: `127.0.0.1:${grpcPorts[followerIndex]}`, namespace: '', topics: ['TopicTx', 'TopicPlain'], logger: silentLogger, requestTimeout: 5000, checker });
  closers.push(() => producer.shutdown());
  await producer.startup();

  const sendInTransaction = async (body: string): Promise<{ tx: { commit(): Promise<void>; rollback(): Promise<void> }; receipt: { messageId: string; transactionId: string; offset: number } }> => {
    const tx = producer.beginTransaction();
    const receipt = await producer.send({ topic: 'TopicTx', tag: 'TagTx', keys: [`key-${body}`], body: Buffer.from(body), properties: new Map([['kind', body]]) }, tx);
    return { tx, receipt };
  };

  // Commit: consumed once, with its tag, keys, properties and message id.
  const commit = await sendInTransaction('tx-commit');
  t.ok(commit.receipt.transactionId.length > 0, `a transaction id (${commit.receipt.transactionId})`);
  t.same(await consumed('tx-commit'), [], 'not consumable before the commit');
  await commit.tx.commit();
  const committed = await untilDefined(async () => { const c = await consumed('tx-commit'); return c.length > 0 ? c : undefined; }, 5000, 'the committed message');
  t.equal(committed.length, 1, 'the committed message is consumed once');
  const props = parseMessageProperties(committed[0]!.properties);
  t.same([props.get('UNIQ_KEY'), props.get('TAGS'), props.get('KEYS'), props.get('kind'), props.get('REAL_TOPIC'), props.get('TRAN_MSG')], [commit.receipt.messageId, 'TagTx', 'key-tx-commit', 'tx-commit', undefined, undefined], 'its message id, tag, keys and user property; no half-message properties');

  // Rollback: never consumed.
  const rollback = await sendInTransaction('tx-rollback');
  await rollback.tx.rollback();

  // Left open: the broker's check loop asks the client's checker over Telemetry.
  const openCommit = await sendInTransaction('open-commit');
  const openRollback = await sendInTransaction('open-rollback');
  t.same(await consumed('open-commit'), [], 'an open transaction is not consumable');
  const resolved = await untilDefined(async () => { const c = await consumed('open-commit'); return c.length > 0 ? c : undefined; }, 15_000, 'the checker-committed message');
  t.equal(resolved.length, 1, 'the transaction the checker answered COMMIT for is consumed once');
  t.equal(parseMessageProperties(resolved[0]!.properties).get('UNIQ_KEY'), openCommit.receipt.messageId, 'under its message id');
  const opBodies = async (): Promise<string[]> => (await pull(OP_HALF_TOPIC, 0)).map((m) => Buffer.from(m.body).toString());
  await untilDefined(async () => ((await opBodies()).includes(String(openRollback.receipt.offset)) ? true : undefined), 15_000, 'the op message of the checker-rolled-back transaction');
  t.ok(asked.includes('open-commit') && asked.includes('open-rollback'), `the checker was asked about both open transactions (${asked.join(', ')})`);
  t.notOk(asked.includes('tx-commit') || asked.includes('tx-rollback'), 'and never about the ended ones');
  const ops = await opBodies();
  t.ok([commit.receipt.offset, rollback.receipt.offset, openCommit.receipt.offset, openRollback.receipt.offset].every((o) => ops.includes(String(o))), 'every transaction ended with an op message (body = its half queue offset)');
  t.same([...await consumed('tx-rollback'), ...await consumed('open-rollback')], [], 'the rolled-back transactions are never consumed');
  t.equal((await consumed('tx-commit')).length + (await consumed('open-commit')).length, 2, 'each committed message exactly once');

  // A transactional message to a NORMAL topic: refused (the route accepts NORMAL only).
  const tx = producer.beginTransaction();
  await t.rejects(producer.send({ topic: 'TopicPlain', body: Buffer.from('x') }, tx), /message type not match/i, 'a transactional message to a NORMAL topic is refused');

  await producer.shutdown();
  closers.length = 0;
  const stop = await fastTry.stop();
  t.equal(stop.code, 0, stop.stdout + stop.stderr);
});
