// Consumer groups: the groups the name server's %RETRY% topics name, or any group typed in; per
// queue the broker's max offset, the group's committed offset and the lag (GET_CONSUME_STATS, as
// mqadmin consumerProgress), and the client ids of its online consumers (GET_CONSUMER_LIST_BY_GROUP).
import { useEffect, useState } from 'preact/hooks';
import { get, post, type SessionInfo } from '../api.js';
import { Field, Status } from '../components.js';

interface GroupDetail {
  group: string;
  queues: Array<{ topic: string; brokerName: string; queueId: number; brokerOffset: number; consumerOffset: number; lag: number; lastTimestamp: number }>;
  lagTotal: number;
  consumeTps: number;
  brokers: Array<{ brokerName: string; addr: string | null; error: string | null }>;
  clientIds: string[];
  clientIdsNote: string | null;
  connections: {
    connectionSet: Array<{ clientId: string; clientAddr: string; language: string; version: number }>;
    subscriptionTable: Record<string, { topic: string; subString: string }>;
    consumeType: string;
    messageModel: string;
    consumeFromWhere: string;
  } | null;
  connectionsNote: string | null;
}

interface ResetResult {
  method: 'broker' | 'old';
  rows: Array<{ brokerName: string; queueId: number; brokerOffset: number; consumerOffset: number; timestampOffset: number; resetOffset: number }>;
}

/** A datetime-local value (local time, seconds optional) to epoch ms, or null. */
function localTimeMs(value: string): number | null {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?$/.test(value)) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** Reset the group's offsets on one topic to the first message stored at or after a time (mqadmin resetOffsetByTime). */
function ResetOffsets({ session, group, topics, onDone }: { session: SessionInfo; group: string; topics: string[]; onDone: () => void }) {
  const [topic, setTopic] = useState(topics[0] ?? '');
  const [time, setTime] = useState('');
  const [force, setForce] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<ResetResult | null>(null);
  useEffect(() => { if (!topics.includes(topic) && topics[0] !== undefined) setTopic(topics[0]); }, [topics.join(',')]);
  if (!session.features['resetOffset']) return null;
  if (!session.canWrite) return <p class="muted">{session.aclOn ? 'Log in with an admin ACL account to reset offsets.' : 'Read-only console: start mqconsole with --allow-writes to reset offsets.'}</p>;
  return (
    <form aria-labelledby="reset-title" onSubmit={(e) => {
      e.preventDefault();
      const ms = localTimeMs(time);
      if (ms === null) { setError('Give the time as a date and time (local time of this browser).'); return; }
      setBusy(true);
      post<ResetResult>('/api/group/reset', { group, topic, timestampMs: ms, force })
        .then((r) => { setError(null); setResult(r); onDone(); }, (x: Error) => { setResult(null); setError(x.message); })
        .finally(() => setBusy(false));
    }}>
      <h3 id="reset-title">Reset offsets by time</h3>
      <p class="muted">Moves the group's committed offsets to the first message stored at or after the time. Running Java consumers follow at once; ali-ons consumers ignore the broker's notice and overwrite the reset with their next commit, so stop them first.</p>
      <div class="fields">
        <Field id="reset-topic" label="Topic">
          <select id="reset-topic" name="topic" value={topic} onChange={(e) => setTopic((e.target as HTMLSelectElement).value)}>
            {topics.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </Field>
        <Field id="reset-time" label="Time (local)"><input id="reset-time" name="time" type="datetime-local" step="1" required value={time} onInput={(e) => setTime((e.target as HTMLInputElement).value)} /></Field>
        <Field id="reset-force" label="Also move forward"><input id="reset-force" name="force" type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} /></Field>
      </div>
      <button type="submit" disabled={busy || topics.length === 0}>Reset offsets</button>
      <Status error={error} message={result === null ? null : `Offsets reset (${result.method === 'broker' ? 'by the brokers, consumers notified' : 'group offline: written per queue'}).`} />
      {result === null ? null : (
        <div class="scroll" tabIndex={0} role="region" aria-label="Reset offsets">
          <table data-testid="reset-result">
            <thead><tr><th scope="col">Broker group</th><th scope="col">Queue</th><th scope="col">Offset by time</th><th scope="col">New offset</th></tr></thead>
            <tbody>{result.rows.map((r) => <tr key={`${r.brokerName}-${r.queueId}`} data-queue={r.queueId}><th scope="row">{r.brokerName}</th><td class="num">{r.queueId}</td><td class="num">{r.timestampOffset}</td><td class="num">{r.resetOffset}</td></tr>)}</tbody>
          </table>
        </div>
      )}
    </form>
  );
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
              {detail.connections === null ? <p>{detail.connectionsNote ?? 'No consumer of this group is connected now.'}</p> : (
                <>
                  <div class="scroll" tabIndex={0} role="region" aria-label={`Connections of ${selected}`}>
                    <table data-testid="group-connections">
                      <thead><tr><th scope="col">Client id</th><th scope="col">Address</th><th scope="col">Language</th><th scope="col">Version</th></tr></thead>
                      <tbody>{detail.connections.connectionSet.map((c) => <tr key={c.clientId} data-client-id={c.clientId}><th scope="row">{c.clientId}</th><td>{c.clientAddr}</td><td>{c.language}</td><td class="num">{c.version}</td></tr>)}</tbody>
                    </table>
                  </div>
                  <p>{detail.connections.consumeType} · {detail.connections.messageModel} · {detail.connections.consumeFromWhere} · subscriptions: {Object.values(detail.connections.subscriptionTable).map((sd) => `${sd.topic} (${sd.subString})`).join(', ')}</p>
                </>
              )}
              <ResetOffsets session={session} group={selected} topics={[...new Set(detail.queues.map((q) => q.topic).filter((t) => !t.startsWith('%RETRY%')))]} onDone={() => load(selected)} />
            </>
          )}
        </section>
      )}
    </>
  );
}
