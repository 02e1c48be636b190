// Goal: retentionStatsOf counts what the members' own lines say (segments deleted, forced runs,
// snapshot installs per member) across restarts, and nothing else. Method: the exact lines
// src/node/retention-service.ts and src/raft/leader-replication.ts print, in made-up outputs.
import t from 'tap';
import { formatRetentionStats, retentionStatsOf } from './retention-stats.js';

t.test('segments deleted, forced runs and snapshot installs are counted per member', async (t) => {
  const outputs = new Map<string, string[]>([
    ['n0', [
      'retention: 2 data segment(s) deleted, log starts at index 300 pos 32768\nn0 sends snapshot (299,2) of 12 bytes to n1\nn0 snapshot 299 installed on n1; probing after it\n',
      'retention (forced: disk usage 0.9100): 3 data segment(s) deleted, log starts at index 900 pos 98304\n',
    ]],
    ['n1', ['n1 became follower at term 2 (leader n0)\nretention: 1 data segment(s) deleted, log starts at index 310 pos 36864\n']],
    ['n2', ['nothing about retention here\n']],
  ]);
  const stats = retentionStatsOf(outputs);
  t.same(stats.segmentsDeleted, { n0: 5, n1: 1, n2: 0 }, 'summed over each member\'s processes');
  t.same(stats.forcedRuns, { n0: 1, n1: 0, n2: 0 });
  t.same(stats.snapshotInstalls, { n0: 0, n1: 1, n2: 0 }, 'counted for the member that installed, from the leader\'s line');
  t.equal(stats.snapshotInstallsTotal, 1);
  t.match(formatRetentionStats(stats, { n0: 900, n1: 310, n2: 0 }), /segments deleted n0 5, n1 1, n2 0; log starts n0 900, n1 310, n2 0; snapshot installs 1 \(n1 1\); forced runs 1/);
});
