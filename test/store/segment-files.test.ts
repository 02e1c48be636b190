// Goal: opening refuses a data or index directory whose files break the list rules — a file not
// exactly the configured segment size, a name that is not a 20-digit start offset, a missing
// segment in the middle, a start not a multiple of the size — with an error naming the file,
// expected and found; leftovers of an interrupted segment creation are removed, not refused.
// Method: build a store on disk, then damage the directory from outside and reopen.
import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, rmSync, truncateSync, renameSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogStore, StoreCorruptionError, type LogStoreOptions } from '../../src/store/index.js';

function freshStore(t: Test): { options: LogStoreOptions; dataDir: string } {
  const nodeDir = mkdtempSync(join(tmpdir(), 'dledger-segfiles-'));
  t.teardown(() => rmSync(nodeDir, { recursive: true, force: true }));
  const options: LogStoreOptions = { nodeDir, dataSegmentSizeBytes: 4096, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1000, flush: { kind: 'sync' } };
  return { options, dataDir: join(nodeDir, 'data') };
}

async function populate(options: LogStoreOptions): Promise<string[]> {
  const store = openLogStore(options);
  for (let i = 0; i < 30; i++) store.append(1, [new Uint8Array(500).fill(i)]);
  await store.close();
  return readdirSync(join(options.nodeDir, 'data')).sort();
}

function openError(options: LogStoreOptions): unknown {
  try {
    openLogStore(options).simulateCrash();
    return null;
  } catch (error) {
    return error;
  }
}

t.test('a segment of the wrong size', async (t) => {
  const { options, dataDir } = freshStore(t);
  const names = await populate(options);
  const victim = join(dataDir, names[1] as string);
  truncateSync(victim, 3000);
  const error = openError(options);
  t.ok(error instanceof StoreCorruptionError);
  t.match(error, { filePath: victim, expected: /4096 bytes/, found: '3000 bytes' });
});

t.test('a missing segment in the middle', async (t) => {
  const { options, dataDir } = freshStore(t);
  const names = await populate(options);
  t.ok(names.length >= 4, `${names.length} segments`);
  rmSync(join(dataDir, names[2] as string));
  const error = openError(options);
  t.ok(error instanceof StoreCorruptionError);
  t.match(error, { filePath: join(dataDir, names[3] as string), expected: new RegExp(String(Number(names[2]))) });
  t.match((error as Error).message, /a segment is missing/);
});

t.test('a file that is not a segment name, and a start that is not a multiple of the size', async (t) => {
  const { options, dataDir } = freshStore(t);
  await populate(options);
  writeFileSync(join(dataDir, 'notes.txt'), 'hello');
  t.match(openError(options), { filePath: join(dataDir, 'notes.txt'), expected: /20-digit/ });
  rmSync(join(dataDir, 'notes.txt'));
  const names = readdirSync(dataDir).sort();
  const last = names.at(-1) as string;
  const odd = String(Number(last) + 4096 + 100).padStart(20, '0');
  copyFileSync(join(dataDir, last), join(dataDir, odd));
  t.match(openError(options), { filePath: join(dataDir, odd), expected: /multiple of 4096/ });
});

t.test('leftovers of an interrupted segment creation are removed', async (t) => {
  const { options, dataDir } = freshStore(t);
  const names = await populate(options);
  const next = String(Number(names.at(-1)) + 4096).padStart(20, '0');
  writeFileSync(join(dataDir, `${next}.creating`), new Uint8Array(100));
  const store = openLogStore(options);
  t.equal(store.lastIndex, 29);
  t.notOk(readdirSync(dataDir).some((name) => name.endsWith('.creating')), 'temp file removed');
  await store.close();
  renameSync(join(dataDir, names[0] as string), join(dataDir, `${names[0]}.bak`));
  t.ok(openError(options) instanceof StoreCorruptionError, 'a foreign file name is still refused');
});
