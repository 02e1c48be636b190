// Goal: the campaign tells a member's expected self-stop on a full disk from a crash, including
// the stop whose exit arrives just after healAll() freed the disk (30-minute disk-full run, seed
// 35: two such stops were reported as crashes).
// Method: isDiskFullStop over the exits seen in real runs and their near misses.
import t from 'tap';
import { DISK_FULL_EXIT_GRACE_MS, isDiskFullStop } from './disk-fill.js';

const ENOSPC_LINE =
  '[chaos/n2] FATAL: persisting ready 87278 failed: disk full: cannot allocate segment /tmp/x/dledger-n2/index/00000000000005308416: fallocate failed on /tmp/x/dledger-n2/index/00000000000005308416.creating: ENOSPC (No space left on device); stopping this node';

t.test('exit 3 naming the full disk while the filler is still there is a disk-full stop', async (t) => {
  t.equal(isDiskFullStop({ code: 3, fatalLine: ENOSPC_LINE, diskFull: true, msSinceFreed: Infinity }), true);
});

t.test('the same exit 100 ms after the disk was freed (seed 35) is a disk-full stop, not a crash', async (t) => {
  t.equal(isDiskFullStop({ code: 3, fatalLine: ENOSPC_LINE, diskFull: false, msSinceFreed: 100 }), true);
  t.equal(isDiskFullStop({ code: 3, fatalLine: ENOSPC_LINE, diskFull: false, msSinceFreed: DISK_FULL_EXIT_GRACE_MS }), true);
});

t.test('a disk-full exit long after the disk was freed, or on a disk never filled, is a crash', async (t) => {
  t.equal(isDiskFullStop({ code: 3, fatalLine: ENOSPC_LINE, diskFull: false, msSinceFreed: DISK_FULL_EXIT_GRACE_MS + 1 }), false);
  t.equal(isDiskFullStop({ code: 3, fatalLine: ENOSPC_LINE, diskFull: false, msSinceFreed: Infinity }), false);
});

t.test('other exits on a full disk are crashes', async (t) => {
  t.equal(isDiskFullStop({ code: 3, fatalLine: "[chaos/n0] FATAL: corruption in currterm: expected 24 bytes, found 0", diskFull: true, msSinceFreed: Infinity }), false, 'exit 3 for another reason');
  t.equal(isDiskFullStop({ code: 1, fatalLine: ENOSPC_LINE, diskFull: true, msSinceFreed: Infinity }), false, 'exit 1 (a stack trace) is never expected');
  t.equal(isDiskFullStop({ code: null, fatalLine: '', diskFull: true, msSinceFreed: 50 }), false, 'killed by a signal');
});
