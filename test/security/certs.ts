// Test certificates made at run time with the openssl command (the same commands as the README's
// TLS section): a CA, a node cert signed by it (IP SAN 127.0.0.1, serverAuth + clientAuth, so
// one cert serves a member both ways), a client cert, and a second, unrelated CA with a node
// cert of its own for the wrong-CA cases. EC P-256 keys: generating them takes milliseconds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CertSet {
  readonly dir: string;
  readonly caFile: string;
  readonly nodeCertFile: string;
  readonly nodeKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A CA that signed none of the above. */
  readonly otherCaFile: string;
  /** A cert for 127.0.0.1 signed by otherCa. */
  readonly otherCertFile: string;
  readonly otherKeyFile: string;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', `${name}.key`, '-out', `${name}.pem`], dir);
}

function makeLeaf(dir: string, ca: string, name: string, extensions: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
}

/** Make every cert in a fresh temp dir; the caller removes `dir`. Throws if openssl is missing. */
export function makeCerts(): CertSet {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-certs-'));
  const node = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n';
  makeCa(dir, 'ca');
  makeLeaf(dir, 'ca', 'node', node);
  makeLeaf(dir, 'ca', 'client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'other-ca', 'other', node);
  const f = (name: string): string => path.join(dir, name);
  return {
    dir,
    caFile: f('ca.pem'),
    nodeCertFile: f('node.pem'),
    nodeKeyFile: f('node.key'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
    otherCaFile: f('other-ca.pem'),
    otherCertFile: f('other.pem'),
    otherKeyFile: f('other.key'),
  };
}

/** Node config keys turning peer-port TLS on with `certs` (mutual TLS, the default). */
export function peerTlsKeys(certs: CertSet): Record<string, string> {
  return { tlsEnable: 'true', tlsCertFile: certs.nodeCertFile, tlsKeyFile: certs.nodeKeyFile, tlsCaFile: certs.caFile };
}
