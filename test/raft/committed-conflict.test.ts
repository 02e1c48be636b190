// Goal: a follower whose committed entries differ from the current leader's log (possible only
// when a member forgot entries it acknowledged: a power loss under flush async, chaos F5) stops
// with CommittedEntryConflictError naming the index, both terms and its commit index, instead of
// answering "match up to my commit index" and diverging silently; Appends that agree with its
// committed prefix, and conflicts above its commit index (an uncommitted tail), behave as before.
// A leader told of an acknowledgement past its last index logs an error naming the member, once,
// and keeps going.
// Method: (1) the F5 schedule on three cores in the scenario environment: n1 and n2 commit a, b,
// c while n3 is cut off; n1 loses power keeping only the no-op; n1 and n3 elect n3, which commits
// its own entries at those indexes; when n2 rejoins, n3's first Append to it must stop it.
// (2) Hand-made messages to a follower holding entries 0..7 of term 1 with commit 5, one fresh
// core per case; (3) hand-made AppendResps to a leader.
import t from 'tap';
import { Prng } from '../../src/util/prng.js';
import { CommittedEntryConflictError } from '../../src/raft/committed-conflict.js';
import {
  defaultRaftConfig,
  EntryType,
  MemoryRaftStorage,
  RaftCore,
  type Entry,
  type Message,
  type Ready,
} from '../../src/raft/index.js';
import { ScenarioEnv } from './scenarios/env.js';

const PEERS = ['a', 'b', 'c'];
const COMMIT_INDEX = 5;
const LAST_INDEX = 7;

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array([index]) };
}

interface Node {
  readonly core: RaftCore;
  readonly storage: MemoryRaftStorage;
}

/** Follower b at term 1 holding entries 0..7 of term 1, commit 5 (optionally compacted to 3). */
function follower(options: { compactTo?: number } = {}): Node {
  const storage = new MemoryRaftStorage();
  storage.append(Array.from({ length: LAST_INDEX + 1 }, (_, i) => entry(i, 1)));
  storage.setHardState({ term: 1, votedFor: null, commitIndex: COMMIT_INDEX });
  if (options.compactTo !== undefined) storage.compact(options.compactTo, new Uint8Array(0));
  const core = new RaftCore(defaultRaftConfig('b', PEERS), storage, new Prng(1));
  core.checkInvariants();
  return { core, storage };
}

function append(prevLogIndex: number, prevLogTerm: number, entries: Entry[], commitIndex = COMMIT_INDEX): Message {
  return { type: 'Append', from: 'a', to: 'b', term: 2, prevLogIndex, prevLogTerm, entries, commitIndex };
}

/** Persists every Ready at once; returns the answers the core sends after persisting. */
function answers({ core, storage }: Node): Message[] {
  const out: Message[] = [];
  while (core.hasReady()) {
    const ready: Ready = core.ready();
    core.advance(ready);
    storage.persistReady(ready);
    core.onPersisted(ready.number);
    out.push(...ready.messagesAfterPersist);
  }
  core.checkInvariants();
  return out;
}

function stepConflict({ core }: Node, m: Message): CommittedEntryConflictError {
  try {
    core.step(m);
  } catch (error) {
    if (error instanceof CommittedEntryConflictError) return error;
    throw error;
  }
  throw new Error(`${m.type} was accepted`);
}

t.test('F5 on three cores: the member that kept lost entries as committed stops at the new leader\'s first Append', async (t) => {
  const env = new ScenarioEnv();
  const run = (command: string): string => env.run(command);
  run('add-nodes 3');
  run('campaign n1');
  run('stabilize');
  run('isolate n3');
  run('propose n1 a b c');
  run('stabilize');
  t.match(run('status n2'), /commit=3 /, 'n2 learned a, b, c (1..3) committed');
  run('lose-power n1 keep=0');
  run('partition n1,n3 n2');
  run('campaign n3');
  run('stabilize');
  t.match(run('status n3'), /n3 leader term=2 .* commit=1 /, 'n3 leads term 2 and committed its no-op at index 1 with n1');
  run('propose n3 x');
  run('stabilize');
  run('recover');
  run('tick-heartbeat n3');
  let caught: unknown = null;
  try {
    run('stabilize');
  } catch (error) {
    caught = error;
  }
  t.type(caught, CommittedEntryConflictError, 'n2 stopped');
  const error = caught as CommittedEntryConflictError;
  t.equal(error.selfId, 'n2');
  t.same(error.conflict, { index: 1, localTerm: 1, leaderTerm: 2, commitIndex: 3, leaderId: 'n3', term: 2, source: 'append-entry' });
  t.match(error.message, /^n2: entry 1 conflicts with committed entry \[committed\(3\)\]: this member holds term 1 at index 1, leader n3 of term 2 holds term 2/);
  t.match(error.message, /must be rebuilt from a peer/);
  t.throws(() => run('tick n2'), CommittedEntryConflictError, 'a stopped core refuses every later input');
});

t.test('Appends that agree with the committed prefix are answered as before', async (t) => {
  const node = follower();
  node.core.step(append(2, 1, [entry(3, 1), entry(4, 1), entry(5, 1), entry(6, 2)]));
  t.match(answers(node), [{ type: 'AppendResp', reject: false, index: COMMIT_INDEX }], 'prev below commit: "match up to my commit index"');
  t.equal(node.core.status().lastIndex, LAST_INDEX, 'entries past commit in such an Append are left for the next one');
  node.core.step(append(COMMIT_INDEX, 1, []));
  t.match(answers(node), [{ type: 'AppendResp', reject: false, index: COMMIT_INDEX }], 'prev at commit, matching');
});

t.test('a conflict above the commit index truncates the uncommitted tail as before', async (t) => {
  const node = follower();
  node.core.step(append(COMMIT_INDEX, 1, [entry(6, 2)], 6));
  t.match(answers(node), [{ type: 'AppendResp', reject: false, index: 6 }]);
  t.same(node.core.logEntries(5, 8).map((e) => [e.index, e.term]), [[5, 1], [6, 2]], '6..7 of term 1 replaced by 6 of term 2');
  t.equal(node.core.status().commitIndex, 6);
});

t.test('an Append proving a committed entry wrong stops the follower', async (t) => {
  const cases: Array<{ name: string; m: Message; index: number; localTerm: number; leaderTerm: number; source: string }> = [
    { name: 'an entry below commit with another term', m: append(2, 1, [entry(3, 1), entry(4, 2), entry(5, 2)]), index: 4, localTerm: 1, leaderTerm: 2, source: 'append-entry' },
    { name: 'prev below commit with another term', m: append(4, 2, []), index: 4, localTerm: 1, leaderTerm: 2, source: 'append-prev' },
    { name: 'prev at commit with another term (was a rejection)', m: append(COMMIT_INDEX, 2, [entry(6, 2)]), index: COMMIT_INDEX, localTerm: 1, leaderTerm: 2, source: 'append-prev' },
  ];
  for (const c of cases) {
    const node = follower();
    const error = stepConflict(node, c.m);
    t.same(error.conflict, { index: c.index, localTerm: c.localTerm, leaderTerm: c.leaderTerm, commitIndex: COMMIT_INDEX, leaderId: 'a', term: 2, source: c.source }, c.name);
    t.equal(stepConflict(node, append(COMMIT_INDEX, 1, [])), error, `${c.name}: later steps rethrow it`);
    t.throws(() => node.core.tick(), CommittedEntryConflictError, `${c.name}: ticks too`);
  }
});

t.test('a snapshot at or below commit with another term stops the follower; the same term is acknowledged', async (t) => {
  const snapshot = (term: number): Message => ({
    type: 'Snapshot', from: 'a', to: 'b', term: 2, snapshot: { index: 3, term, sizeBytes: 0 }, offset: 0, data: new Uint8Array(0), done: true,
  });
  const ok = follower();
  ok.core.step(snapshot(1));
  t.match(answers(ok), [{ type: 'SnapshotResp', reject: false, done: true, snapshotIndex: 3 }]);
  const error = stepConflict(follower(), snapshot(2));
  t.same(error.conflict, { index: 3, localTerm: 1, leaderTerm: 2, commitIndex: COMMIT_INDEX, leaderId: 'a', term: 2, source: 'snapshot' });
});

t.test('compacted indexes are not compared (their terms are gone)', async (t) => {
  const node = follower({ compactTo: 3 });
  node.core.step(append(1, 2, [entry(2, 2)]));
  t.match(answers(node), [{ type: 'AppendResp', reject: false, index: COMMIT_INDEX }], 'indexes 1 and 2 differ but are compacted');
  t.equal(stepConflict(node, append(1, 1, [entry(2, 1), entry(3, 2)])).conflict.index, 3, 'the snapshot index keeps its term');
});

t.test('a leader told of an acknowledgement past its last index logs it once and keeps its progress', async (t) => {
  const lines: string[] = [];
  const storage = new MemoryRaftStorage();
  const core = new RaftCore({ ...defaultRaftConfig('a', PEERS), preVote: false }, storage, new Prng(1), { info: (line) => lines.push(line) });
  core.campaign();
  answers({ core, storage });
  core.step({ type: 'VoteResp', from: 'b', to: 'a', term: 1, reject: false });
  answers({ core, storage });
  t.equal(core.status().role, 'leader');
  const lastIndex = core.status().lastIndex;
  const resp = (index: number): Message => ({ type: 'AppendResp', from: 'b', to: 'a', term: 1, reject: false, index, conflictTerm: 0, conflictIndex: 0 });
  core.step(resp(lastIndex + 40));
  core.step(resp(lastIndex + 41));
  core.checkInvariants();
  const errors = lines.filter((line) => line.startsWith('ERROR'));
  t.same(errors, [
    `ERROR: a leads term 1 with last index ${lastIndex} but b acknowledged index ${lastIndex + 40}: b holds entries this log lacks (a member lost acknowledged entries, e.g. a power loss under flush async); b must be rebuilt from a peer`,
  ], 'one error line naming the member');
  t.equal(core.status().progress.get('b')?.match, -1, 'the impossible acknowledgement was not taken');
  core.step(resp(lastIndex));
  t.equal(core.status().progress.get('b')?.match, lastIndex, 'a real acknowledgement still is');
  t.equal(core.status().commitIndex, lastIndex);
});
