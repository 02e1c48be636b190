// Goal: a RocketMQ-on-DLedger broker serves Prometheus /metrics with RocketMQ 5's keys
// (metricsExporterType=PROM, metricsPromExporterHost, metricsPromExporterPort): a real Prometheus
// scraping the three fast-try brokers gets each member's dledger_* series (role, term, commit and
// applied index, per-peer lag, commit latency, retained bytes, log start, disk ratio, segments
// deleted) and the leader's rocketmq_messages_in_total / rocketmq_throughput_in_total for exactly
// the messages ali-ons sent, labelled cluster/node_type/node_id as RocketMQ does; the endpoint is
// bound to loopback in the shipped confs, bounded in connections, published in the runtime info,
// and its config mistakes stop the broker before it starts.
// Method: fast-try.sh start on the shipped confs (ports rewritten to free ones), the Debian
// `prometheus` binary (.ci/run installs it; under CI=true a missing one fails), ali-ons, every
// process stopped by pid.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildBrokerConfig, BrokerConfigError } from '../../src/broker/config.js';
import { AdminClient } from '../../src/admin/admin-client.js';
import { freePorts, until } from '../cluster/helpers.js';
import { closeAll, message, ons, SHORT_INTERVALS_MS, type AliClient } from '../quickstart/ali-ons-client.js';
import { MQADMIN, NODES, ROOT, runSh } from '../quickstart/helpers.js';
import { startFastTry } from '../console/harness.js';
import { testSecretFile } from '../util/peer-secret.js';
import { requirePrometheus, startPrometheus } from '../util/prometheus.js';

const BASE = { brokerName: 'RaftNode00', brokerIP1: '127.0.0.1', namesrvAddr: '127.0.0.1:9876', storePathRootDir: '/tmp/x', enableDLegerCommitLog: 'true', dLegerPeers: 'n0-127.0.0.1:40911;n1-127.0.0.1:40912', dLegerSelfId: 'n0', dLegerPeerSecretFile: '/tmp/s', listenPort: '30911', grpcServerPort: '8081' };

t.test('metrics keys: RocketMQ defaults, and mistakes refused before start', async (t) => {
  const off = buildBrokerConfig(BASE);
  t.same(off.metrics, { enabled: false, host: '127.0.0.1', port: 5557, maxConnections: 64 }, 'default DISABLE, port 5557, host brokerIP1 (RocketMQ)');
  t.same(buildBrokerConfig({ ...BASE, metricsExporterType: 'PROM', metricsPromExporterHost: '0.0.0.0', metricsPromExporterPort: '0' }).metrics, { enabled: true, host: '0.0.0.0', port: 0, maxConnections: 64 });
  const refused = (raw: Record<string, string>, pattern: RegExp, what: string): void => {
    let error: unknown = null;
    try {
      buildBrokerConfig({ ...BASE, ...raw });
    } catch (caught) {
      error = caught;
    }
    t.ok(error instanceof BrokerConfigError && pattern.test(error.message), `${what}: ${error instanceof Error ? error.message.split('\n')[1] : 'accepted'}`);
  };
  refused({ metricsExporterType: 'OTLP_GRPC' }, /metricsExporterType: "OTLP_GRPC" is not supported: an OTLP collector push is not implemented/, 'OTLP_GRPC refused by name');
  refused({ metricsExporterType: 'LOG' }, /metricsExporterType: "LOG" is not supported/, 'LOG refused');
  refused({ metricsExporterType: 'prom' }, /metricsExporterType: "prom" must be DISABLE or PROM/, 'case matters, as in RocketMQ\'s enum');
  refused({ metricsExporterType: 'PROM', metricsPromExporterHost: 'localhost' }, /metricsPromExporterHost: "localhost" is not an IPv4 address/, 'a name is not an address to bind');
  refused({ metricsExporterType: 'PROM', metricsPromExporterPort: '70000' }, /metricsPromExporterPort: "70000" is not an integer in \[0, 65535\]/, 'port range');
  refused({ metricsExporterType: 'PROM', metricsPromExporterPort: '30911' }, /metricsPromExporterPort: 30911 is this broker's listenPort too/, 'the remoting port');
  refused({ metricsExporterType: 'PROM', metricsPromExporterPort: '8081' }, /metricsPromExporterPort: 8081 is this broker's grpcServerPort too/, 'the gRPC port');
  refused({ metricsExporterType: 'PROM', metricsPromExporterPort: '40911' }, /metricsPromExporterPort: 40911 is this broker's dLegerPeers port too/, 'its own peer port');
  refused({ metricsPromExporterMaxConnections: '0' }, /metricsPromExporterMaxConnections/, 'connection cap >= 1');
  t.equal(buildBrokerConfig({ ...BASE, metricsPromExporterPort: '30911' }).metrics.enabled, false, 'DISABLE: the port is not checked (not listened on)');
});

t.test('a metrics port in use stops mqbroker with the key named', async (t) => {
  const [listenPort, peerPort, busyPort, namesrvPort] = (await freePorts(4)) as [number, number, number, number];
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(busyPort, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bmetrics-busy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const conf = path.join(dir, 'broker.conf');
  fs.writeFileSync(conf, [`brokerName=RaftNode00`, `brokerIP1=127.0.0.1`, `listenPort=${listenPort}`, `namesrvAddr=127.0.0.1:${namesrvPort}`, `storePathRootDir=${dir}/store`,
    'enableDLegerCommitLog=true', `dLegerPeers=n0-127.0.0.1:${peerPort}`, 'dLegerSelfId=n0', `dLegerPeerSecretFile=${testSecretFile()}`, 'grpcServerPort=0',
    'metricsExporterType=PROM', 'metricsPromExporterHost=127.0.0.1', `metricsPromExporterPort=${busyPort}`, ''].join('\n'));
  const run = spawnSync('sh', [path.join(ROOT, 'bin/mqbroker'), '-c', conf], { encoding: 'utf8', timeout: 30_000 });
  t.not(run.status, 0, `mqbroker exits non-zero (${run.status})`);
  t.match(run.stderr, new RegExp(`metricsPromExporterPort: cannot serve /metrics on 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE`), `the error names the key and the address:\n${run.stderr.slice(-600)}`);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  t.notOk(fs.existsSync(path.join(dir, 'store', 'dledger-n0')), 'nothing was created in the store (stopped before the commit log opened)');
});

const version = requirePrometheus(t, 'real Prometheus scrape of the brokers');
if (version !== null) {
  t.test(`${version} scrapes the three fast-try brokers`, async (t) => {
    const cluster = await startFastTry(t);
    const metricsPorts = NODES.map((node) => Number(/^metricsPromExporterPort=(\d+)$/m.exec(fs.readFileSync(path.join(cluster.dir, 'conf', `broker-${node}.conf`), 'utf8'))?.[1]));
    t.ok(metricsPorts.every((p) => p > 0) && new Set(metricsPorts).size === 3, `the shipped confs give each member its own metrics port (${metricsPorts.join(', ')})`);

    // Loopback only (metricsPromExporterHost=127.0.0.1): another address of this host is refused.
    const external = Object.values(os.networkInterfaces()).flat().find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
    if (external !== undefined) {
      const refusedExternally = await fetch(`http://${external}:${metricsPorts[0]}/metrics`).then(() => false, () => true);
      t.ok(refusedExternally, `not reachable on ${external} (bound to 127.0.0.1)`);
    }

    // The runtime info publishes the endpoint (the console finds it there).
    const admin = new AdminClient([cluster.namesrvAddr]);
    t.teardown(() => admin.close());
    for (const [i, port] of cluster.clientPorts.entries()) {
      const info = await until(() => admin.runtimeInfo(`127.0.0.1:${port}`).catch(() => null), 20_000, `runtime info of n${i}`);
      t.equal(info['dLegerMetricsPort'], String(metricsPorts[i]), `n${i}'s runtime info: dLegerMetricsPort ${info['dLegerMetricsPort']}`);
      t.equal(info['dLegerMetricsHost'], '127.0.0.1', `n${i}'s runtime info: dLegerMetricsHost`);
    }

    const { query, waitFor } = await startPrometheus(t, cluster.dir, 'rocketmq-broker', metricsPorts.map((p) => `127.0.0.1:${p}`));

    const leaders = await waitFor('dledger_role{role="leader"} == 1', (s) => s.length === 1, 'exactly one leader');
    const leader = leaders[0]?.metric['self_id'] as string;
    t.match(leaders[0]?.metric, { job: 'rocketmq-broker', cluster: 'RaftCluster', node_type: 'broker', node_id: 'RaftNode00', group: 'RaftNode00', self_id: leader }, `the leader ${leader} with RocketMQ's labels and the member's`);
    const terms = await waitFor('dledger_term >= 1', (s) => s.length === 3, 'a term from all three');
    t.same(terms.map((s) => s.metric['self_id']).sort(), ['n0', 'n1', 'n2'], 'dledger_term from n0, n1, n2');

    // 20 messages of 100 bytes by ali-ons, to a topic made with mqadmin.
    const update = await runSh(MQADMIN, ['updateTopic', '-t', 'MetricsTopic', '-c', 'RaftCluster', '-r', '2', '-w', '2', '-n', cluster.namesrvAddr], cluster.env, 20_000);
    t.equal(update.code, 0, update.stderr);
    const clients: AliClient[] = [];
    t.teardown(() => closeAll(clients));
    const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_metrics', ...SHORT_INTERVALS_MS });
    clients.push(producer);
    await producer.ready();
    for (let i = 0; i < 20; i++) {
      const sent = await producer.send(message('MetricsTopic', 'TagA', `metrics-${i}`, 'x'.repeat(100)));
      t.equal(sent.sendStatus, 'SEND_OK', `send ${i}`, { diagnostic: false });
    }
    const sentIn = await waitFor('rocketmq_messages_in_total{topic="MetricsTopic"}', (s) => s.reduce((sum, x) => sum + Number(x.value[1]), 0) === 20, 'the 20 sends counted');
    t.same(sentIn.map((s) => [s.metric['self_id'], s.metric['message_type'], s.value[1]]), [[leader, 'normal', '20']], 'rocketmq_messages_in_total: 20 normal messages, on the leader only');
    const bytesIn = await query('rocketmq_throughput_in_total{topic="MetricsTopic"}');
    t.same(bytesIn.map((s) => s.value[1]), ['2000'], 'rocketmq_throughput_in_total: 20 x 100 body bytes');
    const sizes = await query('rocketmq_message_size_bucket{topic="MetricsTopic",le="1024"}');
    t.same(sizes.map((s) => s.value[1]), ['20'], 'rocketmq_message_size: all 20 in the 1 KiB bucket');

    const commits = await query(`dledger_commit_latency_seconds_count{self_id="${leader}"}`);
    t.ok(Number(commits[0]?.value[1]) >= 20, `the leader's commit latency histogram counts the sends (${commits[0]?.value[1]})`);
    const lastIndex = Number((await query(`dledger_last_index{self_id="${leader}"}`))[0]?.value[1]);
    const applied = await waitFor(`dledger_applied_index >= ${lastIndex}`, (s) => s.length === 3, `every member applied up to ${lastIndex}`);
    t.equal(applied.length, 3, `all three report dledger_applied_index >= ${lastIndex}`);
    const lag = await waitFor(`dledger_follower_lag_entries{self_id="${leader}"}`, (s) => s.length === 2, 'the leader\'s lag for two peers');
    t.same(lag.map((s) => s.metric['remote_id']).sort(), NODES.filter((n) => n !== leader), 'per-peer lag for both followers');
    // Issue 12 item 5: bytes retained, log start, disk ratio, segments deleted.
    const retained = await query('dledger_store_bytes > 0');
    t.equal(retained.length, 3, 'dledger_store_bytes (bytes retained) > 0 on all three');
    const start = await query('dledger_log_first_index');
    t.same(start.map((s) => s.value[1]), ['0', '0', '0'], 'dledger_log_first_index (log start) 0: nothing deleted yet');
    const ratio = await waitFor('dledger_disk_usage_ratio > 0 and dledger_disk_usage_ratio < 1', (s) => s.length === 3, 'a disk ratio from all three');
    t.equal(ratio.length, 3, `dledger_disk_usage_ratio in (0, 1): ${ratio.map((s) => Number(s.value[1]).toFixed(3)).join(', ')}`);
    const deleted = await query('dledger_retention_segments_deleted_total');
    t.same(deleted.map((s) => s.value[1]), ['0', '0', '0'], 'dledger_retention_segments_deleted_total 0 on all three');
    const up = await query('up{job="rocketmq-broker"}');
    t.same(up.map((s) => s.value[1]), ['1', '1', '1'], 'prometheus sees all three targets up');

    // Connection bound: a flood over the cap is closed, counted, and a scrape still answers.
    const port = metricsPorts[0] as number;
    const sockets = await Promise.all(Array.from({ length: 80 }, () => new Promise<net.Socket>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', () => resolve(s));
    })));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const closed = sockets.filter((s) => s.destroyed || s.readableEnded).length;
    t.ok(closed >= 16, `connections over the cap (64, 32 per address) are closed: ${closed} of 80`);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    t.match(text, /dledger_connection_refusals_total\{listener="metrics",reason="max-connections-per-address"[^}]*\} [1-9]/, 'the refusals are counted on the member\'s metrics');
  });
}
