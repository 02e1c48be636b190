// Queue offsets are assigned on the leader when a message is proposed, before it commits: the
// stored QUEUEOFFSET must equal the message's place in its consume queue, which apply() only
// fixes later. The allocator counts, per queue, the consume queue's length plus the messages
// proposed for it and not yet applied (RocketMQ's topicQueueTable, increased at append time).
//
// Why it is safe: a leader never loses its own entries of its term while it stays leader, so
// every offset it hands out in a term is applied in proposal order — unless a proposal fails.
// After any failure (refused, timed out with its outcome unknown) and after every role change,
// the allocator forgets its counts and refuses to allocate until no send is outstanding and this
// member has applied its whole log (appliedIndex >= lastIndex); then the consume queues are exact
// again. A new leader gets there once its first entry of the term (the no-op) is applied, which is
// RocketMQ's "wait until dispatch behind = 0" before changeToMaster.
import { assert } from '../../util/assert.js';

export interface AllocatorSources {
  /** The consume queue length of (topic, queueId): its next offset once everything is applied. */
  readonly appliedMaxOffset: (topic: string, queueId: number) => number;
  /** True when this member leads and has applied every entry of its log. */
  readonly leaderCaughtUp: () => boolean;
}

export class QueueOffsetAllocator {
  // Invariant: while synced, next[q] = applied length of q + messages for q proposed, not applied.
  private readonly next = new Map<string, number>();
  private synced = false;
  // Invariant: outstanding = reservations whose outcome is not known yet (settle() not called).
  private outstanding = 0;

  constructor(private readonly sources: AllocatorSources) {}

  /** Forget everything (role change). */
  reset(): void {
    this.synced = false;
  }

  /** Can a send be accepted now? Re-syncs from the consume queues when that has become safe. */
  ready(): boolean {
    if (this.synced) return true;
    if (this.outstanding > 0 || !this.sources.leaderCaughtUp()) return false;
    this.next.clear();
    this.synced = true;
    return true;
  }

  /** Reserve `count` consecutive offsets of (topic, queueId); the first one is returned. */
  reserve(topic: string, queueId: number, count: number): number {
    assert(this.synced, 'reserve() without ready()');
    assert(Number.isInteger(count) && count > 0, `reserve ${count} offsets`);
    const key = `${queueId}@${topic}`;
    const base = this.next.get(key) ?? this.sources.appliedMaxOffset(topic, queueId);
    this.next.set(key, base + count);
    this.outstanding++;
    return base;
  }

  /** The outcome of one reserve(): `ok` = its entries were applied at the reserved offsets. */
  settle(ok: boolean): void {
    assert(this.outstanding > 0, 'settle() without reserve()');
    this.outstanding--;
    if (!ok) this.synced = false;
  }
}
