// TLS on RocketMQ remoting (tls.server.mode), with real processes and certs made by openssl:
// - name server A in permissive mode (keys in its conf), name server B in enforcing mode (keys in a
//   tls.config.file properties file, as RocketMQ's tls.properties), one DLedger broker in
//   permissive mode that registers with both over TLS (tls.enable + tls.client.trustCertPath) and
//   runs its DLedger peer port with TLS (dLegerTls* keys);
// - `mqadmin clusterList --tlsEnable` against the enforcing B lists the broker (registration and
//   admin both went over TLS); plaintext mqadmin and a plaintext remoting client are refused by B
//   (closed, logged with the reason);
// - the permissive broker serves our admin client over TLS (updateTopic -b) and ali-ons (which
//   has no TLS) over plaintext on the same port: it produces and consumes through A;
// - a bad tls.server.mode is refused at start, naming the key.
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { RemotingClient } from '../../src/remoting/client.js';
import { createRequest } from '../../src/remoting/command.js';
import { RequestCode } from '../../src/remoting/codes.js';
import { awaitDeliveries, closeAll, consumeInto, ons, produce, SHORT_INTERVALS_MS, type AliClient } from '../quickstart/ali-ons-client.js';
import { clusterRows, freePorts, MQADMIN, requireDist, runSh } from '../quickstart/helpers.js';
import { awaitLine, launch, startGroup } from '../quickstart/process-cluster.js';
import { makeCerts } from './certs.js';

t.before(requireDist);


const TOPIC = 'TopicTls';
const certs = makeCerts();
t.teardown(() => fs.rmSync(certs.dir, { recursive: true, force: true }));
const serverKeys = [`tls.server.certPath=${certs.nodeCertFile}`, `tls.server.keyPath=${certs.nodeKeyFile}`];
const adminTls = ['--tlsEnable', '--tlsTrustCertPath', certs.caFile];

async function startNamesrv(t: Test, name: string, confLines: readonly string[]): Promise<{ addr: string; output: () => string }> {
  const [port] = (await freePorts(1)) as [number];
  const conf = path.join(certs.dir, `${name}.conf`);
  fs.writeFileSync(conf, `${confLines.join('\n')}\n`);
  const child = launch(t, `name server ${name}`, 'bin/mqnamesrv', ['-c', conf, '-n', String(port)]);
  await awaitLine(child, /The Name Server boot success/);
  return { addr: `127.0.0.1:${port}`, output: child.output };
}

t.test('a bad tls.server.mode is refused at start, naming the key', async (t) => {
  const conf = path.join(certs.dir, 'bad.conf');
  fs.writeFileSync(conf, 'tls.server.mode=strict\n');
  const run = await runSh(path.join(path.dirname(MQADMIN), 'mqnamesrv'), ['-c', conf, '-n', '0'], process.env, 20_000);
  t.equal(run.code, 1, 'mqnamesrv exits 1');
  t.match(run.stderr + run.stdout, /tls\.server\.mode: "strict" must be disabled, permissive or enforcing/, run.stderr);
});

t.test('enforcing refuses plaintext, permissive takes both, the broker registers and mqadmin lists over TLS', async (t) => {
  const dir = fs.mkdtempSync(path.join(certs.dir, 'cluster-'));
  const clients: AliClient[] = [];
  t.teardown(async () => {
    await closeAll(clients);
  });
  const tlsProperties = path.join(certs.dir, 'tls.properties');
  fs.writeFileSync(tlsProperties, `${serverKeys.join('\n')}\n`);
  const permissive = await startNamesrv(t, 'A', ['tls.server.mode=permissive', ...serverKeys]);
  const enforcing = await startNamesrv(t, 'B', ['tlsServerMode=enforcing', `tls.config.file=${tlsProperties}`]);
  const [broker] = await startGroup(t, dir, `${permissive.addr};${enforcing.addr}`, {
    cluster: 'TlsCluster',
    brokerName: 'TlsNode00',
    members: 1,
    extraConf: [
      'tlsServerMode=permissive', ...serverKeys,
      'tls.enable=true', `tls.client.trustCertPath=${certs.caFile}`,
      'dLegerTlsEnable=true', `dLegerTlsCertFile=${certs.nodeCertFile}`, `dLegerTlsKeyFile=${certs.nodeKeyFile}`, `dLegerTlsCaFile=${certs.caFile}`,
      'mappedFileSizeCommitLog=16777216', 'maxMessageSize=65536',
    ],
  });
  const brokerAddr = `127.0.0.1:${broker?.clientPort}`;

  // The enforcing name server: the broker's registration reached it over TLS, mqadmin reads it over TLS.
  const mqadmin = (...args: string[]) => runSh(MQADMIN, args, process.env, 20_000);
  let listed = await mqadmin('clusterList', '-n', enforcing.addr, ...adminTls);
  for (const deadline = Date.now() + 20_000; !clusterRows(listed.stdout).some((row) => row.bid === 0) && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    listed = await mqadmin('clusterList', '-n', enforcing.addr, ...adminTls);
  }
  const rows = clusterRows(listed.stdout);
  t.ok(rows.some((row) => row.brokerName === 'TlsNode00' && row.bid === 0 && row.addr.endsWith(`:${broker?.clientPort}`)), `mqadmin clusterList --tlsEnable on the enforcing name server lists the broker (registered over TLS)\n${listed.stdout}${listed.stderr}`);

  const plainAdmin = await mqadmin('clusterList', '-n', enforcing.addr);
  t.not(plainAdmin.code, 0, `plaintext mqadmin against the enforcing name server fails: ${plainAdmin.stderr.trim().split('\n')[0]}`);
  const plain = new RemotingClient({ connectTimeoutMs: 2000 });
  const refused = await plain.invoke(enforcing.addr, createRequest(RequestCode.GET_BROKER_CLUSTER_INFO, {}), 3000).then(() => null, (error: Error) => error);
  plain.close();
  t.ok(refused !== null, `a plaintext remoting request to the enforcing name server gets no answer: ${refused?.message}`);
  t.match(enforcing.output(), /namesrv: refusing connection from 127\.0\.0\.1:\d+: TLS handshake failed/, 'the enforcing name server logged the refusal with its reason');

  // The permissive broker: our admin client over TLS, ali-ons over plaintext, on one port.
  const update = await mqadmin('updateTopic', '-n', permissive.addr, '-t', TOPIC, '-b', brokerAddr, '-r', '2', '-w', '2', ...adminTls);
  t.equal(update.code, 0, `mqadmin updateTopic -b over TLS on the permissive broker: ${update.stdout.trim()} ${update.stderr.trim()}`);
  const errors: Error[] = [];
  const producer = new ons.Producer({ nameSrv: permissive.addr, httpclient: {}, producerGroup: 'PG_tls', ...SHORT_INTERVALS_MS });
  clients.push(producer);
  producer.on('error', (error) => errors.push(error));
  const sent = await produce(producer, TOPIC, 'tls', 50);
  t.equal(sent.size, 50, 'ali-ons (plaintext) sent 50 messages through the permissive name server and broker');
  const deliveries = new Map<string, number>();
  const consumer = consumeInto({ nameSrv: permissive.addr, consumerGroup: 'CG_tls' }, TOPIC, deliveries, errors);
  clients.push(consumer);
  await consumer.ready();
  t.same(await awaitDeliveries(deliveries, sent.keys(), 30_000), [], 'ali-ons (plaintext) consumed all 50');
  const viaTls = await mqadmin('topicStatus', '-n', permissive.addr, '-t', TOPIC, ...adminTls);
  t.match(viaTls.stdout, /TlsNode00/, `mqadmin topicStatus over TLS reads the same topic\n${viaTls.stdout}`);
  // ali-ons is closed while the broker still answers: closed after the broker's teardown, its
  // pending pulls keep this process alive for minutes.
  await closeAll(clients.splice(0));
});
