// Goal: every checker of the simulator can fail. The bite test shows leader-completeness
// catching real core bugs; here each of the other properties is fed a crafted history that
// breaks it (and a near-miss that must not), so none of them can be silently vacuous.
// Method: drive ClusterCheckers directly with synthetic observations; also check the network
// model's partition and crash semantics, the liveness bound, and the CLI's argument parsing and
// reproduce command.
import t from 'tap';
import { EntryType, type Entry } from '../../src/raft/types.js';
import { Prng } from '../../src/util/prng.js';
import { parseSimArgs, reproduceCommand, SimUsageError } from './sim/cli-args.js';
import { ClusterCheckers, type LogView } from './sim/checkers.js';
import { EMPTY_DIGEST, nextDigest } from './sim/digest.js';
import { SimNetwork } from './sim/network.js';
import { realCoreFactory } from './sim/real-core.js';
import { runSeed } from './sim/simulation.js';
import { CheckerName, SimViolation } from './sim/violation.js';

const encoder = new TextEncoder();

function entry(index: number, term: number, value: string | null): Entry {
  return value === null
    ? { index, term, type: EntryType.Noop, data: new Uint8Array(0) }
    : { index, term, type: EntryType.Normal, data: encoder.encode(value) };
}

function logOf(terms: readonly number[], compactedThroughIndex = -1): LogView {
  return { compactedThroughIndex, termAt: (i) => terms[i] };
}

function violationOf(fn: () => void): SimViolation | null {
  try {
    fn();
    return null;
  } catch (error) {
    if (error instanceof SimViolation) return error;
    throw error;
  }
}

t.test('election safety: two leaders in one term', async (t) => {
  const c = new ClusterCheckers();
  c.observeLeader('n0', 1, logOf([]));
  c.observeLeader('n0', 1, logOf([])); // the same leader reported twice is fine
  c.observeLeader('n1', 2, logOf([]));
  t.equal(violationOf(() => c.observeLeader('n2', 2, logOf([])))?.checker, CheckerName.ElectionSafety);
});

t.test('election safety: a leader-only message from a node not on record as leader', async (t) => {
  const c = new ClusterCheckers();
  c.observeLeader('n0', 3, logOf([]));
  c.observeLeaderMessage('n0', 3);
  t.equal(violationOf(() => c.observeLeaderMessage('n1', 3))?.checker, CheckerName.ElectionSafety);
  t.equal(violationOf(() => c.observeLeaderMessage('n1', 4))?.checker, CheckerName.ElectionSafety, 'no leader on record for term 4');
});

t.test('vote safety: one grant per voter and term', async (t) => {
  const c = new ClusterCheckers();
  c.observeVoteGranted('n0', 2, 'n1');
  c.observeVoteGranted('n0', 2, 'n1'); // a duplicate answer to a duplicate request
  c.observeVoteGranted('n0', 3, 'n2');
  t.equal(violationOf(() => c.observeVoteGranted('n0', 2, 'n2'))?.checker, CheckerName.VoteSafety);
});

t.test('log matching: same (index, term), different payload or predecessor', async (t) => {
  const c = new ClusterCheckers();
  c.observeDurableEntry('n0', entry(0, 1, 'a'), 0);
  c.observeDurableEntry('n1', entry(0, 1, 'a'), 0);
  t.equal(violationOf(() => c.observeDurableEntry('n2', entry(0, 1, 'b'), 0))?.checker, CheckerName.LogMatching);
  c.observeDurableEntry('n0', entry(1, 2, 'c'), 1);
  t.equal(violationOf(() => c.observeDurableEntry('n1', entry(1, 2, 'c'), 0))?.checker, CheckerName.LogMatching);
});

t.test('leader completeness: a new leader must hold entries committed in lower terms', async (t) => {
  const c = new ClusterCheckers();
  c.observeCommitted('n0', 2, [entry(0, 1, 'a'), entry(1, 2, null)]);
  // Committed in a term <= 2: a leader of term 2 itself may lack it (its voters had moved on), one of term 3 may not.
  c.observeLeader('n1', 2, logOf([]));
  c.observeLeader('n2', 3, logOf([1, 2]));
  c.observeLeader('n3', 4, logOf([], 1)); // compacted into a snapshot: covered by state checks
  t.equal(violationOf(() => c.observeLeader('n4', 5, logOf([1, 3])))?.checker, CheckerName.LeaderCompleteness);
});

t.test('state machine safety: different entries or digests applied at one index', async (t) => {
  const c = new ClusterCheckers();
  const d0 = nextDigest(EMPTY_DIGEST, entry(0, 1, 'a'));
  c.observeApplied('n0', entry(0, 1, 'a'), d0);
  c.observeApplied('n1', entry(0, 1, 'a'), d0);
  t.equal(violationOf(() => c.observeApplied('n2', entry(0, 1, 'x'), nextDigest(EMPTY_DIGEST, entry(0, 1, 'x'))))?.checker, CheckerName.StateMachineSafety);
  t.equal(violationOf(() => c.observeStateFromSnapshot('n2', 0, 'ffffffffffffffff'))?.checker, CheckerName.StateMachineSafety);
  t.equal(violationOf(() => c.observeStateFromSnapshot('n2', 7, d0))?.checker, CheckerName.StateMachineSafety, 'snapshot of an index nobody applied');
  c.observeCommitted('n0', 1, [entry(0, 1, 'a')]);
  t.equal(violationOf(() => c.observeCommitted('n1', 1, [entry(0, 2, 'z')]))?.checker, CheckerName.StateMachineSafety, 'two entries committed at one index');
});

t.test('acknowledged writes: applied elsewhere, missing at the end, or missing from a log', async (t) => {
  const c = new ClusterCheckers();
  const d0 = nextDigest(EMPTY_DIGEST, entry(0, 1, 'a'));
  c.observeApplied('n0', entry(0, 1, 'a'), d0);
  c.observeAcknowledged({ value: 'a', index: 0, term: 1, ackTick: 5 });
  t.equal(violationOf(() => c.observeApplied('n1', entry(0, 2, 'b'), 'x'))?.checker, CheckerName.AcknowledgedLost);
  t.equal(violationOf(() => c.checkStateHoldsAcknowledged('n1', -1, EMPTY_DIGEST))?.checker, CheckerName.AcknowledgedLost);
  c.checkStateHoldsAcknowledged('n0', 0, d0);
  c.checkLogHoldsAcknowledged('n0', logOf([1]));
  c.checkLogHoldsAcknowledged('n0', logOf([], 0));
  t.equal(violationOf(() => c.checkLogHoldsAcknowledged('n1', logOf([2])))?.checker, CheckerName.AcknowledgedLost);
});

t.test('linearizable reads: an answer below an earlier acknowledgement', async (t) => {
  const c = new ClusterCheckers();
  c.observeReadState('n0', 'r1', 5, 5);
  t.equal(violationOf(() => c.observeReadState('n0', 'r2', 4, 5))?.checker, CheckerName.LinearizableRead);
});

t.test('network: cuts drop messages, crashes drop a node\'s traffic, healing keeps in-flight messages', async (t) => {
  const profile = { dropProbability: 0, duplicateProbability: 0, delayMinTicks: 1, delayMaxTicks: 3, reorderProbability: 0, reorderExtraDelayMaxTicks: 0 };
  const net = new SimNetwork(new Prng(1), profile);
  const hb = (from: string, to: string) => ({ type: 'HeartbeatResp' as const, from, to, term: 1, readCtx: '', sentAtTick: 0 });
  net.cut('n0', 'n1');
  net.send(hb('n0', 'n1'), 0);
  net.send(hb('n1', 'n0'), 0);
  net.send(hb('n2', 'n0'), 0);
  net.send(hb('n2', 'n1'), 0);
  net.dropAllOf('n2');
  const delivered = [...net.takeDue(1), ...net.takeDue(2), ...net.takeDue(3)];
  t.same(delivered.map((m) => `${m.from}>${m.to}`), ['n1>n0'], 'only the uncut link from a live node delivers');
  t.equal(net.inFlightCount(), 0);
  net.send(hb('n0', 'n1'), 10);
  net.heal();
  t.equal(net.takeDue(13).length, 1, 'a message sent over a cut link is delivered once the cut heals');
});

t.test('CLI arguments and the reproduce command', async (t) => {
  t.same(parseSimArgs(['--seed', '7', '--steps', '50']), {
    firstSeed: 7, lastSeed: 7, steps: 50, bug: null, weather: null, traceCapacity: 120, maxFailures: 10, quiet: false,
  });
  const range = parseSimArgs(['--seeds', '3..9', '--bug', 'grantVoteWithoutLogCheck', '--weather', 'figure8', '--quiet']);
  t.equal(range.firstSeed, 3);
  t.equal(range.lastSeed, 9);
  t.equal(range.bug, 'grantVoteWithoutLogCheck');
  t.equal(range.weather, 'figure8');
  for (const bad of [[], ['--seed', 'x'], ['--seeds', '9..3'], ['--bug', 'nope', '--seed', '1'], ['--weather', 'sunny', '--seed', '1'], ['--frobnicate']]) {
    t.throws(() => parseSimArgs(bad), SimUsageError, `refuses ${JSON.stringify(bad)}`);
  }
  t.equal(reproduceCommand(42, 300, null), 'npm run sim -- --seed 42 --steps 300');
  t.equal(
    reproduceCommand(42, 800, 'commitPreviousTermEntries', 'figure8'),
    'npm run sim -- --seed 42 --steps 800 --bug commitPreviousTermEntries --weather figure8',
  );
});

t.test('liveness: a cluster given no time to converge after healing is reported', async (t) => {
  const result = runSeed({ seed: 1, steps: 200, coreFactory: realCoreFactory, livenessTicksMax: 1 });
  t.equal(result.violation?.checker, CheckerName.Liveness);
  t.match(result.violation?.message ?? '', /no convergence within 1 ticks after healing/);
  const generous = runSeed({ seed: 1, steps: 200, coreFactory: realCoreFactory });
  t.equal(generous.violation, null, 'the same seed converges with the default bound');
});
