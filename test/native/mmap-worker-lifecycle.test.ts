// Goal: a worker thread that ends while one of its mappings is alive never takes the process
// down — neither when it exits on its own holding the mapping nor when it is terminated during a
// background msync — even when no other thread has the addon loaded.
// Method: a child process (compiled, workers/lifecycle-child.ts) whose main thread never loads
// the addon runs several rounds of such workers; a crash shows up as a signal or a non-zero
// exit code of the child, with its stderr in the failure message.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledPath } from './helpers/compiled-path.js';

const childPath = compiledPath(import.meta.url, './workers/lifecycle-child.js');
const ROUNDS = 4;

t.test('workers that end while holding mappings do not crash the process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmap-lifecycle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawnSync(process.execPath, [childPath, dir, String(ROUNDS)], { encoding: 'utf8', timeout: 60_000 });
  const detail = `signal ${child.signal}, status ${child.status}\nstderr:\n${child.stderr.slice(0, 4000)}`;
  t.equal(child.signal, null, `the child was not killed by a signal (${detail})`);
  t.equal(child.status, 0, `the child exited cleanly (${detail})`);
  t.equal(child.stdout.trim(), `survived ${ROUNDS}`);
});
