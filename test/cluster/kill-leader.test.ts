// A group of 3 real `dledger server` processes (plaintext) must survive SIGKILL of its leader:
// see kill-leader-scenario.ts (the TLS run is test/security/tls-peer.test.ts).
import t from 'tap';
import { killLeaderScenario } from './kill-leader-scenario.js';

t.test('SIGKILL of the leader loses nothing acknowledged', async (t) => {
  await killLeaderScenario(t, { group: 'kg' });
});
