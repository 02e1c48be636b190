// DLedgerServer embedded as the storage engine of a small key-value store: 3 members in one
// process over loopback TCP, each with its own state machine (put/delete applied in log order,
// the result returned to the appender). Checked:
// - results come back to the appender in order (a batch's put/put/delete/put sees each
//   predecessor);
// - a read through the leader's readBarrier after an acknowledged put always sees it, also on a
//   new leader after the old one is closed;
// - a follower's local state read without a barrier can be stale (observed right after the ack,
//   before the follower hears of the commit), and a follower refuses the barrier (leader only);
// - a member restarted with a fresh, empty state machine re-applies the log and ends equal.
// Method: OS-assigned ports (port 0 + setPeerPort), temp dir, bounded waits.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DLedgerError, DLedgerServer, type CommittedEntry, type StateMachine } from '../../src/node/server.js';
import { buildNodeConfig, type DLedgerNodeConfig } from '../../src/node/config.js';
import { testSecretFile } from '../util/peer-secret.js';
import { ResponseCode } from '../../src/node/client-protocol.js';
import { freePorts, until } from '../cluster/helpers.js';

type Command = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string };

/** The replicated map. put returns the previous value (or null); delete returns whether the key existed. */
class KeyValueStateMachine implements StateMachine {
  readonly map = new Map<string, string>();
  // Invariant: entries arrive in strictly increasing index order.
  lastAppliedIndex = -1;

  apply(entry: CommittedEntry): string | boolean | null {
    if (entry.index <= this.lastAppliedIndex) throw new Error(`entry ${entry.index} applied after ${this.lastAppliedIndex}`);
    this.lastAppliedIndex = entry.index;
    const command = JSON.parse(new TextDecoder().decode(entry.body)) as Command;
    if (command.op === 'put') {
      const previous = this.map.get(command.key) ?? null;
      this.map.set(command.key, command.value);
      return previous;
    }
    return this.map.delete(command.key);
  }
}

interface Member {
  server: DLedgerServer;
  kv: KeyValueStateMachine;
}

const encode = (command: Command): Uint8Array => new TextEncoder().encode(JSON.stringify(command));

function configFor(baseDir: string, selfId: string): DLedgerNodeConfig {
  const base = buildNodeConfig({
    group: 'kv',
    selfId,
    peers: 'n0-127.0.0.1:1;n1-127.0.0.1:2;n2-127.0.0.1:3',
    storeBaseDir: baseDir,
    mappedFileSizeForEntryData: 64 * 1024,
    mappedFileSizeForEntryIndex: 4096,
    maxEntryBodyBytes: 8 * 1024,
    peerSecretFile: testSecretFile(),
  });
  return { ...base, peers: base.peers.map((p) => ({ ...p, port: 0 })) };
}

async function startMember(baseDir: string, selfId: string): Promise<Member> {
  const kv = new KeyValueStateMachine();
  const server = new DLedgerServer({ config: configFor(baseDir, selfId), stateMachine: kv, log: () => undefined });
  await server.start();
  return { server, kv };
}

/** Tell every running member where the others listen. */
function connect(members: readonly Member[]): void {
  for (const a of members) for (const b of members) if (a !== b) a.server.setPeerPort(b.server.config.selfId, '127.0.0.1', b.server.port);
}

function leaderOf(members: readonly Member[]): Member | undefined {
  return members.find((m) => { try { return m.server.status().role === 'leader'; } catch { return false; } });
}

/** Linearizable read: wait for the leader's read barrier, then read its local state. */
async function readThroughBarrier(member: Member, key: string): Promise<string | null> {
  await member.server.readBarrier();
  return member.kv.map.get(key) ?? null;
}

t.test('a key-value store on DLedgerServer: ordered results, linearizable reads, stale follower reads', async (t) => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-kv-'));
  const members: Member[] = [];
  t.teardown(async () => {
    for (const member of members) await member.server.close();
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  for (const id of ['n0', 'n1', 'n2']) members.push(await startMember(baseDir, id));
  connect(members);
  const leader = await until(() => leaderOf(members), 10_000, 'a leader');

  // Results in order, returned to the appender.
  const results = await leader.server.append([
    encode({ op: 'put', key: 'x', value: '1' }),
    encode({ op: 'put', key: 'x', value: '2' }),
    encode({ op: 'delete', key: 'x' }),
    encode({ op: 'delete', key: 'x' }),
    encode({ op: 'put', key: 'x', value: '3' }),
  ]);
  t.same(results.map((r) => r.result), [null, '1', true, false, null], 'each command saw its predecessors: put, put (prev 1), delete (existed), delete (gone), put');
  t.equal(await readThroughBarrier(leader, 'x'), '3');

  // Sequential puts: the leader's barrier read always sees the acknowledged value; a follower's
  // local state read right after the ack lags (it learns of the commit with the next message).
  const follower = members.find((m) => m !== leader)!;
  let staleFollowerReads = 0;
  const rounds = 30;
  for (let i = 0; i < rounds; i++) {
    const value = `v${i}`;
    const [put] = await leader.server.append(encode({ op: 'put', key: 'k', value }));
    if ((follower.kv.map.get('k') ?? null) !== value) staleFollowerReads++;
    const read = await readThroughBarrier(leader, 'k');
    if (read !== value) return t.fail(`barrier read after the ack of put ${value} (index ${put!.index}) returned ${read}`);
  }
  t.pass(`${rounds} of ${rounds} barrier reads on the leader saw the put acknowledged just before`);
  t.comment(`${staleFollowerReads} of ${rounds} local reads on follower ${follower.server.config.selfId} right after the ack were stale`);
  const refusal = await follower.server.readBarrier().then(() => null, (error: unknown) => error);
  t.ok(refusal instanceof DLedgerError && refusal.code === ResponseCode.NOT_LEADER, `a follower refuses the read barrier (${String(refusal)})`);
  await until(() => follower.kv.map.get('k') === `v${rounds - 1}`, 5_000, 'the follower to apply the last put');
  t.pass('the follower converges once the commit reaches it');

  // Deterministically stale: cut the follower off (the others dial a dead port for it), put, and
  // its local state still shows the old value while the leader's barrier read shows the new one.
  const [deadPort] = await freePorts(1);
  const followerId = follower.server.config.selfId;
  for (const m of members) if (m !== follower) m.server.setPeerPort(followerId, '127.0.0.1', deadPort!);
  await leader.server.append(encode({ op: 'put', key: 'k', value: 'while-cut-off' }));
  t.equal(await readThroughBarrier(leader, 'k'), 'while-cut-off', 'the leader\'s barrier read sees the put made while a follower is cut off');
  // The connected follower has heard of the commit: the cut-off one would have by now too.
  const connected = members.find((m) => m !== follower && m !== leader)!;
  await until(() => connected.kv.map.get('k') === 'while-cut-off', 5_000, 'the connected follower to apply the put');
  t.equal(follower.kv.map.get('k'), `v${rounds - 1}`, `${followerId}'s local read without a barrier is stale (the previous value)`);
  connect(members);
  await until(() => follower.kv.map.get('k') === 'while-cut-off', 5_000, `${followerId} to catch up once reconnected`);
  t.pass(`${followerId} applies the put once reconnected`);

  // Concurrent puts of distinct keys, then barrier reads: every acknowledged key is visible.
  const acknowledged = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    await leader.server.append(encode({ op: 'put', key: `c${i}`, value: `${i}` }));
    return (await readThroughBarrier(leader, `c${i}`)) === `${i}`;
  }));
  t.equal(acknowledged.filter(Boolean).length, 100, '100 concurrent put-then-barrier-read pairs all read their own write');

  // Fail over: the last acknowledged put before closing the leader is visible through the new
  // leader's barrier.
  const [last] = await leader.server.append(encode({ op: 'put', key: 'k', value: 'before-close' }));
  await leader.server.close();
  const rest = members.filter((m) => m !== leader);
  const next = await until(() => leaderOf(rest), 10_000, 'a new leader');
  t.equal(await readThroughBarrier(next, 'k'), 'before-close', `new leader ${next.server.config.selfId} reads the put acknowledged at index ${last!.index} by the old leader`);
  for (let i = 0; i < 100; i++) {
    if ((next.kv.map.get(`c${i}`) ?? null) !== `${i}`) return t.fail(`c${i} missing on the new leader after its barrier`);
  }
  const [deleted] = await next.server.append(encode({ op: 'delete', key: 'x' }));
  t.equal(deleted!.result, true, 'the new leader applies on the same state (x existed)');
  t.equal(await readThroughBarrier(next, 'x'), null);

  // The old leader comes back with a fresh, empty state machine and re-applies the whole log.
  const oldId = leader.server.config.selfId;
  members.splice(members.indexOf(leader), 1);
  const restarted = await startMember(baseDir, oldId);
  members.push(restarted);
  connect(members);
  await readThroughBarrier(next, 'k');
  await until(() => restarted.kv.lastAppliedIndex === next.kv.lastAppliedIndex, 10_000, `${oldId} to re-apply the log`);
  t.same([...restarted.kv.map].sort(), [...next.kv.map].sort(), `${oldId} rebuilt the same ${next.kv.map.size} keys from the log`);
});
