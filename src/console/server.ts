// The web console's HTTP listener (node:http: the API is a dozen routes, and every bound a hostile
// client could push on — connections, header and body sizes and times, SSE streams, sessions,
// login attempts — is set here explicitly, as on the /metrics listener). It serves the built UI
// and a JSON API whose data comes from the name server and brokers over remoting with the same
// AdminClient mqadmin uses; a server-side Poller pushes cluster snapshots to pages over SSE.
import http from 'node:http';
import { AdminClient } from '../admin/admin-client.js';
import type { AclCredentials } from '../acl/signature.js';
import type { TlsClientOptions } from '../net/tls.js';
import { ClusterViewer } from './cluster-view.js';
import { checkSameOrigin, HttpError, readJsonObject, securityHeaders, sendFile, sendJson, stringField } from './http-util.js';
import { Poller, type LatencyProbe } from './poller.js';
import { sessionCookie, SessionTable, tokenMatches, type Session } from './sessions.js';
import { loadUi, type UiFile } from './static-ui.js';
import { routeData, type DataContext } from './data-api.js';
import { MetricsScraper } from './metrics-scrape.js';

export interface ConsoleOptions {
  readonly namesrvAddrs: readonly string[];
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
  /** Writes without an ACL login when the brokers have ACL off (default: read-only). */
  readonly allowWrites: boolean;
  /** 'auto': ACL is on once a broker refuses an unsigned request. */
  readonly acl: 'auto' | 'on' | 'off';
  /** The console's own account for its background poll (optional; else a logged-in user's). */
  readonly credentials: AclCredentials | null;
  readonly tls: TlsClientOptions | null;
  readonly pollMs: number;
  readonly requestTimeoutMs: number;
  readonly uiDir: string;
  readonly log: (line: string) => void;
}

/** Concurrent connections to the console's port. */
export const MAX_CONNECTIONS = 256;
/** Pages listening on /api/events at once. */
export const MAX_EVENT_STREAMS = 64;
/** An event stream whose unread output passes this is closed (a page that stopped reading). */
export const EVENT_STREAM_MAX_UNREAD_BYTES = 1024 * 1024;
/** Per-session admin clients (each holds connections to the brokers) kept open at once. */
export const MAX_SESSION_CLIENTS = 32;
/** Failed logins per remote address per minute. */
export const MAX_FAILED_LOGINS_PER_MINUTE = 10;
const MAX_LOGIN_ADDRESSES = 1000;
const MAX_URL_LENGTH = 4096;
const ACCESS_KEY_PATTERN = /^[A-Za-z0-9_.@-]{1,128}$/;
const SECRET_KEY_PATTERN = /^[\x21-\x7e]{1,256}$/;

export class ConsoleServer {
  private readonly server: http.Server;
  private readonly ui: Map<string, UiFile>;
  private readonly sessions: SessionTable;
  private readonly anonymous: AdminClient;
  private readonly own: AdminClient | null;
  private readonly sessionClients = new Map<string, AdminClient>();
  private readonly poller: Poller;
  private readonly streams = new Set<http.ServerResponse>();
  private readonly failedLogins = new Map<string, number[]>();
  private aclDetected = false;
  private pollAdmin: AdminClient;
  private heartbeat: NodeJS.Timeout | null = null;
  private boundPort = 0;

  constructor(private readonly options: ConsoleOptions) {
    this.ui = loadUi(options.uiDir);
    this.anonymous = new AdminClient(options.namesrvAddrs, options.requestTimeoutMs, options.tls);
    this.own = options.credentials === null ? null : new AdminClient(options.namesrvAddrs, options.requestTimeoutMs, options.tls, options.credentials);
    this.pollAdmin = this.own ?? this.anonymous;
    this.sessions = new SessionTable((session) => this.closeSessionClient(session.id));
    const viewer = new ClusterViewer(() => this.pollAdmin);
    const scraper = new MetricsScraper(options.requestTimeoutMs);
    const latency: LatencyProbe = (snapshot) => scraper.scrape(snapshot);
    this.poller = new Poller(async (nowMs) => {
      this.pollAdmin = this.choosePollAdmin();
      const snapshot = await viewer.snapshot(nowMs);
      if (snapshot.aclRefused && !this.aclDetected) {
        this.aclDetected = true;
        options.log('a broker refused an unsigned request: ACL is on, the console asks for a login');
      }
      return snapshot;
    }, options.pollMs, latency);
    this.poller.onSnapshot((snapshot, sample) => this.broadcast('cluster', { snapshot, sample }));
    this.server = http.createServer((request, response) => void this.handle(request, response));
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.headersTimeout = 10_000;
    // Event streams are long-lived responses; every other request must finish within this.
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 64;
    this.server.maxRequestsPerSocket = 1000;
  }

  get port(): number {
    return this.boundPort;
  }

  get aclOn(): boolean {
    return this.options.acl === 'on' || (this.options.acl === 'auto' && this.aclDetected);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : this.options.port;
    await this.poller.start();
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.write(': keep-alive\n\n');
    }, 15_000);
  }

  async close(): Promise<void> {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    await this.poller.stop();
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.sessions.closeAll();
    this.anonymous.close();
    this.own?.close();
  }

  private choosePollAdmin(): AdminClient {
    if (this.own !== null || !this.aclOn) return this.own ?? this.anonymous;
    const session = this.sessions.latestWithCredentials();
    return session === null ? this.anonymous : this.adminFor(session);
  }

  /** The client a session's requests go through: signed with its account after a login. */
  private adminFor(session: Session | null): AdminClient {
    if (session === null || session.credentials === null) return this.own ?? this.anonymous;
    let client = this.sessionClients.get(session.id);
    if (client === undefined) {
      client = new AdminClient(this.options.namesrvAddrs, this.options.requestTimeoutMs, this.options.tls, session.credentials);
      this.sessionClients.set(session.id, client);
      // Invariant: at most MAX_SESSION_CLIENTS open (the least recently created closes; it reopens on use).
      while (this.sessionClients.size > MAX_SESSION_CLIENTS) this.closeSessionClient(this.sessionClients.keys().next().value as string);
    }
    return client;
  }

  private closeSessionClient(id: string): void {
    const client = this.sessionClients.get(id);
    if (client === undefined) return;
    this.sessionClients.delete(id);
    if (this.pollAdmin === client) this.pollAdmin = this.own ?? this.anonymous;
    client.close();
  }

  private canRead(session: Session | null): boolean {
    return !this.aclOn || session?.credentials != null;
  }

  private canWrite(session: Session | null): boolean {
    return this.aclOn ? session?.credentials != null : this.options.allowWrites;
  }

  private broadcast(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const stream of this.streams) {
      const session = (stream as http.ServerResponse & { session?: Session | null }).session ?? null;
      if (!this.canRead(session)) continue;
      if (stream.writableLength > EVENT_STREAM_MAX_UNREAD_BYTES) {
        stream.destroy();
        this.streams.delete(stream);
        continue;
      }
      stream.write(text);
    }
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    try {
      if ((request.url ?? '').length > MAX_URL_LENGTH) throw new HttpError(414, 'the URL is too long');
      const url = new URL(request.url ?? '/', 'http://console.invalid');
      const nowMs = Date.now();
      let session = this.sessions.find(request, nowMs);
      const method = request.method ?? 'GET';
      if (method === 'GET' && !url.pathname.startsWith('/api/')) {
        const file = this.ui.get(url.pathname);
        if (file === undefined) throw new HttpError(404, `no such page: ${url.pathname}`);
        const headers: Record<string, string> = {};
        if (session === null && url.pathname === '/' ) {
          session = this.sessions.create(nowMs);
          headers['set-cookie'] = sessionCookie(session, false);
        }
        if (url.pathname === '/' || url.pathname === '/index.html') {
          response.writeHead(200, { ...securityHeaders(), ...headers, 'content-type': file.contentType, 'cache-control': 'no-store', 'content-length': file.body.length });
          response.end(file.body);
          return;
        }
        sendFile(response, file.contentType, file.body, 'no-cache');
        return;
      }
      if (method !== 'GET' && method !== 'POST') throw new HttpError(405, `method ${method} is not allowed`);
      if (method === 'POST') {
        checkSameOrigin(request);
        if (session === null || !tokenMatches(session, request)) throw new HttpError(403, 'write refused: missing or wrong console token (reload the page)');
      }
      await this.api(method, url, request, response, session, nowMs);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (error instanceof HttpError) {
        // A refused body may be partly unread: close the connection after the answer.
        sendJson(response, error.status, { error: error.message }, error.status === 413 ? { connection: 'close' } : {});
        return;
      }
      // Unexpected: the page gets a short message, the stack goes to the console's log only.
      this.options.log(`console: ${request.method} ${request.url}: ${(error as Error).stack ?? String(error)}`);
      sendJson(response, 500, { error: 'internal error in the console (details in its log)' });
    }
  }

  private async api(method: string, url: URL, request: http.IncomingMessage, response: http.ServerResponse, session: Session | null, nowMs: number): Promise<void> {
    const path = url.pathname;
    if (method === 'GET' && path === '/api/session') {
      let created: Session | null = null;
      if (session === null) created = session = this.sessions.create(nowMs);
      sendJson(response, 200, {
        token: session.token,
        aclOn: this.aclOn,
        loggedIn: session.credentials !== null,
        accessKey: session.credentials?.accessKey ?? null,
        canRead: this.canRead(session),
        canWrite: this.canWrite(session),
        allowWritesFlag: this.options.allowWrites,
        namesrv: this.options.namesrvAddrs.join(';'),
        pollMs: this.options.pollMs,
        features: FEATURES,
      }, created === null ? {} : { 'set-cookie': sessionCookie(created, false) });
      return;
    }
    if (method === 'POST' && path === '/api/login') return this.login(request, response, session as Session);
    if (method === 'POST' && path === '/api/logout') {
      (session as Session).credentials = null;
      this.closeSessionClient((session as Session).id);
      sendJson(response, 200, { ok: true });
      return;
    }
    if (!this.canRead(session)) throw new HttpError(401, 'the brokers have ACL on: log in with an ACL account');
    if (method === 'GET' && path === '/api/cluster') {
      const snapshot = this.poller.snapshot() ?? (await this.poller.refresh());
      sendJson(response, 200, { snapshot, history: this.poller.history(nowMs - 10 * 60_000) });
      return;
    }
    if (method === 'GET' && path === '/api/events') return this.events(request, response, session);
    const context: DataContext = {
      admin: this.adminFor(session),
      canWrite: this.canWrite(session),
      writeRefusal: this.aclOn ? 'log in with an ACL account (write actions need an admin account)' : 'the console is read-only: start it with --allow-writes to create, change or delete topics, reset offsets or transfer leadership',
      snapshot: () => this.poller.snapshot(),
      refresh: () => this.poller.refresh(),
      nowMs,
    };
    if (await routeData(method, url, request, response, context)) return;
    throw new HttpError(404, `no such API: ${method} ${path}`);
  }

  private async login(request: http.IncomingMessage, response: http.ServerResponse, session: Session): Promise<void> {
    const address = request.socket.remoteAddress ?? '?';
    const nowMs = Date.now();
    const recent = (this.failedLogins.get(address) ?? []).filter((t) => nowMs - t < 60_000);
    if (recent.length >= MAX_FAILED_LOGINS_PER_MINUTE) throw new HttpError(429, 'too many failed logins from this address: wait a minute');
    const body = await readJsonObject(request);
    const accessKey = stringField(body, 'accessKey', ACCESS_KEY_PATTERN, 'an access key (1-128 of A-Z a-z 0-9 _ . @ -)');
    const secretKey = stringField(body, 'secretKey', SECRET_KEY_PATTERN, 'a secret key (1-256 printable characters)');
    if (!this.aclOn) throw new HttpError(400, 'the brokers have ACL off: no login is needed (reads are open; writes need --allow-writes)');
    const snapshot = this.poller.snapshot();
    const addrs = (snapshot?.clusters ?? []).flatMap((c) => c.groups.flatMap((g) => g.members.map((m) => m.addr))).filter((a): a is string => a !== null);
    if (addrs.length === 0) throw new HttpError(503, 'no broker is known yet to check the account with: retry in a moment');
    const probe = new AdminClient(this.options.namesrvAddrs, this.options.requestTimeoutMs, this.options.tls, { accessKey, secretKey });
    try {
      let lastError = '';
      for (const addr of addrs) {
        try {
          // A signed read: the broker checks the account and the signature (src/acl/validator.ts).
          await probe.runtimeInfo(addr);
          session.credentials = { accessKey, secretKey };
          this.closeSessionClient(session.id);
          this.failedLogins.delete(address);
          sendJson(response, 200, { ok: true, accessKey });
          void this.poller.refresh();
          return;
        } catch (error) {
          lastError = (error as Error).message;
          if (/code 16\b/.test(lastError)) break;
        }
      }
      recent.push(nowMs);
      this.failedLogins.set(address, recent);
      while (this.failedLogins.size > MAX_LOGIN_ADDRESSES) this.failedLogins.delete(this.failedLogins.keys().next().value as string);
      throw new HttpError(401, /code 16\b/.test(lastError) ? 'login refused: unknown access key or wrong secret key' : `no broker could check the account: ${lastError}`);
    } finally {
      probe.close();
    }
  }

  private events(request: http.IncomingMessage, response: http.ServerResponse, session: Session | null): void {
    if (this.streams.size >= MAX_EVENT_STREAMS) throw new HttpError(503, `too many open event streams (${MAX_EVENT_STREAMS}); the page falls back to polling`);
    response.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    (response as http.ServerResponse & { session?: Session | null }).session = session;
    // The stream outlives requestTimeout on purpose; the socket's own timeout is off for it.
    request.socket.setTimeout(0);
    this.streams.add(response);
    const snapshot = this.poller.snapshot();
    response.write(`retry: 1000\n\n`);
    if (snapshot !== null) response.write(`event: cluster\ndata: ${JSON.stringify({ snapshot, sample: null })}\n\n`);
    const drop = (): void => {
      this.streams.delete(response);
    };
    request.on('close', drop);
    response.on('error', drop);
  }
}

/** What the brokers of this project answer, so the page shows only actions that work. */
export const FEATURES = {
  /** DELETE_TOPIC_IN_BROKER to every master, then DELETE_TOPIC_IN_NAMESRV (mqadmin deleteTopic). */
  deleteTopic: true,
  /** INVOKE_BROKER_TO_RESET_OFFSET, or Java's old method while the group is offline (mqadmin resetOffsetByTime). */
  resetOffset: true,
  /** GET_CONSUMER_CONNECTION_LIST (mqadmin consumerConnection). */
  consumerConnections: true,
  consumerClientIds: true,
  /** DLEDGER_TRANSFER_LEADERSHIP (ours, admin-only under ACL) to the group's leader. */
  leadershipTransfer: true,
  queryByKey: true,
  queryById: true,
  queryByOffset: true,
};
