// Goal: the CI dose of the RocketMQ fault campaign with broker retention on (issue 12): commit-log
// segments are deleted on every broker while brokers are killed, paused and cut off, a follower
// broker stays down while the master deletes what it needs and comes back by snapshot install, the
// drain group (from offset 0) is moved to each queue's minimum (PULL_OFFSET_MOVED), and every
// acknowledged message from the retained log start on is at its msgId, drained and consumed by the
// live group; those before it are expired (sent more than the reserved time before the check).
// Power losses of brokers (SIGKILL, then their DLedger files lose what was never flushed) are in
// the mix, with SYNC_FLUSH.
// Method: runRocketMQCampaign with seed 20261207, 35 s of kill/pause/partition/power faults,
// retentionSeconds 2 (fileReservedTime = 2 s, deleteWhen=*, 64 KiB commit-log segments), 2
// producers x 8 in flight; the first fault kills a follower broker for 14 s. Fails unless segments were deleted on every broker,
// every log start moved, a snapshot was installed, some queue's minimum moved (so it cannot
// pass with retention idle) and at least one power loss was injected. ~50-70 s. Requires the compiled CLI (`npx tsc` first).
import t from 'tap';
import { formatRocketMQSummary, runRocketMQCampaign } from './rocketmq-campaign.js';

t.test('short RocketMQ fault campaign with retention: kill, pause, partition, power', async (t) => {
  const lines: string[] = [];
  // Every family; the order fixes what seed 20261207's schedule picks: the lag kill, partition,
  // power, pause, power (SYNC_FLUSH, the default with power in the mix).
  const report = await runRocketMQCampaign({ seed: 20261207, durationMs: 35_000, drainIdleTimeoutMs: 20_000, retentionSeconds: 2, inFlight: 8, faults: ['pause', 'power', 'partition', 'kill'], clients: ['remoting'], log: (line) => lines.push(line) });
  t.comment(formatRocketMQSummary(report));
  const retention = report.retention;
  t.ok(retention !== null, 'retention stats reported');
  if (retention === null) return;
  for (const [id, deleted] of Object.entries(retention.segmentsDeleted)) t.ok(deleted > 0, `broker ${id}: ${deleted} commit-log segments deleted by retention`);
  for (const [id, first] of Object.entries(report.firstIndexes)) t.ok(first > 0, `broker ${id}: DLedger log start moved to ${first}`);
  t.ok(retention.snapshotInstallsTotal >= 1, `${retention.snapshotInstallsTotal} snapshot installs (${JSON.stringify(retention.snapshotInstalls)})`);
  t.ok(report.minOffsetsAtDrain.some((min) => min > 0), `queue minimums moved: ${report.minOffsetsAtDrain.join('/')}`);
  t.ok(report.drainFirstOffsets.every((first, q) => first === null || first >= report.minOffsetsAtDrain[q]!), `the drain group started each queue at its minimum or later (${report.drainFirstOffsets.join('/')})`);
  t.ok(report.check.expired > 0, `${report.check.expired} acknowledged messages expired`);
  t.ok(report.check.acknowledged - report.check.expired >= 50, `${report.check.acknowledged - report.check.expired} acknowledged messages retained and checked`);
  // Power losses (SIGKILL + the unflushed tail of the DLedger files lost) happened, as the fault
  // record and the cluster's own log lines say.
  const powerFaults = report.faults.filter((f) => f.family === 'power');
  const powerLines = lines.filter((line) => /\] power loss of /.test(line));
  t.ok(powerFaults.length >= 1 && powerLines.length === powerFaults.length, `${powerFaults.length} power faults (${powerLines.length} 'power loss of' lines): ${powerFaults.map((f) => f.description).join('; ')}`);
  t.ok(report.converged, 'the brokers converged after healing');
  t.equal(report.check.lost, 0, 'no retained acknowledged message lost');
  t.equal(report.check.moved, 0, 'every retained acknowledged message at its msgId in the log');
  if (report.violations.length > 0) t.comment(lines.join('\n'));
  t.same(report.violations, [], 'no violation');
});
