// Goal: the Telemetry stream with the real rocketmq-client-nodejs 1.0.8 Producer (in-process
// 3-member group): the producer's startup waits for the settings we answer and takes their body
// size limit (maxMessageSize=1048576 here, the client's own default is 4 MiB: a 2 MiB body is
// then refused by the client itself); the broker asks the client for its thread stacks and gets
// its answer ("mock stack" in 1.0.8), asks it to verify a message and gets its status
// (NOT_IMPLEMENTED from 1.0.8); a client without a session gets null at once; a Producer whose
// startup() would drop the first settings answer (1.0.8's race) still starts: the answer is repeated.
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { startCluster } from '../broker/broker-harness.js';
import { untilDefined } from '../quickstart/helpers.js';
import { SETTINGS_REPEAT_MS } from '../../src/grpc/telemetry-sessions.js';
import { rocketmq5, silentLogger } from './client.js';

t.test('settings, thread stacks and verification over Telemetry', async (t) => {
  const cluster = await startCluster({ maxMessageSize: '1048576' });
  t.teardown(() => cluster.close());
  const master = await untilDefined(async () => cluster.master(), 20_000, 'a master');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'TopicTelemetry', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
  t.equal(created.code, ResponseCode.SUCCESS);
  const grpcEndpoint = master.grpc;
  if (grpcEndpoint === null) throw new Error('the master serves no gRPC');
  const producer = new rocketmq5.Producer({ endpoints: `127.0.0.1:${grpcEndpoint.port}`, namespace: '', topics: ['TopicTelemetry'], logger: silentLogger });
  let running = true;
  // Before the group closes (tap runs teardowns in order): its Telemetry streams re-open 1 s after their server goes.
  t.teardown(() => (running ? producer.shutdown() : undefined));
  await producer.startup();
  t.equal(producer.publishingSettings.maxBodySizeBytes, 1048576, 'the body limit from our settings (maxMessageSize)');
  await t.rejects(producer.send({ topic: 'TopicTelemetry', body: Buffer.alloc(2 * 1048576) }), /exceeds the threshold/, 'a 2 MiB body refused by the client');
  const receipt = await producer.send({ topic: 'TopicTelemetry', body: Buffer.from('hello') });
  t.ok(receipt.messageId, 'a normal send works');

  const sessions = grpcEndpoint.context.telemetry;
  await untilDefined(async () => sessions.session(producer.clientId) ?? undefined, 5000, "the producer's session");
  t.same(sessions.producersOf('TopicTelemetry'), [producer.clientId], 'the session knows the producer and its topics');
  t.equal(await sessions.printThreadStack(producer.clientId, 5000), 'mock stack', 'thread stacks answered by the client');
  const verified = await sessions.verifyMessage(producer.clientId, {
    topic: { name: 'TopicTelemetry', resourceNamespace: '' }, userProperties: {}, body: Buffer.from('hello'),
    systemProperties: { keys: [], messageId: receipt.messageId, bodyEncoding: 'IDENTITY', messageType: 'NORMAL', bornHost: 'h', storeHost: 'h', queueId: 0, bodyDigest: { type: 'CRC32', checksum: '0' } },
  }, 5000);
  t.equal(verified?.code, 'NOT_IMPLEMENTED', "the client's verification status (1.0.8 does not verify)");
  t.equal(await sessions.printThreadStack('no-such-client', 5000), null, 'no session: null at once');

  // 1.0.8's startup() starts waiting for the settings answer only after the routes of all its topics:
  // an answer that comes before (here: the route step made 300 ms slower, as several topics through a
  // follower make it) is dropped. The first answer is written again SETTINGS_REPEAT_MS later.
  const slow = new rocketmq5.Producer({ endpoints: `127.0.0.1:${grpcEndpoint.port}`, namespace: '', topics: ['TopicTelemetry'], logger: silentLogger });
  const routes = slow.updateRoutes.bind(slow);
  let routesDoneAt = 0;
  let settingsAt = 0;
  slow.updateRoutes = async () => {
    await routes();
    await new Promise((resolve) => setTimeout(resolve, 300));
    routesDoneAt ||= Date.now();
  };
  const onSettings = slow.onSettingsCommand.bind(slow);
  slow.onSettingsCommand = (endpoints: unknown, settings: unknown) => {
    settingsAt ||= Date.now();
    return onSettings(endpoints, settings);
  };
  const startedAt = Date.now();
  const started = await Promise.race([slow.startup().then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), SETTINGS_REPEAT_MS + 4000))]);
  t.ok(settingsAt > 0 && settingsAt < routesDoneAt, `the first settings answer came ${routesDoneAt - settingsAt} ms before the client waited for it`);
  t.ok(started, `startup() still ended (${Date.now() - startedAt} ms): the repeated answer`);
  await Promise.race([slow.shutdown(), new Promise((resolve) => setTimeout(resolve, 3000))]);
  await producer.shutdown();
  running = false;
});
