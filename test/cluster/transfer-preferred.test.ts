// Leadership moves on request and towards the preferred member, on real processes:
// - `dledger leadership-transfer --leader L --transferee T` exits 0 and T then leads (every member
//   agrees, appends go on); a --leader that does not lead is refused with a non-zero exit.
// - with preferredLeaderIds=n2 and n2 started last (after n0/n1 elected a leader and took
//   appends), the group ends up led by n2 once it has caught up; killing n2 moves leadership away
//   and its restart brings it back.
// Method: OS-assigned loopback ports, temp dirs, processes stopped by pid, bounded waits.
import t from 'tap';
import { DLedgerClient } from '../../src/client/client.js';
import { runCli, startProcessGroup, until, type ProcessGroup } from './helpers.js';
import { testSecretFile } from '../util/peer-secret.js';

const encoder = new TextEncoder();

/** The leader every running member reports, once they all agree. */
async function agreedLeader(group: ProcessGroup, running: readonly string[], timeoutMs: number, accept: (id: string) => boolean = () => true): Promise<string> {
  let lastViews: string[] = [];
  return until(async () => {
    const views = await Promise.all(running.map(async (id) => {
      const member = new DLedgerClient({ clientSecretFile: testSecretFile(), group: group.group, peers: group.peerOf(id), retryTimeoutMs: 1_000 });
      try {
        const meta = await member.metadata();
        return { id, leaderId: meta.leaderId, term: meta.term };
      } catch (error) {
        return { id, leaderId: null, term: -1, error: (error as Error).message };
      } finally {
        member.close();
      }
    }));
    lastViews = views.map((v) => JSON.stringify(v));
    const first = views[0]?.leaderId;
    return first !== null && first !== undefined && accept(first) && views.every((v) => v.leaderId === first) ? first : null;
  }, timeoutMs, `members ${running.join(', ')} to agree on a leader`).catch((error: Error) => {
    throw new Error(`${error.message}; last views ${lastViews.join(' ')}`);
  });
}

t.test('leadership-transfer through the CLI', async (t) => {
  const group = await startProcessGroup(t, { group: 'xfer' });
  const leader = await agreedLeader(group, group.ids, 30_000);
  await group.client.append(encoder.encode('before transfer'));
  const transferee = group.ids.find((id) => id !== leader)!;
  const notLeader = group.ids.find((id) => id !== leader && id !== transferee)!;

  const refused = await runCli(['leadership-transfer', '--client-secret-file', testSecretFile(), '-g', group.group, '-p', group.peers, '--leader', notLeader, '--transferee', transferee]);
  t.not(refused.code, 0, `--leader ${notLeader} (not the leader) exits non-zero`);
  t.match(refused.stderr, /does not lead/, 'and says why');
  t.equal(await agreedLeader(group, group.ids, 5_000), leader, 'leadership did not move');

  const moved = await runCli(['leadership-transfer', '--client-secret-file', testSecretFile(), '-g', group.group, '-p', group.peers, '--leader', leader, '--transferee', transferee]);
  t.equal(moved.code, 0, `leadership-transfer --leader ${leader} --transferee ${transferee} exits 0 (${moved.stderr.trim()})`);
  t.same(JSON.parse(moved.stdout), { leader: transferee });
  t.equal(await agreedLeader(group, group.ids, 10_000, (id) => id === transferee), transferee, `all members see ${transferee} as leader`);
  const [after] = await group.client.append(encoder.encode('after transfer'));
  const entry = await group.client.get(after!.index);
  t.equal(Buffer.from(entry.body).toString(), 'after transfer', `${transferee} takes appends (index ${after!.index}, term ${after!.term})`);
});

t.test('preferred leader: the group ends up led by the preferred member once it is up', async (t) => {
  // The CLI flag on every member (the config-file key preferredLeaderIds takes the same path).
  const group = await startProcessGroup(t, { group: 'pref', extraArgs: () => ['--preferred-leader-ids', 'n2'], deferred: ['n2'] });
  const first = await agreedLeader(group, ['n0', 'n1'], 30_000);
  t.not(first, 'n2', `without n2, ${first} leads`);
  await Promise.all(Array.from({ length: 200 }, (_, i) => group.client.append(encoder.encode(`pre-${i}`))));

  const startedAt = Date.now();
  group.start('n2');
  t.equal(await agreedLeader(group, group.ids, 20_000, (id) => id === 'n2'), 'n2', `n2 leads ${Date.now() - startedAt} ms after it started`);
  const [appended] = await group.client.append(encoder.encode('under the preferred leader'));
  t.equal((await group.client.metadata()).leaderId, 'n2', `appends go on under n2 (index ${appended!.index})`);

  // Away and back: n2 killed -> another member leads; n2 restarted -> it leads again.
  group.nodes.get('n2')!.child.kill('SIGKILL');
  await until(() => group.nodes.get('n2')!.child.signalCode !== null, 10_000, 'n2 to die');
  const interim = await agreedLeader(group, ['n0', 'n1'], 15_000, (id) => id !== 'n2');
  t.not(interim, 'n2', `${interim} leads while n2 is down`);
  await group.client.append(encoder.encode('while n2 is down'));
  group.start('n2');
  t.equal(await agreedLeader(group, group.ids, 20_000, (id) => id === 'n2'), 'n2', 'n2 leads again after its restart');
});
