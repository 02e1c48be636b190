// Goal (issue 12): a consume-queue file that cannot be created for lack of space (ENOSPC) stops the
// member cleanly, as the commit log's disk-full handling does: a FATAL line naming the full disk,
// stoppedByItself with exit 3, no exception out of the apply loop, no durable point past the
// entry; the rest of the group goes on taking sends; after space returns a restart indexes the
// message at the same queue offset as the others did.
// Method: an in-process 3-member group (group-harness); on one follower the directory of a topic
// not used yet is its own 64 KiB tmpfs (mount; skipped with the reason when refused), filled to
// the last byte, so the first message of that topic needs a 40 KB queue file there.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DURABLE_STATE_FILE, loadDurableState } from '../../src/broker/state/durable-state.js';
import { fillUp } from '../chaos/disk-fill.js';
import { mountTmpfs } from '../native/helpers/tmpfs.js';
import { masterOf, message, startGroup, until } from './group-harness.js';

t.test('a consume-queue ENOSPC stops the member with the reason; a restart with space catches up', async (t) => {
  const lines: string[] = [];
  const group = await startGroup({}, (selfId, line) => lines.push(`${selfId} ${line}`));
  t.teardown(() => group.close());
  const master = await until(() => masterOf(group.members), 10_000, 'a master');
  await master.proposeCommand({ type: 'upsertTopic', topic: { topicName: 'TopicFull', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
  await master.putMessages([message('TopicOk', 0, 'before')]);
  const victim = group.members.find((m) => m !== master) as (typeof group.members)[number];
  const victimId = victim.server.config.selfId;
  const topicDir = path.join(group.baseDir, victimId, 'consumequeue', 'TopicFull');
  fs.mkdirSync(topicDir, { recursive: true });
  const mount = mountTmpfs(64 * 1024, 'cq-enospc-');
  if (!mount.mounted) {
    t.comment(`skipped: needs a tmpfs: ${mount.reason}`);
    return;
  }
  t.teardown(() => mount.unmount());
  // The topic's queue directory lives on the tiny tmpfs: bind it there with a symlink.
  fs.rmdirSync(topicDir);
  fs.symlinkSync(mount.dir, topicDir);
  fs.mkdirSync(path.join(mount.dir, '0'));
  const filler = path.join(mount.dir, 'filler');
  t.ok(fillUp(filler) > 0, 'the tmpfs is full');

  // The durable point the victim has before the failing entry.
  const durableFile = path.join(group.baseDir, victimId, DURABLE_STATE_FILE);
  const capturedAt = (): number => (fs.existsSync(durableFile) ? loadDurableState(path.join(group.baseDir, victimId))?.state.capturedAt ?? -1 : -1);
  const before = await until(() => (capturedAt() >= 1 ? capturedAt() : null), 10_000, `a durable point on ${victimId} (flushIntervalConsumeQueue)`);

  const sent = await master.putMessages([message('TopicFull', 0, 'full-0')]);
  t.equal(sent[0]?.queueOffset, 0, 'the master indexed it at queue offset 0');
  const code = await Promise.race([victim.stoppedByItself, new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
  t.equal(code, 3, `${victimId} stopped by itself with exit 3`);
  const fatal = lines.find((l) => l.startsWith(`${victimId} FATAL: disk full`)) ?? '';
  t.match(fatal, /FATAL: disk full: a consume-queue or index file for entry \d+ cannot be created \(.*(ENOSPC|no space|disk full).*\); stopping this broker \(exit 3\)/i, `the reason is logged: ${fatal}`);
  const after = capturedAt();
  const failedIndex = Number(/for entry (\d+)/.exec(fatal)?.[1]);
  t.ok(after < failedIndex, `no durable point at or past the failed entry ${failedIndex} (before ${before}, after ${after})`);

  // The two others go on.
  const more = [...await master.putMessages([message('TopicFull', 0, 'full-1')]), ...await master.putMessages([message('TopicOk', 0, 'after')])];
  t.same(more.map((r) => r.queueOffset), [1, 1], 'sends go on with two of three members');

  // Space returns: the restarted member indexes both TopicFull messages at offsets 0 and 1.
  fs.rmSync(filler);
  const restarted = await group.restart(victimId);
  const mark = lines.length;
  await until(() => (restarted.state.consumeQueue('TopicFull', 0)?.maxOffset ?? 0) >= 2 || null, 20_000, `${victimId} caught up`).catch((error: Error) => {
    throw new Error(`${error.message}; its log since the restart:\n${lines.slice(mark).filter((l) => l.startsWith(victimId)).slice(-30).join('\n')}`);
  });
  const bodies = restarted.readMessages('TopicFull', 0, 0, 10, 1 << 20).map((bytes) => Buffer.from(bytes).toString('latin1'));
  t.equal(bodies.length, 2, 'two messages in TopicFull-0 on the restarted member');
  t.ok(bodies[0]?.includes('full-0') && bodies[1]?.includes('full-1'), 'the same messages at the same queue offsets');
  t.same(fs.readdirSync(path.join(mount.dir, '0')), ['00000000000000000000'], 'its queue file exists now');
});
