// Topics: the name server's topic list, one topic's route and per-queue min/max offsets, and a
// form that creates or updates a topic on every broker group of a cluster (when writes are allowed).
import { useEffect, useState } from 'preact/hooks';
import { get, post, type SessionInfo } from '../api.js';
import { Field, show, Status } from '../components.js';
import type { ClusterSnapshot } from '../types.js';

interface TopicDetail {
  topic: string;
  brokers: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number; addrs: Array<{ id: number; addr: string }> }>;
  queues: Array<{ brokerName: string; queueId: number; minOffset: number | null; maxOffset: number | null; error: string | null }>;
}

/** How often the shown topic's route and queue offsets are fetched again. */
const DETAIL_REFRESH_MS = 2_000;

const permText = (perm: number): string => `${perm & 4 ? 'R' : '-'}${perm & 2 ? 'W' : '-'}${perm & 1 ? 'X' : '-'}`;

function TopicForm({ session, clusters, onDone, initial }: { session: SessionInfo; clusters: string[]; onDone: (topic: string) => void; initial: TopicDetail | null }) {
  const [topic, setTopic] = useState(initial?.topic ?? '');
  const [cluster, setCluster] = useState(clusters[0] ?? '');
  const [readQueueNums, setRead] = useState(String(initial?.brokers[0]?.readQueueNums ?? 8));
  const [writeQueueNums, setWrite] = useState(String(initial?.brokers[0]?.writeQueueNums ?? 8));
  const [perm, setPerm] = useState(String(initial?.brokers[0]?.perm ?? 6));
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (cluster === '' && clusters[0] !== undefined) setCluster(clusters[0]); }, [clusters.join(',')]);
  if (!session.canWrite) {
    return <p class="muted">{session.aclOn ? 'Log in with an ACL account to create or update topics.' : 'Read-only console: start mqconsole with --allow-writes to create or update topics.'}</p>;
  }
  return (
    <form aria-labelledby="topic-form-title" onSubmit={(e) => {
      e.preventDefault();
      setBusy(true);
      setMessage(null);
      post<{ createdOn: string[] }>('/api/topics', { topic, cluster, readQueueNums: Number(readQueueNums), writeQueueNums: Number(writeQueueNums), perm: Number(perm), order: false })
        .then((r) => { setError(null); setMessage(`Topic ${topic} written to ${r.createdOn.join(', ')}.`); onDone(topic); }, (x: Error) => setError(x.message))
        .finally(() => setBusy(false));
    }}>
      <h2 id="topic-form-title">Create or update a topic</h2>
      <div class="fields">
        <Field id="topic-name" label="Topic name" hint="1-127 of A-Z a-z 0-9 _ - % |"><input id="topic-name" name="topic" required pattern="[%|a-zA-Z0-9_\-]{1,127}" aria-describedby="topic-name-hint" value={topic} onInput={(e) => setTopic((e.target as HTMLInputElement).value)} /></Field>
        <Field id="topic-cluster" label="Cluster">
          <select id="topic-cluster" name="cluster" value={cluster} onChange={(e) => setCluster((e.target as HTMLSelectElement).value)}>
            {clusters.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
        </Field>
        <Field id="topic-read" label="Read queues"><input id="topic-read" name="readQueueNums" type="number" min={1} max={1024} required value={readQueueNums} onInput={(e) => setRead((e.target as HTMLInputElement).value)} /></Field>
        <Field id="topic-write" label="Write queues"><input id="topic-write" name="writeQueueNums" type="number" min={1} max={1024} required value={writeQueueNums} onInput={(e) => setWrite((e.target as HTMLInputElement).value)} /></Field>
        <Field id="topic-perm" label="Permission">
          <select id="topic-perm" name="perm" value={perm} onChange={(e) => setPerm((e.target as HTMLSelectElement).value)}>
            <option value="6">RW (6)</option><option value="4">R only (4)</option><option value="2">W only (2)</option>
          </select>
        </Field>
      </div>
      <button type="submit" disabled={busy}>Create / update topic</button>
      <Status error={error} message={message} />
    </form>
  );
}

/** Delete on every broker group of a cluster, then on the name server: a second button confirms. */
function DeleteTopic({ session, topic, clusters, onDeleted }: { session: SessionInfo; topic: string; clusters: string[]; onDeleted: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => { setConfirming(false); setError(null); setMessage(null); }, [topic]);
  if (!session.features['deleteTopic']) return null;
  if (!session.canWrite) return <p class="muted">{session.aclOn ? 'Log in with an admin ACL account to delete topics.' : 'Read-only console: start mqconsole with --allow-writes to delete topics.'}</p>;
  const cluster = clusters[0] ?? '';
  return (
    <section aria-labelledby="topic-delete-title">
      <h3 id="topic-delete-title">Delete</h3>
      {confirming ? (
        <p>
          Delete {topic} from every broker group of {cluster} and from the name server? Its messages stay in the commit log until retention removes them.{' '}
          <button type="button" data-testid="topic-delete-confirm" disabled={busy} onClick={() => {
            setBusy(true);
            post<{ ok: boolean }>('/api/topics/delete', { topic, cluster })
              .then(() => { setError(null); setMessage(`Topic ${topic} deleted from ${cluster} and the name server.`); setConfirming(false); onDeleted(); }, (x: Error) => setError(x.message))
              .finally(() => setBusy(false));
          }}>Yes, delete {topic}</button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
        </p>
      ) : <button type="button" data-testid="topic-delete" onClick={() => setConfirming(true)}>Delete topic {topic}…</button>}
      <Status error={error} message={message} />
    </section>
  );
}

export function TopicsPage({ session, snapshot }: { session: SessionInfo; snapshot: ClusterSnapshot | null }) {
  const [topics, setTopics] = useState<Array<{ name: string; system: boolean }> | null>(null);
  const [showSystem, setShowSystem] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [detail, setDetail] = useState<TopicDetail | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);
  const load = (): void => { get<{ topics: Array<{ name: string; system: boolean }> }>('/api/topics').then((r) => { setTopics(r.topics); setError(null); }, (x: Error) => setError(x.message)); };
  useEffect(load, []);
  // The detail refreshes every DETAIL_REFRESH_MS while a topic is shown: queue offsets move, and a
  // topic just created here reaches the name server's route a moment after the brokers answered
  // (a fresh CI run saw the first fetch miss it and the page never ask again). A failed refresh
  // keeps the last good detail on the page, with the error above it.
  useEffect(() => {
    if (selected === null) return undefined;
    setDetail(null);
    setDetailError(null);
    let current = true;
    const fetchDetail = (): void => {
      get<TopicDetail>('/api/topic', { topic: selected }).then((d) => { if (current) { setDetail(d); setDetailError(null); } }, (x: Error) => { if (current) setDetailError(x.message); });
    };
    fetchDetail();
    const timer = setInterval(fetchDetail, DETAIL_REFRESH_MS);
    return () => { current = false; clearInterval(timer); };
  }, [selected]);
  const shown = (topics ?? []).filter((t) => showSystem || !t.system);
  const clusters = (snapshot?.clusters ?? []).map((c) => c.name);
  return (
    <>
      <TopicForm session={session} clusters={clusters} onDone={(t) => { load(); setSelected(t); }} initial={null} />
      <h2 id="topic-list-title">Topics</h2>
      <Status error={error} />
      <p>
        <label><input type="checkbox" checked={showSystem} onChange={(e) => setShowSystem((e.target as HTMLInputElement).checked)} /> Show system and retry topics</label>
        {' '}<button type="button" onClick={load}>Refresh list</button>
      </p>
      {topics === null ? <p>Loading…</p> : (
        <ul class="topic-list" aria-labelledby="topic-list-title">
          {shown.map((t) => <li key={t.name}><button type="button" class="link" data-topic={t.name} aria-pressed={selected === t.name} onClick={() => setSelected(t.name)}>{t.name}</button></li>)}
          {shown.length === 0 ? <li>No topics.</li> : null}
        </ul>
      )}
      {selected === null ? null : (
        <section aria-labelledby="topic-detail-title">
          <h2 id="topic-detail-title">Topic {selected}</h2>
          <Status error={detailError} />
          {detail === null ? (detailError === null ? <p>Loading…</p> : <p>Trying again every {DETAIL_REFRESH_MS / 1000} s…</p>) : (
            <>
              <h3>Route</h3>
              <div class="scroll" tabIndex={0} role="region" aria-label={`Route of ${selected}`}>
                <table>
                  <thead><tr><th scope="col">Broker group</th><th scope="col">Read queues</th><th scope="col">Write queues</th><th scope="col">Perm</th><th scope="col">Members (BID address)</th></tr></thead>
                  <tbody>{detail.brokers.map((b) => <tr key={b.brokerName}><th scope="row">{b.brokerName}</th><td class="num">{b.readQueueNums}</td><td class="num">{b.writeQueueNums}</td><td>{permText(b.perm)}</td><td>{b.addrs.map((a) => `${a.id} ${a.addr}`).join(', ')}</td></tr>)}</tbody>
                </table>
              </div>
              <h3>Queues</h3>
              <div class="scroll" tabIndex={0} role="region" aria-label={`Queues of ${selected}`}>
                <table data-testid="queue-stats">
                  <thead><tr><th scope="col">Broker group</th><th scope="col">Queue</th><th scope="col">Min offset</th><th scope="col">Max offset</th><th scope="col">Messages</th></tr></thead>
                  <tbody>{detail.queues.map((q) => <tr key={`${q.brokerName}-${q.queueId}`}><th scope="row">{q.brokerName}</th><td class="num">{q.queueId}</td><td class="num">{show(q.minOffset)}</td><td class="num">{show(q.maxOffset)}</td><td class="num">{q.error !== null ? q.error : q.minOffset === null || q.maxOffset === null ? '–' : q.maxOffset - q.minOffset}</td></tr>)}</tbody>
                </table>
              </div>
              <DeleteTopic session={session} topic={selected} clusters={clusters} onDeleted={() => { load(); }} />
            </>
          )}
        </section>
      )}
    </>
  );
}
