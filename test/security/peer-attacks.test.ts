// Goal: an attacker who knows the group name and the member ids (both public) but not the group
// secret can do nothing on the peer port: forged Raft messages, unauthenticated client ops and a
// replayed recorded handshake all leave the victim's term, leader and data files as they were,
// the victim alive and serving authenticated appends.
// Method: one group of three real `dledger server` processes (n2's link to n0 through a recording
// TCP proxy, to have a legitimate handshake to replay), reused by every subtest. Each attack is
// sent twice (after an old protocol-1 hello and after a protocol-2 handshake with a guessed
// proof; test/security/attacker.ts), then the victim is checked: every member's term and leader
// (asked with an authenticated client), the names and sizes of every member's data and index
// files, the processes alive, an authenticated append committed. On the build before peer
// authentication each attack had its effect (see the commit message for what each did).
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { DLedgerClient } from '../../src/client/client.js';
import { startProcessGroup, until, type ProcessGroup } from '../cluster/helpers.js';
import { readEntries } from '../cluster/store-files.js';
import { testSecretFile } from '../util/peer-secret.js';
import { attack, recordingProxy, replay, type AttackOutcome } from './attacker.js';
import { clientOps, FORGED_ATTACKS, type GroupView } from './forged-messages.js';

const GROUP = 'sec';
const SETTLE_MS = 1500;

interface Member {
  readonly id: string;
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
}

let proxied: string | null = null;
const group: ProcessGroup = await startProcessGroup(t, {
  group: GROUP,
  deferred: ['n2'],
  // n2 reaches n0 through the recording proxy (the last --peers wins).
  extraArgs: (id) => (id === 'n2' && proxied !== null ? ['--peers', proxied] : []),
});
const portOf = (id: string): number => Number(group.peerOf(id).split(':').pop());
const proxy = await recordingProxy(portOf('n0'));
proxied = group.peers.replace(`n0-127.0.0.1:${portOf('n0')}`, `n0-127.0.0.1:${proxy.port}`);
group.start('n2');
t.teardown(() => proxy.close());

async function statusOf(id: string): Promise<Member> {
  const client = new DLedgerClient({ clientSecretFile: testSecretFile(), group: GROUP, peers: group.peerOf(id), retryTimeoutMs: 2000, requestTimeoutMs: 1000 });
  try {
    const m = await client.metadata();
    return { id, term: m.term, leaderId: m.leaderId, commitIndex: m.commitIndex };
  } finally {
    client.close();
  }
}

/** Every member agrees on one leader and term and has committed the same index. */
async function stable(): Promise<Member[]> {
  return until(async () => {
    try {
      const all = await Promise.all(group.ids.map(statusOf));
      const [first] = all as [Member];
      const agree = first.leaderId !== null && all.every((m) => m.term === first.term && m.leaderId === first.leaderId && m.commitIndex === first.commitIndex);
      return agree ? all : null;
    } catch {
      return null;
    }
  }, 30_000, 'a stable group');
}

/** Names and sizes of each member's data and index segments. */
function files(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of group.ids) {
    const list: string[] = [];
    for (const sub of ['data', 'index']) {
      const dir = path.join(group.nodeDir(id), sub);
      for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) list.push(`${sub}/${name}:${fs.statSync(path.join(dir, name)).size}`);
    }
    out[id] = list;
  }
  return out;
}

const alive = (): Record<string, boolean> => Object.fromEntries(group.ids.map((id) => {
  const child = group.nodes.get(id)?.child;
  return [id, child !== undefined && child.exitCode === null && child.signalCode === null];
}));

interface Baseline {
  readonly members: Member[];
  readonly leader: string;
  readonly followers: string[];
  readonly term: number;
  readonly commitIndex: number;
  readonly extents: Record<string, [number, number]>;
}

/** First and last index of each member's log, read from its files. */
function logExtents(): Record<string, [number, number]> {
  return Object.fromEntries(group.ids.map((id) => {
    try {
      const entries = readEntries(group.nodeDir(id));
      return [id, [entries[0]?.index ?? -1, entries.at(-1)?.index ?? -1]];
    } catch {
      return [id, [-2, -2]]; // a log that does not read from index 0 any more (e.g. reset to a snapshot)
    }
  }));
}

async function baseline(): Promise<Baseline> {
  // A restarted (crashed) member from an earlier attack on an old build: bring it back first.
  for (const [id, up] of Object.entries(alive())) if (!up) group.start(id);
  await group.client.append(new TextEncoder().encode('before'));
  const members = await stable();
  const leader = members[0]?.leaderId as string;
  return { members, leader, followers: group.ids.filter((id) => id !== leader), term: members[0]?.term as number, commitIndex: members[0]?.commitIndex as number, extents: logExtents() };
}

/** The victim and the group are as they were, and the group still commits. */
async function unharmed(t: Test, before: Baseline, filesBefore: Record<string, string[]>, outcomes: AttackOutcome[], forbiddenBody?: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  t.same(alive(), { n0: true, n1: true, n2: true }, 'every member process is still running');
  t.same(files(), filesBefore, 'every member\'s data and index files: same names, same sizes');
  const after = await Promise.all(group.ids.map((id) => statusOf(id).catch(() => ({ id, term: -1, leaderId: null, commitIndex: -1 }))));
  t.same(after.map((m) => [m.id, m.term, m.leaderId]), before.members.map((m) => [m.id, m.term, m.leaderId]), `term ${before.term} and leader ${before.leader} unchanged on every member`);
  t.same(after.map((m) => [m.id, m.commitIndex]), before.members.map((m) => [m.id, m.commitIndex]), `commit index ${before.commitIndex} unchanged on every member`);
  t.same(logExtents(), before.extents, 'every member\'s log holds the same first and last index');
  t.ok(outcomes.every((o) => o.closedByVictim), `the victim closed each attacking connection (${outcomes.map((o) => o.closedByVictim).join(', ')})`);
  if (forbiddenBody !== undefined) {
    const stored = group.ids.flatMap((id) => {
      try {
        return readEntries(group.nodeDir(id)).map((e) => Buffer.from(e.body).toString('utf8'));
      } catch {
        return [];
      }
    });
    t.notOk(stored.includes(forbiddenBody), 'the attacker\'s body is in no member\'s log');
  }
  const [appended] = await group.client.append(new TextEncoder().encode('after'));
  t.ok((appended?.index ?? -1) > before.commitIndex, `an authenticated append still commits (index ${appended?.index})`);
}

/** Each forged message, sent on both protocols to its victim. */
for (const forged of FORGED_ATTACKS) {
  await t.test(forged.name, async (t) => {
    const b = await baseline();
    const filesBefore = files();
    const view: GroupView = { ...b, prevTerm: (await group.client.get(b.commitIndex - 1)).term };
    const victim = forged.victim(view);
    const value = { ...forged.message(view), from: forged.from(view), to: victim };
    const hello = { group: GROUP, from: forged.from(view), to: victim };
    const outcomes = [await attack(portOf(victim), 'v1', hello, [value]), await attack(portOf(victim), 'v2', hello, [value])];
    await unharmed(t, b, filesBefore, outcomes, forged.forbiddenBody);
  });
}

await t.test('unauthenticated client append and leadership transfer', async (t) => {
  const b = await baseline();
  const filesBefore = files();
  const body = 'attacker-append';
  const hello = { group: GROUP, from: 'client', to: b.leader, client: true };
  const requests = clientOps({ ...b, prevTerm: 0 }, body);
  const outcomes = [await attack(portOf(b.leader), 'v1', hello, requests, 3000), await attack(portOf(b.leader), 'v2', hello, requests, 3000)];
  const answers = outcomes.flatMap((o) => o.received).filter((v) => typeof v === 'object' && v !== null && 'id' in v);
  t.same(answers, [], 'no client request was answered');
  await unharmed(t, b, filesBefore, outcomes, body);
});

await t.test('replay of a recorded legitimate handshake (n2 -> n0) to n0', async (t) => {
  // Connections are dialed on the first message: n2 talks to n0 only while one of them leads.
  if (proxy.recorded().length === 0) {
    await group.client.transferLeadership('n2');
    await until(() => proxy.recorded().length > 0 || null, 10_000, 'n2 to dial n0 through the proxy');
  }
  const recorded = proxy.recorded();
  t.ok(recorded.length > 0, `recorded ${recorded.length} bytes n2 sent to n0 on its first connection`);
  const b = await baseline();
  const filesBefore = files();
  const outcome = await replay(portOf('n0'), recorded);
  await unharmed(t, b, filesBefore, [outcome]);
});
