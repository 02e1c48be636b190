// Goal: several DLedger groups in one cluster ("Dledger集群搭建"): RaftNode00 and RaftNode01, 3
// members each, one name server. clusterList shows both groups with one BID 0 each; a topic
// created on the cluster (`mqadmin updateTopic -c RaftCluster`) has queues on both (topicRoute
// lists both brokers' queueDatas); an ali-ons Producer's messages land in both groups and a
// CLUSTERING Consumer receives every one exactly once.
// Method: real processes (bin/mqnamesrv, 6 x bin/mqbroker with confs written in a temp dir on free
// ports, bin/mqadmin), ali-ons from npm with short intervals; bounded waits; every child stopped
// by pid in teardown.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { awaitDeliveries, closeAll, consumeInto, ons, produce, SHORT_INTERVALS_MS, unexpectedErrors, type AliClient } from './ali-ons-client.js';
import { awaitClusterList, clusterRows, MQADMIN, requireDist, runSh } from './helpers.js';
import { startGroup, startNamesrv } from './process-cluster.js';

const TOPIC = 'TopicTwoGroups';
const GROUPS = ['RaftNode00', 'RaftNode01'];
const COUNT = 400;

t.before(requireDist);

t.test('two 3-member groups in one cluster share a topic', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'two-groups-'));
  const clients: AliClient[] = [];
  t.teardown(async () => {
    await closeAll(clients);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const namesrv = await startNamesrv(t);
  const startedAt = Date.now();
  await Promise.all(GROUPS.map((brokerName) => startGroup(t, dir, namesrv.addr, { cluster: 'RaftCluster', brokerName, members: 3 })));
  const oneMasterEach = (rows: ReturnType<typeof clusterRows>) => GROUPS.every((name) => rows.filter((row) => row.brokerName === name).length === 3 && rows.filter((row) => row.brokerName === name && row.bid === 0).length === 1);
  await awaitClusterList(namesrv.addr, (rows) => (rows.length === 6 && oneMasterEach(rows) ? rows : undefined), 40_000, 'both groups with one BID 0 each');
  t.pass(`both groups listed with one BID 0 each ${Date.now() - startedAt} ms after start`);

  const mqadmin = (...args: string[]) => runSh(MQADMIN, [...args, '-n', namesrv.addr], process.env, 20_000);
  const listed = await mqadmin('clusterList');
  const rows = clusterRows(listed.stdout);
  t.ok(rows.length === 6 && oneMasterEach(rows) && rows.every((row) => row.cluster === 'RaftCluster'), `bin/mqadmin clusterList: RaftCluster with RaftNode00 and RaftNode01, one BID 0 each\n${listed.stdout}`);
  const masters = new Map(rows.filter((row) => row.bid === 0).map((row) => [row.brokerName, row.addr]));

  const update = await mqadmin('updateTopic', '-t', TOPIC, '-c', 'RaftCluster', '-r', '4', '-w', '4');
  t.equal(update.code, 0, update.stderr);
  for (const name of GROUPS) t.match(update.stdout, `create topic to ${masters.get(name)} success.`, `created on ${name}'s master`);
  // Each master registers the topic on its own; wait until the name server has both.
  const deadline = Date.now() + 10_000;
  let route: { queueDatas: Array<{ brokerName: string; writeQueueNums: number; perm: number }>; brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }> } = { queueDatas: [], brokerDatas: [] };
  while (Date.now() < deadline) {
    const shown = await mqadmin('topicRoute', '-t', TOPIC);
    if (shown.code === 0) route = JSON.parse(shown.stdout) as typeof route;
    if (route.queueDatas.length === 2) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.same(route.queueDatas.map((q) => [q.brokerName, q.writeQueueNums, q.perm]).sort(), GROUPS.map((name) => [name, 4, 6]), 'topicRoute: 4 writable queues on each group');
  t.same(route.brokerDatas.map((b) => [b.brokerName, b.brokerAddrs['0']]).sort(), GROUPS.map((name) => [name, masters.get(name)]), 'topicRoute: both groups with their masters as 0');

  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: namesrv.addr, httpclient: {}, producerGroup: 'PG_groups', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const sent = await produce(producer, TOPIC, 'groups', COUNT);
  const perGroup = new Map<string, number>();
  for (const result of sent.values()) perGroup.set(result.messageQueue.brokerName, (perGroup.get(result.messageQueue.brokerName) ?? 0) + 1);
  t.same([...perGroup.keys()].sort(), GROUPS, `messages landed in both groups (${JSON.stringify(Object.fromEntries(perGroup))})`);
  const status = await mqadmin('topicStatus', '-t', TOPIC);
  t.equal(status.code, 0, status.stderr);
  const stored = new Map<string, number>();
  for (const line of status.stdout.split('\n')) {
    const [name, , min, max] = line.trim().split(/\s+/);
    if (name !== undefined && GROUPS.includes(name)) stored.set(name, (stored.get(name) ?? 0) + Number(max) - Number(min));
  }
  t.same(Object.fromEntries(stored), Object.fromEntries(perGroup), 'topicStatus: each group stores what its master acknowledged');

  const deliveries = new Map<string, number>();
  const consumer = consumeInto({ nameSrv: namesrv.addr, consumerGroup: 'CG_groups' }, TOPIC, deliveries, errors);
  clients.push(consumer);
  await consumer.ready();
  const missing = await awaitDeliveries(deliveries, sent.keys(), 40_000);
  t.same(missing, [], `all ${COUNT} messages consumed from both groups`);
  t.same([...deliveries].filter(([, n]) => n !== 1), [], 'each exactly once');
  t.same([...deliveries.keys()].filter((body) => !sent.has(body)), [], 'nothing else');
  // consumerProgress merges GET_CONSUME_STATS of both groups; the commits arrive every 200 ms.
  const progressDeadline = Date.now() + 10_000;
  let progress = await mqadmin('consumerProgress', '-g', 'CG_groups', '-t', TOPIC);
  while (!/^Diff Total: 0$/m.test(progress.stdout) && Date.now() < progressDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    progress = await mqadmin('consumerProgress', '-g', 'CG_groups', '-t', TOPIC);
  }
  t.match(progress.stdout, /^Diff Total: 0$/m, `consumerProgress: everything committed\n${progress.stdout}${progress.stderr}`);
  for (const name of GROUPS) {
    const rows = progress.stdout.split('\n').filter((line) => line.startsWith(`${TOPIC} `) && line.split(/\s+/)[1] === name);
    t.equal(rows.length, 4, `consumerProgress: 4 queues of ${name}`);
    t.equal(rows.reduce((sum, line) => sum + Number(line.split(/\s+/)[4]), 0), perGroup.get(name), `${name}: committed offsets add up to its ${perGroup.get(name)} messages`);
  }
  await closeAll(clients);
  clients.length = 0;
  t.same(unexpectedErrors(errors), [], 'no client errors');
});
