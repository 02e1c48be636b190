// Peer authentication: the crypto of the handshake every peer-port connection runs before any
// other frame is acted on, and the loading of the group secret file. The handshake is a mutual
// challenge-response (both sides send a fresh 32-byte nonce, both prove they hold the secret with
// an HMAC-SHA256 over everything that identifies this connection), so a recorded handshake is
// useless later: the acceptor's nonce is new on every connection. The transport (peer-transport.ts,
// client.ts) does the framing; this file knows no sockets, so TLS or plain TCP is all the same.
//
//   dialer   -> acceptor  {hello: 2, group, role, from, to, nonce: Nd}
//   acceptor -> dialer    {challenge: 2, nonce: Na, proof: P(acceptor)}
//   dialer   -> acceptor  {auth: 2, proof: P(dialer)}                 then Raft / client frames
//   (on refusal the acceptor sends {refused: reason} and closes)
//
// P(side) = HMAC-SHA256(secret, len-prefixed fields: DOMAIN, side, role, group, from, to, Nd, Na).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config.js';

export const AUTH_PROTOCOL_VERSION = 2;
export const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
const DOMAIN = 'dledger-ts peer-auth v2';
/** Longest secret line accepted (a 32-byte secret in hex is 64 characters). */
export const MAX_SECRET_CHARS = 1024;
export const MIN_SECRET_CHARS = 16;
/** Unauthenticated peers may send frames of at most this size (hello, auth): never 64 MiB. */
export const HELLO_MAX_FRAME_BYTES = 1024;
/** A connection that has not completed the handshake after this long is closed. */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;

/** 'peer': a member of the group dialing another; 'client': a DLedgerClient. */
export type AuthRole = 'peer' | 'client';

export interface HandshakeIds {
  readonly role: AuthRole;
  readonly group: string;
  /** The dialer's id (a peer id; clients send "client"). */
  readonly from: string;
  /** The acceptor id the dialer meant to reach. */
  readonly to: string;
  readonly dialerNonce: Uint8Array;
  readonly acceptorNonce: Uint8Array;
}

export function freshNonce(): Buffer {
  return crypto.randomBytes(NONCE_BYTES);
}

/** The proof one side of the handshake sends. `side` separates the two proofs of one connection. */
export function handshakeProof(secret: Buffer, side: 'dialer' | 'acceptor', ids: HandshakeIds): Buffer {
  const mac = crypto.createHmac('sha256', secret);
  const field = (bytes: Uint8Array): void => {
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(bytes.length, 0);
    mac.update(length);
    mac.update(bytes);
  };
  for (const text of [DOMAIN, String(AUTH_PROTOCOL_VERSION), side, ids.role, ids.group, ids.from, ids.to]) field(Buffer.from(text, 'utf8'));
  field(ids.dialerNonce);
  field(ids.acceptorNonce);
  return mac.digest();
}

/** True when `proof` was made with one of `secrets` (constant time per secret). */
export function verifyProof(secrets: readonly Buffer[], side: 'dialer' | 'acceptor', ids: HandshakeIds, proof: unknown): boolean {
  if (!(proof instanceof Uint8Array) || proof.length !== PROOF_BYTES) return false;
  let ok = false;
  // Every secret is tried (no early exit), so timing does not tell which line matched.
  for (const secret of secrets) if (crypto.timingSafeEqual(handshakeProof(secret, side, ids), proof)) ok = true;
  return ok;
}

export function isNonce(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === NONCE_BYTES;
}

/**
 * What a node proves with and accepts. `secrets[0]` is used to prove; all are accepted when
 * verifying (rotation: a second line is accepted before any node proves with it).
 */
export interface AuthSecrets {
  readonly secrets: readonly Buffer[];
}

/**
 * Read a secret file: one secret per line (blank lines and lines starting with '#' ignored), each
 * trimmed, MIN_SECRET_CHARS..MAX_SECRET_CHARS characters. A file readable by group or others is
 * refused: the secret is the whole of the group's access control. Throws ConfigError naming `key`.
 */
export function loadSecretFile(file: string, key: string): AuthSecrets {
  let stat: fs.Stats;
  let text: string;
  try {
    stat = fs.statSync(file);
    if (!stat.isFile()) throw new ConfigError([`${key}: "${file}" is not a regular file`]);
    if (stat.size > 64 * 1024) throw new ConfigError([`${key}: "${file}" is ${stat.size} bytes, expected a few secrets of at most ${MAX_SECRET_CHARS} characters`]);
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([`${key}: cannot read "${file}": ${(error as Error).message}`]);
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new ConfigError([`${key}: "${file}" has mode ${(stat.mode & 0o777).toString(8)}; it must not be readable by group or others (chmod 600 "${file}")`]);
  }
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0 && !line.startsWith('#'));
  if (lines.length === 0) throw new ConfigError([`${key}: "${file}" holds no secret (one secret per line)`]);
  const problems: string[] = [];
  lines.forEach((line, i) => {
    if (line.length < MIN_SECRET_CHARS || line.length > MAX_SECRET_CHARS) problems.push(`${key}: secret ${i + 1} in "${file}" has ${line.length} characters, expected ${MIN_SECRET_CHARS}-${MAX_SECRET_CHARS}`);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { secrets: lines.map((line) => Buffer.from(line, 'utf8')) };
}

/**
 * Write a new random secret (32 bytes, hex) to `file`, mode 0600, unless it exists (creating its
 * directory, mode 0700, if needed). True when it wrote one. Two starters racing both succeed.
 */
export function ensureSecretFile(file: string): boolean {
  if (fs.existsSync(file)) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    fs.writeSync(fd, `${crypto.randomBytes(32).toString('hex')}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** The secrets a node runs with; null = peerAuth=none (no handshake proofs asked or given). */
export interface NodeSecrets {
  readonly peer: AuthSecrets | null;
  readonly client: AuthSecrets | null;
}

/**
 * Read the node's secret files (at start, before anything listens). Throws ConfigError when
 * peerAuth=secret and no peerSecretFile is set: a node never runs open by accident.
 */
export function loadNodeSecrets(config: { readonly peerAuth: 'secret' | 'none'; readonly peerSecretFile: string; readonly clientSecretFile: string }, warn: (line: string) => void): NodeSecrets {
  if (config.peerAuth === 'none') {
    warn('WARNING: peerAuth=none: peer and client connections are NOT authenticated; anyone who reaches the peer port can join the group, rewrite or delete its log and move its leader');
    return { peer: null, client: null };
  }
  if (config.peerSecretFile === '') {
    throw new ConfigError([
      'peerSecretFile: not set; a node needs the group secret file (config key peerSecretFile, dledger server --peer-secret-file, broker dLegerPeerSecretFile), or peerAuth=none to run without authentication',
    ]);
  }
  const peer = loadSecretFile(config.peerSecretFile, 'peerSecretFile');
  const client = config.clientSecretFile === '' ? peer : loadSecretFile(config.clientSecretFile, 'clientSecretFile');
  return { peer, client };
}

/** A handshake that cannot succeed; the message names why (never a secret). */
export class AuthError extends Error {
  override name = 'AuthError';
}

interface DialerIds {
  readonly role: AuthRole;
  readonly group: string;
  readonly from: string;
  readonly to: string;
}

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

/** The refusal frame an acceptor sends before closing, or null. */
export function refusalOf(value: unknown): string | null {
  return isObj(value) && typeof value['refused'] === 'string' ? value['refused'] : null;
}

/** The dialing side: hello, then check the acceptor's proof and answer with ours. */
export class DialerHandshake {
  private readonly nonce = freshNonce();

  constructor(
    private readonly ids: DialerIds,
    /** null: peerAuth=none; the acceptor's proof is not checked and none is given. */
    private readonly secrets: AuthSecrets | null,
  ) {}

  hello(): Obj {
    return { hello: AUTH_PROTOCOL_VERSION, group: this.ids.group, role: this.ids.role, from: this.ids.from, to: this.ids.to, nonce: this.nonce };
  }

  /** The acceptor's challenge -> our auth frame. Throws AuthError if the acceptor did not prove. */
  answer(value: unknown): Obj {
    const refused = refusalOf(value);
    if (refused !== null) throw new AuthError(`refused by ${this.ids.to}: ${refused}`);
    if (!isObj(value) || value['challenge'] !== AUTH_PROTOCOL_VERSION || !isNonce(value['nonce'])) throw new AuthError(`${this.ids.to} answered the hello with something other than a challenge`);
    if (this.secrets === null) return { auth: AUTH_PROTOCOL_VERSION, proof: null };
    const ids: HandshakeIds = { ...this.ids, dialerNonce: this.nonce, acceptorNonce: value['nonce'] };
    if (!verifyProof(this.secrets.secrets, 'acceptor', ids, value['proof'])) throw new AuthError(`${this.ids.to} did not prove it holds the group secret (wrong secret, or not a member of group "${this.ids.group}")`);
    return { auth: AUTH_PROTOCOL_VERSION, proof: handshakeProof(this.secrets.secrets[0] as Buffer, 'dialer', ids) };
  }
}

/** What an acceptor knows when a hello arrives. */
export interface AcceptorContext {
  readonly group: string;
  readonly selfId: string;
  readonly isPeer: (id: string) => boolean;
  readonly acceptsClients: boolean;
  readonly secrets: NodeSecrets;
}

/** The accepting side: hello -> challenge, auth -> the authenticated dialer. */
export class AcceptorHandshake {
  private readonly nonce = freshNonce();
  private ids: HandshakeIds | null = null;

  constructor(private readonly context: AcceptorContext) {}

  /** The dialer's hello -> our challenge. Throws AuthError with the reason to log and send. */
  onHello(value: unknown): Obj {
    const c = this.context;
    if (!isObj(value) || value['hello'] === undefined) throw new AuthError('first frame is not a hello');
    if (value['hello'] !== AUTH_PROTOCOL_VERSION) throw new AuthError(`hello of protocol ${String(value['hello'])}, this node speaks ${AUTH_PROTOCOL_VERSION}`);
    if (value['group'] !== c.group) throw new AuthError(`hello from group "${String(value['group'])}", this is group "${c.group}"`);
    if (value['to'] !== c.selfId) throw new AuthError(`hello meant for "${String(value['to'])}", this is "${c.selfId}"`);
    const role = value['role'];
    const from = value['from'];
    if (role === 'client') {
      if (!c.acceptsClients) throw new AuthError('this node accepts no client connections');
      if (from !== 'client') throw new AuthError(`client hello from "${String(from)}", expected "client"`);
    } else if (role === 'peer') {
      if (typeof from !== 'string' || from === c.selfId || !c.isPeer(from)) throw new AuthError(`hello from unknown peer "${String(from)}"`);
    } else throw new AuthError(`hello with role "${String(role)}"`);
    if (!isNonce(value['nonce'])) throw new AuthError(`hello without a ${NONCE_BYTES}-byte nonce`);
    this.ids = { role, group: c.group, from, to: c.selfId, dialerNonce: value['nonce'], acceptorNonce: this.nonce };
    const secrets = this.secretsFor(role);
    return { challenge: AUTH_PROTOCOL_VERSION, nonce: this.nonce, proof: secrets === null ? null : handshakeProof(secrets.secrets[0] as Buffer, 'acceptor', this.ids) };
  }

  /** The dialer's auth frame -> who it is. Throws AuthError when the proof is wrong. */
  onAuth(value: unknown): { role: AuthRole; from: string } {
    const ids = this.ids;
    if (ids === null) throw new AuthError('auth before hello');
    if (!isObj(value) || value['auth'] !== AUTH_PROTOCOL_VERSION) throw new AuthError('second frame is not an auth frame');
    const secrets = this.secretsFor(ids.role);
    if (secrets !== null && !verifyProof(secrets.secrets, 'dialer', ids, value['proof'])) {
      throw new AuthError(`${ids.role} "${ids.from}" did not prove it holds the ${ids.role === 'client' ? 'client' : 'group'} secret`);
    }
    return { role: ids.role, from: ids.from };
  }

  private secretsFor(role: AuthRole): AuthSecrets | null {
    return role === 'client' ? this.context.secrets.client : this.context.secrets.peer;
  }
}
