// Goal: reading a long stretch of stored entries back through RaftLog.entries works for any
// count (chaos F6: a member restarted with a ~128k-entry log re-applies from the start, and
// copying the stored slice with push(...stored) overflowed the call stack: RangeError, crash loop).
// Method: 300,000 small entries in MemoryRaftStorage (a restart's persisted log), then one
// entries() call over all of them under a byte cap that admits them all, and one under a cap
// that must cut the slice.
import t from 'tap';
import { RaftLog } from '../../src/raft/log.js';
import { MemoryRaftStorage } from '../../src/raft/memory-storage.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

const COUNT = 300_000;

t.test('a restarted log hands back 300,000 stored entries in one call', (t) => {
  const storage = new MemoryRaftStorage();
  const data = new Uint8Array(8);
  const entries: Entry[] = Array.from({ length: COUNT }, (_, i) => ({ index: i, term: 1, type: EntryType.Normal, data }));
  storage.append(entries);
  const log = new RaftLog(storage, COUNT - 1);
  const all = log.entries(0, COUNT, Number.MAX_SAFE_INTEGER);
  t.equal(all?.length, COUNT, 'every entry returned');
  t.equal(all?.[COUNT - 1]?.index, COUNT - 1, 'in order up to the last');
  const capped = log.entries(0, COUNT, 8 * 1000);
  t.ok(capped !== null && capped.length >= 1 && capped.length <= 1000, `a byte cap cuts the slice (${capped?.length} entries for 8,000 bytes)`);
  t.end();
});

t.test('300,000 entries appended to the unstable tail in one call', (t) => {
  const log = new RaftLog(new MemoryRaftStorage(), -1);
  const data = new Uint8Array(0);
  const last = log.append(Array.from({ length: COUNT }, (_, i) => ({ index: i, term: 1, type: EntryType.Normal, data })));
  t.equal(last, COUNT - 1, 'the log ends at the last appended entry');
  t.end();
});
