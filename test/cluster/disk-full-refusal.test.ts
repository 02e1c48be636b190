// Goal: a plain DLedger group refuses appends with DISK_FULL (415) while the leader's disk is over
// diskSpaceRatioToForceClean + 0.05 (DLedger's isDiskFull), before any segment allocation fails,
// and takes appends again once space returns; nothing acknowledged is lost.
// Method: 3 real `dledger server` processes, each node directory on its own 8 MiB tmpfs (needs
// mount; skipped with the reason when refused), enableDiskForceClean=false so only the operator
// frees space: a filler file on the leader's tmpfs pushes it over 75 %, then is removed.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { DLedgerClientError } from '../../src/client/client.js';
import { mountTmpfs, type TmpfsMount } from '../native/helpers/tmpfs.js';
import { startProcessGroup, until } from './helpers.js';
import { readEntries } from './store-files.js';

const MIB = 1024 * 1024;

t.test('appends refused with DISK_FULL over the disk-full ratio, accepted again when space returns', async (t) => {
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

  const filler = path.join(group.nodeDir(leader), 'filler');
  fs.writeFileSync(filler, Buffer.alloc(3 * MIB));
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
  t.notMatch(group.nodes.get(leader)!.output, /FATAL/, 'the leader refuses instead of failing an allocation');

  fs.rmSync(filler);
  const accepted = await until(async () => {
    try {
      return (await group.client.append(body))[0];
    } catch {
      return null;
    }
  }, 10_000, 'an append accepted again');
  acknowledged.push(accepted.index);
  t.match(group.nodes.get(leader)!.output, /appends accepted again/, 'the leader logged the recovery');
  await until(() => ids.every((id) => readEntries(group.nodeDir(id), { dataSegmentSizeBytes: MIB, indexSegmentSizeBytes: 32 * 4096 }).length > accepted.index), 10_000, 'every member to hold the new entry');
  const entries = readEntries(group.nodeDir(leader), { dataSegmentSizeBytes: MIB, indexSegmentSizeBytes: 32 * 4096 });
  t.same(acknowledged.filter((index) => entries[index] === undefined), [], `all ${acknowledged.length} acknowledged entries are in the leader's files`);
});
