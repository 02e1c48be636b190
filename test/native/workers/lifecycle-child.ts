// Child process of test/native/mmap-worker-lifecycle.test.ts. Its main thread never loads the
// addon; only workers do. Each worker ends while a mapping is alive — by exiting on its own, or by
// being terminated during a background msync — which once crashed the whole process (the addon
// library unloaded before the isolate freed the mapping; a uv work request alive when the worker's
// loop closed). Prints "survived <n>" and exits 0 if the process lives through all of them.
//
// usage: lifecycle-child.js <dir> <rounds>

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const [dir, roundsText] = process.argv.slice(2);
if (dir === undefined || roundsText === undefined) throw new Error('usage: lifecycle-child.js <dir> <rounds>');
const workerPath = join(fileURLToPath(new URL('.', import.meta.url)), 'lifecycle-worker.js');
const SIZE_BYTES = 32 * 1024 * 1024;

async function runWorker(mode: 'exit' | 'terminate', filePath: string): Promise<void> {
  const worker = new Worker(workerPath, { workerData: { filePath, sizeBytes: SIZE_BYTES, mode } });
  const exited = new Promise<number>((resolve, reject) => {
    worker.on('exit', resolve);
    worker.on('error', reject);
  });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  if (mode === 'terminate') await worker.terminate();
  await exited;
  rmSync(filePath, { force: true });
}

let survived = 0;
for (let round = 0; round < Number(roundsText); round++) {
  await Promise.all([runWorker('exit', join(dir, `exit-${round}`)), runWorker('terminate', join(dir, `terminate-${round}`))]);
  survived++;
}
process.stdout.write(`survived ${survived}\n`);
