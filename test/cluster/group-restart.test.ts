// SIGKILL of the WHOLE group, under flush async (acknowledged from the page cache, flushed every
// 10 ms) and under flush sync: after all three restart from their files, every acknowledged
// append is still there (a process crash keeps the page cache), a leader is elected, appends go
// on and the files are byte-identical. Method: 3 real processes killed together while appends
// are in flight, temp dirs, stopped by pid.
import t from 'tap';
import { DLedgerClient, DLedgerClientError } from '../../src/client/client.js';
import { startProcessGroup, stopAll, until } from './helpers.js';
import { compareStoreFiles, lastIndexOf, readEntries } from './store-files.js';
import { testSecretFile } from '../util/peer-secret.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

for (const flush of ['async', 'sync'] as const) {
  t.test(`flush ${flush}: the whole group SIGKILLed mid-load restarts with every acknowledged append`, async (t) => {
    const group = await startProcessGroup(t, { group: `restart${flush}`, config: { flushPolicy: flush } });
    await group.leader();
    const acknowledged = new Map<number, string>();
    let stop = false;
    // 32 writers append until the kill; appends cut off by it end with an unknown outcome.
    const writers = Promise.all(Array.from({ length: 32 }, async (_, w) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const body = `w${w}-${i}`;
        try {
          const [info] = await group.client.append(encoder.encode(body));
          acknowledged.set(info!.index, body);
        } catch (error) {
          if (!(error instanceof DLedgerClientError)) throw error;
          return;
        }
      }
    }));
    await until(() => acknowledged.size >= 1_000, 30_000, '1,000 acknowledged appends');
    for (const node of group.nodes.values()) node.child.kill('SIGKILL');
    stop = true;
    await until(() => [...group.nodes.values()].every((n) => n.child.signalCode !== null), 10_000, 'every member to die');
    const ackedAtKill = acknowledged.size;
    group.client.close();
    await writers;
    t.pass(`${ackedAtKill} appends acknowledged before the whole group was SIGKILLed`);

    for (const id of group.ids) group.start(id);
    // group.client was closed to stop the writers: a new one for the restarted group.
    const after = new DLedgerClient({ clientSecretFile: testSecretFile(), group: group.group, peers: group.peers, retryTimeoutMs: 30_000 });
    t.teardown(() => after.close());
    await until(async () => (await after.metadata()).leaderId, 30_000, 'a leader after the restart');
    const lastBefore = Math.max(...acknowledged.keys());
    const [next] = await after.append(encoder.encode('after restart'));
    t.ok(next!.index > lastBefore, `appends go on after the restart (index ${next!.index} > ${lastBefore})`);
    await until(() => group.ids.every((id) => lastIndexOf(group.nodeDir(id)) === next!.index), 20_000, 'every member to hold the new append');
    const codes = await stopAll(group);
    for (const [id, code] of codes) t.equal(code, 0, `${id} exited 0 on SIGTERM`);
    const compared = compareStoreFiles(group.ids.map((id) => group.nodeDir(id)));
    t.pass(`files byte-identical up to index ${compared.extent.lastIndex} (${compared.dataBytes} data bytes)`);
    const entries = readEntries(group.nodeDir(group.ids[0]!));
    const lost = [...acknowledged].filter(([index, body]) => entries[index] === undefined || decoder.decode(entries[index]!.body) !== body);
    t.same(lost, [], `all ${acknowledged.size} acknowledged appends survived the SIGKILL of every member`);
  });
}
