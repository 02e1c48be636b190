// TLS settings from config keys: the files are read and checked here, at config time, so a node
// or broker with an unreadable file, a key that does not belong to its cert, or an expired cert
// refuses to start with a message naming the key and the file, before it binds anything.
//
// Two key sets:
// - DLedger peers and clients (node config; the broker prefixes them with dLeger): tlsEnable,
//   tlsCertFile, tlsKeyFile, tlsCaFile, tlsRequireClientCert, tlsCheckHostName.
// - RocketMQ remoting (broker and name server confs, or a tls.config.file properties file), with
//   RocketMQ's TlsSystemConfig names: tls.server.mode (also tlsServerMode), tls.server.*, tls.client.*,
//   tls.enable (also tlsEnable) for the client side.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseProperties, PropertiesError } from '../util/properties.js';
import type { ClientAuth, ListenerSecurity, TlsClientOptions, TlsServerOptions } from './tls.js';

/** Reads one config value (already defaulted), and names a key in messages (with file:line when known). */
export interface KeyReader {
  text(key: string): string;
  where(key: string): string;
}

/** The node's TLS for its peer port: one cert serves as server cert and as client cert to the other members. */
export interface PeerTls {
  readonly server: TlsServerOptions;
  readonly client: TlsClientOptions;
}

/** Node config keys for the peer port, with defaults (TLS is opt-in: see the README's Security section). */
export const PEER_TLS_DEFAULTS: Readonly<Record<string, string>> = {
  tlsEnable: 'false',
  tlsCertFile: '',
  tlsKeyFile: '',
  tlsCaFile: '',
  tlsRequireClientCert: 'true',
  tlsCheckHostName: 'false',
};

/** Peer-port TLS from the node keys above (`prefix` + capitalised name for the broker's dLeger keys); null when tlsEnable=false. */
export function parsePeerTls(keys: KeyReader, problems: string[], prefix = ''): PeerTls | null {
  const k = (name: string): string => (prefix === '' ? name : `${prefix}${name[0]?.toUpperCase()}${name.slice(1)}`);
  const enabled = parseBoolean(keys, k('tlsEnable'), problems);
  const requireClientCert = parseBoolean(keys, k('tlsRequireClientCert'), problems);
  const checkHostName = parseBoolean(keys, k('tlsCheckHostName'), problems);
  if (!enabled) return null;
  const pair = loadKeyPair(keys, k('tlsCertFile'), k('tlsKeyFile'), undefined, problems, true);
  const ca = loadCa(keys, k('tlsCaFile'), problems, true);
  if (pair === null || ca === null) return null;
  return {
    server: { cert: pair.cert, key: pair.key, ca, clientAuth: requireClientCert ? 'require' : 'none' },
    client: { cert: pair.cert, key: pair.key, ca, authServer: true, checkHostName },
  };
}

/**
 * A DLedger client's TLS (DLedgerClient, the dledger CLI): tlsCaFile required (the group's CA),
 * tlsCertFile/tlsKeyFile when the members ask for client certs. Throws TlsConfigError.
 */
export function loadClientTls(settings: { caFile: string; certFile?: string; keyFile?: string; checkHostName?: boolean }): TlsClientOptions {
  const values: Record<string, string> = { tlsCaFile: settings.caFile, tlsCertFile: settings.certFile ?? '', tlsKeyFile: settings.keyFile ?? '' };
  const problems: string[] = [];
  const keys: KeyReader = { text: (key) => values[key] ?? '', where: (key) => key };
  const ca = loadCa(keys, 'tlsCaFile', problems, true);
  const pair = loadKeyPair(keys, 'tlsCertFile', 'tlsKeyFile', undefined, problems, false);
  if (problems.length > 0) throw new TlsConfigError(problems);
  return { cert: pair?.cert ?? null, key: pair?.key ?? null, ca, authServer: true, checkHostName: settings.checkHostName ?? false };
}

export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid TLS configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** RocketMQ remoting keys and our defaults (RocketMQ's tls.server.mode default is permissive with a self-signed test cert; we have none, so disabled). */
export const REMOTING_TLS_DEFAULTS: Readonly<Record<string, string>> = {
  'tls.server.mode': 'disabled',
  'tls.server.need.client.auth': 'none',
  'tls.server.keyPath': '',
  'tls.server.keyPassword': '',
  'tls.server.certPath': '',
  'tls.server.authClient': 'false',
  'tls.server.trustCertPath': '',
  'tls.enable': 'false',
  'tls.client.keyPath': '',
  'tls.client.keyPassword': '',
  'tls.client.certPath': '',
  'tls.client.authServer': 'true',
  'tls.client.trustCertPath': '',
  'tls.config.file': '',
};

/** Spellings a broker/namesrv conf may use for the same key (RocketMQ's BrokerConfig names). */
export const REMOTING_TLS_ALIASES: Readonly<Record<string, string>> = {
  tlsServerMode: 'tls.server.mode',
  tlsEnable: 'tls.enable',
  tlsConfigFile: 'tls.config.file',
  tlsTestModeEnable: 'tls.test.mode.enable',
};

export interface RemotingTls {
  /** The remoting listener (broker client port, name server port). */
  readonly server: ListenerSecurity;
  /** Outgoing remoting (broker -> name server registration, mqadmin); null: plaintext. */
  readonly client: TlsClientOptions | null;
}

/** Whether `key` (or an alias) is one of the remoting TLS keys. */
export function isRemotingTlsKey(key: string): boolean {
  return Object.hasOwn(REMOTING_TLS_DEFAULTS, key) || Object.hasOwn(REMOTING_TLS_ALIASES, key);
}

/**
 * Remoting TLS from a conf's raw keys (aliases folded). `tls.config.file` names a properties
 * file with the same keys (RocketMQ's tls.properties); keys in the conf itself win over it.
 */
export function parseRemotingTls(raw: Readonly<Record<string, string>>, where: (key: string) => string, problems: string[]): RemotingTls {
  const values: Record<string, string> = {};
  const sources: Record<string, string> = {};
  const put = (key: string, value: string, source: string): void => {
    const canonical = REMOTING_TLS_ALIASES[key] ?? key;
    if (canonical === 'tls.test.mode.enable') {
      // RocketMQ's self-signed test certificate: there is none here.
      if (value.trim() === 'true') problems.push(`${source}: tls.test.mode.enable=true is not supported (no built-in test certificate): configure tls.server.certPath/keyPath`);
      return;
    }
    values[canonical] = value.trim();
    sources[canonical] = source;
  };
  for (const [key, value] of Object.entries(raw)) if (isRemotingTlsKey(key)) put(key, value, where(key));
  const file = values['tls.config.file'] ?? '';
  if (file !== '') {
    try {
      const fromFile = parseProperties(fs.readFileSync(file, 'utf8'), file);
      for (const [key, value] of Object.entries(fromFile)) {
        if (!isRemotingTlsKey(key) || key === 'tls.config.file') problems.push(`${file}: unknown TLS key "${key}" (known: ${Object.keys(REMOTING_TLS_DEFAULTS).join(', ')})`);
        else if (!Object.hasOwn(values, REMOTING_TLS_ALIASES[key] ?? key)) put(key, value, `${file}: ${key}`);
      }
    } catch (error) {
      problems.push(`${sources['tls.config.file'] ?? 'tls.config.file'}: cannot read ${file}: ${error instanceof PropertiesError ? error.message : (error as Error).message}`);
    }
  }
  const keys: KeyReader = {
    text: (key) => values[key] ?? REMOTING_TLS_DEFAULTS[key] ?? '',
    where: (key) => sources[key] ?? key,
  };
  const mode = keys.text('tls.server.mode');
  if (mode !== 'disabled' && mode !== 'permissive' && mode !== 'enforcing') problems.push(`${keys.where('tls.server.mode')}: "${mode}" must be disabled, permissive or enforcing`);
  const clientAuth = keys.text('tls.server.need.client.auth');
  if (clientAuth !== 'none' && clientAuth !== 'optional' && clientAuth !== 'require') problems.push(`${keys.where('tls.server.need.client.auth')}: "${clientAuth}" must be none, optional or require`);
  const authClient = parseBoolean(keys, 'tls.server.authClient', problems);
  let server: ListenerSecurity = { mode: 'disabled', tls: null };
  if (mode === 'permissive' || mode === 'enforcing') {
    const pair = loadKeyPair(keys, 'tls.server.certPath', 'tls.server.keyPath', keys.text('tls.server.keyPassword') || undefined, problems, true);
    const ca = loadCa(keys, 'tls.server.trustCertPath', problems, clientAuth !== 'none');
    // Node verifies a client cert against the trust path or not at all per connection; RocketMQ's
    // "ask for a cert but trust any" (authClient=false) has no safe equivalent, so it is refused.
    if (clientAuth !== 'none' && !authClient) problems.push(`${keys.where('tls.server.authClient')}: must be true when tls.server.need.client.auth is ${clientAuth} (client certs are checked against tls.server.trustCertPath)`);
    if (pair !== null) {
      const passphrase = keys.text('tls.server.keyPassword');
      server = { mode, tls: { cert: pair.cert, key: pair.key, ...(passphrase === '' ? {} : { passphrase }), ca, clientAuth: clientAuth as ClientAuth } };
    }
  }
  const clientEnabled = parseBoolean(keys, 'tls.enable', problems);
  const authServer = parseBoolean(keys, 'tls.client.authServer', problems);
  let client: TlsClientOptions | null = null;
  if (clientEnabled) {
    const passphrase = keys.text('tls.client.keyPassword');
    const pair = loadKeyPair(keys, 'tls.client.certPath', 'tls.client.keyPath', passphrase || undefined, problems, false);
    const ca = loadCa(keys, 'tls.client.trustCertPath', problems, false);
    client = { cert: pair?.cert ?? null, key: pair?.key ?? null, ...(passphrase === '' ? {} : { passphrase }), ca, authServer, checkHostName: false };
  }
  return { server, client };
}

function parseBoolean(keys: KeyReader, key: string, problems: string[]): boolean {
  const value = keys.text(key);
  if (value !== 'true' && value !== 'false') problems.push(`${keys.where(key)}: "${value}" must be true or false`);
  return value === 'true';
}

function readFile(keys: KeyReader, key: string, problems: string[]): Buffer | null {
  const file = keys.text(key);
  try {
    return fs.readFileSync(file);
  } catch (error) {
    problems.push(`${keys.where(key)}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return null;
  }
}

/** A cert and its private key, checked to belong together and to be valid now. */
function loadKeyPair(keys: KeyReader, certKey: string, keyKey: string, passphrase: string | undefined, problems: string[], required: boolean): { cert: Buffer; key: Buffer } | null {
  const certFile = keys.text(certKey);
  const keyFile = keys.text(keyKey);
  if (certFile === '' && keyFile === '') {
    if (required) problems.push(`${keys.where(certKey)} and ${keys.where(keyKey)}: required when TLS is on`);
    return null;
  }
  if (certFile === '' || keyFile === '') {
    problems.push(`${keys.where(certFile === '' ? certKey : keyKey)}: required together with ${certFile === '' ? keyKey : certKey}`);
    return null;
  }
  const certPem = readFile(keys, certKey, problems);
  const keyPem = readFile(keys, keyKey, problems);
  if (certPem === null || keyPem === null) return null;
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(certPem);
  } catch (error) {
    problems.push(`${keys.where(certKey)}: ${certFile} is not a PEM certificate: ${(error as Error).message}`);
    return null;
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey({ key: keyPem, ...(passphrase === undefined ? {} : { passphrase }) });
  } catch (error) {
    problems.push(`${keys.where(keyKey)}: ${keyFile} is not a usable PEM private key: ${(error as Error).message}`);
    return null;
  }
  if (!cert.checkPrivateKey(privateKey)) {
    problems.push(`${keys.where(keyKey)}: ${keyFile} is not the private key of ${keys.where(certKey)} ${certFile}`);
    return null;
  }
  checkValidity(cert, `${keys.where(certKey)}: ${certFile}`, problems);
  return { cert: certPem, key: keyPem };
}

function loadCa(keys: KeyReader, caKey: string, problems: string[], required: boolean): Buffer | null {
  const file = keys.text(caKey);
  if (file === '') {
    if (required) problems.push(`${keys.where(caKey)}: required (the CA that signs the other side's certificates)`);
    return null;
  }
  const pem = readFile(keys, caKey, problems);
  if (pem === null) return null;
  try {
    checkValidity(new crypto.X509Certificate(pem), `${keys.where(caKey)}: ${file}`, problems);
  } catch (error) {
    problems.push(`${keys.where(caKey)}: ${file} is not a PEM certificate: ${(error as Error).message}`);
    return null;
  }
  return pem;
}

function checkValidity(cert: crypto.X509Certificate, what: string, problems: string[]): void {
  const nowMs = Date.now();
  if (Date.parse(cert.validTo) < nowMs) problems.push(`${what}: certificate expired on ${cert.validTo}`);
  else if (Date.parse(cert.validFrom) > nowMs) problems.push(`${what}: certificate not valid before ${cert.validFrom}`);
}
