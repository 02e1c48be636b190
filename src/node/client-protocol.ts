// Requests and responses between DLedgerClient and a node, carried in peer frames on the peer
// port after the handshake (peer-auth.ts) as role "client". Response codes are DLedger's
// (DLedgerResponseCode) so operators recognise them.

export const ResponseCode = {
  SUCCESS: 200,
  TIMEOUT: 300,
  UNSUPPORTED: 303,
  UNKNOWN_GROUP: 400,
  NOT_LEADER: 404,
  INDEX_OUT_OF_RANGE: 410,
  UNEXPECTED_ARGUMENT: 411,
  DISK_ERROR: 414,
  DISK_FULL: 415,
  TAKE_LEADERSHIP_FAILED: 418,
  INTERNAL_ERROR: 500,
  TERM_CHANGED: 501,
  WAIT_QUORUM_ACK_TIMEOUT: 502,
  LEADER_PENDING_FULL: 503,
  LEADER_NOT_READY: 505,
  LEADER_TRANSFERRING: 506,
} as const;
export type ResponseCode = (typeof ResponseCode)[keyof typeof ResponseCode];

export const ResponseCodeName: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(ResponseCode).map(([name, code]) => [code, name]),
);

export type ClientRequest =
  | { readonly id: number; readonly op: 'append'; readonly bodies: readonly Uint8Array[] }
  | { readonly id: number; readonly op: 'get'; readonly index: number }
  | { readonly id: number; readonly op: 'metadata' }
  | { readonly id: number; readonly op: 'transfer'; readonly to: string }
  | { readonly id: number; readonly op: 'read-barrier' }
  /**
   * The register view of the log: the latest committed non-empty NORMAL entry at or before a read
   * index. 'linearizable' (default): leader only, after a ReadIndex barrier. 'local': any member,
   * at its own applied index, no barrier; may be stale (a follower's or a deposed leader's view).
   */
  | { readonly id: number; readonly op: 'read-latest'; readonly consistency?: ReadConsistency };

export type ReadConsistency = 'linearizable' | 'local';

export interface AppendedInfo {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
}

export interface EntryInfo {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly body: Uint8Array;
}

export interface Metadata {
  readonly group: string;
  readonly selfId: string;
  readonly leaderId: string | null;
  readonly term: number;
  readonly role: string;
  readonly commitIndex: number;
  readonly peers: Readonly<Record<string, string>>;
}

export interface ClientResponse {
  readonly id: number;
  readonly code: number;
  /** The leader this node knows, so the client can go there on NOT_LEADER. */
  readonly leaderId: string | null;
  readonly error?: string;
  readonly appended?: readonly AppendedInfo[];
  readonly entry?: EntryInfo;
  readonly metadata?: Metadata;
  readonly readIndex?: number;
  /** read-latest: the entry read, or null when no normal entry exists at or before readIndex. */
  readonly latest?: EntryInfo | null;
}

/** Checks an untrusted request; returns an error text naming the field, or null when valid. */
export function requestProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object') return 'request: expected an object';
  const r = value as Record<string, unknown>;
  if (typeof r['id'] !== 'number' || !Number.isSafeInteger(r['id'])) return 'request.id: expected an integer';
  switch (r['op']) {
    case 'append': {
      const bodies = r['bodies'];
      if (!Array.isArray(bodies) || bodies.length === 0) return 'append.bodies: expected a non-empty array';
      if (bodies.length > 10_000) return `append.bodies: ${bodies.length} bodies in one request, at most 10000`;
      if (!bodies.every((body) => body instanceof Uint8Array)) return 'append.bodies: every body must be binary';
      return null;
    }
    case 'get':
      return typeof r['index'] === 'number' && Number.isSafeInteger(r['index']) ? null : 'get.index: expected an integer';
    case 'transfer':
      return typeof r['to'] === 'string' ? null : 'transfer.to: expected a peer id';
    case 'metadata':
    case 'read-barrier':
      return null;
    case 'read-latest': {
      const consistency = r['consistency'];
      return consistency === undefined || consistency === 'linearizable' || consistency === 'local' ? null : `read-latest.consistency: expected 'linearizable' or 'local', got ${JSON.stringify(consistency)}`;
    }
    default:
      return `request.op: unknown operation ${JSON.stringify(r['op'])}`;
  }
}
