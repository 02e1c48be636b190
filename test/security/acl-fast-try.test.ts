// Goal (issue 11, "RocketMQ ACL" and its attack tests): an ACL-enabled fast-try cluster — brokers
// with aclEnable=true that sign their registrations with an admin account, and a name server
// started by fast-try.sh with $FAST_TRY_CONF_DIR/namesrv.conf (aclEnable=true) — serves the real
// ali-ons 3.12 given the right accessKey/secretKey (produce and consume); without keys, with an
// unknown key or a wrong secret every send is answered NO_PERMISSION (16) and nothing is stored;
// an address added to globalWhiteRemoteAddresses (by rewriting the file: the re-read is tested
// too) passes unsigned, and stops passing when it is removed. (ali-ons shares one MQClient, and so
// one set of keys, among the clients of a process with the same instanceName: each client with
// other keys gets its own instanceName.) Attacks, each refused with 16 and followed by a check that routes, topics
// and offsets are unchanged: REGISTER_BROKER as brokerId 0 and UNREGISTER_BROKER against the name
// server (unsigned, by a non-admin, with a wrong secret), topic create/update with perm 0 by a
// non-admin, consumer offset writes for a group the account has no rights on (UPDATE_CONSUMER_OFFSET
// and a PULL carrying a commit offset). ali-ons traffic still flows at the end.
// Method: the real scripts (bin/dledger/fast-try.sh, bin/mqadmin) from dist/ on the quick start's
// confs rewritten to free ports (test/quickstart/helpers.ts) plus the ACL keys; attacks are raw
// requests with RemotingClient. One cluster for the whole file; every wait bounded; teardown
// SIGKILLs, by pid, anything from the pid files still alive.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { aclSigningHook, type AclCredentials } from '../../src/acl/signature.js';
import { AdminClient, type ClusterInfoView, type TopicRouteView } from '../../src/admin/admin-client.js';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import { awaitDeliveries, closeAll, consumeInto, message, ons, produce, SHORT_INTERVALS_MS, type AliClient, type AliProducer } from '../quickstart/ali-ons-client.js';
import { alive, FAST_TRY, MQADMIN, NODES, requireDist, runSh, writeQuickConfs, untilDefined as until } from '../quickstart/helpers.js';

const TOPIC = 'TopicAcl';
const GROUP = 'CG_acl';
const VICTIM_GROUP = 'CG_victim';
const APP: AclCredentials = { accessKey: 'appUser01', secretKey: 'appSecret01' };
const ADMIN: AclCredentials = { accessKey: 'adminKey01', secretKey: 'adminSecret01' };
const CLUSTER = 'RaftCluster';
const BROKER_NAME = 'RaftNode00';

function aclFile(globalWhite: readonly string[]): string {
  return `globalWhiteRemoteAddresses:${globalWhite.length === 0 ? '' : `\n${globalWhite.map((a) => `  - ${a}`).join('\n')}`}
accounts:
  - accessKey: ${APP.accessKey}
    secretKey: ${APP.secretKey}
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - ${TOPIC}=PUB|SUB
    groupPerms:
      - ${GROUP}=SUB
  - accessKey: ${ADMIN.accessKey}
    secretKey: ${ADMIN.secretKey}
    admin: true
`;
}

t.before(requireDist);

t.test('ACL-enabled fast-try cluster: ali-ons with keys, refusals, whitelist, attacks', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acl-fast-try-'));
  const logDir = path.join(dir, 'logs');
  const { confDir, namesrvPort } = await writeQuickConfs(dir);
  const aclPath = path.join(dir, 'plain_acl.yml');
  fs.writeFileSync(aclPath, aclFile([]));
  for (const node of NODES) {
    fs.appendFileSync(path.join(confDir, `broker-${node}.conf`), `\naclEnable=true\naclFilePath=${aclPath}\naccessKey=${ADMIN.accessKey}\nsecretKey=${ADMIN.secretKey}\n`);
  }
  fs.writeFileSync(path.join(confDir, 'namesrv.conf'), `aclEnable=true\naclFilePath=${aclPath}\n`);
  const namesrvAddr = `127.0.0.1:${namesrvPort}`;
  const env = { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, NAMESRV_PORT: String(namesrvPort), FAST_TRY_GRACE_SECONDS: '8' };
  const pidFiles = ['namesrv', ...NODES.map((node) => `broker-${node}`)].map((name) => path.join(logDir, `${name}.pid`));
  const pids = new Set<number>();
  const notePids = (): void => {
    for (const file of pidFiles) if (fs.existsSync(file)) pids.add(Number(fs.readFileSync(file, 'utf8').trim()));
  };
  const clients: AliClient[] = [];
  const raw = new RemotingClient();
  const admin = new AdminClient([namesrvAddr], 5000, null, ADMIN);
  const openNamesrv = new AdminClient([namesrvAddr], 5000);
  t.teardown(async () => {
    // Only when the test ended early: a second close of ali-ons' inner producer after the brokers
    // stopped throws ECONNREFUSED from a socket callback.
    if (clients.length > 0) await closeAll(clients);
    raw.close();
    admin.close();
    openNamesrv.close();
    notePids();
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const mqadmin = (...args: string[]) => runSh(MQADMIN, [...args, '-n', namesrvAddr], env, 20_000);
  const signedBy = (credentials: AclCredentials | null, request: RemotingCommand): RemotingCommand => (credentials === null ? request : aclSigningHook(credentials)(request));

  const start = await runSh(FAST_TRY, ['start'], env, 90_000);
  notePids();
  t.equal(start.code, 0, `fast-try start\n${start.stdout}${start.stderr}`);
  t.equal(pids.size, 4, 'name server and 3 brokers');
  // The brokers' signed registrations are accepted by the ACL name server: one BID 0, two followers.
  const cluster = await until(async () => {
    const info = await openNamesrv.clusterInfo();
    const addrs = info.brokerAddrTable[BROKER_NAME]?.brokerAddrs ?? {};
    return Object.keys(addrs).length === 3 && addrs['0'] !== undefined ? info : undefined;
  }, 60_000, 'the group registered at the ACL name server');
  const master = cluster.brokerAddrTable[BROKER_NAME]?.brokerAddrs['0'] as string;
  const namesrvLog = fs.readFileSync(path.join(logDir, 'namesrv.log'), 'utf8');
  t.match(namesrvLog, /ACL \(namesrv\) on: .*2 accounts \(1 admin\)/, 'the name server read namesrv.conf and the ACL file');

  // ---- mqadmin: refused without keys and for a non-admin; works with the admin account
  const unsignedUpdate = await mqadmin('updateTopic', '-t', TOPIC, '-c', CLUSTER, '-r', '4', '-w', '4');
  t.equal(unsignedUpdate.code, 1, 'updateTopic without keys fails');
  t.match(unsignedUpdate.stderr, /code 16, unsigned request/);
  const appUpdate = await mqadmin('updateTopic', '-t', TOPIC, '-c', CLUSTER, '--accessKey', APP.accessKey, '--secretKey', APP.secretKey);
  t.match(appUpdate.stderr, /code 16, request code 17 needs an admin account, accessKey appUser01 is not/);
  const update = await mqadmin('updateTopic', '-t', TOPIC, '-c', CLUSTER, '-r', '4', '-w', '4', '--accessKey', ADMIN.accessKey, '--secretKey', ADMIN.secretKey);
  t.equal(update.code, 0, `updateTopic with the admin keys: ${update.stdout}${update.stderr}`);
  const route = await until(async () => openNamesrv.topicRoute(TOPIC), 15_000, 'the topic route');
  const status = await mqadmin('topicStatus', '-t', TOPIC, '--accessKey', ADMIN.accessKey, '--secretKey', ADMIN.secretKey);
  t.equal(status.code, 0, `topicStatus with keys: ${status.stderr}`);

  // ---- ali-ons with the right keys produces and consumes
  const producer = new ons.Producer({ nameSrv: namesrvAddr, httpclient: {}, producerGroup: 'PG_acl', instanceName: 'acl-app', accessKey: APP.accessKey, secretKey: APP.secretKey, ...SHORT_INTERVALS_MS });
  clients.push(producer);
  const errors: Error[] = [];
  producer.on('error', (error) => errors.push(error));
  await producer.ready();
  const firstRound = await produce(producer, TOPIC, 'signed', 50);
  t.equal(firstRound.size, 50, 'ali-ons with accessKey/secretKey: 50 sends SEND_OK');
  const deliveries = new Map<string, number>();
  const consumer = consumeInto({ nameSrv: namesrvAddr, consumerGroup: GROUP, instanceName: 'acl-app', accessKey: APP.accessKey, secretKey: APP.secretKey }, TOPIC, deliveries, errors);
  clients.push(consumer);
  await consumer.ready();
  t.same(await awaitDeliveries(deliveries, firstRound.keys(), 40_000), [], 'the signed consumer received all 50');

  const maxOffsets = async (): Promise<number[]> => Promise.all([0, 1, 2, 3].map((q) => admin.maxOffset(master, TOPIC, q)));
  const storedBefore = await maxOffsets();
  t.equal(storedBefore.reduce((a, b) => a + b, 0), 50, '50 messages stored');

  // ---- attacks; after each the routes, topics and offsets are what they were
  const snapshotRoutes = async (): Promise<{ cluster: ClusterInfoView; route: TopicRouteView }> => ({ cluster: await openNamesrv.clusterInfo(), route: await openNamesrv.topicRoute(TOPIC) });
  const normalize = (s: { cluster: ClusterInfoView; route: TopicRouteView }) => JSON.parse(JSON.stringify({ c: s.cluster, q: s.route.queueDatas, b: s.route.brokerDatas }));
  const routesBefore = normalize(await snapshotRoutes());
  t.same(normalize({ cluster, route }).b, routesBefore.b, 'routes steady before the attacks');
  const topicsBefore = await admin.topicConfigs(master);
  const commitOffset = (credentials: AclCredentials | null, group: string, offset: number): Promise<RemotingCommand> =>
    raw.invoke(master, signedBy(credentials, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { extFields: { consumerGroup: group, topic: TOPIC, queueId: 1, commitOffset: offset } })), 10_000);
  const victimSet = await commitOffset(ADMIN, VICTIM_GROUP, 7);
  t.equal(victimSet.code, ResponseCode.SUCCESS, 'the victim group has offset 7 on queue 1 (set by the admin)');
  const offsetsOf = async (): Promise<Array<number | null>> => Promise.all([VICTIM_GROUP, GROUP].flatMap((g) => [0, 1, 2, 3].map((q) => admin.consumerOffset(master, g, TOPIC, q))));
  const offsetsBefore = await until(async () => {
    const offsets = await offsetsOf();
    // ...and the signed consumer has committed all 50 it consumed (its offsets must not move under us).
    return offsets[1] === 7 && offsets.slice(4).reduce((sum: number, o) => sum + (o ?? 0), 0) === firstRound.size ? offsets : undefined;
  }, 20_000, 'the victim offset to be readable and the consumer offsets to cover the first 50');
  const assertUnchanged = async (after: string): Promise<void> => {
    t.same(normalize(await snapshotRoutes()), routesBefore, `${after}: routes and cluster info unchanged`);
    t.same(await admin.topicConfigs(master), topicsBefore, `${after}: topic configs unchanged`);
    t.same(await offsetsOf(), offsetsBefore, `${after}: consumer offsets unchanged`);
  };

  // REGISTER_BROKER hijack: brokerId 0 of RaftNode00 pointing at the attacker.
  const hijack = (): RemotingCommand => {
    const body = Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: { topicConfigTable: {}, dataVersion: { stateVersion: 0, timestamp: Date.now(), counter: 999 } }, filterServerList: [] }));
    return createRequest(RequestCode.REGISTER_BROKER, { extFields: { brokerName: BROKER_NAME, brokerAddr: '127.0.0.1:1', clusterName: CLUSTER, haServerAddr: '127.0.0.1:1', brokerId: 0, compressed: false }, body });
  };
  for (const [who, credentials, remark] of [
    ['unsigned', null, /unsigned request \(code 103/],
    ['a non-admin account', APP, /request code 103 needs an admin account/],
    ['the admin key with a wrong secret', { accessKey: ADMIN.accessKey, secretKey: 'guessed-secret' }, /bad signature for accessKey adminKey01/],
  ] as const) {
    const answer = await raw.invoke(namesrvAddr, signedBy(credentials, hijack()), 10_000);
    t.equal(answer.code, ResponseCode.NO_PERMISSION, `REGISTER_BROKER as brokerId 0, ${who}: refused`);
    t.match(answer.remark, remark);
  }
  await assertUnchanged('REGISTER_BROKER hijack');

  // UNREGISTER_BROKER of the master.
  for (const [who, credentials] of [['unsigned', null], ['a non-admin account', APP]] as const) {
    const request = createRequest(RequestCode.UNREGISTER_BROKER, { extFields: { brokerName: BROKER_NAME, brokerAddr: master, clusterName: CLUSTER, brokerId: 0 } });
    const answer = await raw.invoke(namesrvAddr, signedBy(credentials, request), 10_000);
    t.equal(answer.code, ResponseCode.NO_PERMISSION, `UNREGISTER_BROKER of the master, ${who}: refused (${answer.remark})`);
  }
  await assertUnchanged('UNREGISTER_BROKER');

  // Topic create/update with perm abuse by a non-admin (and unsigned).
  for (const [who, credentials] of [['unsigned', null], ['a non-admin account', APP]] as const) {
    for (const topic of [TOPIC, 'EvilTopic']) {
      const request = createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { extFields: { topic, defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 0, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false } });
      const answer = await raw.invoke(master, signedBy(credentials, request), 10_000);
      t.equal(answer.code, ResponseCode.NO_PERMISSION, `UPDATE_AND_CREATE_TOPIC ${topic} perm 0, ${who}: refused (${answer.remark})`);
    }
  }
  await assertUnchanged('topic perm abuse');

  // Offset writes for a group the account has no rights on.
  for (const [who, credentials] of [['unsigned', null], ['a non-admin account without rights on the group', APP]] as const) {
    const answer = await commitOffset(credentials, VICTIM_GROUP, 0);
    t.equal(answer.code, ResponseCode.NO_PERMISSION, `UPDATE_CONSUMER_OFFSET of ${VICTIM_GROUP}, ${who}: refused (${answer.remark})`);
    const pull = createRequest(RequestCode.PULL_MESSAGE, { extFields: { consumerGroup: VICTIM_GROUP, topic: TOPIC, queueId: 1, queueOffset: 0, maxMsgNums: 1, sysFlag: 1, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 } });
    const pulled = await raw.invoke(master, signedBy(credentials, pull), 10_000);
    t.equal(pulled.code, ResponseCode.NO_PERMISSION, `PULL with a commit offset for ${VICTIM_GROUP}, ${who}: refused (${pulled.remark})`);
  }
  await assertUnchanged('offset writes without rights');

  // ---- without keys, with an unknown key, with a wrong secret: every send is NO_PERMISSION
  const badClients: Array<[string, Record<string, string>, RegExp]> = [
    ['no keys', {}, /unsigned request/],
    ['an unknown key', { accessKey: 'nobody007', secretKey: 'whatever1' }, /unknown accessKey nobody007/],
    ['a wrong secret', { accessKey: APP.accessKey, secretKey: 'not-the-secret' }, /bad signature for accessKey appUser01/],
  ];
  for (const [what, keys, remark] of badClients) {
    const bad = new ons.Producer({ nameSrv: namesrvAddr, httpclient: {}, producerGroup: 'PG_bad', instanceName: `acl-bad-${what.replaceAll(' ', '-')}`, ...keys, ...SHORT_INTERVALS_MS }) as AliProducer & { sendKernelImpl: (...args: unknown[]) => Promise<unknown> };
    clients.push(bad);
    bad.on('error', () => undefined); // its heartbeats are refused too
    await bad.ready().catch(() => undefined);
    // Observe what the broker answered each attempt (ali-ons retries NO_PERMISSION, then throws).
    const codes: Array<{ code: number; message: string }> = [];
    const kernel = bad.sendKernelImpl.bind(bad);
    bad.sendKernelImpl = async (...args: unknown[]) => {
      try {
        return await kernel(...args);
      } catch (error) {
        codes.push({ code: (error as { code: number }).code, message: (error as Error).message });
        throw error;
      }
    };
    let failures = 0;
    for (let i = 0; i < 5; i++) {
      try {
        await bad.send(message(TOPIC, 'TagA', `key-bad-${i}`, `bad-${i}`));
      } catch {
        failures++;
      }
    }
    // Its UNREGISTER_CLIENT is refused too, and ali-ons' close() then stops before closing its
    // MQClient (whose sockets and timers would keep this process alive): close that as well.
    await bad.close().catch(() => undefined);
    await (bad as unknown as { _mqClient: { close(): Promise<void> } })._mqClient.close().catch(() => undefined);
    clients.splice(clients.indexOf(bad), 1);
    t.equal(failures, 5, `${what}: all 5 sends fail`);
    t.ok(codes.length >= 5 && codes.every((c) => c.code === ResponseCode.NO_PERMISSION && remark.test(c.message)), `${what}: every attempt answered 16 with "${remark.source}" (${codes.length} attempts: ${[...new Set(codes.map((c) => `${c.code} ${c.message}`))].join('; ')})`);
  }
  t.same(await maxOffsets(), storedBefore, 'nothing was stored by the refused sends');

  // ---- globalWhiteRemoteAddresses: add our address range to the file; unsigned traffic passes once re-read
  const unsignedSend = (body: string): Promise<RemotingCommand> => raw.invoke(master, createRequest(RequestCode.SEND_MESSAGE_V2, {
    extFields: { a: 'PG_white', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA']]), j: 0, k: false },
    body: Buffer.from(body),
  }), 10_000);
  const refused = await unsignedSend('white-0');
  t.equal(refused.code, ResponseCode.NO_PERMISSION, 'a raw unsigned send is refused');
  // The broker sees us at the host's address (brokerIP1, the first non-loopback IPv4), not 127.0.0.1.
  const seen = /unsigned request \(code 310 from ([0-9.]+)\)/.exec(refused.remark ?? '')?.[1];
  t.ok(seen !== undefined, `the remark names the caller's address: ${refused.remark}`);
  const whitePattern = `${(seen as string).split('.').slice(0, 3).join('.')}.*`;
  fs.writeFileSync(aclPath, aclFile([whitePattern]));
  // Every broker polls the file on its own; wait until all three let an unsigned read through.
  const brokerAddrs = Object.values(cluster.brokerAddrTable[BROKER_NAME]?.brokerAddrs ?? {});
  const unsignedReadCodes = async (): Promise<number[]> => Promise.all(brokerAddrs.map(async (addr) => (await raw.invoke(addr, createRequest(RequestCode.GET_MAX_OFFSET, { extFields: { topic: TOPIC, queueId: 0 } }), 10_000)).code));
  await until(async () => ((await unsignedReadCodes()).every((code) => code === ResponseCode.SUCCESS) ? true : undefined), 15_000, `all brokers to re-read the file with ${whitePattern}`);
  const passed = await until(async () => {
    const answer = await unsignedSend('white-1');
    return answer.code === ResponseCode.SUCCESS ? answer : undefined;
  }, 15_000, `an unsigned send to pass after ${whitePattern} was whitelisted`);
  t.equal(passed.code, ResponseCode.SUCCESS, `from a global white address (${whitePattern}) an unsigned send is stored`);
  const whiteProducer = new ons.Producer({ nameSrv: namesrvAddr, httpclient: {}, producerGroup: 'PG_white', instanceName: 'acl-white', ...SHORT_INTERVALS_MS });
  clients.push(whiteProducer);
  whiteProducer.on('error', (error) => errors.push(error));
  await whiteProducer.ready();
  const whiteRound = await produce(whiteProducer, TOPIC, 'white', 10);
  t.equal(whiteRound.size, 10, 'ali-ons without keys sends from a white address');
  t.same(await awaitDeliveries(deliveries, [...whiteRound.keys(), 'white-1'], 30_000), [], 'and the signed consumer gets those too');
  await whiteProducer.close();
  fs.writeFileSync(aclPath, aclFile([]));
  await until(async () => ((await unsignedReadCodes()).every((code) => code === ResponseCode.NO_PERMISSION) ? true : undefined), 15_000, 'the whitelist entry to be gone again on every broker');
  t.equal((await unsignedSend('white-2')).code, ResponseCode.NO_PERMISSION);
  t.pass('after the entry is removed, unsigned sends are refused again');

  // ---- ali-ons traffic still flows
  const lastRound = await produce(producer, TOPIC, 'after-attacks', 20);
  t.same(await awaitDeliveries(deliveries, lastRound.keys(), 30_000), [], 'after the attacks ali-ons still produces and consumes');
  const unexpected = errors.map((e) => e.message).filter((m) => !/%RETRY%/.test(m));
  t.same(unexpected, [], 'the signed ali-ons clients saw no errors');

  // ali-ons clients left open would keep reconnecting to the stopped brokers.
  await closeAll(clients.splice(0));
  const stop = await runSh(FAST_TRY, ['stop'], env, 60_000);
  t.equal(stop.code, 0, stop.stderr);
  for (const pid of pids) t.notOk(alive(pid), `pid ${pid} is gone`);
});
