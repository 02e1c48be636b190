// Follower side of a chunked snapshot transfer: accumulates chunks of one snapshot in order and
// says where the leader should resume, so a lost or duplicated chunk costs one resend, not a
// restart of the whole transfer.
import { assert } from '../util/assert.js';
import type { SnapshotMeta } from './types.js';

export type ChunkOutcome =
  | { readonly kind: 'need'; readonly nextOffset: number }
  | { readonly kind: 'complete'; readonly data: Uint8Array }
  | { readonly kind: 'invalid'; readonly reason: string };

export class SnapshotReceiver {
  // Invariant: receivedBytes === sum of chunk lengths <= meta.sizeBytes.
  private chunks: Uint8Array[] = [];
  private receivedBytes = 0;

  constructor(readonly meta: SnapshotMeta) {
    assert(meta.sizeBytes >= 0, `negative snapshot size ${meta.sizeBytes}`);
  }

  matches(meta: SnapshotMeta): boolean {
    return meta.index === this.meta.index && meta.term === this.meta.term && meta.sizeBytes === this.meta.sizeBytes;
  }

  nextOffset(): number {
    return this.receivedBytes;
  }

  /** Accepts the chunk only if it starts exactly where the previous one ended. */
  receive(offset: number, data: Uint8Array, done: boolean): ChunkOutcome {
    if (offset !== this.receivedBytes) return { kind: 'need', nextOffset: this.receivedBytes };
    const end = offset + data.byteLength;
    if (end > this.meta.sizeBytes) {
      return { kind: 'invalid', reason: `chunk ends at byte ${end}, past snapshot size ${this.meta.sizeBytes}` };
    }
    if (done && end !== this.meta.sizeBytes) {
      return { kind: 'invalid', reason: `last chunk ends at byte ${end}, expected ${this.meta.sizeBytes}` };
    }
    if (data.byteLength > 0) {
      // Copy: the chunk may be a view into a transport buffer that is reused.
      this.chunks.push(data.slice());
      this.receivedBytes = end;
    }
    if (!done) return { kind: 'need', nextOffset: this.receivedBytes };
    const whole = new Uint8Array(this.receivedBytes);
    let at = 0;
    for (const chunk of this.chunks) {
      whole.set(chunk, at);
      at += chunk.byteLength;
    }
    return { kind: 'complete', data: whole };
  }
}
