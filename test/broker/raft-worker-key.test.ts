// The broker key dLegerRaftWorker (the node key raftWorker, like dLegerThreads is threads):
// default false, true reaches the member's config, a bad value or true with dLegerThreads=inline
// is refused with the others at start.
import t from 'tap';
import { buildBrokerConfig, BrokerConfigError, toNodeConfig } from '../../src/broker/config.js';
import { resolveRaftWorker, resolveThreads } from '../../src/node/threads-mode.js';

const BASE = { brokerName: 'RaftNode00', brokerIP1: '127.0.0.1', namesrvAddr: '127.0.0.1:9876', storePathRootDir: '/tmp/x', enableDLegerCommitLog: 'true', dLegerPeers: 'n0-127.0.0.1:40911;n1-127.0.0.1:40912', dLegerSelfId: 'n0', dLegerPeerSecretFile: '/tmp/s', listenPort: '30911' };

t.test('dLegerRaftWorker', async (t) => {
  const saved = { threads: process.env.DLEDGER_THREADS, raftWorker: process.env.DLEDGER_RAFT_WORKER };
  delete process.env.DLEDGER_THREADS;
  delete process.env.DLEDGER_RAFT_WORKER;
  t.teardown(() => {
    for (const [key, value] of [['DLEDGER_THREADS', saved.threads], ['DLEDGER_RAFT_WORKER', saved.raftWorker]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  const off = buildBrokerConfig(BASE);
  t.equal(off.dLegerRaftWorker, false, 'default false');
  t.equal(toNodeConfig(off).raftWorker, false, 'the member runs without a Raft worker');
  const on = buildBrokerConfig({ ...BASE, dLegerThreads: 'workers', dLegerRaftWorker: 'true' });
  const node = toNodeConfig(on);
  t.equal(node.raftWorker, true, 'true reaches the member\'s raftWorker');
  t.equal(resolveRaftWorker(resolveThreads(node.threads).mode, node.raftWorker), true, 'and the member starts on a Raft worker');
  const refusal = (raw: Record<string, string>): string => {
    try {
      buildBrokerConfig({ ...BASE, ...raw });
      return 'accepted';
    } catch (error) {
      return error instanceof BrokerConfigError ? error.message : `not a BrokerConfigError: ${String(error)}`;
    }
  };
  t.match(refusal({ dLegerRaftWorker: 'yes' }), /dLegerRaftWorker.*"yes" must be true or false/, 'a bad value is refused');
  t.match(refusal({ dLegerThreads: 'inline', dLegerRaftWorker: 'true' }), /dLegerRaftWorker.*needs dLegerThreads workers or auto/, 'true with dLegerThreads=inline is refused');
});

t.test('dLegerStorageWorkerWrites: default false, true reaches the member, refused with dLegerThreads=inline', async (t) => {
  const off = buildBrokerConfig(BASE);
  t.equal(off.dLegerStorageWorkerWrites, false, 'default false');
  t.equal(toNodeConfig(off).storageWorkerWrites, false);
  t.equal(toNodeConfig(buildBrokerConfig({ ...BASE, dLegerThreads: 'workers', dLegerStorageWorkerWrites: 'true' })).storageWorkerWrites, true, 'true reaches the member\'s storageWorkerWrites');
  t.throws(() => buildBrokerConfig({ ...BASE, dLegerThreads: 'inline', dLegerStorageWorkerWrites: 'true' }), /dLegerStorageWorkerWrites.*needs dLegerThreads workers or auto/);
  t.throws(() => buildBrokerConfig({ ...BASE, dLegerStorageWorkerWrites: 'yes' }), /dLegerStorageWorkerWrites/);
});
