// Consumer groups: the groups the name server's %RETRY% topics name, or any group typed in; per
// queue the broker's max offset, the group's committed offset and the lag (GET_CONSUME_STATS, as
// mqadmin consumerProgress), and the client ids of its online consumers (GET_CONSUMER_LIST_BY_GROUP).
import { useEffect, useState } from 'preact/hooks';
import { get, type SessionInfo } from '../api.js';
import { Field, Status } from '../components.js';

interface GroupDetail {
  group: string;
  queues: Array<{ topic: string; brokerName: string; queueId: number; brokerOffset: number; consumerOffset: number; lag: number; lastTimestamp: number }>;
  lagTotal: number;
  consumeTps: number;
  brokers: Array<{ brokerName: string; addr: string | null; error: string | null }>;
  clientIds: string[];
  clientIdsNote: string | null;
}

export function GroupsPage({ session }: { session: SessionInfo }) {
  const [groups, setGroups] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<GroupDetail | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);
  useEffect(() => { get<{ groups: string[] }>('/api/groups').then((r) => setGroups(r.groups), (x: Error) => setError(x.message)); }, []);
  const load = (group: string): void => {
    setSelected(group);
    get<GroupDetail>('/api/group', { group }).then((d) => { setDetail(d); setDetailError(null); }, (x: Error) => { setDetail(null); setDetailError(x.message); });
  };
  return (
    <>
      <Status error={error} />
      <h2 id="group-list-title">Groups</h2>
      <p class="muted">Groups that consumed here (each gets a %RETRY% topic on its first heartbeat); any other group by name below.</p>
      {groups === null ? (error === null ? <p>Loading…</p> : null) : (
        <ul class="topic-list" aria-labelledby="group-list-title">
          {groups.map((g) => <li key={g}><button type="button" class="link" data-group-name={g} aria-pressed={selected === g} onClick={() => load(g)}>{g}</button></li>)}
          {groups.length === 0 ? <li>No consumer group yet.</li> : null}
        </ul>
      )}
      <form onSubmit={(e) => { e.preventDefault(); if (name !== '') load(name); }}>
        <Field id="group-name" label="Consumer group"><input id="group-name" name="group" required pattern="[%|a-zA-Z0-9_\-]{1,255}" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></Field>
        <button type="submit">Show progress</button>
      </form>
      {selected === null ? null : (
        <section aria-labelledby="group-detail-title">
          <h2 id="group-detail-title">Group {selected}</h2>
          <Status error={detailError} />
          {detail === null ? null : (
            <>
              <p><span data-testid="lag-total">Lag total: {detail.lagTotal}</span> · consume TPS {detail.consumeTps.toFixed(2)}</p>
              {detail.brokers.filter((b) => b.error !== null).map((b) => <p key={b.brokerName} class="error">{b.brokerName}: {b.error}</p>)}
              <div class="scroll" tabIndex={0} role="region" aria-label={`Progress of ${selected}`}>
                <table data-testid="group-progress">
                  <thead><tr><th scope="col">Topic</th><th scope="col">Broker group</th><th scope="col">Queue</th><th scope="col">Broker offset</th><th scope="col">Consumer offset</th><th scope="col">Lag</th><th scope="col">Last consumed</th></tr></thead>
                  <tbody>{detail.queues.map((q) => (
                    <tr key={`${q.topic}-${q.brokerName}-${q.queueId}`} data-queue={`${q.topic}/${q.brokerName}/${q.queueId}`}>
                      <th scope="row">{q.topic}</th><td>{q.brokerName}</td><td class="num">{q.queueId}</td><td class="num">{q.brokerOffset}</td><td class="num">{q.consumerOffset}</td><td class="num">{q.lag}</td><td>{q.lastTimestamp > 0 ? new Date(q.lastTimestamp).toLocaleString() : '–'}</td>
                    </tr>
                  ))}</tbody>
                </table>
              </div>
              <h3>Online consumers</h3>
              {detail.clientIds.length === 0 ? <p>{detail.clientIdsNote ?? 'No consumer of this group is connected now.'}</p> : <ul>{detail.clientIds.map((id) => <li key={id}>{id}</li>)}</ul>}
              <p class="muted">Client ids from GET_CONSUMER_LIST_BY_GROUP{session.features['consumerConnections'] ? '' : '; connection details (GET_CONSUMER_CONNECTION_LIST) and offset reset are not answered by these brokers, so not offered'}.</p>
            </>
          )}
        </section>
      )}
    </>
  );
}
