// Appends carry the leader's stored record bytes and followers append them verbatim (issue 4:
// "entry payloads travel as the stored bytes"). Goal: with shipStoredRecords on, followers persist
// (almost) every entry from the received bytes, and with it off they encode their own; either way
// every member's data files are byte-identical, including across segment boundaries (BLANK
// fillers) with bodies of varied sizes. Also: a raw Append whose headers disagree with the message
// is refused with a reason naming the field. Method: 3 DLedgerServers in one process on loopback
// TCP, OS-assigned ports, 64 KiB segments, bounded waits.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startInProcessGroup, until } from './in-process-group.js';
import { parseWireMessage, WireMessageError } from '../../src/node/raft-message-wire.js';
import { openLogStore } from '../../src/store/open.js';

function dataFiles(nodeDir: string): Map<string, Buffer> {
  const dir = path.join(nodeDir, 'data');
  return new Map(fs.readdirSync(dir).sort().map((name) => [name, fs.readFileSync(path.join(dir, name))]));
}

for (const ship of [true, false]) {
  t.test(`shipStoredRecords ${ship}: followers ${ship ? 'append the leader\'s bytes' : 'encode'}; files byte-identical`, async (t) => {
    const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-raw-'));
    const servers = await startInProcessGroup(baseDir, { shipStoredRecords: String(ship) });
    let closed = false;
    const closeAll = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      for (const server of servers) await server.close();
    };
    t.teardown(async () => {
      await closeAll();
      fs.rmSync(baseDir, { recursive: true, force: true });
    });
    const leader = await until(() => servers.find((s) => s.status().role === 'leader'), 10_000, 'a leader');
    // ~300 KiB over 64 KiB segments: several BLANK fillers; sizes vary so records straddle pages.
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const body = new Uint8Array(1 + ((i * 397) % 2000)).fill(i % 251);
      appends.push(leader.append(i % 7 === 0 ? [body, body.subarray(0, 10)] : body));
    }
    await Promise.all(appends);
    const lastIndex = leader.status().lastIndex;
    await until(() => servers.every((s) => s.status().commitIndex === lastIndex && s.get(lastIndex) !== null), 10_000, 'every member to apply everything');
    const followers = servers.filter((s) => s !== leader);
    for (const follower of followers) {
      const counts = follower.persistedEntryCounts();
      t.equal(counts.rawRejected, 0, `${follower.config.selfId}: no raw records rejected`);
      if (ship) t.ok(counts.raw >= 300, `${follower.config.selfId} appended ${counts.raw} entries from the leader's bytes (${counts.encoded} encoded)`);
      else t.equal(counts.raw, 0, `${follower.config.selfId} encoded all ${counts.encoded} entries itself`);
    }
    const nodeDirs = servers.map((s) => s.nodeDir);
    await closeAll();
    const reference = dataFiles(nodeDirs[0] as string);
    t.ok(reference.size >= 5, `${reference.size} data segments`);
    for (const dir of nodeDirs.slice(1)) {
      const files = dataFiles(dir);
      t.same([...files.keys()], [...reference.keys()], `${path.basename(dir)}: same segment files`);
      for (const [name, bytes] of reference) t.ok(bytes.equals(files.get(name) as Buffer), `${path.basename(dir)}/${name} byte-identical`);
    }
  });
}

t.test('a raw Append whose records disagree with the message is refused, naming the field', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dledger-raw-wire-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = openLogStore({ nodeDir: dir, dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 4096, maxEntryBodyBytes: 4096, flush: { kind: 'sync' } });
  store.append(3, [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array([9])]);
  const raw = store.readRaw(0, 1 << 20);
  // The leader reads its own fresh records without re-verifying them: same bytes, same bounds.
  t.same(store.readRaw(0, 1 << 20, false), raw, 'unverified readRaw returns what the verified one does');
  t.same(store.readRaw(1, 48 + 1, false), store.readRaw(1, 48 + 1), 'and stops at maxBytes the same way');
  await store.close();
  if (raw === null) throw new Error('no raw records');
  const message = (rawBytes: Uint8Array, prevLogIndex = -1, rawPos = 0): unknown => ({ type: 'Append', from: 'n0', to: 'n1', term: 3, prevLogIndex, prevLogTerm: 0, commitIndex: -1, rawPos, raw: rawBytes });
  let offered = 0;
  const parsed = parseWireMessage(message(raw.bytes), 'n0', 'n1', () => offered++);
  t.equal(parsed.type, 'Append');
  if (parsed.type !== 'Append') return;
  t.same(parsed.entries.map((e) => [e.index, e.term, [...e.data]]), [[0, 3, [1, 2, 3]], [1, 3, []], [2, 3, [9]]], 'entries decoded from the records');
  t.equal(offered, 1, 'the records are offered for a verbatim append');
  t.throws(() => parseWireMessage(message(raw.bytes, 4), 'n0', 'n1'), new WireMessageError('Append.raw[0].index: expected 5, got 0'));
  t.throws(() => parseWireMessage(message(raw.bytes, -1, 100), 'n0', 'n1'), new WireMessageError('Append.raw[0].pos: expected 100, got 0'));
  t.throws(() => parseWireMessage(message(raw.bytes.subarray(0, raw.bytes.length - 1)), 'n0', 'n1'), /Append\.raw\[2\]\.size/);
  const badMagic = Uint8Array.from(raw.bytes);
  badMagic[3] = 7;
  t.throws(() => parseWireMessage(message(badMagic), 'n0', 'n1'), /Append\.raw\[0\]\.magic: expected 1 \(normal\) or 2 \(noop\), got 7/);
});
