// ReadIndex requests waiting for their leadership-confirmation round (etcd's readOnly, safe
// mode): each remembers the commit index at the time it was asked and which voters have since
// answered a heartbeat carrying its ctx (or a later one). Once a majority answered, it and every
// older request are safe to serve at their recorded index.
import { assert } from '../util/assert.js';
import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  readonly ctx: string;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  // Invariant: queue holds each ctx of byCtx exactly once, oldest first.
  private queue: PendingRead[] = [];
  private byCtx = new Map<string, PendingRead>();

  size(): number {
    return this.queue.length;
  }

  has(ctx: string): boolean {
    return this.byCtx.has(ctx);
  }

  add(ctx: string, commitIndex: number, selfId: NodeId): void {
    assert(!this.byCtx.has(ctx), `duplicate read ctx ${JSON.stringify(ctx)}`);
    const read: PendingRead = { ctx, index: commitIndex, acks: new Set([selfId]) };
    this.queue.push(read);
    this.byCtx.set(ctx, read);
  }

  /** Records that `from` answered the heartbeat for ctx; returns how many have, or 0 if unknown ctx. */
  recordAck(from: NodeId, ctx: string): number {
    const read = this.byCtx.get(ctx);
    if (read === undefined) return 0;
    read.acks.add(from);
    return read.acks.size;
  }

  /** Removes and returns ctx and every request queued before it, as ReadStates, oldest first. */
  releaseThrough(ctx: string): ReadState[] {
    const position = this.queue.findIndex((read) => read.ctx === ctx);
    assert(position >= 0, `releaseThrough unknown ctx ${JSON.stringify(ctx)}`);
    const released = this.queue.splice(0, position + 1);
    for (const read of released) this.byCtx.delete(read.ctx);
    return released.map((read) => ({ requestCtx: read.ctx, index: read.index }));
  }

  /** The newest pending ctx, which periodic heartbeats carry so a lost round is retried. */
  lastCtx(): string {
    return this.queue[this.queue.length - 1]?.ctx ?? '';
  }

  clear(): void {
    this.queue = [];
    this.byCtx.clear();
  }
}
