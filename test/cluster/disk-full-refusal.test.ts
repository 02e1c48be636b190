// Goal: a plain DLedger group whose leader's disk goes over diskSpaceRatioToForceClean + 0.05
// (DLedger's isDiskFull) hands leadership to a member with space, so appends go on; a member whose
// disk is full does not take leadership (it ignores TimeoutNow); when every member is full the
// leader keeps leading and refuses appends with DISK_FULL (415), before any segment allocation
// fails, and takes appends again once space returns; nothing acknowledged is lost.
// Method: 3 real `dledger server` processes, each node directory on its own 8 MiB tmpfs (needs
// mount; skipped with the reason when refused), enableDiskForceClean=false so only the operator
// frees space: a filler file on a member's tmpfs pushes it over 75 %, then is removed.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { DLedgerClientError } from '../../src/client/client.js';
import { mountTmpfs, type TmpfsMount } from '../native/helpers/tmpfs.js';
import { startProcessGroup, until } from './helpers.js';
import { readEntries } from './store-files.js';

const MIB = 1024 * 1024;

t.test('a full leader hands over to a member with space; all full: DISK_FULL until space returns', async (t) => {
  const mounts: TmpfsMount[] = [];
  t.teardown(() => { for (const m of mounts) if (m.mounted) m.unmount(); });
  for (let i = 0; i < 3; i++) {
    const mount = mountTmpfs(8 * MIB, `dledger-diskfull-${i}-`);
    if (!mount.mounted) {
      t.comment(`skipped: needs a tmpfs per member: ${mount.reason}`);
      return;
    }
    mounts.push(mount);
  }
  const ids = ['n0', 'n1', 'n2'];
  const group = await startProcessGroup(t, {
    group: 'diskfull',
    deferred: ids,
    config: {
      mappedFileSizeForEntryData: MIB,
      mappedFileSizeForEntryIndex: 32 * 4096,
      maxEntryBodyBytes: 4096,
      diskSpaceRatioToForceClean: 0.7,
      diskSpaceRatioToCheckExpired: 0.95,
      enableDiskForceClean: 'false',
    },
  });
  // Each member's node directory lives on its own tmpfs.
  ids.forEach((id, i) => fs.symlinkSync((mounts[i] as { dir: string }).dir, group.nodeDir(id)));
  for (const id of ids) group.start(id);
  const leader = await group.leader();
  const body = new Uint8Array(1024).fill(7);
  const acknowledged: number[] = [];
  for (let i = 0; i < 40; i++) acknowledged.push(...(await group.client.append(Array.from({ length: 25 }, () => body))).map((e) => e.index));
  t.equal(acknowledged.length, 1000, '1,000 entries of 1 KiB acknowledged');

  const appendOnce = async (): Promise<'ok' | 'disk-full' | 'other'> => {
    try {
      acknowledged.push(...(await group.client.append(body)).map((e) => e.index));
      return 'ok';
    } catch (error) {
      return error instanceof DLedgerClientError && error.code === 415 ? 'disk-full' : 'other';
    }
  };

  t.comment(`the leader ${leader} fills up: it hands leadership to a member with space`);
  const fillers = new Map<string, string>();
  const fill = (id: string): void => {
    const file = path.join(group.nodeDir(id), 'filler');
    fs.writeFileSync(file, Buffer.alloc(3 * MIB));
    fillers.set(id, file);
  };
  const filledAtMs = Date.now();
  fill(leader);
  const successor = await until(async () => {
    const id = (await group.client.metadata()).leaderId;
    return id !== null && id !== undefined && id !== leader ? id : null;
  }, 15_000, 'another member to lead');
  t.comment(`${successor} leads ${Date.now() - filledAtMs} ms after the filler was written`);
  await until(() => /disk full: n\d leads now/.test(group.nodes.get(leader)!.output) || null, 5000, 'the old leader to log the handover');
  t.match(group.nodes.get(leader)!.output, new RegExp(`disk full while leading: handing leadership to ${successor}`), 'the full leader handed over');
  const outcomes = { ok: 0, 'disk-full': 0, other: 0 };
  for (let i = 0; i < 50; i++) outcomes[await appendOnce()]++;
  t.equal(outcomes.ok, 50, `50 appends accepted by ${successor} while ${leader}'s disk is full (${JSON.stringify(outcomes)})`);
  t.notMatch(group.nodes.get(leader)!.output, /FATAL/, 'the full member did not fail');

  t.comment('every member full: the leader keeps leading and refuses with DISK_FULL');
  for (const id of ids) if (!fillers.has(id)) fill(id);
  const refused = await until(async () => {
    try {
      acknowledged.push(...(await group.client.append(body)).map((e) => e.index));
      return null;
    } catch (error) {
      return error instanceof DLedgerClientError && error.code === 415 ? error : null;
    }
  }, 10_000, 'an append refused with DISK_FULL');
  t.match(refused.message, /disk usage 0\.\d+ is over 0\.75 on n\d/, `DISK_FULL (415): ${refused.message}`);
  t.notOk(refused.outcomeUnknown, 'a refusal, not an unknown outcome');
  const fullLeader = (await group.client.metadata()).leaderId!;
  await until(() => /disk full: no follower took leadership/.test(group.nodes.get(fullLeader)!.output) || null, 10_000, 'the full leader to give up its round');
  t.ok(ids.filter((id) => id !== fullLeader).some((id) => /ignoring TimeoutNow from n\d: disk usage/.test(group.nodes.get(id)!.output)), 'a full follower ignored the TimeoutNow');
  t.equal((await group.client.metadata()).leaderId, fullLeader, 'still the same leader');
  t.notMatch(group.nodes.get(fullLeader)!.output, /FATAL/, 'the leader refuses instead of failing an allocation');

  for (const file of fillers.values()) fs.rmSync(file);
  const accepted = await until(async () => {
    try {
      return (await group.client.append(body))[0];
    } catch {
      return null;
    }
  }, 10_000, 'an append accepted again');
  acknowledged.push(accepted.index);
  t.match(group.nodes.get(fullLeader)!.output, /appends accepted again/, 'the leader logged the recovery');
  await until(() => ids.every((id) => readEntries(group.nodeDir(id), { dataSegmentSizeBytes: MIB, indexSegmentSizeBytes: 32 * 4096 }).length > accepted.index), 10_000, 'every member to hold the new entry');
  for (const id of ids) {
    const entries = readEntries(group.nodeDir(id), { dataSegmentSizeBytes: MIB, indexSegmentSizeBytes: 32 * 4096 });
    t.same(acknowledged.filter((index) => entries[index] === undefined), [], `all ${acknowledged.length} acknowledged entries are in ${id}'s files`);
  }
});
