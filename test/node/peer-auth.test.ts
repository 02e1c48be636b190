// The group secret: a node without one refuses to start (ConfigError naming the keys) unless
// peerAuth=none, which starts with a warning; secret files are validated (mode, length, empty);
// and a file with two secrets (rotation) proves with the first and accepts both.
// Method: real DLedgerServer starts and real handshakes over loopback TCP (PeerTransport).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildNodeConfig, ConfigError } from '../../src/node/config.js';
import { DLedgerServer } from '../../src/node/server.js';
import { loadSecretFile } from '../../src/node/peer-auth.js';
import { PeerTransport } from '../../src/node/peer-transport.js';
import { randomSecret, writeSecretFile } from '../util/peer-secret.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-peer-auth-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const nodeConfig = (extra: Record<string, unknown>) => {
  const config = buildNodeConfig({ group: 'pa', peers: 'n0-127.0.0.1:1', storeBaseDir: dir, mappedFileSizeForEntryData: 65536, mappedFileSizeForEntryIndex: 4096, maxEntryBodyBytes: 1024, ...extra });
  return { ...config, peers: config.peers.map((p) => ({ ...p, port: 0 })) };
};

t.test('no secret: refuses to start with a ConfigError; peerAuth=none starts and warns', async (t) => {
  const refused = new DLedgerServer({ config: nodeConfig({}), log: () => undefined });
  await t.rejects(refused.start(), ConfigError);
  await t.rejects(new DLedgerServer({ config: nodeConfig({}), log: () => undefined }).start(), /peerSecretFile: not set.*peerAuth=none/s);
  t.notOk(fs.existsSync(path.join(dir, 'dledger-n0')), 'refused before the store was created');
  const logs: string[] = [];
  const open = new DLedgerServer({ config: nodeConfig({ peerAuth: 'none' }), log: (line) => logs.push(line) });
  await open.start();
  t.ok(logs.some((line) => /WARNING: peerAuth=none/.test(line)), 'the warning is logged at start');
  await open.close();
  t.throws(() => nodeConfig({ peerAuth: 'maybe' }), /peerAuth: "maybe" must be "secret" or "none"/);
});

t.test('secret files are validated', async (t) => {
  const loose = writeSecretFile(dir, 'loose.secret');
  fs.chmodSync(loose, 0o644);
  t.throws(() => loadSecretFile(loose, 'peerSecretFile'), /mode 644; it must not be readable by group or others/);
  t.throws(() => loadSecretFile(writeSecretFile(dir, 'empty.secret', ['', '# comment']), 'peerSecretFile'), /holds no secret/);
  t.throws(() => loadSecretFile(writeSecretFile(dir, 'short.secret', ['short']), 'peerSecretFile'), /secret 1 .* has 5 characters, expected 16-1024/);
  t.throws(() => loadSecretFile(path.join(dir, 'missing.secret'), 'peerSecretFile'), /cannot read/);
  const two = loadSecretFile(writeSecretFile(dir, 'two.secret', ['  first-secret-0123456789  ', 'second-secret-0123456789']), 'peerSecretFile');
  t.same(two.secrets.map((s) => s.toString()), ['first-secret-0123456789', 'second-secret-0123456789'], 'trimmed, in order');
  const server = new DLedgerServer({ config: nodeConfig({ peerSecretFile: loose }), log: () => undefined });
  await t.rejects(server.start(), /must not be readable by group or others/, 'a node refuses to start on a group-readable secret');
});

t.test('rotation: [old, new] on one side talks to [old] and to [new, old]', async (t) => {
  const [oldSecret, newSecret] = [randomSecret(), randomSecret()];
  const make = (selfId: string, secrets: string[], inbox: unknown[]) => {
    const s = { secrets: secrets.map((x) => Buffer.from(x)) };
    return new PeerTransport({
      group: 'rot', selfId, peers: ['n0', 'n1'].map((id) => ({ id, host: '127.0.0.1', port: 1 })), maxFrameBytes: 1 << 20,
      maxQueuedFramesPerPeer: 10, reconnectInitialDelayMs: 10, reconnectMaxDelayMs: 50, onMessage: (_from, m) => inbox.push(m), log: () => undefined, secrets: { peer: s, client: s },
    });
  };
  const until = async (probe: () => boolean): Promise<boolean> => {
    const deadline = Date.now() + 5000;
    while (!probe()) { if (Date.now() > deadline) return false; await new Promise((r) => setTimeout(r, 10)); }
    return true;
  };
  for (const [a, b, what] of [[[oldSecret, newSecret], [oldSecret], 'step 1: [old,new] with [old]'], [[newSecret, oldSecret], [oldSecret, newSecret], 'step 2: [new,old] with [old,new]'], [[newSecret], [newSecret, oldSecret], 'step 3: [new] with [new,old]']] as const) {
    const inA: unknown[] = [];
    const inB: unknown[] = [];
    const ta = make('n0', [...a], inA);
    const tb = make('n1', [...b], inB);
    const pa = await ta.listen('127.0.0.1', 0);
    const pb = await tb.listen('127.0.0.1', 0);
    ta.setPeerAddress({ id: 'n1', host: '127.0.0.1', port: pb });
    tb.setPeerAddress({ id: 'n0', host: '127.0.0.1', port: pa });
    t.ok(await until(() => { ta.send('n1', { from: 'n0' }); tb.send('n0', { from: 'n1' }); return inA.length > 0 && inB.length > 0; }), `${what}: both directions authenticate`);
    await ta.close();
    await tb.close();
  }
  const inA: unknown[] = [];
  const ta = make('n0', [newSecret], inA);
  const tb = make('n1', [oldSecret], []);
  const pa = await ta.listen('127.0.0.1', 0);
  tb.setPeerAddress({ id: 'n0', host: '127.0.0.1', port: pa });
  t.ok(await until(() => { tb.send('n0', { from: 'n1' }); return tb.stats.authFailures > 0; }), 'after the old secret is removed, a node with only the old one cannot connect (it finds the acceptor\'s proof wrong)');
  t.equal(inA.length, 0);
  await ta.close();
  await tb.close();
});
