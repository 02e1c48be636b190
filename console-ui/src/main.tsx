// The console page: a header with the pages' links, the page for the location's hash (#/cluster,
// #/topics, #/groups, #/messages, #/charts), a live region for status, and the cluster stream
// shared by the pages that show cluster data. Focus moves to the page's heading on navigation.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, setToken, subscribeCluster, type SessionInfo } from './api.js';
import type { ClusterSnapshot, Sample } from './types.js';
import { ClusterPage } from './pages/cluster.js';
import { TopicsPage } from './pages/topics.js';
import { GroupsPage } from './pages/groups.js';
import { MessagesPage } from './pages/messages.js';
import { ChartsPage } from './pages/charts.js';
import { LoginForm } from './pages/login.js';

const PAGES = [
  { id: 'cluster', title: 'Cluster' },
  { id: 'topics', title: 'Topics' },
  { id: 'groups', title: 'Consumer groups' },
  { id: 'messages', title: 'Messages' },
  { id: 'charts', title: 'Charts' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

/** Samples the page keeps for its charts (10 min at 500 ms). */
const MAX_SAMPLES = 1200;

function pageOf(hash: string): PageId {
  const id = hash.replace(/^#\/?/, '').split('?')[0];
  return (PAGES.find((p) => p.id === id)?.id ?? 'cluster') as PageId;
}

function App() {
  const [page, setPage] = useState<PageId>(pageOf(location.hash));
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [sessionError, setSessionError] = useState<string | null>(null);
  const [snapshot, setSnapshot] = useState<ClusterSnapshot | null>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [streamLive, setStreamLive] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);

  const loadSession = (): void => {
    get<SessionInfo>('/api/session').then((s) => {
      setToken(s.token);
      setSession(s);
      setSessionError(null);
    }, (e: Error) => setSessionError(e.message));
  };
  useEffect(loadSession, []);
  useEffect(() => {
    const onHash = (): void => setPage(pageOf(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    heading.current?.focus();
  }, [page]);
  useEffect(() => {
    if (session === null || !session.canRead) return undefined;
    get<{ snapshot: ClusterSnapshot; history: Sample[] }>('/api/cluster').then((d) => {
      setSnapshot(d.snapshot);
      setSamples(d.history.slice(-MAX_SAMPLES));
    }, () => undefined);
    return subscribeCluster((data) => {
      setSnapshot(data.snapshot as ClusterSnapshot);
      const sample = data.sample as Sample | null;
      if (sample !== null) setSamples((old) => [...old.slice(-(MAX_SAMPLES - 1)), sample]);
    }, setStreamLive, session.pollMs);
  }, [session?.canRead, session?.loggedIn]);

  const title = PAGES.find((p) => p.id === page)?.title ?? '';
  useEffect(() => {
    document.title = `${title} · dledger-ts console`;
  }, [title]);

  return (
    <>
      <header class="top">
        <p class="brand">dledger-ts console</p>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}><a href={`#/${p.id}`} aria-current={p.id === page ? 'page' : undefined}>{p.title}</a></li>
            ))}
          </ul>
        </nav>
        <p class="conn" aria-live="polite">
          {session === null ? '' : `name server ${session.namesrv} · `}
          <span class={streamLive ? 'ok' : 'warn'}>{streamLive ? 'live updates on' : 'live updates off (polling)'}</span>
          {session?.aclOn ? <> · {session.loggedIn ? `logged in as ${session.accessKey}` : 'not logged in'}</> : null}
          {session !== null && !session.aclOn ? <> · {session.canWrite ? 'writes allowed' : 'read-only'}</> : null}
        </p>
      </header>
      <main id="main">
        <h1 tabIndex={-1} ref={heading}>{title}</h1>
        {sessionError !== null ? <p role="alert" class="error">{sessionError}</p> : null}
        {session !== null && session.aclOn ? <LoginForm session={session} onChange={loadSession} /> : null}
        {session === null || !session.canRead ? null : (
          page === 'cluster' ? <ClusterPage snapshot={snapshot} session={session} />
          : page === 'topics' ? <TopicsPage session={session} snapshot={snapshot} />
          : page === 'groups' ? <GroupsPage session={session} />
          : page === 'messages' ? <MessagesPage session={session} />
          : <ChartsPage samples={samples} snapshot={snapshot} />
        )}
      </main>
    </>
  );
}

const root = document.getElementById('app') as HTMLElement;
// The "needs JavaScript" note goes: render() adds to what the container holds.
root.textContent = '';
render(<App />, root);
