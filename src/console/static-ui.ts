// The built single-page UI (dist/console-ui/, made by scripts/build-console-ui.mjs during npm ci):
// read once at start into memory (a few tens of KiB), served by exact name only (no paths from
// the URL ever reach the file system).
import fs from 'node:fs';
import path from 'node:path';

export interface UiFile {
  readonly contentType: string;
  readonly body: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The project root: the nearest directory above `from` holding package.json and bin/mqconsole. */
export function projectRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bin', 'mqconsole'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the project root (package.json and bin/mqconsole) above ${from}`);
    dir = parent;
  }
}

export function defaultUiDir(): string {
  return path.join(projectRoot(import.meta.dirname), 'dist', 'console-ui');
}

/** '/' → index.html and every file of the directory by '/<name>'; throws naming the fix when the UI is not built. */
export function loadUi(dir: string): Map<string, UiFile> {
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    throw new Error(`the console UI is not built (${path.join(dir, 'index.html')} is missing): run npm ci, or npm run build:console`);
  }
  const files = new Map<string, UiFile>();
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type === undefined) continue;
    files.set(`/${name}`, { contentType: type, body: fs.readFileSync(path.join(dir, name)) });
  }
  const index = files.get('/index.html');
  if (index !== undefined) files.set('/', index);
  return files;
}
