// Group secret files for tests: every node refuses to start without one (peerAuth=secret is the
// default), and DLedgerClients prove the same secret (a node's client secret defaults to its peer
// secret). One file per test process, mode 0600 in its own temp dir, removed at exit; tests that
// need a second (wrong or rotated) secret write one with writeSecretFile. Not a test file itself.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Write `secrets` (default: one fresh random secret), one per line, to a 0600 file; returns its path. */
export function writeSecretFile(dir: string, name = 'peer.secret', secrets: readonly string[] = [randomSecret()]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${secrets.join('\n')}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

export function randomSecret(): string {
  return crypto.randomBytes(32).toString('hex');
}

let shared: string | null = null;

/** This process's group secret file (created on first use). */
export function testSecretFile(): string {
  if (shared === null) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-secret-'));
    shared = writeSecretFile(dir);
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return shared;
}

/** The secret itself (for clients given `clientSecret` rather than a file). */
export function testSecret(): string {
  return fs.readFileSync(testSecretFile(), 'utf8').trim();
}
