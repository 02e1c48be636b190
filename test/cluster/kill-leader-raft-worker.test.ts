// The kill-leader scenario (kill-leader-scenario.ts) with every member running its node on a Raft
// worker thread (threads=workers, raftWorker=true): core, store, peer transport and ticks on the
// worker, the DLedgerClient sessions on the worker's peer listener. SIGKILL of the leader still
// loses nothing acknowledged.
import t from 'tap';
import { killLeaderScenario } from './kill-leader-scenario.js';

t.test('raftWorker: SIGKILL of the leader loses nothing acknowledged', async (t) => {
  await killLeaderScenario(t, { group: 'kr', config: { threads: 'workers', raftWorker: 'true' }, outputPattern: /raft worker started: threads workers \(set\)/ });
});
