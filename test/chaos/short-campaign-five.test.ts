// Goal: the CI dose of the newer fault families on a 5-member group: partitions (including the
// majorities ring and an isolated leader), duplicated peer frames and a slow disk, failing on any
// violation (lost, moved or duplicated acknowledged appends, phantoms, divergence, crashes, no
// convergence, non-linearizable reads).
// Method: runCampaign with a fixed seed (its schedule starts partition, partition, duplicate,
// slow-disk) for 30 s of faults (~60 s with start-up, convergence and
// checking on a loaded machine). Power loss and a full disk have their own tests
// (power-loss.test.ts, disk-full.test.ts). Requires the compiled CLI (`npx tsc` first).
import t from 'tap';
import { formatSummary, runCampaign } from './campaign.js';

t.test('short 5-member campaign: partition, duplicate, slow disk', async (t) => {
  const lines: string[] = [];
  const report = await runCampaign({ seed: 20261150, durationMs: 30_000, members: 5, faults: ['partition', 'duplicate', 'slow-disk'], log: (line) => lines.push(line) });
  t.comment(formatSummary(report));
  t.ok(report.faults.length >= 4, `${report.faults.length} faults injected`);
  t.equal(new Set(report.faults.map((f) => f.family)).size, 3, `every family injected (${report.faults.map((f) => f.description).join('; ')})`);
  t.ok(report.check.acknowledged > 100, `${report.check.acknowledged} appends acknowledged`);
  t.ok(report.converged, 'the group converged after healing');
  t.equal(report.check.lost, 0, 'no acknowledged append lost');
  if (report.violations.length > 0) t.comment(lines.join('\n'));
  t.same(report.violations, [], 'no violation');
});
