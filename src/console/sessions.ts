// Console sessions: a random id in an HttpOnly SameSite=Strict cookie, a random CSRF token the
// page sends back in a header with every write, and (after an ACL login) the account whose
// signature every request of that session carries. The table is bounded (the oldest session is
// dropped first) and sessions expire; nothing of a session is ever put into a page but its token.
import crypto from 'node:crypto';
import type http from 'node:http';
import type { AclCredentials } from '../acl/signature.js';

export const SESSION_COOKIE = 'mqconsole_sid';
export const TOKEN_HEADER = 'x-console-token';
/** Sessions held at once; a new one beyond it drops the least recently used. */
export const MAX_SESSIONS = 1000;
export const SESSION_TTL_MS = 12 * 3600_000;

export interface Session {
  readonly id: string;
  readonly token: string;
  credentials: AclCredentials | null;
  lastUsedMs: number;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly onDrop: (session: Session) => void = () => undefined) {}

  get size(): number {
    return this.sessions.size;
  }

  /** The request's live session, or null (unknown or expired id). */
  find(request: http.IncomingMessage, nowMs: number): Session | null {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (id === null || !/^[0-9a-f]{64}$/.test(id)) return null;
    const session = this.sessions.get(id);
    if (session === undefined) return null;
    if (nowMs - session.lastUsedMs > SESSION_TTL_MS) {
      this.drop(session);
      return null;
    }
    session.lastUsedMs = nowMs;
    // Most recently used last: the Map's order is the eviction order.
    this.sessions.delete(id);
    this.sessions.set(id, session);
    return session;
  }

  create(nowMs: number): Session {
    const session: Session = { id: crypto.randomBytes(32).toString('hex'), token: crypto.randomBytes(32).toString('hex'), credentials: null, lastUsedMs: nowMs };
    this.sessions.set(session.id, session);
    // Invariant: at most MAX_SESSIONS sessions.
    while (this.sessions.size > MAX_SESSIONS) this.drop(this.sessions.values().next().value as Session);
    return session;
  }

  drop(session: Session): void {
    if (this.sessions.delete(session.id)) this.onDrop(session);
  }

  /** The most recently used session with an account (the shared poller signs with it when the console has none of its own). */
  latestWithCredentials(): Session | null {
    let found: Session | null = null;
    for (const session of this.sessions.values()) if (session.credentials !== null) found = session;
    return found;
  }

  closeAll(): void {
    for (const session of [...this.sessions.values()]) this.drop(session);
  }
}

export function sessionCookie(session: Session, secure: boolean): string {
  return `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`;
}

/** The token header equals the session's token (constant time). */
export function tokenMatches(session: Session, request: http.IncomingMessage): boolean {
  const given = request.headers[TOKEN_HEADER];
  if (typeof given !== 'string' || given.length !== session.token.length) return false;
  return crypto.timingSafeEqual(Buffer.from(given), Buffer.from(session.token));
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined || header.length > 8192) return null;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}
