// The cluster page: per cluster and broker group, every member with its BID (the name server's
// broker id: 0 = leader), role, term, commit/applied/last index, the leader's view of its lag, and
// whether it answered this poll. Updated by every pushed snapshot, so a failover shows as it happens.
import { useState } from 'preact/hooks';
import { post, type SessionInfo } from '../api.js';
import { Status } from '../components.js';
import type { ClusterSnapshot, GroupView, MemberView } from '../types.js';

const show = (value: number | string | null | undefined): string => (value === null || value === undefined ? '–' : String(value));

function MemberRow({ member, group }: { member: MemberView; group: GroupView }) {
  const peer = group.peers.find((p) => p.id === member.selfId);
  const isLeader = member.role === 'leader';
  return (
    <tr data-member={member.selfId ?? ''} data-bid={member.bid ?? ''} data-role={member.role ?? ''} data-live={String(member.live)} class={isLeader ? 'leader' : member.live ? '' : 'down'}>
      <th scope="row">{show(member.selfId)}</th>
      <td>{show(member.bid)}</td>
      <td>{show(member.addr)}</td>
      <td>{member.live ? show(member.role) : 'unreachable'}</td>
      <td class="num">{show(member.term)}</td>
      <td class="num">{show(member.commitIndex)}</td>
      <td class="num">{show(member.appliedIndex)}</td>
      <td class="num">{show(member.lastIndex)}</td>
      <td class="num">{isLeader ? '0' : show(peer?.matchIndex)}</td>
      <td class="num">{isLeader ? '0' : show(peer?.lag)}</td>
      <td>{member.live ? 'yes' : <span title={member.error ?? ''}>no</span>}</td>
    </tr>
  );
}

/** Ask the group's leader to hand leadership to a live follower (DLEDGER_TRANSFER_LEADERSHIP). */
function TransferLeadership({ group, session }: { group: GroupView; session: SessionInfo }) {
  const followers = group.members.filter((m) => m.live && m.selfId !== null && m.role !== 'leader').map((m) => m.selfId as string);
  const [target, setTarget] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  if (!session.features['leadershipTransfer']) return null;
  if (!session.canWrite) return <p class="muted">{session.aclOn ? 'Log in with an admin ACL account to transfer leadership.' : 'Read-only console: start mqconsole with --allow-writes to transfer leadership.'}</p>;
  if (group.leader === null || followers.length === 0) return null;
  const chosen = followers.includes(target) ? target : (followers[0] as string);
  const selectId = `transfer-${group.cluster}-${group.brokerName}`;
  return (
    <form class="transfer" onSubmit={(e) => {
      e.preventDefault();
      setBusy(true);
      setMessage(null);
      post<{ from: string; to: string }>('/api/cluster/transfer', { brokerName: group.brokerName, transferee: chosen })
        .then((r) => { setError(null); setMessage(`Leadership of ${group.brokerName} handed from ${r.from} to ${r.to}.`); }, (x: Error) => setError(x.message))
        .finally(() => setBusy(false));
    }}>
      <label for={selectId}>Transfer leadership of {group.brokerName} to</label>{' '}
      <select id={selectId} data-testid="transfer-target" value={chosen} onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}>
        {followers.map((f) => <option key={f} value={f}>{f}</option>)}
      </select>{' '}
      <button type="submit" data-testid="transfer-submit" disabled={busy}>Transfer</button>
      <Status error={error} message={message} />
    </form>
  );
}

function GroupTable({ group, session }: { group: GroupView; session: SessionInfo }) {
  const captionId = `group-${group.cluster}-${group.brokerName}`;
  return (
    <section class="group" aria-labelledby={captionId} data-group={group.brokerName}>
      <h3 id={captionId}>
        {group.brokerName}: <span class="leader-name" data-leader={group.leader ?? ''}>{group.leader === null ? 'no leader (election?)' : `leader ${group.leader}`}</span>
        {group.term === null ? null : <>, term {group.term}</>}
      </h3>
      <div class="scroll" tabIndex={0} role="region" aria-label={`Members of ${group.brokerName}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Member</th><th scope="col">BID</th><th scope="col">Address</th><th scope="col">Role</th><th scope="col">Term</th>
              <th scope="col">Commit index</th><th scope="col">Applied index</th><th scope="col">Last index</th><th scope="col">Match index</th><th scope="col">Lag (entries)</th><th scope="col">Live</th>
            </tr>
          </thead>
          <tbody>
            {group.members.map((m) => <MemberRow key={m.selfId ?? m.addr} member={m} group={group} />)}
          </tbody>
        </table>
      </div>
      <TransferLeadership group={group} session={session} />
    </section>
  );
}

export function ClusterPage({ snapshot, session }: { snapshot: ClusterSnapshot | null; session: SessionInfo }) {
  if (snapshot === null) return <p>Asking the name server…</p>;
  return (
    <>
      <p class="muted">Updated {new Date(snapshot.atMs).toLocaleTimeString()} (polled every {session.pollMs} ms). BID 0 is the group's Raft leader; lag is the leader's last index minus the member's match index.</p>
      {snapshot.error !== null ? <p role="alert" class="error">{snapshot.error}</p> : null}
      {snapshot.clusters.length === 0 && snapshot.error === null ? <p>The name server lists no cluster yet.</p> : null}
      {snapshot.clusters.map((c) => (
        <section key={c.name} aria-labelledby={`cluster-${c.name}`}>
          <h2 id={`cluster-${c.name}`}>Cluster {c.name}</h2>
          {c.groups.map((g) => <GroupTable key={g.brokerName} group={g} session={session} />)}
        </section>
      ))}
    </>
  );
}
