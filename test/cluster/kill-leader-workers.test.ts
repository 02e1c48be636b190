// The kill-leader scenario (kill-leader-scenario.ts) with every member in threads=workers: the
// group commits run on each member's storage worker, and SIGKILL of the leader still loses nothing
// acknowledged (a member reports durability only after its worker's msync returned).
import t from 'tap';
import { killLeaderScenario } from './kill-leader-scenario.js';

t.test('threads=workers: SIGKILL of the leader loses nothing acknowledged', async (t) => {
  await killLeaderScenario(t, { group: 'kw', config: { threads: 'workers' }, outputPattern: /threads workers \(set\)/ });
});
