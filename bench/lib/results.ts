// Where bench reports go: bench/results/<name>-<timestamp>.json under the package root
// (git-ignored). Runs from dist/bench/ (compiled), so the root is found by walking up.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Writes the report and returns its path. */
export function writeResults(benchName: string, report: unknown): string {
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(dir, `${benchName}-${stamp}.json`);
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
  return path;
}
