// A node's log as it will be once every write it has been handed is durable: the durable
// storage overlaid with the readies still queued for its simulated disk (and, for a Ready being
// taken right now, that one too). The checkers judge a new leader by this view, because a
// leader campaigns with its whole log, persisted or not.
import type { MemoryRaftStorage } from '../../../src/raft/memory-storage.js';
import type { Ready } from '../../../src/raft/types.js';
import { assert } from '../../../src/util/assert.js';
import type { LogView } from './checkers.js';

export function overlayLogView(storage: MemoryRaftStorage, writes: readonly Ready[]): LogView {
  let compactedThroughIndex = storage.snapshotMeta()?.index ?? -1;
  let baseIndex = storage.firstIndex();
  let terms: number[] = [];
  for (let index = baseIndex; index <= storage.lastIndex(); index++) terms.push(storage.term(index));
  for (const ready of writes) {
    const snapshot = ready.snapshotToInstall;
    if (snapshot !== null) {
      compactedThroughIndex = snapshot.meta.index;
      baseIndex = snapshot.meta.index + 1;
      terms = [];
    }
    const first = ready.entriesToPersist[0];
    if (first === undefined) continue;
    const keep = first.index - baseIndex;
    assert(keep >= 0 && keep <= terms.length, `queued write at ${first.index} does not attach to log [${baseIndex}, ${baseIndex + terms.length})`);
    terms.length = keep;
    for (const entry of ready.entriesToPersist) terms.push(entry.term);
  }
  return {
    compactedThroughIndex,
    termAt: (index: number): number | undefined => (index < baseIndex ? undefined : terms[index - baseIndex]),
  };
}
