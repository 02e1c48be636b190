// Goal: the CI dose of the fault campaign with retention on (issue 12): segments are deleted on
// every member while members are killed, lose power and are cut off, a follower stays down while
// the others delete what it needs and comes back by snapshot install, and the checkers still find
// every acknowledged append that retention did not delete, on every member that retains it, at
// the same index, term and pos, with identical replicas over the retained range.
// Method: runCampaign with seed 20261207, 25 s of kill, power and partition faults (then 7 s healed),
// --retention-seconds 2 (16 KiB data segments, deleteWhen=*, fileReservedHours = 2 s); the first
// fault kills a follower for 8 s (campaign.ts). Fails unless segments were deleted on every
// member, every log start moved, at least one snapshot was installed and at least one power
// fault ran (so the test cannot pass by retention never running). ~45-60 s.
// Requires the compiled CLI (`npx tsc` first).
import t from 'tap';
import { formatSummary, runCampaign } from './campaign.js';

t.test('short fault campaign with retention: kill, power, partition', async (t) => {
  const lines: string[] = [];
  const report = await runCampaign({ seed: 20261207, durationMs: 25_000, faults: ['kill', 'power', 'partition'], retentionSeconds: 2, log: (line) => lines.push(line) });
  t.comment(formatSummary(report));
  const retention = report.retention;
  t.ok(retention !== null, 'retention stats reported');
  if (retention === null) return;
  for (const [id, deleted] of Object.entries(retention.segmentsDeleted)) t.ok(deleted > 0, `${id}: ${deleted} segments deleted by retention`);
  for (const [id, first] of Object.entries(report.firstIndexes)) t.ok(first > 0, `${id}: log start moved to ${first}`);
  t.ok(retention.snapshotInstallsTotal >= 1, `${retention.snapshotInstallsTotal} snapshot installs (${JSON.stringify(retention.snapshotInstalls)})`);
  t.ok(report.faults.some((f) => f.description.includes('lagging behind retention')), 'a follower was held down past the reserved time');
  t.ok(report.faults.some((f) => f.family === 'power'), `power faults injected (${report.faults.filter((f) => f.family === 'power').length})`);
  t.ok(report.check.expired > 0, `${report.check.expired} acknowledged appends deleted by retention on every member (older than 2 s)`);
  t.ok(report.check.acknowledged - report.check.expired > 50, `${report.check.acknowledged - report.check.expired} acknowledged appends still retained, checked on every member`);
  t.ok(report.converged, 'the group converged after healing');
  t.equal(report.check.lost, 0, 'no retained acknowledged append lost or moved');
  t.equal(report.check.divergences, 0, 'replicas identical over the retained range');
  t.equal(report.linearizability?.violationCount, 0, 'reads linearizable');
  if (report.violations.length > 0) t.comment(lines.join('\n'));
  t.same(report.violations, [], 'no violation');
});
