// Child processes and worker threads started by tests must run compiled JavaScript under dist/
// (tap runs the test files themselves through a TypeScript loader, which a Worker or a bare
// `node` child does not inherit). This maps a path relative to the calling test file to the
// compiled .js file under dist/, and fails with a clear message when it has not been built.

import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * compiledPath(import.meta.url, './helpers/x.js') -> <root>/dist/test/.../helpers/x.js.
 * Works whether the caller runs from test/ (TypeScript) or from dist/test/ (compiled).
 */
export function compiledPath(callerUrl: string, relativeJsPath: string): string {
  const callerDir = dirname(fileURLToPath(callerUrl));
  const root = findRoot(callerDir);
  const relDir = relative(root, callerDir);
  const inDist = relDir === 'dist' || relDir.startsWith(`dist${sep}`);
  const target = inDist ? join(callerDir, relativeJsPath) : join(root, 'dist', relDir, relativeJsPath);
  if (!existsSync(target)) {
    throw new Error(`${target} does not exist: run "npx tsc -p tsconfig.json" first (npm test does it)`);
  }
  const source = join(root, relative(join(root, 'dist'), target)).replace(/\.js$/, '.ts');
  if (existsSync(source) && statSync(source).mtimeMs > statSync(target).mtimeMs) {
    throw new Error(`${target} is older than ${source}: run "npx tsc -p tsconfig.json" again`);
  }
  return target;
}

function findRoot(startDir: string): string {
  let dir = startDir;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package root (package.json + tsconfig.json) above ${startDir}`);
    dir = parent;
  }
}
