// A 3-member group of DLedgerServers in one process over real loopback TCP must elect one leader,
// commit appends on a quorum and replicate them byte-identically (same index, term and pos on
// every member), serve linearizable read barriers, hand leadership over on request, and keep
// accepting appends after the leader is closed. Method: OS-assigned ports, temp dirs, bounded waits.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DLedgerServer } from '../../src/node/server.js';
import { startInProcessGroup as startGroup, until } from './in-process-group.js';

function leaderOf(servers: DLedgerServer[]): DLedgerServer | undefined {
  return servers.find((s) => { try { return s.status().role === 'leader'; } catch { return false; } });
}

t.test('elect, replicate byte-identically, read barrier, transfer, fail over', async (t) => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-group-'));
  const servers = await startGroup(baseDir);
  t.teardown(async () => {
    for (const server of servers) await server.close();
    fs.rmSync(baseDir, { recursive: true, force: true });
  });
  const leader = await until(() => leaderOf(servers), 10_000, 'a leader');
  const encoder = new TextEncoder();

  const first = await leader.append(encoder.encode('hello'));
  t.equal(first.length, 1);
  const concurrent = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.append(encoder.encode(`value-${i}-${'x'.repeat(i * 3)}`))));
  const batch = await leader.append(Array.from({ length: 50 }, (_, i) => encoder.encode(`batch-${i}`)));
  const indexes = [first, ...concurrent, batch].flat().map((r) => r.index);
  t.equal(new Set(indexes).size, 251, 'every append got its own index');
  t.ok([first, ...concurrent, batch].flat().every((r) => r.pos >= 0 && leader.get(r.index)?.pos === r.pos), 'each append reports the pos its entry was stored at');

  const lastIndex = Math.max(...indexes);
  await until(() => servers.every((s) => s.status().commitIndex >= lastIndex), 10_000, 'all members to commit');
  for (let index = 0; index <= lastIndex; index++) {
    const entries = servers.map((s) => s.get(index));
    const [a, b, c] = entries;
    if (!a || !b || !c) return t.fail(`entry ${index} missing on a member`);
    if (a.pos !== b.pos || a.pos !== c.pos || a.term !== b.term || a.term !== c.term || Buffer.compare(a.body, b.body) !== 0 || Buffer.compare(a.body, c.body) !== 0) {
      return t.fail(`entry ${index} differs between members`);
    }
  }
  t.pass(`${lastIndex + 1} entries identical (index, term, pos, body) on all members`);
  t.equal(new TextDecoder().decode(leader.get(first[0]!.index)!.body), 'hello');

  const readIndex = await leader.readBarrier();
  t.ok(readIndex >= lastIndex, `read barrier at ${readIndex} covers the last acknowledged append ${lastIndex}`);

  const target = servers.find((s) => s !== leader)!;
  await leader.transferLeadership(target.config.selfId);
  await until(() => target.status().role === 'leader', 5000, 'the transferee to lead');
  t.pass(`leadership moved from ${leader.config.selfId} to ${target.config.selfId}`);

  await target.close();
  const rest = servers.filter((s) => s !== target);
  const next = await until(() => leaderOf(rest), 10_000, 'a new leader after closing the leader');
  const after = await next.append(encoder.encode('after failover'));
  t.ok(after[0]!.index > lastIndex, `appends continue under ${next.config.selfId} at index ${after[0]!.index}`);
});
