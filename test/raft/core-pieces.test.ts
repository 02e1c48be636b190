// Goal: the Raft core's small parts do their arithmetic and bookkeeping right on their own:
// quorum math, the inflight window, config validation, the in-memory storage, the unstable log,
// the snapshot chunk receiver and the ReadIndex queue.
// Method: direct calls with hand-computed expectations; quorum math is also checked against a
// brute-force definition over many random inputs (seeded), as etcd does with testing/quick.
import t from 'tap';
import { Prng } from '../../src/util/prng.js';
import { AssertionError } from '../../src/util/assert.js';
import { committedIndex, quorumSize, voteOutcome } from '../../src/raft/quorum.js';
import { Inflights } from '../../src/raft/inflights.js';
import { defaultRaftConfig, RaftConfigError, validateRaftConfig } from '../../src/raft/config.js';
import { MemoryRaftStorage } from '../../src/raft/memory-storage.js';
import { Unstable } from '../../src/raft/unstable.js';
import { SnapshotReceiver } from '../../src/raft/snapshot-receiver.js';
import { ReadOnlyQueue } from '../../src/raft/read-only.js';
import { EntryType, type Entry, type RaftConfig } from '../../src/raft/types.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const entry = (index: number, term: number, data = ''): Entry => ({ index, term, type: EntryType.Normal, data: bytes(data) });

t.test('quorum size is a strict majority', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
  t.throws(() => quorumSize(0), AssertionError);
});

t.test('committedIndex: hand-picked cases', async (t) => {
  const voters = ['a', 'b', 'c'];
  const at = (m: Record<string, number>) => (id: string) => m[id];
  t.equal(committedIndex(voters, at({ a: 5, b: 3, c: 1 })), 3);
  t.equal(committedIndex(voters, at({ a: 5, b: 5, c: 1 })), 5);
  t.equal(committedIndex(voters, at({ a: 5 })), -1, 'missing voters count as holding nothing');
  t.equal(committedIndex(['a'], at({ a: 7 })), 7);
  t.equal(committedIndex(['a', 'b', 'c', 'd'], at({ a: 9, b: 8, c: 2, d: 1 })), 2, 'four voters need three');
});

t.test('committedIndex agrees with the definition on random inputs', async (t) => {
  const prng = new Prng(20261125);
  let checked = 0;
  for (let round = 0; round < 5000; round++) {
    const n = prng.intBetween(1, 8);
    const voters = Array.from({ length: n }, (_, i) => `v${i}`);
    const match = new Map(voters.map((id) => [id, prng.intBetween(-1, 20)] as const));
    const got = committedIndex(voters, (id) => match.get(id));
    // Definition: the largest index that at least a majority holds.
    let expected = -1;
    for (let index = 20; index >= -1; index--) {
      const holders = voters.filter((id) => (match.get(id) as number) >= index).length;
      if (holders >= Math.floor(n / 2) + 1) {
        expected = index;
        break;
      }
    }
    if (got !== expected) t.fail(`voters ${JSON.stringify([...match])}: got ${got}, expected ${expected}`);
    checked++;
  }
  t.equal(checked, 5000);
});

t.test('voteOutcome: won, lost, pending', async (t) => {
  const voters = ['a', 'b', 'c', 'd', 'e'];
  const votes = (entries: Array<[string, boolean]>) => new Map(entries);
  t.equal(voteOutcome(voters, votes([['a', true], ['b', true]])), 'pending');
  t.equal(voteOutcome(voters, votes([['a', true], ['b', true], ['c', true]])), 'won');
  t.equal(voteOutcome(voters, votes([['a', true], ['b', false], ['c', false]])), 'pending');
  t.equal(voteOutcome(voters, votes([['a', true], ['b', false], ['c', false], ['d', false]])), 'lost');
  t.equal(voteOutcome(['a'], votes([['a', true]])), 'won');
  t.equal(voteOutcome(voters, votes([['x', true], ['y', true], ['z', true]])), 'pending', 'non-voters do not count');
});

t.test('inflights: bounded by count and by bytes, freed in order', async (t) => {
  const byCount = new Inflights(3, 1000);
  byCount.add(1, 10);
  byCount.add(2, 10);
  t.notOk(byCount.full());
  byCount.add(5, 10);
  t.ok(byCount.full(), 'three messages fill a window of three');
  t.throws(() => byCount.add(6, 1), AssertionError, 'adding to a full window is a programmer error');
  byCount.freeLE(2);
  t.equal(byCount.count(), 1);
  t.equal(byCount.bytes(), 10);
  t.notOk(byCount.full());
  t.throws(() => byCount.add(4, 1), AssertionError, 'last indexes must ascend');

  const byBytes = new Inflights(100, 25);
  byBytes.add(1, 10);
  byBytes.add(2, 10);
  t.notOk(byBytes.full());
  byBytes.add(3, 10);
  t.ok(byBytes.full(), '30 bytes reach a 25-byte window');
  byBytes.freeLE(1);
  t.notOk(byBytes.full());
  byBytes.freeLE(100);
  t.equal(byBytes.count(), 0);
  t.equal(byBytes.bytes(), 0);
  byBytes.add(4, 1);
  byBytes.reset();
  t.equal(byBytes.count(), 0);
});

t.test('config validation names the key', async (t) => {
  const base = defaultRaftConfig('n1', ['n1', 'n2', 'n3']);
  t.equal(validateRaftConfig(base), base, 'defaults are valid');
  const bad = (change: Partial<RaftConfig>, key: string): void => {
    const config = { ...base, ...change } as RaftConfig;
    try {
      validateRaftConfig(config);
      t.fail(`accepted ${JSON.stringify(change)}`);
    } catch (error) {
      t.type(error, RaftConfigError);
      t.equal((error as RaftConfigError).key, key, `${JSON.stringify(change)} names ${key}`);
      t.match((error as Error).message, key);
    }
  };
  bad({ electionTimeoutTicks: 10, heartbeatTimeoutTicks: 10 }, 'electionTimeoutTicks');
  bad({ selfId: 'n9' }, 'peerIds');
  bad({ selfId: '' }, 'selfId');
  bad({ peerIds: ['n1', 'n2', 'n2'] }, 'peerIds');
  bad({ leaseReads: true, checkQuorum: false }, 'leaseReads');
  bad({ leaseReads: true, checkQuorum: true, electionTimeoutTicks: 3, heartbeatTimeoutTicks: 1 }, 'electionTimeoutTicks');
  t.doesNotThrow(() => validateRaftConfig({ ...base, leaseReads: true, electionTimeoutTicks: 4, heartbeatTimeoutTicks: 1 }));
  bad({ maxInflightMsgs: 0 }, 'maxInflightMsgs');
  bad({ maxSizePerMsgBytes: -1 }, 'maxSizePerMsgBytes');
  bad({ snapshotChunkBytes: 1.5 }, 'snapshotChunkBytes');
  bad({ maxPendingReadIndexRequests: 0 }, 'maxPendingReadIndexRequests');
  bad({ maxSizePerMsgBytes: 2048, maxInflightBytes: 1024 }, 'maxSizePerMsgBytes');
  bad({ preferredLeaderIds: ['n7'] }, 'preferredLeaderIds');
  bad({ preVote: 'yes' as unknown as boolean }, 'preVote');
  bad({ testingBugs: { commitPreviousTermEntries: true } }, 'testingBugs');
  t.doesNotThrow(() => validateRaftConfig({ ...base, testingBugs: { grantVoteWithoutLogCheck: true }, allowTestingBugs: true }));
});

t.test('memory storage: append truncates, compaction keeps the suffix, snapshots chunk', async (t) => {
  const storage = new MemoryRaftStorage();
  t.equal(storage.firstIndex(), 0);
  t.equal(storage.lastIndex(), -1);
  t.equal(storage.term(-1), 0, 'the sentinel before the first entry has term 0');
  storage.append([entry(0, 1, 'a'), entry(1, 1, 'bb'), entry(2, 1, 'ccc')]);
  storage.append([entry(2, 2, 'x'), entry(3, 2, 'y')]);
  t.same(storage.entries(0, 4, 100).map((e) => [e.index, e.term]), [[0, 1], [1, 1], [2, 2], [3, 2]]);
  t.equal(storage.entries(0, 4, 2).length, 1, 'maxBytes stops before exceeding (a=1, a+bb=3 > 2)');
  t.equal(storage.entries(1, 4, 0).length, 1, 'at least one entry');
  t.throws(() => storage.append([entry(9, 2)]), AssertionError, 'gaps are refused');

  const meta = storage.compact(1, bytes('state-0123456789'));
  t.same(meta, { index: 1, term: 1, sizeBytes: 16 });
  t.equal(storage.firstIndex(), 2);
  t.equal(storage.term(1), 1, 'the snapshot index keeps its term');
  t.throws(() => storage.term(0), AssertionError, 'compacted');
  t.throws(() => storage.entries(1, 3, 100), AssertionError, 'compacted');
  t.same(storage.snapshotChunk(0, 10), { data: bytes('state-0123'), done: false });
  t.same(storage.snapshotChunk(10, 10), { data: bytes('456789'), done: true });

  storage.setHardState({ term: 2, votedFor: 'n1', commitIndex: 3 });
  const copy = storage.clone();
  storage.installSnapshot({ index: 7, term: 3, sizeBytes: 2 }, bytes('zz'));
  t.equal(storage.firstIndex(), 8);
  t.equal(storage.lastIndex(), 7);
  t.equal(storage.term(7), 3);
  t.equal(copy.lastIndex(), 3, 'a clone is unaffected');
  t.throws(() => storage.setHardState({ term: 1, votedFor: null, commitIndex: 0 }), AssertionError, 'terms never go back');
});

t.test('unstable: truncate-and-append, in-progress tracking, stableTo ignores replaced entries', async (t) => {
  const unstable = new Unstable(5);
  unstable.truncateAndAppend([entry(5, 1), entry(6, 1), entry(7, 1)]);
  t.same(unstable.nextEntries().map((e) => e.index), [5, 6, 7]);
  unstable.acceptInProgress();
  t.same(unstable.nextEntries(), []);
  // A new leader replaces 7 while 5..7 are being written.
  unstable.truncateAndAppend([entry(7, 2), entry(8, 2)]);
  t.equal(unstable.offsetInProgress, 7, 'the replaced suffix must be written again');
  t.same(unstable.nextEntries().map((e) => [e.index, e.term]), [[7, 2], [8, 2]]);
  unstable.stableTo(7, 1);
  t.equal(unstable.offset, 5, 'the write of (7,1) does not make (7,2) stable');
  unstable.stableTo(6, 1);
  t.equal(unstable.offset, 7);
  t.equal(unstable.maybeTerm(7), 2);
  unstable.truncateAndAppend([entry(3, 3)]);
  t.equal(unstable.offset, 3, 'truncating below the offset replaces everything');
  t.equal(unstable.maybeLastIndex(), 3);
  unstable.checkInvariants();
});

t.test('snapshot receiver: in-order chunks, resume point, invalid sizes', async (t) => {
  const meta = { index: 10, term: 2, sizeBytes: 6 };
  const receiver = new SnapshotReceiver(meta);
  t.same(receiver.receive(0, bytes('abc'), false), { kind: 'need', nextOffset: 3 });
  t.same(receiver.receive(0, bytes('abc'), false), { kind: 'need', nextOffset: 3 }, 'a duplicate changes nothing');
  t.same(receiver.receive(5, bytes('f'), true), { kind: 'need', nextOffset: 3 }, 'a gap asks to resume at 3');
  const done = receiver.receive(3, bytes('def'), true);
  t.equal(done.kind, 'complete');
  if (done.kind === 'complete') t.same(done.data, bytes('abcdef'));
  t.equal(new SnapshotReceiver(meta).receive(0, bytes('abcdefg'), false).kind, 'invalid', 'past the size');
  t.equal(new SnapshotReceiver(meta).receive(0, bytes('abc'), true).kind, 'invalid', 'done too early');
  t.ok(receiver.matches({ ...meta }));
  t.notOk(receiver.matches({ ...meta, term: 3 }));
});

t.test('read-only queue: acks per ctx, release in order', async (t) => {
  const queue = new ReadOnlyQueue();
  queue.add('r1', 4, 'n1');
  queue.add('r2', 5, 'n1');
  t.equal(queue.lastCtx(), 'r2');
  t.equal(queue.recordAck('n2', 'r2'), 2);
  t.equal(queue.recordAck('n2', 'nope'), 0);
  t.same(queue.releaseThrough('r2'), [
    { requestCtx: 'r1', index: 4 },
    { requestCtx: 'r2', index: 5 },
  ]);
  t.equal(queue.size(), 0);
  t.equal(queue.lastCtx(), '');
  queue.add('r3', 6, 'n1');
  t.throws(() => queue.add('r3', 6, 'n1'), AssertionError);
});

t.test('message validation drops malformed peer messages with a reason, passes good ones', async (t) => {
  const { invalidMessageReason } = await import('../../src/raft/message-validation.js');
  const append = (entries: Entry[], extra: Partial<{ prevLogIndex: number; prevLogTerm: number; term: number }> = {}) =>
    invalidMessageReason({
      type: 'Append',
      from: 'a',
      to: 'b',
      term: extra.term ?? 3,
      prevLogIndex: extra.prevLogIndex ?? 4,
      prevLogTerm: extra.prevLogTerm ?? 2,
      entries,
      commitIndex: 4,
    });
  t.equal(append([entry(5, 2), entry(6, 3)]), null);
  t.equal(append([]), null);
  t.match(append([entry(6, 2)]), /index 6, expected 5/);
  t.match(append([entry(5, 3), entry(6, 2)]), /term 2, expected 3\.\.3/);
  t.match(append([entry(5, 4)]), /term 4/);
  t.match(append([], { prevLogTerm: 5 }), /prev term 5 exceeds/);
  t.match(append([], { prevLogIndex: -2 }), /prev \(-2,2\)/);
  t.match(append([{ index: 5, term: 2, type: 7 as unknown as EntryType, data: bytes('') }]), /type 7/);
  const snapshot = (offset: number, data: string, sizeBytes: number) =>
    invalidMessageReason({ type: 'Snapshot', from: 'a', to: 'b', term: 3, snapshot: { index: 9, term: 2, sizeBytes }, offset, data: bytes(data), done: false });
  t.equal(snapshot(0, 'abc', 3), null);
  t.match(snapshot(2, 'abc', 3), /outside the 3-byte snapshot/);
  t.match(invalidMessageReason({ type: 'Vote', from: 'a', to: 'b', term: 2, lastLogIndex: 4, lastLogTerm: 3, transfer: false }), /exceeds the campaign term/);
  t.match(invalidMessageReason({ type: 'HeartbeatResp', from: 'a', to: 'b', term: 2, readCtx: '', sentAtTick: -1 }), /sentAtTick -1/);
  t.match(invalidMessageReason({ type: 'AppendResp', from: 'a', to: 'b', term: 2, reject: true, index: 3, conflictTerm: 1, conflictIndex: 9 }), /past the rejected index/);
  t.match(invalidMessageReason({ type: 'TimeoutNow', from: 'a', to: 'b', term: 1.5 }), /term 1\.5/);
});
