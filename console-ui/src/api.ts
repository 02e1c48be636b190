// The page's side of the console API: JSON GETs, writes with the session's token header (the
// server also checks Origin), errors as short messages, and the cluster event stream (SSE) with a
// polling fallback, so the page follows the cluster without a reload.
export interface SessionInfo {
  token: string;
  aclOn: boolean;
  loggedIn: boolean;
  accessKey: string | null;
  canRead: boolean;
  canWrite: boolean;
  allowWritesFlag: boolean;
  namesrv: string;
  pollMs: number;
  features: Record<string, boolean>;
}

let token = '';
export function setToken(value: string): void {
  token = value;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function parse<T>(response: Response): Promise<T> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status, `the console answered HTTP ${response.status} without JSON`);
  }
  if (!response.ok) throw new ApiError(response.status, (body as { error?: string } | null)?.error ?? `HTTP ${response.status}`);
  return body as T;
}

export async function get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const query = new URLSearchParams(params).toString();
  let response: Response;
  try {
    response = await fetch(query === '' ? path : `${path}?${query}`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  } catch {
    throw new ApiError(0, 'the console server does not answer (is mqconsole running?)');
  }
  return parse<T>(response);
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', accept: 'application/json', 'x-console-token': token }, body: JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'the console server does not answer (is mqconsole running?)');
  }
  return parse<T>(response);
}

/** Calls onData with every cluster snapshot the server pushes; falls back to polling while the stream is down. */
export function subscribeCluster(onData: (data: { snapshot: unknown; sample: unknown }) => void, onState: (live: boolean) => void, pollMs: number): () => void {
  let closed = false;
  let source: EventSource | null = null;
  let poll: number | null = null;
  const startPolling = (): void => {
    if (poll !== null || closed) return;
    poll = window.setInterval(() => {
      get<{ snapshot: unknown }>('/api/cluster').then((d) => onData({ snapshot: d.snapshot, sample: null }), () => undefined);
    }, Math.max(500, pollMs));
  };
  const stopPolling = (): void => {
    if (poll !== null) window.clearInterval(poll);
    poll = null;
  };
  const open = (): void => {
    source = new EventSource('/api/events');
    source.addEventListener('cluster', (event) => {
      stopPolling();
      onState(true);
      onData(JSON.parse((event as MessageEvent<string>).data) as { snapshot: unknown; sample: unknown });
    });
    source.onerror = () => {
      onState(false);
      startPolling();
    };
  };
  open();
  return () => {
    closed = true;
    source?.close();
    stopPolling();
  };
}
