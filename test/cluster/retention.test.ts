// Goal: a plain DLedger group deletes its oldest segments on every member by DLedger's keys
// (fileReservedHours, deleteWhen), moves the log start, never past what live followers need, and
// a member that was down while the entries it needed were deleted catches up by the core's
// snapshot install, ending with files byte-identical to the others' over the retained range.
// Method: 3 real `dledger server` processes, 1 MiB data segments, fileReservedHours of 2 s,
// deleteWhen "*", 1 KiB entries appended in batches; the log start is read from each member's
// checkpoint and data directory (and `dledger read-file`) from outside; n2 is stopped by SIGTERM,
// the others delete past its last index, n2 restarts.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { freePorts, runCli, startProcessGroup, stopNode, until, type ProcessGroup } from './helpers.js';
import { retainedOnDisk } from '../../src/store/index.js';
import { lastIndexOf } from './store-files.js';

const SEGMENT_BYTES = 1024 * 1024;
const INDEX_SEGMENT_BYTES = 32 * 4096;
const SIZES = { dataSegmentSizeBytes: SEGMENT_BYTES, indexSegmentSizeBytes: INDEX_SEGMENT_BYTES };
const RESERVED_SECONDS = 2;

async function appendKiB(group: ProcessGroup, count: number, tag: string): Promise<number> {
  const body = new Uint8Array(1024).fill(tag.charCodeAt(0));
  let last = -1;
  // 8 writers of 32-entry batches: a few MiB in a few seconds on a loaded machine.
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const n = Math.min(32, count - next);
      next += n;
      const appended = await group.client.append(Array.from({ length: n }, () => body));
      last = Math.max(last, appended[appended.length - 1]!.index);
    }
  }));
  return last;
}

function firstIndexOf(group: ProcessGroup, id: string): number {
  return retainedOnDisk(group.nodeDir(id)).firstIndex;
}

/** Data and index bytes of the members, compared over the range every one of them retains. */
function compareRetained(t: Test, dirs: readonly string[], lastIndex: number): void {
  const data = dirs.map((dir) => path.join(dir, 'data'));
  const firsts = dirs.map((dir) => retainedOnDisk(dir));
  const fromPos = Math.max(...firsts.map((r) => r.firstPos));
  const fromIndex = Math.max(...firsts.map((r) => r.firstIndex));
  const endPos = Math.min(...data.map((dir) => {
    const names = fs.readdirSync(dir).filter((n) => /^\d{20}$/.test(n)).sort();
    return Number(names.at(-1)) + SEGMENT_BYTES;
  }));
  let dataBytes = 0;
  for (let start = fromPos - (fromPos % SEGMENT_BYTES); start < endPos; start += SEGMENT_BYTES) {
    const name = String(start).padStart(20, '0');
    const contents = data.map((dir) => fs.readFileSync(path.join(dir, name)));
    const from = Math.max(0, fromPos - start);
    const same = contents.every((c) => c.subarray(from).equals(contents[0]!.subarray(from)));
    t.ok(same, `data/${name} identical on every member from byte ${from}`);
    dataBytes += SEGMENT_BYTES - from;
  }
  const indexFrom = fromIndex * 32;
  const indexTo = (lastIndex + 1) * 32;
  let indexSame = true;
  for (let start = indexFrom - (indexFrom % INDEX_SEGMENT_BYTES); start < indexTo; start += INDEX_SEGMENT_BYTES) {
    const name = String(start).padStart(20, '0');
    const lo = Math.max(0, indexFrom - start);
    const hi = Math.min(INDEX_SEGMENT_BYTES, indexTo - start);
    const contents = dirs.map((dir) => fs.readFileSync(path.join(dir, 'index', name)).subarray(lo, hi));
    if (!contents.every((c) => c.equals(contents[0]!))) indexSame = false;
  }
  t.ok(indexSame, `index records ${fromIndex}..${lastIndex} identical on every member`);
  t.pass(`compared ${dataBytes} data bytes from pos ${fromPos}`);
}

/** One metric's value from a member's /metrics (null when absent). */
async function scrape(port: number, name: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  // Lines carry the default labels: name{group="...",self_id="..."} value
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

t.test('oldest segments deleted on every member; a member that was down catches up by snapshot', async (t) => {
  const metricsPorts = await freePorts(3);
  const group = await startProcessGroup(t, {
    extraArgs: (id) => ['--metrics-port', String(metricsPorts[Number(id.slice(1))])],
    group: 'retention',
    config: {
      mappedFileSizeForEntryData: SEGMENT_BYTES,
      mappedFileSizeForEntryIndex: INDEX_SEGMENT_BYTES,
      fileReservedHours: RESERVED_SECONDS / 3600,
      deleteWhen: '*',
      maxEntryBodyBytes: 4096,
    },
  });
  await group.leader();
  const firstLast = await appendKiB(group, 4000, 'a');
  t.ok(firstLast >= 3999, `4,000 entries of 1 KiB appended (last index ${firstLast})`);
  // Nothing goes before its reserved time: the oldest files were written less than 2 s ago.
  await until(() => group.ids.every((id) => lastIndexOf(group.nodeDir(id), SIZES) >= firstLast), 20_000, 'every member to hold the batch');
  const startedWaitMs = Date.now();
  await until(() => group.ids.every((id) => firstIndexOf(group, id) > 0), 20_000, 'every member to move its log start');
  t.ok(Date.now() - startedWaitMs < 15_000, `log starts moved ${Date.now() - startedWaitMs} ms after the last write`);
  // Every member deletes down to the segment holding its end (all are caught up).
  await until(() => group.ids.every((id) => retainedOnDisk(group.nodeDir(id)).firstSegmentPos! >= 3 * SEGMENT_BYTES), 20_000, 'the 3 oldest segments gone everywhere');
  for (const id of group.ids) {
    const retained = retainedOnDisk(group.nodeDir(id));
    t.notOk(fs.existsSync(path.join(group.nodeDir(id), 'data', '00000000000000000000')), `${id}: the first segment is deleted`);
    t.ok(retained.firstIndex > 2000 && retained.firstPos % SEGMENT_BYTES === 0 && retained.firstPos >= retained.firstSegmentPos!, `${id}: log starts at index ${retained.firstIndex}, pos ${retained.firstPos} (a segment start)`);
  }
  // Prometheus: the log start, deletions and the disk ratio (gauges refreshed every 10 ticks).
  for (const [i, id] of group.ids.entries()) {
    const port = metricsPorts[i]!;
    const first = await until(async () => {
      const value = await scrape(port, 'dledger_log_first_index');
      return value !== null && value === firstIndexOf(group, id) ? value : null;
    }, 10_000, `${id}'s dledger_log_first_index`);
    const deleted = await scrape(port, 'dledger_retention_segments_deleted_total');
    const bytes = await scrape(port, 'dledger_retention_deleted_bytes_total');
    const ratio = await scrape(port, 'dledger_disk_usage_ratio');
    const retained = await scrape(port, 'dledger_store_bytes');
    t.ok(deleted! >= 3 && bytes! >= 3 * SEGMENT_BYTES && ratio! > 0 && ratio! < 1 && retained! > 0, `${id} /metrics: first index ${first}, ${deleted} segments / ${bytes} bytes deleted, ${retained} bytes retained, disk ratio ${ratio}`);
  }
  const got = await group.client.get(firstLast);
  t.equal(got.index, firstLast, 'the retained tail reads');

  // n2 goes down; the group writes on and deletes past everything n2 holds.
  const leader = await group.leader();
  const down = group.ids.find((id) => id !== leader)!;
  t.equal(await stopNode(group.nodes.get(down)!, 'SIGTERM'), 0, `${down} stopped`);
  const downLast = lastIndexOf(group.nodeDir(down), SIZES);
  const secondLast = await appendKiB(group, 3000, 'b');
  const up = group.ids.filter((id) => id !== down);
  await until(() => up.every((id) => firstIndexOf(group, id) > downLast + 1), 25_000, `the live members to delete past ${down}'s last index ${downLast}`);
  t.pass(`live members start at ${up.map((id) => firstIndexOf(group, id)).join(', ')} > ${downLast + 1}, the next entry ${down} needs`);

  group.start(down);
  await until(() => lastIndexOf(group.nodeDir(down), SIZES) >= secondLast, 30_000, `${down} to catch up to ${secondLast}`);
  const leaderNow = await group.leader();
  t.match(group.nodes.get(leaderNow)!.output, new RegExp(`sends snapshot \\(\\d+,\\d+\\) of 12 bytes to ${down}`), `the leader sent ${down} a snapshot`);
  t.notMatch(group.nodes.get(down)!.output, /FATAL/, `${down} installed it and runs`);
  t.ok(firstIndexOf(group, down) > downLast + 1, `${down}'s log now starts at ${firstIndexOf(group, down)}, after the snapshot`);
  // Let the catching-up member's own retention settle, then stop everyone and compare files.
  const codes = await Promise.all(group.ids.map((id) => stopNode(group.nodes.get(id)!, 'SIGTERM')));
  t.same(codes, [0, 0, 0], 'every member exits 0 on SIGTERM');
  compareRetained(t, group.ids.map((id) => group.nodeDir(id)), secondLast);
  const dump = await runCli(['read-file', '--dir', group.nodeDir(down), '--size', '1']);
  const line = dump.stdout.split('\n').find((l) => l.startsWith('# retained '));
  t.ok(line !== undefined, 'read-file shows the retained range first');
  const shown = JSON.parse(line!.slice('# retained '.length)) as { firstIndex: number; diskUsageRatio: number };
  t.equal(shown.firstIndex, firstIndexOf(group, down), 'read-file shows the log start');
  t.ok(shown.diskUsageRatio > 0 && shown.diskUsageRatio < 1, `read-file shows the disk ratio ${shown.diskUsageRatio.toFixed(4)}`);
});
