// Goal: the single-writer lock of a store on disk is a symlink to the writer's pid; a lock left by
// a process that died is taken over, one held by a live process is refused with its pid.
// Method: plant lock symlinks naming a dead child's pid and a live child's pid, then open.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogStore, StoreLockedError, type LogStoreOptions } from '../../src/store/index.js';

const geometry = { dataSegmentSizeBytes: 4096, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1000, flush: { kind: 'sync' } } as const;

t.test('stale and live locks', async (t) => {
  const nodeDir = mkdtempSync(join(tmpdir(), 'dledger-lock-'));
  t.teardown(() => rmSync(nodeDir, { recursive: true, force: true }));
  const options: LogStoreOptions = { nodeDir, ...geometry };
  mkdirSync(nodeDir, { recursive: true });
  const dead = spawnSync(process.execPath, ['-e', '']);
  t.equal(dead.status, 0);
  symlinkSync(String(dead.pid), join(nodeDir, 'lock'));
  const store = openLogStore(options);
  t.equal(readlinkSync(join(nodeDir, 'lock')), String(process.pid), 'taken over from a dead pid');
  await store.close();
  t.notOk(existsSync(join(nodeDir, 'lock')), 'released at close');

  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  t.teardown(() => live.kill('SIGKILL'));
  symlinkSync(String(live.pid), join(nodeDir, 'lock'));
  t.throws(() => openLogStore(options), new StoreLockedError(join(nodeDir, 'lock'), live.pid as number), 'refused, naming the live pid');
  live.kill('SIGKILL');
  await new Promise((resolve) => live.once('exit', resolve));
  const after = openLogStore(options);
  await after.close();
});
