// A group of 3 real `dledger server` processes must acknowledge 10,000 appends made with many in
// flight (half as single appends, half through the batch API), serve every one of them from EVERY
// member (each member's own `get`, i.e. what it has committed and applied), and end, after a
// SIGTERM flush, with byte-identical data and index segment files up to the written end.
// Method: OS-assigned loopback ports, temp dir, 256 KiB data segments (the log spans several
// files and BLANK fillers), processes stopped by pid.
import t from 'tap';
import { DLedgerClient } from '../../src/client/client.js';
import { runCli, startProcessGroup, stopAll, until } from './helpers.js';
import { compareStoreFiles, lastIndexOf, readEntries } from './store-files.js';
import { testSecretFile } from '../util/peer-secret.js';

const SINGLE_APPENDS = 5_000;
const SINGLES_IN_FLIGHT = 128;
const BATCHES = 100;
const BATCH_SIZE = 50;
const BATCHES_IN_FLIGHT = 8;

/** Bodies of varied length (20-250 bytes) so records straddle segment ends at varied offsets. */
function bodyOf(label: string): string {
  let hash = 0;
  for (let i = 0; i < label.length; i++) hash = (hash * 31 + label.charCodeAt(i)) >>> 0;
  return `${label}:${'abcdefghij'.repeat(25).slice(0, hash % 230)}`;
}

/** Run `count` jobs with at most `inFlight` at a time. */
async function pool(count: number, inFlight: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await job(next++);
  }));
}

t.test('10,000 appends acknowledged, readable on every member, files byte-identical', async (t) => {
  const group = await startProcessGroup(t, { group: 'r10k' });
  await group.leader();
  const encoder = new TextEncoder();
  const acknowledged = new Map<number, string>();
  const record = (index: number, body: string): void => {
    if (acknowledged.has(index)) throw new Error(`index ${index} acknowledged twice (${acknowledged.get(index)} and ${body})`);
    acknowledged.set(index, body);
  };
  const startedAt = Date.now();
  await Promise.all([
    pool(SINGLE_APPENDS, SINGLES_IN_FLIGHT, async (i) => {
      const body = bodyOf(`single-${i}`);
      const [info] = await group.client.append(encoder.encode(body));
      record(info!.index, body);
    }),
    pool(BATCHES, BATCHES_IN_FLIGHT, async (b) => {
      const bodies = Array.from({ length: BATCH_SIZE }, (_, i) => bodyOf(`batch-${b}-${i}`));
      const infos = await group.client.append(bodies.map((body) => encoder.encode(body)));
      if (infos.length !== BATCH_SIZE) throw new Error(`batch ${b}: ${infos.length} of ${BATCH_SIZE} entries acknowledged`);
      // A batch is one proposal: its entries are consecutive, in order.
      infos.forEach((info, i) => {
        if (info.index !== infos[0]!.index + i) throw new Error(`batch ${b} entry ${i} at ${info.index}, not consecutive`);
        record(info.index, bodies[i]!);
      });
    }),
  ]);
  const appendMs = Date.now() - startedAt;
  t.equal(acknowledged.size, SINGLE_APPENDS + BATCHES * BATCH_SIZE, `10,000 appends acknowledged in ${appendMs} ms (${Math.round(acknowledged.size / (appendMs / 1000))}/s)`);
  const lastAcknowledged = Math.max(...acknowledged.keys());

  // Every member serves every acknowledged entry through its own get (committed and applied there).
  const readStartedAt = Date.now();
  for (const id of group.ids) {
    const member = new DLedgerClient({ clientSecretFile: testSecretFile(), group: group.group, peers: group.peerOf(id), retryTimeoutMs: 10_000 });
    try {
      await until(async () => (await member.get(lastAcknowledged)).index === lastAcknowledged, 20_000, `${id} to apply index ${lastAcknowledged}`);
      const wrong: number[] = [];
      const indexes = [...acknowledged.keys()];
      await pool(indexes.length, 256, async (k) => {
        const index = indexes[k]!;
        const entry = await member.get(index);
        if (Buffer.from(entry.body).toString('utf8') !== acknowledged.get(index)) wrong.push(index);
      });
      t.same(wrong, [], `${id} serves all ${indexes.length} acknowledged entries with their bodies`);
    } finally {
      member.close();
    }
  }
  t.comment(`3 x ${acknowledged.size} gets in ${Date.now() - readStartedAt} ms`);
  // The CLI reads the same from a follower.
  const meta = await group.client.metadata();
  const follower = group.ids.find((id) => id !== meta.leaderId)!;
  const sample = [...acknowledged.keys()][1234]!;
  const got = await runCli(['get', '--client-secret-file', testSecretFile(), '-g', group.group, '-p', group.peerOf(follower), '-i', String(sample)]);
  t.equal(got.code, 0, `dledger get against follower ${follower} exits 0`);
  t.equal(JSON.parse(got.stdout).body, acknowledged.get(sample), `dledger get -i ${sample} on ${follower} prints the acknowledged body`);

  // Everyone holds the same last index on disk before the stop, so no member is mid-catch-up.
  const leaderLast = lastIndexOf(group.nodeDir(meta.leaderId!));
  await until(() => group.ids.every((id) => lastIndexOf(group.nodeDir(id)) === leaderLast), 20_000, 'every member to hold the leader\'s last index');
  const codes = await stopAll(group);
  for (const [id, code] of codes) t.equal(code, 0, `${id} exited 0 on SIGTERM`);

  const dirs = group.ids.map((id) => group.nodeDir(id));
  const compared = compareStoreFiles(dirs);
  t.ok(compared.dataFiles >= 3, `the log spans ${compared.dataFiles} data segments`);
  t.pass(`data (${compared.dataFiles} files, ${compared.dataBytes} bytes) and index (${compared.indexFiles} files, ${compared.indexBytes} bytes) byte-identical on ${dirs.length} members up to index ${compared.extent.lastIndex}`);
  const entries = readEntries(dirs[0]!);
  const decoder = new TextDecoder();
  const missing = [...acknowledged].filter(([index, body]) => entries[index] === undefined || decoder.decode(entries[index]!.body) !== body);
  t.same(missing, [], 'every acknowledged body is in the files at its index');
  const dump = await runCli(['read-file', '--dir', dirs[1]!]);
  t.equal(dump.code, 0, 'read-file verifies every CRC of a follower\'s files');
  const summaryLine = dump.stdout.split('\n').find((line) => line.startsWith('{"segments"'));
  const summary = JSON.parse(summaryLine ?? 'null') as { entries: number; badBodyCrcs: number; badChainCrcs: number };
  t.equal(summary.entries, compared.extent.lastIndex + 1, `read-file walks all ${summary.entries} entries`);
});
