// Goal: the CI dose of the fault campaign — a short, fixed-seed run over kill, pause and
// partition against a real 3-member group (every peer link proxied), failing on any violation
// (lost, moved or duplicated acknowledged appends, phantoms, divergence, crashes, no convergence,
// non-linearizable reads), and renders its SVG timeline (well-formed, one bar per fault).
// Method: runCampaign with seed 20261125 for 40 s of faults (≤ 90 s with start-up, convergence
// and checking); the summary goes to the test log. Requires the compiled CLI (`npx tsc` first).
import t from 'tap';
import { formatSummary, runCampaign } from './campaign.js';
import { campaignTimelineSvg } from './timeline-svg.js';
import { xmlProblem } from './timeline-xml.js';


t.test('short fault campaign: kill, pause, partition', async (t) => {
  const lines: string[] = [];
  const report = await runCampaign({ seed: 20261125, durationMs: 40_000, faults: ['kill', 'pause', 'partition'], log: (line) => lines.push(line) });
  t.comment(formatSummary(report));
  t.ok(report.faults.length >= 5, `${report.faults.length} faults injected`);
  t.ok(new Set(report.faults.map((f) => f.family)).size === 3, `every family injected (${[...new Set(report.faults.map((f) => f.family))].join(',')})`);
  t.ok(report.check.acknowledged > 100, `${report.check.acknowledged} appends acknowledged`);
  t.ok(report.converged, 'the group converged after healing');
  t.equal(report.check.lost, 0, 'no acknowledged append lost');
  t.ok((report.reads?.ok ?? 0) > 50, `${report.reads?.ok} linearizable reads succeeded, checked with the appends`);
  t.equal(report.linearizability?.violationCount, 0, 'reads linearizable');
  t.ok(report.leaders.length >= 2, `${report.leaders.length} leadership spans polled`);
  const svg = campaignTimelineSvg(report);
  t.equal(xmlProblem(svg), null, 'the SVG timeline is well-formed');
  t.equal(svg.match(/<g class="fault"/g)?.length, report.faults.length, 'with one bar per fault');
  if (report.violations.length > 0) t.comment(lines.join('\n'));
  t.same(report.violations, [], 'no violation');
});
