// Goal: the real ali-ons client (npm, the reference client of reference §4) gets routes from our
// name server exactly as it would from Java's: its request (version 121, numbers in extFields)
// is understood, the bare-Long-key route JSON it receives parses with its JSON2, it builds one
// publish queue per write queue of the group whose brokerAddrs has id 0, and an unknown topic
// makes it throw. No broker is needed: brokers here are registrations from our RemotingClient.
// Method: NameServer on a free port; three registrations for RaftNode00 (ids 0, 1, 2) pointing at
// remoting endpoints that only acknowledge heartbeats and goodbyes; ali-ons Producer with nameSrv set (no Aliyun address lookup).
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { createResponse } from '../../src/remoting/command.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { RemotingServer } from '../../src/remoting/server.js';
import { FakeBrokerConnection, startNameServer, topic } from './helpers.js';

interface AliOnsProducer {
  on(event: 'error', listener: (error: Error) => void): void;
  ready(): Promise<void>;
  close(): Promise<void>;
  tryToFindTopicPublishInfo(topic: string): Promise<{ messageQueueList: Array<{ topic: string; brokerName: string; queueId: number }> }>;
  _mqClient: {
    _brokerAddrTable: Map<string, Record<string, string>>;
    getTopicRouteInfoFromNameServer(topic: string, timeoutMs: number): Promise<unknown>;
  };
}
const require = createRequire(import.meta.url);
const { Producer } = require('ali-ons') as { Producer: (new (options: Record<string, unknown>) => AliOnsProducer) & { defaultProducer?: AliOnsProducer } };

/**
 * Broker endpoints that answer what ali-ons says to brokers while it has no messages to send
 * (HEART_BEAT, and UNREGISTER_CLIENT on close) with SUCCESS, so it closes cleanly.
 */
async function brokerEndpoints(t: Test, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = new RemotingServer({ name: `broker${i}`, log: () => undefined });
    server.registerHandler(RequestCode.HEART_BEAT, (request) => createResponse(request, ResponseCode.SUCCESS));
    server.registerHandler(RequestCode.UNREGISTER_CLIENT, (request) => createResponse(request, ResponseCode.SUCCESS));
    ports.push(await server.listen('127.0.0.1', 0));
    t.teardown(() => server.close(100));
  }
  return ports;
}

t.test('ali-ons reads a DLedger group route from our name server', async (t) => {
  const { namesrv, address, logs } = await startNameServer();
  t.teardown(() => namesrv.close());
  const ports = await brokerEndpoints(t, 3);
  const brokers = ports.map(() => new FakeBrokerConnection(address));
  t.teardown(() => { for (const b of brokers) b.close(); });
  for (const [id, port] of ports.entries()) {
    await brokers[id]!.register({ clusterName: 'RaftCluster', brokerName: 'RaftNode00', brokerAddr: `127.0.0.1:${port}`, brokerId: id }, [topic('TopicTest', 4)]);
  }

  // Short loop intervals: ali-ons' background loops sleep that long before they see close().
  const intervalsMs = { pollNameServerInteval: 300, heartbeatBrokerInterval: 300, persistConsumerOffsetInterval: 300, rebalanceInterval: 300 };
  const producer = new Producer({ nameSrv: address, httpclient: {}, producerGroup: 'PG_namesrv_test', ...intervalsMs });
  const errors: Error[] = [];
  producer.on('error', (error) => errors.push(error));
  await producer.ready();

  const info = await producer.tryToFindTopicPublishInfo('TopicTest');
  t.same(info.messageQueueList.map((q) => `${q.brokerName}/${q.queueId}`), ['RaftNode00/0', 'RaftNode00/1', 'RaftNode00/2', 'RaftNode00/3'],
    'one publish queue per write queue of the group');
  const addrs = producer._mqClient._brokerAddrTable.get('RaftNode00');
  t.same(addrs, { 0: `127.0.0.1:${ports[0]}`, 1: `127.0.0.1:${ports[1]}`, 2: `127.0.0.1:${ports[2]}` }, 'brokerAddrs keyed by id, 0 = leader');

  await t.rejects(producer._mqClient.getTopicRouteInfoFromNameServer('NoSuchTopic', 3000), /No topic route info in name server for the topic: NoSuchTopic/,
    'TOPIC_NOT_EXIST surfaces as an error (ali-ons cannot auto-create topics)');
  t.notOk(logs.some((line) => /closing connection/.test(line)), 'ali-ons frames were never rejected');
  await producer.close();
  // init() created a process-wide inner producer (CLIENT_INNER_PRODUCER) with its own client;
  // it keeps the process alive until it is closed too.
  await Producer.defaultProducer?.close();
  t.same(errors.map((e) => e.message), [], 'ali-ons reported no error');
});
