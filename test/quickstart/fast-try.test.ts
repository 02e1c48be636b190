// Goal: the DLedger quick start works as a newcomer runs it: `fast-try.sh start` brings up a name
// server and three brokers in the background; within 10 s `mqadmin clusterList` shows RaftCluster /
// RaftNode00 with exactly one BID 0 and two followers (selfId digits + 1); a second start says it
// is already running; mqadmin creates a topic and reports queue offsets, consumer progress and the
// Raft view; SIGKILL of the leader broker moves BID 0 to another node (time measured) and the data
// is still there; `fast-try.sh stop` leaves none of the processes behind.
// Method: the real scripts (bin/dledger/fast-try.sh, bin/mqadmin) run as child processes from
// dist/ with the quick start's confs copied to a temp dir on free ports (so a developer's own
// quick start on 9876/30911/... is never touched) and logs/pid files in the temp dir, selected
// through the script's FAST_TRY_CONF_DIR / ROCKETMQ_LOG_DIR / NAMESRV_PORT. Messages and a
// consumer offset are written with RemotingClient. Every wait is bounded; teardown SIGKILLs, by
// pid, any process from the pid files that is still alive.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { formatMessageProperties } from '../../src/broker/message-codec.js';
import { RemotingClient } from '../../src/remoting/client.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { addrPort, alive, awaitClusterList, clusterRows, FAST_TRY, MQADMIN, NODES, requireDist, runSh, writeQuickConfs, type Row, type Run } from './helpers.js';

t.before(requireDist);

const run = runSh;

t.test('fast-try start, clusterList, mqadmin, SIGKILL of the leader, stop', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quickstart-'));
  const logDir = path.join(dir, 'logs');
  const { confDir, namesrvPort, clientPorts } = await writeQuickConfs(dir);
  const env = { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, NAMESRV_PORT: String(namesrvPort), FAST_TRY_GRACE_SECONDS: '8' };
  const pidFiles = ['namesrv', ...NODES.map((node) => `broker-${node}`)].map((name) => path.join(logDir, `${name}.pid`));
  const pidsSeen = new Set<number>();
  const notePids = (): void => {
    for (const file of pidFiles) if (fs.existsSync(file)) pidsSeen.add(Number(fs.readFileSync(file, 'utf8').trim()));
  };
  const client = new RemotingClient();
  t.teardown(() => {
    client.close();
  notePids();
    for (const pid of pidsSeen) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const mqadmin = (...args: string[]): Promise<Run> => run(MQADMIN, [...args, '-n', `127.0.0.1:${namesrvPort}`], env, 20_000);

  const startedAt = Date.now();
  const start = await run(FAST_TRY, ['start'], env, 60_000);
  const startReturnedAt = Date.now();
  notePids();
  t.equal(start.code, 0, `start exits 0\n${start.stdout}${start.stderr}`);
  t.match(start.stdout, /name server started \(pid \d+/);
  for (const node of NODES) t.match(start.stdout, new RegExp(`broker ${node} started \\(pid \\d+`));
  t.equal(pidsSeen.size, 4, 'four pid files');

  // clusterList until the group shows one BID 0 and two followers (the quick start's check).
  await awaitClusterList(`127.0.0.1:${namesrvPort}`, (r) => (r.length === 3 && r.filter((row) => row.bid === 0).length === 1 ? r : undefined), 30_000, 'a leader with two followers');
  const upMs = Date.now() - startedAt;
  const listed = await mqadmin('clusterList');
  t.equal(listed.code, 0, listed.stderr);
  const rows = clusterRows(listed.stdout);
  // As in ali-ons-failover.test.ts: within 10 s of `fast-try.sh start` returning (the guide's sequence).
  const upAfterStartMs = Date.now() - startReturnedAt;
  t.ok(upAfterStartMs <= 10_000, `clusterList shows the group ${upAfterStartMs} ms after fast-try start returned, ${upMs} ms after it was invoked (issue: within 10 s)`);
  t.ok(rows.every((row) => row.cluster === 'RaftCluster' && row.brokerName === 'RaftNode00'), 'RaftCluster / RaftNode00');
  t.same(rows.map((row) => addrPort(row.addr)).sort(), [...clientPorts].sort(), 'every broker listed once');
  const leader = rows.find((row) => row.bid === 0) as Row;
  const leaderIndex = clientPorts.indexOf(addrPort(leader.addr));
  // Followers register as selfId digits + 1: n0 → 1, n1 → 2, n2 → 3; the leader's own slot is absent.
  t.same(rows.filter((row) => row.bid !== 0).map((row) => row.bid).sort(), [1, 2, 3].filter((id) => id !== leaderIndex + 1), 'followers as selfId digits + 1');

  const again = await run(FAST_TRY, ['start'], env, 30_000);
  t.equal(again.code, 0);
  t.match(again.stdout, /name server is already running/);
  t.match(again.stdout, /broker n0 is already running/);

  // mqadmin against the live group: create a topic, write, read offsets and progress.
  const update = await mqadmin('updateTopic', '-t', 'TopicTest', '-c', 'RaftCluster', '-r', '4', '-w', '4');
  t.equal(update.code, 0, update.stderr);
  t.match(update.stdout, `create topic to ${leader.addr} success.`);
  for (let i = 0; i < 10; i++) {
    const sent = await client.invoke(leader.addr, createRequest(RequestCode.SEND_MESSAGE_V2, {
      extFields: { a: 'PG', b: 'TopicTest', c: 'TBW102', d: 4, e: 1, f: 0, g: Date.now(), h: 0, i: formatMessageProperties([['TAGS', 'TagA']]), j: 0, k: false },
      body: Buffer.from(`hello ${i}`),
    }), 10_000);
    t.equal(sent.code, ResponseCode.SUCCESS, `send ${i}`);
  }
  const committed = await client.invoke(leader.addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { extFields: { consumerGroup: 'QuickGroup', topic: 'TopicTest', queueId: 1, commitOffset: 3 } }), 10_000);
  t.equal(committed.code, ResponseCode.SUCCESS, 'offset committed');
  const checkOffsets = async (when: string): Promise<void> => {
    const status = await mqadmin('topicStatus', '-t', 'TopicTest');
    t.equal(status.code, 0, status.stderr);
    t.match(status.stdout, /^RaftNode00\s+1\s+0\s+10\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}$/m, `${when}: queue 1 holds offsets 0..10 (last stored at a time)`);
    t.match(status.stdout, /^RaftNode00\s+0\s+0\s+0$/m, `${when}: queue 0 is empty`);
    const progress = await mqadmin('consumerProgress', '-g', 'QuickGroup');
    t.equal(progress.code, 0, progress.stderr);
    t.match(progress.stdout, /^TopicTest\s+RaftNode00\s+1\s+10\s+3\s+N\/A\s+7\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m, `${when}: broker offset 10, consumer offset 3, diff 7`);
    t.match(progress.stdout, /Diff Total: 7/);
  };
  await checkOffsets('before the kill');
  const list = await mqadmin('topicList');
  t.match(list.stdout, /^TopicTest$/m);
  const raft = await mqadmin('dledgerStatus');
  t.equal(raft.code, 0, raft.stderr);
  const raftRows = raft.stdout.split('\n').filter((line) => line.startsWith('RaftCluster')).map((line) => line.split(/\s+/));
  t.equal(raftRows.length, 3);
  const leaderRaft = raftRows.find((cols) => cols[5] === 'leader') as string[];
  t.ok(leaderRaft !== undefined && leaderRaft[2] === '0' && leaderRaft[4] === `n${leaderIndex}`, 'dledgerStatus: BID 0 is the Raft leader');
  const termBefore = Number(leaderRaft[6]);

  // SIGKILL the leader by the pid in its pid file; BID 0 must move to another node.
  const leaderPid = Number(fs.readFileSync(path.join(logDir, `broker-n${leaderIndex}.pid`), 'utf8').trim());
  t.ok(alive(leaderPid), 'the leader pid is alive');
  const killedAt = Date.now();
  process.kill(leaderPid, 'SIGKILL');
  const newLeader = await awaitClusterList(`127.0.0.1:${namesrvPort}`, (r) => r.find((row) => row.bid === 0 && row.addr !== leader.addr), 30_000, 'BID 0 moving after the kill');
  const failoverMs = Date.now() - killedAt;
  t.pass(`BID 0 moved from ${leader.addr} to ${newLeader.addr} ${failoverMs} ms after SIGKILL (guide: ~10 s; target <= 3 s)`);
  const raftAfter = await mqadmin('dledgerStatus');
  const newLeaderRaft = raftAfter.stdout.split('\n').map((line) => line.split(/\s+/)).find((cols) => cols[5] === 'leader');
  t.ok(newLeaderRaft !== undefined && Number(newLeaderRaft[6]) > termBefore, `a new term (${termBefore} -> ${newLeaderRaft?.[6]})`);
  await checkOffsets('after the failover');

  const stop = await run(FAST_TRY, ['stop'], env, 60_000);
  t.equal(stop.code, 0, stop.stderr);
  t.match(stop.stdout, new RegExp(`broker n${leaderIndex} is not running \\(stale pid file removed\\)`), 'the killed broker is reported, not signalled');
  t.match(stop.stdout, /name server \(pid \d+\) stopped/);
  for (const pid of pidsSeen) t.notOk(alive(pid), `pid ${pid} is gone`);
  for (const file of pidFiles) t.notOk(fs.existsSync(file), `${path.basename(file)} removed`);
  const stopAgain = await run(FAST_TRY, ['stop'], env, 10_000);
  t.match(stopAgain.stdout, /nothing to stop/);
  const badCommand = await run(FAST_TRY, ['restart'], env, 10_000);
  t.equal(badCommand.code, 1);
  t.match(badCommand.stdout, /Usage: sh .* start\|stop/);
});
