// Goal: the broker conf files of the quick start load as RocketMQ reads them, map onto a DLedger
// member whose data lands in {storePathRootDir}/dledger-{selfId}/, and every mistake (unknown key,
// malformed value, DLedger-incompatible key, bad selfId) is reported before start-up naming the key
// and file:line. Method: load conf/dledger/*.conf, then temp files with one mistake each.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerConfigError, buildBrokerConfig, followerBrokerIdOf, loadBrokerConfigFile, toNodeConfig } from '../../src/broker/config.js';

const conf = (name: string): string => {
  for (const dir of [path.resolve(import.meta.dirname, '../../conf/dledger'), path.resolve(import.meta.dirname, '../../../conf/dledger')]) {
    if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error(`conf/dledger/${name} not found`);
};

t.test('the quick start confs load with the quick start values', async (t) => {
  for (const n of [0, 1, 2]) {
    const config = loadBrokerConfigFile(conf(`broker-n${n}.conf`));
    t.equal(config.brokerClusterName, 'RaftCluster');
    t.equal(config.brokerName, 'RaftNode00');
    t.equal(config.listenPort, 30911 + 10 * n);
    t.same(config.namesrvAddrs, ['127.0.0.1:9876']);
    t.equal(config.storePathRootDir, `/tmp/rmqstore/node0${n}`);
    t.equal(config.storePathCommitLog, `/tmp/rmqstore/node0${n}/commitlog`);
    t.equal(config.enableDLegerCommitLog, true);
    t.equal(config.dLegerGroup, 'RaftNode00');
    t.same(config.dLegerPeers.map((p) => `${p.id}-${p.host}:${p.port}`), ['n0-127.0.0.1:40911', 'n1-127.0.0.1:40912', 'n2-127.0.0.1:40913']);
    t.equal(config.dLegerSelfId, `n${n}`);
    t.equal(config.sendMessageThreadPoolNums, 16);
    t.equal(config.maxMessageSize, 4 * 1024 * 1024, 'RocketMQ default');
    const node = toNodeConfig(config);
    t.equal(node.group, 'RaftNode00');
    t.equal(node.selfId, `n${n}`);
    t.equal(node.storeBaseDir, `/tmp/rmqstore/node0${n}`, 'DLedger data under {root}/dledger-{selfId}');
    t.equal(node.flushPolicy, 'async', 'ASYNC_FLUSH is the default, as in RocketMQ');
    t.ok(node.maxEntryBodyBytes > config.maxMessageSize, 'an entry holds the largest stored message');
  }
});

t.test('follower brokerIds are the digits of selfId + 1', async (t) => {
  t.equal(followerBrokerIdOf('n0'), 1);
  t.equal(followerBrokerIdOf('n2'), 3);
  t.equal(followerBrokerIdOf('a17'), 18);
});

function writeConf(t: Test, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-conf-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'broker.conf');
  fs.writeFileSync(file, text);
  return file;
}

const GOOD = [
  'brokerClusterName = C',
  'brokerName=B',
  'namesrvAddr=127.0.0.1:9876',
  'storePathRootDir=/tmp/x',
  'enableDLegerCommitLog=true',
  'dLegerPeers=n0-127.0.0.1:1;n1-127.0.0.1:2;n2-127.0.0.1:3',
  'dLegerSelfId=n1',
];

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof BrokerConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

t.test('mistakes name the key and file:line, all at once', async (t) => {
  const file = writeConf(t, [...GOOD, 'listenPort=70000', '# a comment', 'brokerColour=red', 'sendMessageThreadPoolNums=many'].join('\n'));
  const problems = problemsOf(() => loadBrokerConfigFile(file));
  t.equal(problems.length, 3, problems.join('\n'));
  t.match(problems.join('\n'), `${file}:8: listenPort: "70000" is not an integer in [1, 65535]`);
  t.match(problems.join('\n'), `${file}:10: brokerColour: unknown key`);
  t.match(problems.join('\n'), `${file}:11: sendMessageThreadPoolNums: "many" is not an integer`);
});

t.test('a malformed properties file fails with its line', async (t) => {
  const file = writeConf(t, [...GOOD, 'brokerName=again'].join('\n'));
  t.match(problemsOf(() => loadBrokerConfigFile(file)).join('\n'), `${file}:8: key "brokerName" is set twice`);
  t.match(problemsOf(() => loadBrokerConfigFile('/nonexistent/broker.conf')).join('\n'), 'cannot read the config file');
});

t.test('DLedger-specific rules', async (t) => {
  const base = Object.fromEntries(GOOD.map((line) => line.split(/\s*=\s*/) as [string, string]));
  t.match(problemsOf(() => buildBrokerConfig({ ...base, brokerId: '0' })).join('\n'), /brokerId: not configurable in DLedger mode/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, brokerRole: 'SYNC_MASTER' })).join('\n'), /brokerRole: not configurable/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, dLegerSelfId: 'node1', dLegerPeers: 'node1-h:1' })).join('\n'), /dLegerSelfId: "node1" must be one letter followed by digits/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, dLegerSelfId: 'n7' })).join('\n'), /"n7" is not one of dLegerPeers/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, dLegerPeers: 'n1-h:1;n01-h:2' })).join('\n'), /follower brokerIds would collide/);
  // enableDLegerCommitLog=false is a classic single master: brokerId 0 / a master role accepted, dLeger* keys ignored.
  const classic = buildBrokerConfig({ ...base, enableDLegerCommitLog: 'false', brokerId: '0', brokerRole: 'ASYNC_MASTER' });
  t.equal(classic.enableDLegerCommitLog, false);
  t.same(classic.dLegerPeers, []);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, enableDLegerCommitLog: 'false', brokerId: '1' })).join('\n'), /brokerId: "1" not supported: a classic broker/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, enableDLegerCommitLog: 'false', brokerRole: 'SLAVE' })).join('\n'), /brokerRole: "SLAVE" not supported/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, enableDLegerCommitLog: 'yes' })).join('\n'), /"yes" must be true or false/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, namesrvAddr: '127.0.0.1' })).join('\n'), /namesrvAddr: "127.0.0.1" is not host:port/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, brokerIP1: '::1' })).join('\n'), /brokerIP1: "::1" is not an IPv4 address/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, flushDiskType: 'SOMETIMES' })).join('\n'), /flushDiskType/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, storePathRootDir: 'relative/dir' })).join('\n'), /must be an absolute path/);
  t.match(problemsOf(() => buildBrokerConfig({ ...base, mappedFileSizeCommitLog: String(1024 * 1024) })).join('\n'), /maxMessageSize: 4194304 does not fit/);
  const config = buildBrokerConfig({ ...base, flushDiskType: 'SYNC_FLUSH', dLegerGroup: '' });
  t.equal(config.dLegerGroup, 'B', 'dLegerGroup defaults to brokerName');
  t.equal(toNodeConfig(config).flushPolicy, 'sync');
});

t.test("RocketMQ's file cleaning keys: defaults, fractions of hours, percent or fraction ratios, ranges", async (t) => {
  const base = Object.fromEntries(GOOD.map((line) => line.split(/\s*=\s*/) as [string, string]));
  const defaults = buildBrokerConfig(base).retention;
  t.equal(defaults.settings.fileReservedMs, 72 * 3_600_000, 'fileReservedTime 72 h');
  t.same(defaults.settings.deleteWhen, { kind: 'hours', hours: [4] }, 'deleteWhen 04');
  t.equal(defaults.settings.checkExpiredRatio, 0.75, 'diskMaxUsedSpaceRatio 75');
  t.equal(defaults.settings.forceCleanRatio, 0.85, 'diskSpaceCleanForciblyRatio 85');
  t.equal(defaults.settings.diskFullRatio, 0.9, 'diskSpaceWarningLevelRatio 90');
  t.equal(defaults.settings.diskOkRatio, 0.85, 'the disk is OK again at or below the clean-forcibly ratio (RocketMQ)');
  t.equal(defaults.settings.checkIntervalMs, 10_000, 'cleanResourceInterval 10 s');
  t.equal(defaults.settings.unlinkIntervalMs, 100, 'deleteCommitLogFilesInterval 100 ms');
  t.equal(defaults.destroyMapedFileIntervalForciblyMs, 120_000);
  const tuned = buildBrokerConfig({ ...base, fileReservedTime: '0.001', deleteWhen: '04;16', diskSpaceCleanForciblyRatio: '0.6', diskSpaceWarningLevelRatio: '70', cleanFileForciblyEnable: 'false', cleanResourceInterval: '200' }).retention.settings;
  t.equal(tuned.fileReservedMs, 3600, 'fractions of an hour');
  t.same(tuned.deleteWhen, { kind: 'hours', hours: [4, 16] });
  t.equal(tuned.diskFullRatio, 0.7, 'a percent');
  t.equal(tuned.diskOkRatio, 0.6, 'a fraction');
  t.equal(tuned.forceCleanRatio, null, 'cleanFileForciblyEnable=false: never forced');
  for (const [key, value] of [
    ['fileReservedTime', '0'], ['fileReservedTime', 'x'], ['deleteWhen', '25'], ['diskMaxUsedSpaceRatio', '96'], ['diskMaxUsedSpaceRatio', '0.75'],
    ['cleanResourceInterval', '5'], ['deleteCommitLogFilesInterval', '-1'], ['destroyMapedFileIntervalForcibly', 'soon'],
    ['diskSpaceCleanForciblyRatio', '86'], ['diskSpaceCleanForciblyRatio', '0.2'], ['diskSpaceWarningLevelRatio', '91'], ['diskSpaceWarningLevelRatio', '0.3'], ['cleanFileForciblyEnable', 'yes'],
  ] as const) {
    const problems = problemsOf(() => buildBrokerConfig({ ...base, [key]: value }));
    t.ok(problems.length === 1 && problems[0]!.startsWith(`${key}:`) && problems[0]!.includes(`"${value}"`), `${key}=${value} refused: ${problems[0]}`);
  }
  t.match(problemsOf(() => buildBrokerConfig({ ...base, fileReservedHours: '1' })).join('\n'), /fileReservedHours: unknown key/, "DLedger's key is not a broker key");
});
