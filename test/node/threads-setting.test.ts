// The `threads` setting (inline | workers | auto): validated with the other keys wherever it comes
// from (node config key, `dledger server --threads`, broker key dLegerThreads, the DLEDGER_THREADS
// override), auto resolved by the core count unless the environment overrides it, and the mode a
// started node runs in is what it reports.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBrokerConfig, toNodeConfig } from '../../src/broker/config.js';
import { buildNodeConfig, ConfigError } from '../../src/node/config.js';
import { DLedgerServer } from '../../src/node/server.js';
import { AUTO_WORKERS_MIN_CORES, resolveThreads, THREADS_ENV } from '../../src/node/threads-mode.js';
import { testSecretFile } from '../util/peer-secret.js';

const repoRoot = [path.resolve(import.meta.dirname, '../..'), path.resolve(import.meta.dirname, '../../..')].find((dir) => fs.existsSync(path.join(dir, 'bin/dledger.mjs'))) as string;

/** Run `fn` with DLEDGER_THREADS set to `value` (undefined: unset), restoring it after. */
function withEnv<T>(value: string | undefined, fn: () => T): T {
  const saved = process.env[THREADS_ENV];
  if (value === undefined) delete process.env[THREADS_ENV];
  else process.env[THREADS_ENV] = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env[THREADS_ENV];
    else process.env[THREADS_ENV] = saved;
  }
}

t.test('config key: default auto, the three modes accepted, anything else refused by name', async (t) => {
  withEnv(undefined, () => {
    t.equal(buildNodeConfig({}).threads, 'auto');
    for (const mode of ['inline', 'workers', 'auto']) t.equal(buildNodeConfig({ threads: mode }).threads, mode);
    t.throws(() => buildNodeConfig({ threads: 'Workers' }), /threads: "Workers" must be inline, workers or auto/);
    t.throws(() => buildNodeConfig({ threads: '' }), ConfigError);
  });
});

t.test('DLEDGER_THREADS is validated with the keys, before anything starts', async (t) => {
  withEnv('parallel', () => {
    t.throws(() => buildNodeConfig({}), /DLEDGER_THREADS: "parallel" must be inline, workers or auto/);
    // Reported together with the other problems, not instead of them.
    t.throws(() => buildNodeConfig({ flushPolicy: 'never' }), /flushPolicy: "never"[\s\S]*DLEDGER_THREADS/);
  });
  for (const value of ['', 'inline', 'workers', 'auto']) withEnv(value, () => t.equal(buildNodeConfig({}).threads, 'auto'));
});

t.test('resolution: an explicit mode wins; the environment overrides auto only; auto goes by cores', async (t) => {
  t.same(resolveThreads('inline', 'workers', 64), { mode: 'inline', reason: 'config' });
  t.same(resolveThreads('workers', 'inline', 1), { mode: 'workers', reason: 'config' });
  t.same(resolveThreads('auto', 'workers', 1), { mode: 'workers', reason: 'env' });
  t.same(resolveThreads('auto', 'inline', 64), { mode: 'inline', reason: 'env' });
  // (An undefined argument means "read DLEDGER_THREADS", so the unset case runs with it unset.)
  for (const env of [undefined, '', 'auto']) {
    withEnv(undefined, () => {
      t.same(resolveThreads('auto', env, 2), { mode: 2 >= AUTO_WORKERS_MIN_CORES ? 'workers' : 'inline', reason: 'cores' });
      t.same(resolveThreads('auto', env, 1), { mode: 'inline', reason: 'cores' }, 'one core: nothing to put a worker on');
    });
  }
  // Until the bench shows workers ahead on some core count, auto stays inline everywhere.
  t.equal(AUTO_WORKERS_MIN_CORES, Number.POSITIVE_INFINITY);
  withEnv(undefined, () => t.same(resolveThreads('auto', undefined, 1024), { mode: 'inline', reason: 'cores' }));
});

t.test('broker key dLegerThreads maps to the member and is validated with the broker keys', async (t) => {
  const base = {
    brokerName: 'b', namesrvAddr: '127.0.0.1:9876', storePathRootDir: '/tmp/x', enableDLegerCommitLog: 'true',
    dLegerPeers: 'n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913', dLegerSelfId: 'n0', dLegerPeerAuth: 'none',
  };
  withEnv(undefined, () => {
    t.equal(toNodeConfig(buildBrokerConfig(base)).threads, 'auto');
    t.equal(toNodeConfig(buildBrokerConfig({ ...base, dLegerThreads: 'workers' })).threads, 'workers');
    t.throws(() => buildBrokerConfig({ ...base, dLegerThreads: 'many' }), /dLegerThreads: "many" must be inline, workers or auto/);
  });
});

t.test('a started node reports the mode it runs in', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threads-setting-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, string | undefined, string, string]> = [
    ['inline', 'workers', 'inline', 'config'],
    ['auto', 'workers', 'workers', 'env'],
    ['auto', undefined, 'inline', 'cores'],
  ];
  for (const [setting, env, mode, reason] of cases) {
    const lines: string[] = [];
    const built = withEnv(env, () =>
      buildNodeConfig({ group: 'g', selfId: 'n0', peers: 'n0-127.0.0.1:1', storeBaseDir: dir, mappedFileSizeForEntryData: 65536, mappedFileSizeForEntryIndex: 4096, maxEntryBodyBytes: 1024, peerSecretFile: testSecretFile(), threads: setting }),
    );
    const config = { ...built, peers: built.peers.map((peer) => ({ ...peer, port: 0 })) };
    const server = new DLedgerServer({ config, log: (line) => lines.push(line) });
    await withEnv(env, () => server.start());
    t.same(server.threadsMode, { mode, reason }, `${setting} with DLEDGER_THREADS=${env ?? '(unset)'}`);
    t.match(lines.join('\n'), new RegExp(`threads ${mode} \\(`));
    await server.close();
  }
});

t.test('dledger server refuses a bad --threads and a bad DLEDGER_THREADS at start, naming it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threads-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const args = [path.join(repoRoot, 'bin/dledger.mjs'), 'server', '--peers', 'n0-127.0.0.1:1', '--store-base-dir', dir, '--peer-auth', 'none'];
  const env = { ...process.env };
  delete env[THREADS_ENV];
  const badFlag = spawnSync(process.execPath, [...args, '--threads', 'sometimes'], { env, encoding: 'utf8', timeout: 30_000 });
  t.not(badFlag.status, 0);
  t.match(badFlag.stderr, /threads: "sometimes" must be inline, workers or auto/);
  const badEnv = spawnSync(process.execPath, args, { env: { ...env, [THREADS_ENV]: 'two' }, encoding: 'utf8', timeout: 30_000 });
  t.not(badEnv.status, 0);
  t.match(badEnv.stderr, /DLEDGER_THREADS: "two" must be inline, workers or auto/);
  t.equal(fs.readdirSync(dir).length, 0, 'nothing was created: refused before the store opened');
});
