// Goal: a read-only LogReader over the same files sees exactly the published entries: new
// appends as they happen, nothing past a truncate, entries written into segments created after
// it opened, and a segment recreated under the same name after a truncate.
// Method: one writer store and one reader in the same thread (the cross-thread case is
// worker-reader.test.ts), 4 KiB data / 1 KiB index segments.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogReader, openLogStore } from '../../src/store/index.js';

t.test('reader follows appends, truncation and recreated segments', async (t) => {
  const nodeDir = mkdtempSync(join(tmpdir(), 'dledger-reader-'));
  t.teardown(() => rmSync(nodeDir, { recursive: true, force: true }));
  const geometry = { dataSegmentSizeBytes: 4096, indexSegmentSizeBytes: 1024 };
  const store = openLogStore({ nodeDir, ...geometry, maxEntryBodyBytes: 1000, flush: { kind: 'sync' } });
  const reader = openLogReader({ nodeDir, ...geometry });
  t.equal(reader.lastIndex(), -1, 'empty');
  t.equal(reader.get(0), null);
  const body = (i: number): Uint8Array => new TextEncoder().encode(`entry ${i} `.repeat(1 + (i % 30)));
  for (let i = 0; i < 100; i++) {
    store.append(1, [body(i)]);
    if (reader.lastIndex() !== i) t.fail(`reader lastIndex ${reader.lastIndex()} after append ${i}`);
  }
  t.equal(reader.lastIndex(), 99, 'sees every append, across new segments');
  t.same(reader.get(57)?.body, body(57));
  t.equal(reader.get(100), null, 'nothing past the end');
  store.truncate(40);
  t.equal(reader.lastIndex(), 39, 'follows a truncate');
  t.equal(reader.get(45), null, 'truncated entries are gone');
  for (let i = 40; i < 100; i++) store.append(2, [body(i + 1000)]);
  t.equal(reader.lastIndex(), 99);
  t.same(reader.get(90)?.body, body(1090), 'reads the new entry 90 from a recreated segment');
  t.equal(reader.get(90)?.term, 2);
  reader.close();
  await store.close();
});
