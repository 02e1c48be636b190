// Consumer offset commits (UPDATE_CONSUMER_OFFSET, and the commitOffset piggybacked on pulls) go
// through the Raft log so a failover never rolls them back. Consumers commit every few seconds
// per queue and on many pulls, so commits arriving in one event-loop turn are coalesced into one
// command per group, and a commit equal to the replicated value is not proposed at all.
import { assert } from '../util/assert.js';
import type { BrokerCommitLog } from './dledger-commit-log.js';
import type { OffsetCommit } from './state/commands.js';

interface PendingGroup {
  readonly offsets: Map<string, OffsetCommit>;
  readonly waiters: Array<{ resolve: () => void; reject: (error: Error) => void }>;
}

/** Offsets waiting to be proposed, per group; bounded so a flood cannot grow memory. */
const PENDING_QUEUES_MAX = 100_000;

export class OffsetCommitter {
  private pending = new Map<string, PendingGroup>();
  private pendingQueues = 0;
  private scheduled = false;

  constructor(private readonly commitLog: BrokerCommitLog, private readonly log: (line: string) => void) {}

  /** Replicate `offset` for (group, topic, queueId); resolves once committed (or at once if unchanged). */
  commit(group: string, topic: string, queueId: number, offset: number): Promise<void> {
    assert(Number.isSafeInteger(offset) && offset >= 0, `offset ${offset}`);
    const key = `${queueId}@${topic}`;
    const current = this.pending.get(group)?.offsets.get(key)?.offset ?? this.commitLog.state.consumerOffset(group, topic, queueId);
    if (current === offset) return Promise.resolve();
    if (this.pendingQueues >= PENDING_QUEUES_MAX) return Promise.reject(new Error(`${this.pendingQueues} offset commits pending; try again`));
    let entry = this.pending.get(group);
    if (entry === undefined) this.pending.set(group, (entry = { offsets: new Map(), waiters: [] }));
    if (!entry.offsets.has(key)) this.pendingQueues++;
    entry.offsets.set(key, { topic, queueId, offset });
    const done = new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  /** The offset a query should see: a commit still on its way through the log, else the replicated one. */
  offsetOf(group: string, topic: string, queueId: number): number | null {
    return this.pending.get(group)?.offsets.get(`${queueId}@${topic}`)?.offset ?? this.commitLog.state.consumerOffset(group, topic, queueId);
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    this.pendingQueues = 0;
    for (const [group, entry] of groups) {
      this.commitLog.proposeCommand({ type: 'commitOffsets', group, offsets: [...entry.offsets.values()] }).then(
        () => { for (const w of entry.waiters) w.resolve(); },
        (error: Error) => {
          this.log(`consumer offsets of ${group} not committed: ${error.message}`);
          for (const w of entry.waiters) w.reject(error);
        },
      );
    }
  }
}
