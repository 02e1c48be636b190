// A follower that lost its whole store (SIGKILL, directory deleted) and restarts empty must catch
// up to the full log from index 0 while the group keeps taking appends, and end with data and
// index files byte-identical to the others'. Method: 3 real processes, 256 KiB data segments
// (the log spans several, so the catch-up crosses BLANK fillers and segment roll-overs), temp
// dirs, processes stopped by pid.
import t from 'tap';
import fs from 'node:fs';
import { startProcessGroup, stopAll, until } from './helpers.js';
import { compareStoreFiles, lastIndexOf, readEntries } from './store-files.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

t.test('a follower restarted with an empty store catches up byte-identically', async (t) => {
  const group = await startProcessGroup(t, { group: 'empty' });
  const leader = await group.leader();
  const acknowledged = new Map<number, string>();
  const appendBatches = async (prefix: string, batches: number): Promise<void> => {
    await Promise.all(Array.from({ length: batches }, async (_, b) => {
      const bodies = Array.from({ length: 50 }, (_, i) => `${prefix}-${b}-${i}-${'x'.repeat((b * 50 + i) % 300)}`);
      const infos = await group.client.append(bodies.map((body) => encoder.encode(body)));
      infos.forEach((info, i) => acknowledged.set(info.index, bodies[i]!));
    }));
  };
  await appendBatches('before', 40);

  const follower = group.ids.find((id) => id !== leader)!;
  const followerDir = group.nodeDir(follower);
  t.ok(lastIndexOf(followerDir) > 0, `${follower} held entries before the loss`);
  group.nodes.get(follower)!.child.kill('SIGKILL');
  await until(() => group.nodes.get(follower)!.child.signalCode !== null, 10_000, `${follower} to die`);
  fs.rmSync(followerDir, { recursive: true, force: true });
  await appendBatches('while-down', 10);

  const restarted = group.start(follower);
  const catchUp = appendBatches('during-catch-up', 10);
  await until(() => /log \[0, -1\]/.test(restarted.output), 10_000, `${follower} to report an empty log at start`);
  t.pass(`${follower} started with an empty log`);
  await catchUp;
  const startedAt = Date.now();
  await until(() => {
    const last = lastIndexOf(group.nodeDir(leader));
    return last >= Math.max(...acknowledged.keys()) && group.ids.every((id) => lastIndexOf(group.nodeDir(id)) === last);
  }, 30_000, `${follower} to catch up`).catch((error: Error) => {
    const lasts = group.ids.map((id) => `${id}: ${lastIndexOf(group.nodeDir(id))}`).join(', ');
    throw new Error(`${error.message} (last indexes ${lasts}); ${follower} said:\n${restarted.output.slice(-3000)}\nleader ${leader} said:\n${group.nodes.get(leader)!.output.slice(-3000)}`);
  });
  t.pass(`${follower} caught up to index ${lastIndexOf(followerDir)} (${Date.now() - startedAt} ms after the last append)`);

  const codes = await stopAll(group);
  for (const [id, code] of codes) t.equal(code, 0, `${id} exited 0 on SIGTERM`);
  const compared = compareStoreFiles(group.ids.map((id) => group.nodeDir(id)));
  t.ok(compared.dataFiles >= 2, `the log spans ${compared.dataFiles} data segments`);
  t.pass(`data (${compared.dataFiles} files, ${compared.dataBytes} bytes) and index (${compared.indexFiles} files, ${compared.indexBytes} bytes) byte-identical up to index ${compared.extent.lastIndex}`);
  const entries = readEntries(followerDir);
  const missing = [...acknowledged].filter(([index, body]) => entries[index] === undefined || decoder.decode(entries[index]!.body) !== body);
  t.same(missing, [], `all ${acknowledged.size} acknowledged entries are in the rebuilt follower's files`);
});
