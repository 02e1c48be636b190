// Goal: bad store options are refused up front, before any file is touched, with an error that
// names the option. Method: open the in-memory store with one wrong option at a time.
import t from 'tap';
import { MemoryMedium, openMemoryLogStore, StoreConfigError, type StoreOptions } from '../../src/store/index.js';

const good: StoreOptions = { nodeDir: '/m/n0', dataSegmentSizeBytes: 8192, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1000, flush: { kind: 'sync' } };

const cases: [string, Partial<StoreOptions> | Record<string, unknown>][] = [
  ['nodeDir', { nodeDir: '' }],
  ['dataSegmentSizeBytes', { dataSegmentSizeBytes: 5000 }],
  ['dataSegmentSizeBytes', { dataSegmentSizeBytes: 0 }],
  ['indexSegmentSizeBytes', { indexSegmentSizeBytes: 1000 }],
  ['maxEntryBodyBytes', { maxEntryBodyBytes: -1 }],
  ['maxEntryBodyBytes', { maxEntryBodyBytes: 8192 - 48 - 7 }],
  ['flush', { flush: { kind: 'sometimes' } }],
  ['flush.intervalMs', { flush: { kind: 'async', intervalMs: 0 } }],
  ['flushInBackground', { flushInBackground: 'yes' }],
];

for (const [option, change] of cases) {
  t.test(`${option}: ${JSON.stringify(change)}`, async (t) => {
    const medium = new MemoryMedium();
    const error = (() => {
      try {
        openMemoryLogStore({ ...good, ...change } as StoreOptions, medium);
        return null;
      } catch (caught) {
        return caught;
      }
    })();
    t.ok(error instanceof StoreConfigError, 'StoreConfigError');
    t.equal((error as StoreConfigError).option, option, 'names the option');
    t.match((error as Error).message, option);
    t.same(medium.listFiles('/m/n0/data'), [], 'no file created');
  });
}

t.test('the largest body that fits is accepted', async (t) => {
  const store = openMemoryLogStore({ ...good, maxEntryBodyBytes: 8192 - 48 - 8 });
  t.equal(store.append(1, [new Uint8Array(8192 - 56)])[0]?.pos, 0);
  t.throws(() => store.append(1, [new Uint8Array(8192 - 55)]), /body length/);
  await store.close();
});
