// Goal: the name server keeps one BrokerData per broker group (brokerAddrs id → addr, id 0 the
// master), answers routes and cluster info in the JSON clients parse (standard JSON for new
// clients, fastjson's bare Long keys for old ones), follows a failover (a follower re-registering
// as id 0), and forgets brokers that unregister, whose connection closes, or that stop
// re-registering — keeping a group's topics while any of its brokers lives.
// Method: a real NameServer on a free port with an injected clock; each broker registers over its
// own connection with the bodies Java brokers send (JSON, compressed binary, pre-3.0.11 wrapper).
import t from 'tap';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import { MQVersion, RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { parseRocketMqJson } from '../../src/remoting/fastjson.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { compressedRegisterBody, FakeBrokerConnection, startNameServer, topic, type BrokerIdentity } from './helpers.js';

const CLUSTER = 'RaftCluster';
const GROUP = 'RaftNode00';
const n = (id: number, port: number): BrokerIdentity => ({ clusterName: CLUSTER, brokerName: GROUP, brokerAddr: `10.0.0.1:${port}`, brokerId: id });

interface RouteJson {
  queueDatas: Array<{ brokerName: string; perm: number; readQueueNums: number; writeQueueNums: number; topicSysFlag: number }>;
  brokerDatas: Array<{ brokerName: string; cluster: string; brokerAddrs: Record<string, string> }>;
  filterServerTable: Record<string, unknown>;
}

async function route(client: RemotingClient, address: string, topicName: string, version: number = MQVersion.V4_9_4): Promise<{ response: RemotingCommand; route: RouteJson | null; text: string }> {
  const request = createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: topicName } });
  request.version = version;
  const response = await client.invoke(address, request, 2000);
  const text = response.body?.toString('utf8') ?? '';
  return { response, text, route: response.code === ResponseCode.SUCCESS ? (parseRocketMqJson(text) as RouteJson) : null };
}

async function clusterInfo(client: RemotingClient, address: string): Promise<{ brokerAddrTable: Record<string, { brokerAddrs: Record<string, string> }>; clusterAddrTable: Record<string, string[]> }> {
  const response = await client.invoke(address, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 2000);
  return JSON.parse(response.body?.toString('utf8') ?? 'null');
}

t.test('one group of three brokers: routes, cluster info, topic list, failover, unregister', async (t) => {
  const { namesrv, address } = await startNameServer();
  t.teardown(() => namesrv.close());
  const admin = new RemotingClient();
  const brokers = [0, 1, 2].map(() => new FakeBrokerConnection(address));
  t.teardown(() => { admin.close(); for (const b of brokers) b.close(); });

  const topics = [topic('TopicTest', 4), topic('Orders', 8)];
  const leader = await brokers[0]!.register(n(0, 30911), topics);
  t.equal(leader.code, ResponseCode.SUCCESS);
  const follower = await brokers[1]!.register(n(1, 30921), topics);
  t.equal(follower.extFields['masterAddr'], '10.0.0.1:30911', 'a follower learns the master address');
  t.equal(follower.extFields['haServerAddr'], '10.0.0.1:30912');
  await brokers[2]!.register(n(2, 30931), topics);

  const { route: r, text } = await route(admin, address, 'TopicTest');
  t.same(r?.queueDatas, [{ brokerName: GROUP, perm: 6, readQueueNums: 4, topicSysFlag: 0, writeQueueNums: 4 }]);
  t.same(r?.brokerDatas, [{ brokerAddrs: { 0: '10.0.0.1:30911', 1: '10.0.0.1:30921', 2: '10.0.0.1:30931' }, brokerName: GROUP, cluster: CLUSTER, enableActingMaster: false }]);
  t.ok(JSON.parse(text), 'a 4.9.4 client gets standard JSON');
  t.match(text, /^\{"brokerDatas":\[\{"brokerAddrs":\{"0":"10\.0\.0\.1:30911","1":/, 'fastjson key order');

  const old = await route(admin, address, 'TopicTest', 121);
  t.match(old.text, /"brokerAddrs":\{0:"10\.0\.0\.1:30911",1:"10\.0\.0\.1:30921",2:"10\.0\.0\.1:30931"\}/, 'an ali-ons (version 121) client gets bare Long keys as from Java');
  t.throws(() => JSON.parse(old.text), 'which is not standard JSON');
  const asked = createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: 'TopicTest', acceptStandardJsonOnly: true } });
  asked.version = 121;
  t.ok(JSON.parse((await admin.invoke(address, asked, 2000)).body!.toString()), 'unless it asks for standard JSON');

  const missing = await route(admin, address, 'NoSuchTopic');
  t.equal(missing.response.code, ResponseCode.TOPIC_NOT_EXIST);
  t.match(missing.response.remark, /No topic route info in name server for the topic: NoSuchTopic/);

  const info = await clusterInfo(admin, address);
  t.same(info.clusterAddrTable, { [CLUSTER]: [GROUP] });
  t.same(info.brokerAddrTable[GROUP]?.brokerAddrs, { 0: '10.0.0.1:30911', 1: '10.0.0.1:30921', 2: '10.0.0.1:30931' });

  const list = await admin.invoke(address, createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER), 2000);
  t.same(JSON.parse(list.body!.toString()), { topicList: ['Orders', 'TopicTest'] });

  // Failover: the broker at 30921 becomes leader and re-registers as id 0; the old leader comes
  // back as a follower with id 1 (DLedger ids are selfId digits + 1).
  await brokers[1]!.register(n(0, 30921), topics);
  let addrs = (await route(admin, address, 'TopicTest')).route?.brokerDatas[0]?.brokerAddrs;
  t.same(addrs, { 0: '10.0.0.1:30921', 2: '10.0.0.1:30931' }, 'the new leader moved from id 1 to id 0, replacing the old one');
  await brokers[0]!.register(n(1, 30911), topics);
  addrs = (await route(admin, address, 'TopicTest')).route?.brokerDatas[0]?.brokerAddrs;
  t.same(addrs, { 0: '10.0.0.1:30921', 1: '10.0.0.1:30911', 2: '10.0.0.1:30931' });

  // The demoted broker unregistering under its old id must not remove the new leader.
  await brokers[0]!.send(createRequest(RequestCode.UNREGISTER_BROKER, { extFields: { ...n(0, 30911) } }));
  t.equal(Object.keys((await route(admin, address, 'TopicTest')).route?.brokerDatas[0]?.brokerAddrs ?? {}).length, 3);
  const unregistered = await brokers[0]!.send(createRequest(RequestCode.UNREGISTER_BROKER, { extFields: { ...n(1, 30911) } }));
  t.equal(unregistered.code, ResponseCode.SUCCESS);
  addrs = (await route(admin, address, 'TopicTest')).route?.brokerDatas[0]?.brokerAddrs;
  t.same(addrs, { 0: '10.0.0.1:30921', 2: '10.0.0.1:30931' }, 'unregister removes that broker only');
});

t.test('a closed connection removes its broker; the group keeps its topics while one broker lives', async (t) => {
  const { namesrv, address } = await startNameServer();
  t.teardown(() => namesrv.close());
  const admin = new RemotingClient();
  const brokers = [0, 1, 2].map(() => new FakeBrokerConnection(address));
  t.teardown(() => { admin.close(); for (const b of brokers) b.close(); });
  for (const [i, b] of brokers.entries()) await b.register(n(i, 30911 + 10 * i), [topic('TopicTest')]);

  brokers[0]!.close(); // the leader dies
  const waitFor = async (predicate: () => Promise<boolean>): Promise<boolean> => {
    for (let i = 0; i < 200; i++) { if (await predicate()) return true; await new Promise((r) => setTimeout(r, 10)); }
    return false;
  };
  t.ok(await waitFor(async () => (await route(admin, address, 'TopicTest')).route?.brokerDatas[0]?.brokerAddrs['0'] === undefined), 'id 0 disappears at once');
  const r = (await route(admin, address, 'TopicTest')).route;
  t.same(r?.brokerDatas[0]?.brokerAddrs, { 1: '10.0.0.1:30921', 2: '10.0.0.1:30931' });
  t.equal(r?.queueDatas.length, 1, 'the topic stays routable for the new leader');

  brokers[1]!.close();
  brokers[2]!.close();
  t.ok(await waitFor(async () => (await route(admin, address, 'TopicTest')).response.code === ResponseCode.TOPIC_NOT_EXIST), 'with no broker left, the topic is gone');
  t.same((await clusterInfo(admin, address)).clusterAddrTable, {}, 'and so is the group');
});

t.test('brokers that stop re-registering expire; re-registering keeps them', async (t) => {
  const { namesrv, address, clock } = await startNameServer(120_000);
  t.teardown(() => namesrv.close());
  const admin = new RemotingClient();
  const brokers = [0, 1].map(() => new FakeBrokerConnection(address));
  t.teardown(() => { admin.close(); for (const b of brokers) b.close(); });
  await brokers[0]!.register(n(0, 30911), [topic('TopicTest')]);
  await brokers[1]!.register(n(1, 30921), [topic('TopicTest')], { heartbeatTimeoutMillis: 30_000 });

  clock.nowMs += 60_000;
  t.same(namesrv.scanNotActiveBrokers(), ['10.0.0.1:30921'], 'the broker with its own 30 s expiry goes first');
  clock.nowMs += 50_000;
  await brokers[0]!.register(n(0, 30911), [topic('TopicTest')]);
  clock.nowMs += 100_000;
  t.same(namesrv.scanNotActiveBrokers(), [], 're-registered 100 s ago: still alive');
  clock.nowMs += 20_001;
  t.same(namesrv.scanNotActiveBrokers(), ['10.0.0.1:30911'], 'silent for 120 s + 1 ms: removed');
  t.equal((await route(admin, address, 'TopicTest')).response.code, ResponseCode.TOPIC_NOT_EXIST);
});

t.test('register bodies: compressed binary, pre-3.0.11 wrapper, CRC mismatch, bad input', async (t) => {
  const { namesrv, address } = await startNameServer();
  t.teardown(() => namesrv.close());
  const admin = new RemotingClient();
  const broker = new FakeBrokerConnection(address);
  t.teardown(() => { admin.close(); broker.close(); });
  const identity = { ...n(0, 30911), haServerAddr: '10.0.0.1:30912' };

  // 5.x brokers append topic queue mappings: a count, then length-prefixed JSON entries.
  const trailer = Buffer.from([0, 0, 0, 1, 0, 0, 0, 2, 0x7b, 0x7d]);
  const compressed = createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, compressed: true }, body: compressedRegisterBody([topic('Zipped', 2, 6), topic('ReadOnly', 3, 4)], trailer) });
  t.equal((await broker.send(compressed)).code, ResponseCode.SUCCESS);
  const zipped = (await route(admin, address, 'Zipped')).route;
  t.same(zipped?.queueDatas[0], { brokerName: GROUP, perm: 6, readQueueNums: 2, topicSysFlag: 0, writeQueueNums: 2 });
  t.equal((await route(admin, address, 'ReadOnly')).route?.queueDatas[0]?.perm, 4);

  const v1 = createRequest(RequestCode.REGISTER_BROKER, {
    extFields: identity,
    body: Buffer.from('{"dataVersion":{"counter":1,"timestamp":5},"topicConfigTable":{"Legacy":{"perm":6,"readQueueNums":1,"writeQueueNums":1}}}'),
  });
  v1.version = 30; // V3_0_9: the body is a bare TopicConfigSerializeWrapper
  t.equal((await broker.send(v1)).code, ResponseCode.SUCCESS);
  t.equal((await route(admin, address, 'Legacy')).route?.queueDatas[0]?.writeQueueNums, 1, 'the topic name comes from the table key');

  const badCrc = createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, bodyCrc32: 12345 }, body: Buffer.from('{}') });
  const crcAnswer = await broker.send(badCrc);
  t.equal(crcAnswer.code, ResponseCode.SYSTEM_ERROR);
  t.match(crcAnswer.remark, /crc32 not match/);

  const cases: Array<[string, RemotingCommand, RegExp]> = [
    ['missing brokerId', createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, brokerId: undefined } }), /"brokerId" is required/],
    ['non-numeric brokerId', createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, brokerId: 'zero' } }), /"brokerId" is "zero", expected an integer/],
    ['body not JSON', createRequest(RequestCode.REGISTER_BROKER, { extFields: identity, body: Buffer.from('{oops') }), /malformed JSON body/],
    ['queue count of the wrong type', createRequest(RequestCode.REGISTER_BROKER, { extFields: identity, body: Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":"4"}}}}') }), /readQueueNums is "4", expected a non-negative integer/],
    ['compressed garbage', createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, compressed: true }, body: Buffer.from('not zlib') }), /does not inflate/],
    ['compressed but truncated', createRequest(RequestCode.REGISTER_BROKER, { extFields: { ...identity, compressed: true }, body: compressedRegisterBody([topic('X')]).subarray(0, 12) }), /does not inflate|ends inside|claims/],
    ['route without topic', createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC), /"topic" is required/],
  ];
  for (const [name, request, pattern] of cases) {
    const answer = await broker.send(request);
    t.equal(answer.code, ResponseCode.SYSTEM_ERROR, `${name}: SYSTEM_ERROR`);
    t.match(answer.remark, pattern, `${name}: ${answer.remark}`);
  }
  t.equal((await route(admin, address, 'Zipped')).route?.brokerDatas.length, 1, 'bad registrations changed nothing');
});

t.test('two groups in one cluster: a topic spreads over both; each group keeps its own ids', async (t) => {
  const { namesrv, address } = await startNameServer();
  t.teardown(() => namesrv.close());
  const admin = new RemotingClient();
  const brokers = [0, 1, 2, 3].map(() => new FakeBrokerConnection(address));
  t.teardown(() => { admin.close(); for (const b of brokers) b.close(); });
  const g1 = (id: number, port: number): BrokerIdentity => ({ clusterName: CLUSTER, brokerName: 'RaftNode01', brokerAddr: `10.0.0.2:${port}`, brokerId: id });
  await brokers[0]!.register(n(0, 30911), [topic('Shared', 4), topic('OnlyHere', 2)]);
  await brokers[1]!.register(n(2, 30921), [topic('Shared', 4), topic('OnlyHere', 2)]);
  await brokers[2]!.register(g1(0, 30911), [topic('Shared', 8)]);
  await brokers[3]!.register(g1(3, 30931), [topic('Shared', 8)]);

  const shared = (await route(admin, address, 'Shared')).route;
  t.same(shared?.queueDatas.map((q) => `${q.brokerName}:${q.writeQueueNums}`), ['RaftNode00:4', 'RaftNode01:8'], 'one queueData per group, sorted by brokerName');
  t.same(shared?.brokerDatas.map((b) => [b.brokerName, b.brokerAddrs]), [
    ['RaftNode00', { 0: '10.0.0.1:30911', 2: '10.0.0.1:30921' }],
    ['RaftNode01', { 0: '10.0.0.2:30911', 3: '10.0.0.2:30931' }],
  ]);
  t.same((await route(admin, address, 'OnlyHere')).route?.brokerDatas.map((b) => b.brokerName), ['RaftNode00'], 'a route lists only the groups that carry the topic');
  t.same((await clusterInfo(admin, address)).clusterAddrTable, { [CLUSTER]: ['RaftNode00', 'RaftNode01'] });

  // A follower's registration does not change queue data (only the master's does).
  await brokers[3]!.register(g1(3, 30931), [topic('Shared', 1), topic('FollowerOnly', 1)]);
  t.equal((await route(admin, address, 'Shared')).route?.queueDatas[1]?.writeQueueNums, 8);
  t.equal((await route(admin, address, 'FollowerOnly')).response.code, ResponseCode.TOPIC_NOT_EXIST);
});
