// Goal: mqadmin's output and failure behaviour that the live quick start test cannot reach: the
// clusterList header and row layout (RocketMQ 4.9.4's printf), a broker that does not answer
// (row kept, reason on stderr, exit 0), dledgerStatus with per-member lag, the leader's per-peer
// progress (including a peer the name server no longer lists) and the note when a broker does not
// publish it, a group without a leader, name server fallback in a ";" list, and every usage or
// request error giving one clear line with exit 2 (usage) or 1 (request).
// Method: an in-process name server and fake brokers (RemotingServers answering
// GET_BROKER_RUNTIME_INFO with chosen KVTables) registered through REGISTER_BROKER; mqadmin's
// main() runs in-process with captured stdout/stderr.
import net from 'node:net';
import t, { type Test } from 'tap';
import { main } from '../../src/cli/mqadmin.js';
import { DEFAULT_NAMESRV_CONFIG } from '../../src/namesrv/config.js';
import { NameServer } from '../../src/namesrv/namesrv.js';
import { encodeRegisterBrokerBody } from '../../src/namesrv/register-body.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest, createResponse } from '../../src/remoting/command.js';
import { RemotingServer } from '../../src/remoting/server.js';

const CLUSTER = 'RaftCluster';
const GROUP = 'RaftNode00';

async function deadAddress(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}

async function mqadmin(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (text) => (out += text), (text) => (err += text));
  return { code, out, err };
}

interface Fixture {
  readonly namesrvAddr: string;
  register(brokerName: string, brokerId: number, brokerAddr: string): Promise<void>;
  fakeBroker(table: Record<string, string>): Promise<string>;
}

async function fixture(t: Test): Promise<Fixture> {
  const namesrv = new NameServer({ config: { ...DEFAULT_NAMESRV_CONFIG, bindAddress: '127.0.0.1', listenPort: 0 }, log: () => undefined });
  const namesrvAddr = `127.0.0.1:${await namesrv.start()}`;
  // Registrations live as long as the connection they came on: one client holds them all.
  const registrar = new RemotingClient();
  const servers: RemotingServer[] = [];
  t.teardown(async () => {
    registrar.close();
    for (const server of servers) await server.close(100);
    await namesrv.close();
  });
  return {
    namesrvAddr,
    async register(brokerName, brokerId, brokerAddr) {
      const request = createRequest(RequestCode.REGISTER_BROKER, {
        extFields: { brokerName, brokerAddr, clusterName: CLUSTER, haServerAddr: brokerAddr, brokerId },
        body: encodeRegisterBrokerBody([], { timestamp: Date.now(), counter: 1, stateVersion: 0 }),
      });
      const response = await registrar.invoke(namesrvAddr, request, 5000);
      if (response.code !== ResponseCode.SUCCESS) throw new Error(`register failed: ${response.remark}`);
    },
    async fakeBroker(table) {
      const server = new RemotingServer({ name: 'fake broker', log: () => undefined });
      server.registerHandler(RequestCode.GET_BROKER_RUNTIME_INFO, (request) => createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(JSON.stringify({ table })) }));
      servers.push(server);
      return `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    },
  };
}

t.test('usage errors exit 2 with the usage; --help exits 0', async (t) => {
  const help = await mqadmin('--help');
  t.equal(help.code, 0);
  t.match(help.out, /clusterList[\s\S]*dledgerStatus/);
  const saved = process.env['NAMESRV_ADDR'];
  delete process.env['NAMESRV_ADDR'];
  t.teardown(() => { if (saved !== undefined) process.env['NAMESRV_ADDR'] = saved; });
  const cases: Array<[string[], RegExp]> = [
    [[], /no command given/],
    [['bogus', '-n', '127.0.0.1:1'], /unknown command "bogus"/],
    [['clusterList'], /-n namesrvAddr is required/],
    [['topicRoute', '-n', '127.0.0.1:1'], /topicRoute needs -t topic/],
    [['consumerProgress', '-n', '127.0.0.1:1'], /consumerProgress needs -g group/],
    [['updateTopic', '-t', 'T', '-n', '127.0.0.1:1'], /exactly one of -c cluster and -b brokerAddr/],
    [['updateTopic', '-t', 'T', '-c', 'C', '-b', 'a:1', '-n', '127.0.0.1:1'], /exactly one of -c cluster and -b brokerAddr/],
    [['updateTopic', '-t', 'T', '-c', 'C', '-r', 'abc', '-n', '127.0.0.1:1'], /-r must be an integer in \[1, 1024\], got "abc"/],
    [['updateTopic', '-t', 'T', '-c', 'C', '-o', 'yes', '-n', '127.0.0.1:1'], /-o must be true or false/],
    [['clusterList', '--bogus'], /Unknown option '--bogus'/],
    [['clusterList', 'extra', '-n', '127.0.0.1:1'], /unexpected arguments: extra/],
  ];
  for (const [argv, message] of cases) {
    const result = await mqadmin(...argv);
    t.equal(result.code, 2, `${argv.join(' ')} exits 2`);
    t.match(result.err, message);
    t.match(result.err, /usage: mqadmin/);
    t.equal(result.out, '');
  }
});

t.test('request errors exit 1 with one line; a ";" list falls back to a live name server', async (t) => {
  const f = await fixture(t);
  const dead = await deadAddress();
  const down = await mqadmin('clusterList', '-n', dead);
  t.equal(down.code, 1);
  t.match(down.err, new RegExp(`^mqadmin: no name server answered GET_BROKER_CLUSTER_INFO: GET_BROKER_CLUSTER_INFO to ${dead}: .*ECONNREFUSED.*\\n$`));
  const fallback = await mqadmin('topicList', '-n', `${dead};${f.namesrvAddr}`);
  t.equal(fallback.code, 0, fallback.err);
  const missing = await mqadmin('topicRoute', '-t', 'NoSuchTopic', '-n', f.namesrvAddr);
  t.equal(missing.code, 1);
  t.equal(missing.err, 'mqadmin: topic NoSuchTopic does not exist (the name server has no route for it)\n');
  const unknownCluster = await mqadmin('clusterList', '-c', 'Nope', '-n', f.namesrvAddr);
  t.equal(unknownCluster.code, 1);
  t.match(unknownCluster.err, /cluster Nope is not registered with the name server \(known: none\)/);

  // A group whose members are all followers (an election in progress): updateTopic says so.
  await f.register(GROUP, 1, await f.fakeBroker({}));
  const noMaster = await mqadmin('updateTopic', '-t', 'T', '-c', CLUSTER, '-n', f.namesrvAddr);
  t.equal(noMaster.code, 1);
  t.match(noMaster.err, /broker group RaftNode00 of cluster RaftCluster has no master \(BID 0\) right now/);
  const toDead = await mqadmin('updateTopic', '-t', 'T', '-b', dead, '-n', f.namesrvAddr);
  t.equal(toDead.code, 1);
  t.match(toDead.err, new RegExp(`UPDATE_AND_CREATE_TOPIC to ${dead}`));
});

t.test('clusterList: Java header and columns; an unreachable broker keeps its row', async (t) => {
  const f = await fixture(t);
  const leader = await f.fakeBroker({
    brokerVersionDesc: 'V4_9_4', putTps: '12.345', getTransferredTps: '3', sendThreadPoolQueueSize: '2', sendThreadPoolQueueHeadWaitTimeMills: '5',
    pullThreadPoolQueueSize: '1', pullThreadPoolQueueHeadWaitTimeMills: '0', pageCacheLockTimeMills: '7',
    earliestMessageTimeStamp: String(Date.now() - 2 * 3_600_000), commitLogDiskRatio: '0.25',
  });
  const dead = await deadAddress();
  await f.register(GROUP, 0, leader);
  await f.register(GROUP, 2, dead);
  const result = await mqadmin('clusterList', '-n', f.namesrvAddr);
  t.equal(result.code, 0);
  const lines = result.out.trimEnd().split('\n');
  t.equal(lines[0], '#Cluster Name     #Broker Name            #BID  #Addr                  #Version                #InTPS(LOAD)       #OutTPS(LOAD) #PCWait(ms) #Hour #SPACE', 'the 4.9.4 header');
  t.equal(lines.length, 3);
  t.match(lines[1], new RegExp(`^RaftCluster {7}RaftNode00 {14}0 {5}${leader.replaceAll('.', '\\.')} +V4_9_4 +12\\.35\\(2,5ms\\) +3\\.00\\(1,0ms\\) +7  2\\.0\\d 0\\.2500$`));
  t.match(lines[2], new RegExp(`^RaftCluster {7}RaftNode00 {14}2 {5}${dead.replaceAll('.', '\\.')} `), 'the unreachable broker is still listed');
  t.match(result.err, new RegExp(`clusterList: GET_BROKER_RUNTIME_INFO to ${dead}: `), 'and why it has no stats');
});

t.test('dledgerStatus: roles, terms, lag per member and the leader\'s per-peer progress', async (t) => {
  const f = await fixture(t);
  const common = { dLegerGroup: GROUP, dLegerTerm: '4', dLegerLeaderId: 'n0' };
  const leader = await f.fakeBroker({
    ...common, dLegerSelfId: 'n0', dLegerRole: 'leader', dLegerCommitIndex: '100', dLegerLastIndex: '100',
    dLegerPeerProgress: JSON.stringify({ n1: { match: 90, next: 91, state: 'replicate', recentActive: true }, n2: { match: 40, next: 41, state: 'probe', recentActive: false } }),
  });
  const follower = await f.fakeBroker({ ...common, dLegerSelfId: 'n1', dLegerRole: 'follower', dLegerCommitIndex: '90', dLegerLastIndex: '90' });
  await f.register(GROUP, 0, leader);
  await f.register(GROUP, 2, follower);
  const result = await mqadmin('dledgerStatus', '-n', f.namesrvAddr);
  t.equal(result.code, 0, result.err);
  const rows = result.out.split('\n').filter((line) => line.startsWith(CLUSTER)).map((line) => line.split(/\s+/));
  t.same(rows.map((cols) => [cols[2], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10]]), [
    ['0', 'n0', 'leader', '4', 'n0', '100', '100', '0'],
    ['2', 'n1', 'follower', '4', 'n0', '90', '90', '10'],
  ]);
  t.match(result.out, /^ {2}n1 +90 +10 +replicate +yes$/m, 'the leader\'s view of n1');
  t.match(result.out, /^ {2}n2 +40 +60 +probe +no$/m, 'n2, absent from the name server, is still shown with its lag');
  const alias = await mqadmin('getBrokerRaftStatus', '-n', f.namesrvAddr);
  t.equal(alias.out, result.out, 'getBrokerRaftStatus is the same command');
});

t.test('dledgerStatus: no leader, no progress key, no Raft fields, unreachable member', async (t) => {
  const f = await fixture(t);
  const plain = await f.fakeBroker({ brokerVersionDesc: 'V4_9_4' });
  const leaderWithoutProgress = await f.fakeBroker({ dLegerGroup: 'RaftNode01', dLegerSelfId: 'n0', dLegerRole: 'leader', dLegerTerm: '1', dLegerLeaderId: 'n0', dLegerCommitIndex: '5', dLegerLastIndex: '5' });
  const dead = await deadAddress();
  await f.register(GROUP, 1, plain);
  await f.register(GROUP, 3, dead);
  await f.register('RaftNode01', 0, leaderWithoutProgress);
  const result = await mqadmin('dledgerStatus', '-n', f.namesrvAddr);
  t.equal(result.code, 0);
  t.match(result.out, new RegExp(`RaftNode00 +1 +${plain.replaceAll('.', '\\.')} +- +no-dledger`));
  t.match(result.out, new RegExp(`RaftNode00 +3 +${dead.replaceAll('.', '\\.')} +\\? +unreachable`));
  t.match(result.out, /\(group RaftNode00: no member reports itself leader right now\)/);
  t.match(result.out, /\(group RaftNode01: the leader's runtime info has no dLegerPeerProgress; per-peer match indexes unavailable\)/);
  t.match(result.err, /dledgerStatus: GET_BROKER_RUNTIME_INFO to /);
});
