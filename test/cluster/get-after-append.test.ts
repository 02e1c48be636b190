// Read-your-writes through DLedgerClient.get: right after an append is acknowledged, a fresh
// client whose peer list starts with a follower must still get the entry. A follower serves get
// from what it has applied, which lags the leader's commit by up to a heartbeat; before the fix
// 5 of 50 such gets failed with INDEX_OUT_OF_RANGE (the client now asks the leader the follower
// names). Method: 3 real processes, fresh client per read, bounded loop.
import t from 'tap';
import { DLedgerClient } from '../../src/client/client.js';
import { startProcessGroup } from './helpers.js';
import { testSecretFile } from '../util/peer-secret.js';

const ROUNDS = 100;

t.test('a get right after an acknowledged append finds it, even when a follower is asked first', async (t) => {
  const group = await startProcessGroup(t, { group: 'ryw' });
  const leader = await group.leader();
  const follower = group.ids.find((id) => id !== leader)!;
  const followerFirst = [group.peerOf(follower), ...group.ids.filter((id) => id !== follower).map((id) => group.peerOf(id))].join(';');
  const failures: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const body = `ryw-${i}`;
    const [info] = await group.client.append(new TextEncoder().encode(body));
    const reader = new DLedgerClient({ clientSecretFile: testSecretFile(), group: group.group, peers: followerFirst, retryTimeoutMs: 5_000 });
    try {
      const entry = await reader.get(info!.index);
      if (Buffer.from(entry.body).toString() !== body) failures.push(`${info!.index}: wrong body`);
    } catch (error) {
      failures.push(`${info!.index}: ${(error as Error).message}`);
    } finally {
      reader.close();
    }
  }
  t.same(failures, [], `${ROUNDS} gets right after the ack, first asking follower ${follower}, all found their entry`);
});
