// A leader that wrote entries no follower ever received must, after SIGKILL and restart, drop that
// uncommitted tail and converge on the new leader's log: same entries at the same indexes,
// byte-identical files, and none of the never-acknowledged bodies anywhere.
//
// Method: 3 real `dledger server` processes. SIGSTOP both followers, append to the leader (its
// log gets the entries; no quorum, so every call times out with an unknown outcome), check the
// tail is on the leader's disk (so the test cannot pass vacuously), SIGKILL the leader. The
// followers then resume and elect a new leader, which takes more appends; the old leader restarts.
//
// Why the followers are resumed by SIGKILL + restart and not SIGCONT: the leader had already
// written its Append frames into the stopped followers' sockets; on SIGCONT they read them from
// the kernel's buffers, accept the tail (its leader's term is still current for them), and the new
// leader legitimately commits it — the tail would then not be "uncommitted". A restart drops the
// buffered frames. The SIGCONT case is the second test: there only Raft's safety is checked
// (identical logs, nothing acknowledged lost, a tail body is in every final log or in none).
import t, { type Test } from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { appendAcceptingDuplicates, runCli, startProcessGroup, stopAll, until, type ProcessGroup } from './helpers.js';
import { compareStoreFiles, lastIndexOf, readEntries } from './store-files.js';
import { testSecretFile } from '../util/peer-secret.js';

const TAIL_APPENDS = 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Outcome {
  readonly group: ProcessGroup;
  readonly acknowledged: Map<number, string>;
  readonly tail: readonly string[];
  readonly oldLeader: string;
}

/** afterCount: appends under the new leader; fewer than the tail leaves the old leader's log longer than the new one's. */
async function leaveTailOnKilledLeader(t: Test, groupName: string, resume: 'SIGCONT' | 'restart', afterCount: number): Promise<Outcome> {
  const group = await startProcessGroup(t, { group: groupName });
  const oldLeader = await group.leader();
  const acknowledged = new Map<number, string>();
  const appendAcknowledged = async (prefix: string, count: number): Promise<void> => {
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      const body = `${prefix}-${i}`;
      const info = await appendAcceptingDuplicates(group.client, encoder.encode(body));
      acknowledged.set(info.index, body);
    }));
  };
  await appendAcknowledged('before', 100);
  const followers = group.ids.filter((id) => id !== oldLeader);
  for (const id of followers) group.nodes.get(id)!.child.kill('SIGSTOP');

  // Appends that reach the leader but can never commit: each call must fail, none is acknowledged.
  const toLeader = new DLedgerClient({ clientSecretFile: testSecretFile(), group: group.group, peers: group.peerOf(oldLeader), requestTimeoutMs: 2_000, retryTimeoutMs: 2_000 });
  const tail = Array.from({ length: TAIL_APPENDS }, (_, i) => `never-acknowledged-${i}`);
  const outcomes = await Promise.allSettled(tail.map((body) => toLeader.append(encoder.encode(body))));
  toLeader.close();
  const acknowledgedTail = outcomes.filter((o) => o.status === 'fulfilled').length;
  t.equal(acknowledgedTail, 0, 'no append without a quorum was acknowledged');
  // Normally all of them reached the leader (unknown outcome: timeout). On a starved machine the
  // leader may step down (check-quorum) before some arrive; those are refused and never stored.
  const unknown = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof DLedgerClientError && o.reason.outcomeUnknown).length;
  t.ok(unknown >= 1, `${unknown} of ${TAIL_APPENDS} calls ended with an unknown outcome (timeout), the rest were refused`);

  const oldLeaderDir = group.nodeDir(oldLeader);
  const lastAcknowledged = Math.max(...acknowledged.keys());
  const onDisk = await until(() => {
    const bodies = readEntries(oldLeaderDir).filter((e) => e.index > lastAcknowledged).map((e) => decoder.decode(e.body));
    const held = tail.filter((body) => bodies.includes(body));
    return held.length >= unknown ? held : null;
  }, 10_000, 'the tail on the leader\'s disk');
  t.ok(onDisk.length >= 1, `the leader ${oldLeader} holds ${onDisk.length} unacknowledged entries on disk (indexes ${lastAcknowledged + 1}..${lastIndexOf(oldLeaderDir)})`);

  group.nodes.get(oldLeader)!.child.kill('SIGKILL');
  await until(() => group.nodes.get(oldLeader)!.child.signalCode !== null, 10_000, 'the old leader to die');
  const dump = await runCli(['read-file', '--dir', oldLeaderDir]);
  t.match(dump.stdout, new RegExp(onDisk[0]!), 'read-file on the killed leader\'s directory shows the tail');
  for (const id of followers) {
    const node = group.nodes.get(id)!;
    if (resume === 'SIGCONT') {
      node.child.kill('SIGCONT');
    } else {
      node.child.kill('SIGKILL');
      await until(() => node.child.signalCode !== null, 10_000, `${id} to die`);
      group.start(id);
    }
  }
  const newLeader = await until(async () => {
    const leaderId = (await group.client.metadata()).leaderId;
    return leaderId !== null && leaderId !== oldLeader ? leaderId : null;
  }, 20_000, 'a new leader among the resumed followers');
  t.not(newLeader, oldLeader, `${newLeader} leads`);
  await appendAcknowledged('after', afterCount);
  const newLast = lastIndexOf(group.nodeDir(newLeader));
  t.comment(`old leader's log ends at ${lastIndexOf(oldLeaderDir)}, the new leader's at ${newLast}`);
  group.start(oldLeader);

  // Converged: everyone holds the leader's last index; then stop and compare the files.
  const leaderDir = group.nodeDir(newLeader);
  await until(() => {
    const last = lastIndexOf(leaderDir);
    return last >= Math.max(...acknowledged.keys()) && group.ids.every((id) => lastIndexOf(group.nodeDir(id)) === last);
  }, 20_000, 'the old leader to converge');
  const codes = await stopAll(group);
  for (const [id, code] of codes) t.equal(code, 0, `${id} exited 0 on SIGTERM`);
  return { group, acknowledged, tail, oldLeader };
}

function checkConverged(t: Test, { group, acknowledged }: Outcome): Map<string, string[]> {
  const dirs = group.ids.map((id) => group.nodeDir(id));
  const compared = compareStoreFiles(dirs);
  t.pass(`data (${compared.dataBytes} bytes) and index (${compared.indexBytes} bytes) byte-identical on all members up to index ${compared.extent.lastIndex}`);
  const logs = new Map(group.ids.map((id) => [id, readEntries(group.nodeDir(id)).map((e) => `${e.index}/${e.term}/${decoder.decode(e.body)}`)]));
  const reference = logs.get(group.ids[0]!)!;
  for (const [id, log] of logs) t.same(log, reference, `${id}'s entries (index/term/body) equal ${group.ids[0]}'s`);
  const lost = [...acknowledged].filter(([index, body]) => !(reference[index]?.startsWith(`${index}/`) === true && reference[index]!.endsWith(`/${body}`)));
  t.same(lost, [], `all ${acknowledged.size} acknowledged appends are in the final log at their index`);
  return logs;
}

t.test('the killed leader drops its uncommitted tail and converges', async (t) => {
  // 5 appends after the failover: the old leader's log (tail included) is LONGER than the new
  // leader's, so it must cut entries past the new leader's end, not only overwrite them.
  const outcome = await leaveTailOnKilledLeader(t, 'tail', 'restart', 5);
  const logs = checkConverged(t, outcome);
  for (const [id, log] of logs) {
    const kept = outcome.tail.filter((body) => log.some((entry) => entry.endsWith(`/${body}`)));
    t.same(kept, [], `${id}${id === outcome.oldLeader ? ' (the old leader)' : ''} holds none of the never-acknowledged bodies`);
  }
});

t.test('followers resumed by SIGCONT: the tail is in every final log or in none', async (t) => {
  const outcome = await leaveTailOnKilledLeader(t, 'tailcont', 'SIGCONT', 100);
  const logs = checkConverged(t, outcome);
  const counts = outcome.tail.map((body) => [...logs.values()].filter((log) => log.some((entry) => entry.endsWith(`/${body}`))).length);
  t.ok(counts.every((n) => n === 0 || n === logs.size), `each tail body is on all members or none (members holding each: ${counts.join(',')})`);
  t.comment(`${counts.filter((n) => n > 0).length} of ${outcome.tail.length} never-acknowledged bodies were committed by the new leader (delivered from the stopped followers' socket buffers)`);
});
