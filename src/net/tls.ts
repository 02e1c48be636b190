// Plain or TLS sockets behind one interface, so the peer transport, the DLedger client and the
// remoting server/client have one code path: `listen` hands over sockets that are ready to read
// (after the TLS handshake when there is one), `dial` calls onReady when the socket may be
// written (after 'connect' for TCP, 'secureConnect' for TLS). tls.TLSSocket extends net.Socket,
// so callers keep their net.Socket types.
//
// What is checked (TLS 1.2 minimum): a server presents its cert; with clientAuth 'require' it asks
// for a client cert and closes the connection unless that cert chains to its CA (mutual TLS, the
// peer-port default); a client refuses a server cert that does not chain to its CA unless
// authServer is false. Host names are not checked by default: peers and brokers are addressed
// by IP in the confs and the CA is the group's own, so "signed by our CA" is the identity check;
// checkHostName=true adds Node's usual check of the host dialed against the cert's SAN.
//
// Server modes (RocketMQ's tls.server.mode): disabled = TCP only; enforcing = TLS only (a
// plaintext client fails the handshake: closed, logged and counted through onRefused);
// permissive = one port takes both: the first byte decides (0x16 opens a TLS handshake record,
// a RocketMQ frame starts with the high byte of its length, 0x00 for any frame under 16 MiB).
import net from 'node:net';
import tls from 'node:tls';

export type TlsServerMode = 'disabled' | 'permissive' | 'enforcing';
export type ClientAuth = 'none' | 'optional' | 'require';

/** A listener's TLS side; the buffers were read and checked at config time (tls-config.ts). */
export interface TlsServerOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly passphrase?: string;
  /** CA bundle that client certs must chain to; null: the system's roots. */
  readonly ca: Buffer | null;
  readonly clientAuth: ClientAuth;
}

export interface TlsClientOptions {
  /** Our own cert and key, for servers that ask for one (mutual TLS); null: none. */
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  readonly passphrase?: string;
  /** CA bundle the server cert must chain to; null: the system's roots. */
  readonly ca: Buffer | null;
  /** false: any server cert is accepted (RocketMQ's tls.client.authServer=false). */
  readonly authServer: boolean;
  readonly checkHostName: boolean;
}

export interface ListenerSecurity {
  readonly mode: TlsServerMode;
  /** Required unless mode is 'disabled'. */
  readonly tls: TlsServerOptions | null;
}

/** A TLS handshake that does not end within this is abandoned (Node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Permissive mode waits this long for the first byte that tells TLS from plaintext. */
const FIRST_BYTE_TIMEOUT_MS = TLS_HANDSHAKE_TIMEOUT_MS;
const TLS_HANDSHAKE_RECORD = 0x16;
const MIN_VERSION = 'TLSv1.2';

export interface ListenHandlers {
  /** A connection ready for the protocol; secure says whether it runs over TLS. */
  readonly onSocket: (socket: net.Socket, secure: boolean) => void;
  /** A connection closed before onSocket (failed handshake, plaintext on an enforcing port). */
  readonly onRefused: (remoteAddress: string, reason: string) => void;
}

/** A server for `security` (null: plain TCP). Listen on it as on any net.Server. */
export function createListener(security: ListenerSecurity | null, handlers: ListenHandlers): net.Server {
  if (security === null || security.mode === 'disabled') return net.createServer((socket) => handlers.onSocket(socket, false));
  const options = security.tls;
  if (options === null) throw new Error(`TLS server mode ${security.mode} needs a cert and key`);
  const tlsServer = tls.createServer({
    cert: options.cert,
    key: options.key,
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.ca === null ? {} : { ca: options.ca }),
    minVersion: MIN_VERSION,
    requestCert: options.clientAuth !== 'none',
    rejectUnauthorized: options.clientAuth === 'require',
    handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
  }, (socket) => handlers.onSocket(socket, true));
  tlsServer.on('tlsClientError', (error, socket) => {
    handlers.onRefused(remoteOf(socket), `TLS handshake failed: ${error.message}`);
    socket.destroy();
  });
  if (security.mode === 'enforcing') return tlsServer;
  // Permissive: peek at the first byte on a plain server, then either keep the socket plain or
  // hand it to the TLS server, which wraps it (buffered bytes included) and handshakes.
  return net.createServer((socket) => {
    const timer = setTimeout(() => {
      handlers.onRefused(remoteOf(socket), `no first byte within ${FIRST_BYTE_TIMEOUT_MS} ms`);
      socket.destroy();
    }, FIRST_BYTE_TIMEOUT_MS);
    const onEarlyClose = (): void => clearTimeout(timer);
    socket.once('close', onEarlyClose);
    socket.on('error', () => undefined); // 'close' follows
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.off('close', onEarlyClose);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        tlsServer.emit('connection', socket);
      } else {
        handlers.onSocket(socket, false);
        socket.resume();
      }
    });
  });
}

/**
 * Open a connection (TLS when `options` is not null). onReady runs once the socket may be
 * written; a failed connect or handshake emits 'error' then 'close' as for any socket.
 */
export function dial(options: TlsClientOptions | null, host: string, port: number, onReady: () => void): net.Socket {
  if (options === null) {
    const socket = net.connect({ host, port });
    socket.once('connect', onReady);
    return socket;
  }
  const socket = tls.connect({
    host,
    port,
    // SNI takes host names only; peers are usually dialed by IP.
    ...(net.isIP(host) === 0 ? { servername: host } : {}),
    ...(options.cert === null ? {} : { cert: options.cert }),
    ...(options.key === null ? {} : { key: options.key }),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.ca === null ? {} : { ca: options.ca }),
    minVersion: MIN_VERSION,
    rejectUnauthorized: options.authServer,
    ...(options.checkHostName ? {} : { checkServerIdentity: () => undefined }),
  });
  socket.once('secureConnect', onReady);
  return socket;
}

function remoteOf(socket: net.Socket): string {
  return `${(socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '')}:${socket.remotePort ?? 0}`;
}
