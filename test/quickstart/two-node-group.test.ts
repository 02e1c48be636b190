// Goal: a 2-member DLedger group (2 brokers, dLegerPeers with two members) starts, elects one
// BID 0, and serves a real client: an ali-ons Producer's messages reach a CLUSTERING Consumer
// exactly once. And what the README documents: a 2-member group tolerates no failure (Raft needs
// 2n+1 members for n failures): with one member SIGKILLed the other cannot commit, so a send to it
// is not acknowledged and it stops being BID 0 (check-quorum steps it down).
// Method: real processes (bin/mqnamesrv, bin/mqbroker with confs written in a temp dir on free
// ports, bin/mqadmin for the topic), ali-ons from npm with short intervals; bounded waits;
// every child stopped by pid in teardown.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { awaitDeliveries, closeAll, consumeInto, ons, produce, SHORT_INTERVALS_MS, unexpectedErrors, type AliClient } from './ali-ons-client.js';
import { addrPort, awaitClusterList, MQADMIN, requireDist, runSh } from './helpers.js';
import { startGroup, startNamesrv, stop } from './process-cluster.js';

const TOPIC = 'TopicTwoNodes';
const COUNT = 200;

t.before(requireDist);

t.test('a 2-member group elects, sends and consumes work, and one failure stops writes', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'two-node-group-'));
  const clients: AliClient[] = [];
  const remoting = new RemotingClient();
  t.teardown(async () => {
    remoting.close();
    await closeAll(clients);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const namesrv = await startNamesrv(t);
  const startedAt = Date.now();
  const brokers = await startGroup(t, dir, namesrv.addr, { cluster: 'RaftCluster', brokerName: 'RaftNode00', members: 2 });
  const rows = await awaitClusterList(namesrv.addr, (r) => (r.length === 2 && r.filter((row) => row.bid === 0).length === 1 ? r : undefined), 30_000, 'one BID 0 and one follower');
  t.pass(`2-member group: BID 0 and a follower ${Date.now() - startedAt} ms after start`);
  const leaderRow = rows.find((row) => row.bid === 0)!;
  const leader = brokers.find((b) => b.clientPort === addrPort(leaderRow.addr))!;
  const follower = brokers.find((b) => b !== leader)!;
  t.same(rows.filter((row) => row.bid !== 0).map((row) => row.bid), [Number(follower.selfId.slice(1)) + 1], 'the follower registers as its selfId digits + 1');

  const mqadmin = (...args: string[]) => runSh(MQADMIN, [...args, '-n', namesrv.addr], process.env, 20_000);
  const update = await mqadmin('updateTopic', '-t', TOPIC, '-c', 'RaftCluster', '-r', '4', '-w', '4');
  t.equal(update.code, 0, update.stdout + update.stderr);

  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: namesrv.addr, httpclient: {}, producerGroup: 'PG_two', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const sent = await produce(producer, TOPIC, 'two', COUNT);
  t.equal(new Set([...sent.values()].map((r) => r.msgId)).size, COUNT, `${COUNT} sends acknowledged`);
  const deliveries = new Map<string, number>();
  const consumer = consumeInto({ nameSrv: namesrv.addr, consumerGroup: 'CG_two' }, TOPIC, deliveries, errors);
  clients.push(consumer);
  await consumer.ready();
  const missing = await awaitDeliveries(deliveries, sent.keys(), 30_000);
  t.same(missing, [], 'every message consumed');
  t.same([...deliveries].filter(([, n]) => n !== 1), [], 'each exactly once');
  t.same([...deliveries.keys()].filter((body) => !sent.has(body)), [], 'nothing else');
  await closeAll(clients);
  clients.length = 0;
  t.same(unexpectedErrors(errors), [], 'no client errors');

  // One failure: the survivor is alone, 1 of 2 is no majority.
  const killedAt = Date.now();
  await stop(follower.child, 'SIGKILL');
  const send = await remoting.invoke(leaderRow.addr, createRequest(RequestCode.SEND_MESSAGE_V2, {
    extFields: { a: 'PG_two', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA']]), j: 0, k: false },
    body: Buffer.from('after the follower died'),
  }), 15_000).then((response) => `code ${response.code} ${response.remark ?? ''}`, (error: Error) => `error ${error.message}`);
  t.not(send.slice(0, 6), `code ${ResponseCode.SUCCESS}`, `a send without a majority is not acknowledged (${send})`);
  await awaitClusterList(namesrv.addr, (r) => (r.length >= 1 && r.every((row) => row.bid !== 0) ? r : undefined), 20_000, 'the survivor no longer BID 0');
  t.pass(`without its peer the survivor stepped down from BID 0 ${Date.now() - killedAt} ms after the kill (no failover with 2 members)`);
  t.ok(leader.child.exitCode === null, 'the survivor is still running (it waits for its peer)');
});
