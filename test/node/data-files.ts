// Reading a node's data directory in tests: every file's bytes by relative path, and the same
// without the trailing segments a store prepared ahead (all zeros, no entry yet).
import fs from 'node:fs';
import path from 'node:path';

export function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, full), fs.readFileSync(full));
  }
  return out;
}

/** The files without the trailing data/ and index/ segments that hold only zero bytes. */
export function withoutEmptyTailSegments(files: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map(files);
  for (const dir of ['data/', 'index/']) {
    const segments = [...out.keys()].filter((name) => name.startsWith(dir)).sort();
    for (let i = segments.length - 1; i > 0; i--) {
      if (out.get(segments[i]!)!.some((byte) => byte !== 0)) break;
      out.delete(segments[i]!);
    }
  }
  return out;
}
