// Goal: dumpDataDir lists every record of a data directory like DLedger's readFile (pos, index,
// term, size, magic, CRC status, body preview) and flags a damaged record.
// Method: write a small store on disk, dump it into an array of lines, flip a body bit, dump again.
import t from 'tap';
import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpDataDir, EntryMagic, openLogStore } from '../../src/store/index.js';

t.test('dump lists entries, BLANKs and CRC status', async (t) => {
  const nodeDir = mkdtempSync(join(tmpdir(), 'dledger-dump-'));
  t.teardown(() => rmSync(nodeDir, { recursive: true, force: true }));
  const store = openLogStore({ nodeDir, dataSegmentSizeBytes: 4096, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1000, flush: { kind: 'sync' } });
  const text = new TextEncoder();
  for (let i = 0; i < 12; i++) store.append(2, [text.encode(`message-${i}-${'x'.repeat(i * 60)}`)], i === 0 ? EntryMagic.Noop : EntryMagic.Normal);
  await store.close();
  const lines: string[] = [];
  const summary = dumpDataDir(join(nodeDir, 'data'), { write: (line) => lines.push(line), bodyPreviewBytes: 12 });
  t.equal(summary.entries, 12);
  t.ok(summary.blanks >= 1, 'a BLANK filler at a segment end');
  t.equal(summary.badBodyCrcs + summary.badChainCrcs, 0);
  t.match(lines[0], /^pos=0 index=0 term=2 size=\d+ magic=NOOP bodyCrc=0x[0-9a-f]{8}:ok chainCrc=0x[0-9a-f]{8}:ok body="message-0-"$/);
  t.ok(lines.some((line) => /BLANK size=\d+$/.test(line)));
  t.match(lines.at(-1), /# 12 entries/);
  // Damage one body byte of entry 1 (the record right after entry 0).
  const segment = join(nodeDir, 'data', '00000000000000000000');
  const fd = openSync(segment, 'r+');
  const size0 = 48 + 'message-0-'.length;
  const byte = new Uint8Array(1);
  readSync(fd, byte, 0, 1, size0 + 50);
  byte[0] = (byte[0] as number) ^ 0x40;
  writeSync(fd, byte, 0, 1, size0 + 50);
  closeSync(fd);
  const some: string[] = [];
  const partial = dumpDataDir(join(nodeDir, 'data'), { write: (line) => some.push(line), fromPos: 1000, maxEntries: 2 });
  t.equal(some.filter((line) => / index=/.test(line)).length, 2, 'maxEntries entries printed');
  t.ok(some.every((line) => !line.startsWith('pos=') || Number(/^pos=(\d+)/.exec(line)?.[1]) >= 1000), 'from fromPos on');
  t.match(partial.stopReason, /maxEntries/);
  const damaged: string[] = [];
  const after = dumpDataDir(join(nodeDir, 'data'), { write: (line) => damaged.push(line) });
  t.equal(after.badBodyCrcs, 1);
  t.match(damaged[1], /index=1 .*bodyCrc=0x[0-9a-f]{8}:BAD/);
});
