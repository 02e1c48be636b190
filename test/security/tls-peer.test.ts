// TLS on the DLedger peer port, with real `dledger server` processes and certs made by openssl:
// - a config with an unreadable or mismatched cert/key is refused before the node starts;
// - a TLS group (mutual TLS, the default) refuses a plaintext peer, a plaintext client, a peer
//   whose cert comes from another CA and a client without a cert: each connection is closed,
//   nothing is appended, no member's term or commit index moves, the refusals are logged;
// - the control: the same forged frames do change a plaintext group (term bumped by a forged
//   Vote with transfer=true, an entry appended by a plaintext client), so the probes are real;
// - the kill-leader scenario passes with TLS on for peers and the client.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { DLedgerClient } from '../../src/client/client.js';
import { encodeFrame } from '../../src/node/peer-frame.js';
import { loadClientTls } from '../../src/net/tls-config.js';
import type { TlsClientOptions } from '../../src/net/tls.js';
import { runCli, startProcessGroup, until, type ProcessGroup } from '../cluster/helpers.js';
import { killLeaderScenario } from '../cluster/kill-leader-scenario.js';
import { makeCerts, peerTlsKeys } from './certs.js';

const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const certs = makeCerts();
t.teardown(() => fs.rmSync(certs.dir, { recursive: true, force: true }));
const clientTls: TlsClientOptions = loadClientTls({ caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile });

interface ProbeResult {
  readonly closedWithinMs: number | null;
  readonly bytesBack: number;
}

/** Connect (plain or TLS), write `frames` once writable, and wait up to waitMs for the node to close the connection. */
async function probe(port: number, frames: Buffer, tlsOptions: tls.ConnectionOptions | null, waitMs = 5_000): Promise<ProbeResult> {
  const startedAt = Date.now();
  return new Promise((resolve) => {
    let bytesBack = 0;
    const socket = tlsOptions === null
      ? net.connect({ host: '127.0.0.1', port }, () => socket.write(frames))
      : tls.connect({ host: '127.0.0.1', port, ...tlsOptions }, () => socket.write(frames));
    socket.on('data', (chunk: Buffer) => { bytesBack += chunk.length; });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedWithinMs: null, bytesBack });
    }, waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closedWithinMs: Date.now() - startedAt, bytesBack });
    });
  });
}

// The peer handshake (src/node/peer-auth.ts) without a proof: what a group with peerAuth=none
// accepts, so the control group below shows what these probes do once TLS is the only guard.
function openHandshake(group: string, role: 'peer' | 'client', from: string, to: string): Buffer[] {
  return [
    encodeFrame({ hello: 2, group, role, from, to, nonce: crypto.randomBytes(32) }, MAX_FRAME_BYTES),
    encodeFrame({ auth: 2, proof: null }, MAX_FRAME_BYTES),
  ];
}

/** A forged hello as member `from` and a Vote with transfer=true far above the current term. */
function forgedVote(group: string, from: string, to: string, term: number): Buffer {
  return Buffer.concat([
    ...openHandshake(group, 'peer', from, to),
    encodeFrame({ type: 'Vote', from, to, term: term + 5, lastLogIndex: 1_000_000, lastLogTerm: term + 4, transfer: true }, MAX_FRAME_BYTES),
  ]);
}

function clientAppend(group: string, to: string): Buffer {
  return Buffer.concat([
    ...openHandshake(group, 'client', 'client', to),
    encodeFrame({ op: 'append', id: 1, bodies: [new TextEncoder().encode('forged')] }, MAX_FRAME_BYTES),
  ]);
}

function portOf(group: ProcessGroup, id: string): number {
  return Number(group.peerOf(id).split(':').pop());
}

async function memberViews(group: ProcessGroup, tlsOptions: TlsClientOptions | null): Promise<Map<string, { term: number; commitIndex: number; leaderId: string | null }>> {
  const views = new Map<string, { term: number; commitIndex: number; leaderId: string | null }>();
  for (const id of group.ids) {
    const client = new DLedgerClient({ ...(group.clientSecretFile === null ? {} : { clientSecretFile: group.clientSecretFile }), group: group.group, peers: group.peerOf(id), retryTimeoutMs: 5_000, tls: tlsOptions });
    try {
      const { term, commitIndex, leaderId } = await client.metadata();
      views.set(id, { term, commitIndex, leaderId });
    } finally {
      client.close();
    }
  }
  return views;
}

/** Member views once every member has learnt the leader's commit index (followers hear it one heartbeat later). */
async function settledViews(group: ProcessGroup, tlsOptions: TlsClientOptions | null): Promise<Awaited<ReturnType<typeof memberViews>>> {
  return until(async () => {
    const views = await memberViews(group, tlsOptions);
    const values = [...views.values()];
    const first = values[0];
    return first !== undefined && values.every((v) => v.commitIndex === first.commitIndex && v.term === first.term && v.leaderId === first.leaderId && v.leaderId !== null) ? views : null;
  }, 10_000, 'every member to agree on term, leader and commit index');
}

t.test('bad TLS files are refused before the node starts, naming the key and the file', async (t) => {
  const common = ['server', '--group', 'bad', '--id', 'n0', '--peers', 'n0-127.0.0.1:1', '--store-base-dir', path.join(certs.dir, 'never'), '--tls', '--tls-ca-file', certs.caFile];
  const mismatched = await runCli([...common, '--tls-cert-file', certs.nodeCertFile, '--tls-key-file', certs.otherKeyFile]);
  t.equal(mismatched.code, 1, 'mismatched key: exit 1');
  t.match(mismatched.stderr, new RegExp(`tlsKeyFile: ${certs.otherKeyFile} is not the private key of tlsCertFile ${certs.nodeCertFile}`), mismatched.stderr);
  const missing = path.join(certs.dir, 'missing.pem');
  const unreadable = await runCli([...common, '--tls-cert-file', missing, '--tls-key-file', certs.nodeKeyFile]);
  t.equal(unreadable.code, 1, 'unreadable cert: exit 1');
  t.match(unreadable.stderr, new RegExp(`tlsCertFile: cannot read ${missing}: ENOENT`), unreadable.stderr);
  t.notOk(fs.existsSync(path.join(certs.dir, 'never')), 'no store directory was created');
});

t.test('a TLS group refuses plaintext and wrong-CA peers and clients', async (t) => {
  const group = await startProcessGroup(t, { group: 'tlsg', config: peerTlsKeys(certs), clientTls });
  const leaderId = await group.leader();
  for (let i = 0; i < 3; i++) await group.client.append(new TextEncoder().encode(`ok-${i}`));
  const followerId = group.ids.find((id) => id !== leaderId) as string;
  const before = await settledViews(group, clientTls);
  const term = before.get(leaderId)?.term ?? 0;
  const impostor = group.ids.find((id) => id !== followerId && id !== leaderId) as string;
  const wrongCa: tls.ConnectionOptions = { cert: fs.readFileSync(certs.otherCertFile), key: fs.readFileSync(certs.otherKeyFile), rejectUnauthorized: false };
  const noCert: tls.ConnectionOptions = { ca: fs.readFileSync(certs.caFile), checkServerIdentity: () => undefined };
  const probes: Array<[string, string, Buffer, tls.ConnectionOptions | null]> = [
    ['plaintext forged Vote to the leader', leaderId, forgedVote(group.group, impostor, leaderId, term), null],
    ['plaintext forged Vote to a follower', followerId, forgedVote(group.group, impostor, followerId, term), null],
    ['plaintext client append', leaderId, clientAppend(group.group, leaderId), null],
    ['wrong-CA peer forged Vote to a follower', followerId, forgedVote(group.group, impostor, followerId, term), wrongCa],
    ['wrong-CA client append', leaderId, clientAppend(group.group, leaderId), wrongCa],
    ['client without a cert append', leaderId, clientAppend(group.group, leaderId), noCert],
  ];
  for (const [what, target, frames, options] of probes) {
    const result = await probe(portOf(group, target), frames, options);
    t.ok(result.closedWithinMs !== null, `${what}: connection closed by ${target} (after ${result.closedWithinMs} ms)`);
    t.equal(result.bytesBack, 0, `${what}: no application byte came back`);
  }
  // Give a forged Vote or append that got through time to show (an election takes < 2 s here).
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const after = await memberViews(group, clientTls);
  for (const id of group.ids) {
    t.same(after.get(id), before.get(id), `${id}: term, commit index and leader unchanged`);
  }
  const leaderOutput = group.nodes.get(leaderId)?.output ?? '';
  t.match(leaderOutput, /refusing inbound peer connection from 127\.0\.0\.1:\d+: TLS handshake failed/, 'the leader logged the refusals with a reason');
  t.ok((group.nodes.get(followerId)?.output ?? '').includes('refusing inbound peer connection'), 'the follower logged its refusals');
  // And a proper client still works.
  const [appended] = await group.client.append(new TextEncoder().encode('after'));
  t.equal(appended?.index, (before.get(leaderId)?.commitIndex ?? 0) + 1, 'the TLS client appends right after the last entry: nothing was appended by the probes');
});

t.test('control: the same probes do change a plaintext group without peer authentication', async (t) => {
  const group = await startProcessGroup(t, { group: 'plaing', config: { peerAuth: 'none' } });
  const leaderId = await group.leader();
  await group.client.append(new TextEncoder().encode('ok'));
  const followerId = group.ids.find((id) => id !== leaderId) as string;
  const impostor = group.ids.find((id) => id !== followerId && id !== leaderId) as string;
  const before = await settledViews(group, null);
  const term = before.get(followerId)?.term ?? 0;
  const appendResult = await probe(portOf(group, leaderId), clientAppend(group.group, leaderId), null, 1_000);
  t.ok(appendResult.bytesBack > 0, 'the plaintext client got an answer to its append');
  await probe(portOf(group, followerId), forgedVote(group.group, impostor, followerId, term), null, 500);
  const termAfter = await until(async () => {
    const views = await memberViews(group, null);
    const t2 = views.get(followerId)?.term ?? 0;
    return t2 > term ? t2 : null;
  }, 10_000, 'the forged Vote to move the follower\'s term');
  t.ok(termAfter > term, `the forged Vote moved ${followerId}'s term from ${term} to ${termAfter}`);
});

t.test('a TLS group passes the kill-leader scenario', async (t) => {
  await killLeaderScenario(t, { group: 'tlskg', config: peerTlsKeys(certs), clientTls });
});
