// Goal: the gRPC transaction calls answer bad input as the proxy would, against the in-process
// 3-member group's master endpoint, with a raw grpc-js client on our own proto definition (the
// 5.x clients never send these): a TRANSACTION message with a message group or a delivery
// timestamp is refused (MESSAGE_PROPERTY_CONFLICT_WITH_TYPE); orphanedTransactionRecoveryDuration
// becomes the half message's CHECK_IMMUNITY_TIME_IN_SECONDS; EndTransaction with a transaction id
// we never gave (INVALID_TRANSACTION_ID), another topic or message id (BAD_REQUEST), an
// unspecified resolution (BAD_REQUEST) changes nothing; then a ROLLBACK ends it and a repeated one
// is answered OK from the table; a follower's endpoint answers with the master's endpoint.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { messagingServiceDefinition } from '../../src/grpc/messaging-proto.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from '../broker/broker-harness.js';
import { untilDefined } from '../quickstart/helpers.js';

type Client = Record<string, (request: unknown, metadata: grpc.Metadata, callback: (error: Error | null, response: Record<string, unknown>) => void) => void> & grpc.Client;

function clientOf(port: number): Client {
  const Constructor = grpc.makeGenericClientConstructor(messagingServiceDefinition(), 'MessagingService');
  return new Constructor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Client;
}

function call(client: Client, method: string, request: unknown): Promise<Record<string, unknown>> {
  const metadata = new grpc.Metadata();
  metadata.set('x-mq-client-id', 'raw-test-client');
  return new Promise((resolve, reject) => client[method]!(request, metadata, (error, response) => (error === null ? resolve(response) : reject(error))));
}

const statusOf = (response: Record<string, unknown>): { code: string; message: string } => response['status'] as { code: string; message: string };

t.test('gRPC transactional sends and EndTransaction refuse bad input', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const master = await untilDefined(async () => cluster.master(), 20_000, 'a master');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'TopicTxRaw', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: '{"message.type":"TRANSACTION"}' });
  t.equal(created.code, ResponseCode.SUCCESS);
  const client = clientOf(master.grpc?.port ?? 0);
  t.teardown(() => client.close());
  const message = (id: string, extra: Record<string, unknown> = {}): unknown => ({
    topic: { name: 'TopicTxRaw', resourceNamespace: '' }, userProperties: {}, body: Buffer.from(`body-${id}`),
    systemProperties: { keys: [], messageId: id, bodyEncoding: 'IDENTITY', messageType: 'TRANSACTION', bornHost: 'h', queueId: 0, ...extra },
  });
  const grouped = await call(client, 'SendMessage', { messages: [message('01AA', { messageGroup: 'g' })] });
  t.equal(statusOf(grouped).code, 'MESSAGE_PROPERTY_CONFLICT_WITH_TYPE', 'a transactional message with a message group');
  const delayed = await call(client, 'SendMessage', { messages: [message('01AB', { deliveryTimestamp: { seconds: Math.floor(Date.now() / 1000) + 10, nanos: 0 } })] });
  t.equal(statusOf(delayed).code, 'MESSAGE_PROPERTY_CONFLICT_WITH_TYPE', 'a transactional message with a delivery timestamp');
  t.equal(master.transactions?.state.size, 0, 'neither stored');

  const sent = await call(client, 'SendMessage', { messages: [message('01AC', { orphanedTransactionRecoveryDuration: { seconds: 42, nanos: 0 } })] });
  t.equal(statusOf(sent).code, 'OK', 'a transactional message');
  const entry = (sent['entries'] as Array<{ transactionId: string; messageId: string }>)[0]!;
  const half = master.transactions?.state.pendingHalves()[0];
  t.equal(half?.checkImmunityMs, 42_000, 'orphanedTransactionRecoveryDuration 42 s -> CHECK_IMMUNITY_TIME_IN_SECONDS 42');
  const end = (fields: Record<string, unknown>): Promise<Record<string, unknown>> => call(client, 'EndTransaction', { topic: { name: 'TopicTxRaw' }, messageId: entry.messageId, transactionId: entry.transactionId, resolution: 'ROLLBACK', source: 'SOURCE_CLIENT', ...fields });
  t.equal(statusOf(await end({ transactionId: 'not-ours' })).code, 'INVALID_TRANSACTION_ID', 'a transaction id we never gave');
  t.equal(statusOf(await end({ transactionId: '7F00000100007A8F00000000DEADBEEF' })).code, 'INVALID_TRANSACTION_ID', 'an offset message id of no half message');
  t.equal(statusOf(await end({ topic: { name: 'OtherTopic' } })).code, 'BAD_REQUEST', 'another topic');
  t.equal(statusOf(await end({ messageId: '01FF' })).code, 'BAD_REQUEST', 'another message id');
  t.equal(statusOf(await end({ resolution: 'TRANSACTION_RESOLUTION_UNSPECIFIED' })).code, 'BAD_REQUEST', 'no resolution');
  t.equal(master.transactions?.state.size, 1, 'still pending after the refusals');
  const follower = cluster.brokers.find((b) => b !== master)!;
  const viaFollower = clientOf(follower.grpc?.port ?? 0);
  t.teardown(() => viaFollower.close());
  const refused = statusOf(await call(viaFollower, 'EndTransaction', { topic: { name: 'TopicTxRaw' }, messageId: entry.messageId, transactionId: entry.transactionId, resolution: 'ROLLBACK', source: 'SOURCE_CLIENT' }));
  t.match(refused, { code: 'INTERNAL_SERVER_ERROR', message: new RegExp(`master serves gRPC at 127\\.0\\.0\\.1:${master.grpc?.port}`) }, "a follower's endpoint names the master's");
  t.equal(statusOf(await end({})).code, 'OK', 'ROLLBACK on the master');
  t.equal(master.transactions?.state.size, 0, 'ended');
  t.match(statusOf(await end({})), { code: 'OK', message: /already rolled back/ }, 'a repeated ROLLBACK: OK from the table');
  t.equal(statusOf(await end({ resolution: 'COMMIT' })).code, 'BAD_REQUEST', 'a COMMIT after the rollback is refused');
});
