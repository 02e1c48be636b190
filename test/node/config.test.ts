// Config validation must catch every mistake before start-up and name the key: unknown keys,
// malformed peers, a selfId outside the group, bad numbers, inconsistent sizes and timings.
import t from 'tap';
import { buildNodeConfig, ConfigError, formatPeers, parsePeers, raftTimingTicks } from '../../src/node/config.js';

t.test('defaults are DLedger-compatible and valid', async (t) => {
  const config = buildNodeConfig({});
  t.equal(config.group, 'default');
  t.equal(config.selfId, 'n0');
  t.same(config.peers, [{ id: 'n0', host: 'localhost', port: 20911 }]);
  t.equal(config.storeBaseDir, '/tmp/dledgerstore');
  t.equal(config.mappedFileSizeForEntryData, 1073741824);
  t.equal(config.mappedFileSizeForEntryIndex, 167772160);
  t.same(raftTimingTicks(config), { heartbeatTimeoutTicks: 2, electionTimeoutTicks: 12 });
});

t.test('peers syntax round-trips and rejects malformed entries by name', async (t) => {
  const text = 'n0-127.0.0.1:20911;n1-127.0.0.1:20912;n2-localhost:20913';
  t.equal(formatPeers(parsePeers(text)), text);
  t.throws(() => parsePeers(''), /empty/);
  t.throws(() => parsePeers('n0:20911'), /"n0:20911" is not of the form id-host:port/);
  t.throws(() => parsePeers('n0-host:99999'), /port "99999"/);
  t.throws(() => parsePeers('n0-a:1;n0-b:2'), /id "n0" appears twice/);
});

t.test('every problem is reported at once, each naming its key', async (t) => {
  try {
    buildNodeConfig({ selfId: 'n9', peers: 'n0-h:1;n1-h:2', heartBeatTimeIntervalMs: '75', flushPolicy: 'sometimes', colour: 'red', maxHeartBeatLeak: 'x' });
    t.fail('expected a ConfigError');
  } catch (error) {
    t.ok(error instanceof ConfigError);
    const message = (error as Error).message;
    t.match(message, /colour: unknown key/);
    t.match(message, /selfId: "n9" is not one of the peers/);
    t.match(message, /heartBeatTimeIntervalMs: 75 must be a multiple of tickIntervalMs/);
    t.match(message, /flushPolicy: "sometimes"/);
    t.match(message, /maxHeartBeatLeak: "x" is not an integer/);
  }
});

t.test('sizes must be page multiples and a max entry must fit a segment', async (t) => {
  t.throws(() => buildNodeConfig({ mappedFileSizeForEntryData: 5000 }), /mappedFileSizeForEntryData: 5000 must be a multiple of 4096/);
  t.throws(() => buildNodeConfig({ mappedFileSizeForEntryData: 8192, maxEntryBodyBytes: 9000 }), /maxEntryBodyBytes: 9000 does not fit/);
  t.throws(() => buildNodeConfig({ preferredLeaderIds: 'n7' }), /preferredLeaderIds: "n7"/);
  t.equal(buildNodeConfig({ metricsPort: '9100' }).metricsPort, 9100);
});
