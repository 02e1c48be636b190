// Orderly consumers' queue locks (RocketMQ's RebalanceLockManager): LOCK_BATCH_MQ (41) gives a
// client the queues of its group that no other live client holds, UNLOCK_BATCH_MQ (42) gives them
// back; a lock not renewed within REBALANCE_LOCK_MAX_LIVE_MS (rocketmq.broker.rebalance.
// lockMaxLiveTime, 60 s) may be taken by another client. Clients renew every rebalanceLockInterval
// (20 s) and consume a queue only while their lock is fresh.
//
// Replicated through the Raft log (a state extension), unlike RocketMQ, where each broker keeps
// its own in-memory table. Why: after a failover the new master must not hand a queue to client B
// while client A still consumes it under a lock from the old master (A keeps consuming until its
// local lock expires, 30 s in the Java client): with an empty table it would, and two consumers
// would interleave one queue's messages, which is exactly what orderly consumption forbids.
// Replicated, the new master holds A's lock with its last renewal and hands the queue on only
// once the lock expired. The cost is one log entry per lock or renewal request (a client renews
// all its queues in one request every 20 s).
//
// Deterministic: a command carries the proposing master's clock (atMs) and apply() judges
// expiry by it alone, never by its own clock, so every member decides the same.
import type { StateExtension } from './broker-state.js';
import { GROUP_NAME_PATTERN } from './commands.js';
import { TOPIC_NAME_PATTERN } from './topic-config.js';

export const QUEUE_LOCKS_EXTENSION = 'queueLocks';
/** RebalanceLockManager.REBALANCE_LOCK_MAX_LIVE_TIME's default. */
export const REBALANCE_LOCK_MAX_LIVE_MS = 60_000;
/** Locked queues at most over all groups; a lock past it is not granted. */
export const QUEUE_LOCKS_MAX = 100_000;
/** Queues in one request at most (a client asks for the queues it was assigned). */
export const LOCK_BATCH_MAX_QUEUES = 4096;

export interface LockedQueue {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
}

export type QueueLockCommand =
  | { readonly op: 'lock'; readonly group: string; readonly clientId: string; readonly queues: readonly LockedQueue[]; readonly atMs: number }
  | { readonly op: 'unlock'; readonly group: string; readonly clientId: string; readonly queues: readonly LockedQueue[] };

interface LockEntry {
  clientId: string;
  lastUpdateMs: number;
}

const CLIENT_ID_PATTERN = /^[\x21-\x7e]{1,255}$/;
const BROKER_NAME_PATTERN = /^[a-zA-Z0-9_.%|-]{1,127}$/;

export class QueueLockError extends Error {
  override name = 'QueueLockError';
}

/** A MessageQueue set from untrusted JSON ({topic, brokerName, queueId} objects). */
export function parseQueues(value: unknown): LockedQueue[] {
  if (!Array.isArray(value)) throw new QueueLockError('mqSet must be an array');
  if (value.length > LOCK_BATCH_MAX_QUEUES) throw new QueueLockError(`mqSet holds ${value.length} queues, at most ${LOCK_BATCH_MAX_QUEUES}`);
  return value.map((item: unknown, i) => {
    const q = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const { topic, brokerName, queueId } = q;
    if (typeof topic !== 'string' || !TOPIC_NAME_PATTERN.test(topic)) throw new QueueLockError(`mqSet[${i}].topic ${JSON.stringify(topic)} is not a topic name`);
    if (typeof brokerName !== 'string' || !BROKER_NAME_PATTERN.test(brokerName)) throw new QueueLockError(`mqSet[${i}].brokerName ${JSON.stringify(brokerName)} is not a broker name`);
    if (typeof queueId !== 'number' || !Number.isInteger(queueId) || queueId < 0 || queueId > 65_535) throw new QueueLockError(`mqSet[${i}].queueId ${JSON.stringify(queueId)} is not a queue id`);
    return { topic, brokerName, queueId };
  });
}

export function parseGroupAndClient(v: Record<string, unknown>): { group: string; clientId: string } {
  const group = v['consumerGroup'] ?? v['group'];
  const clientId = v['clientId'];
  if (typeof group !== 'string' || !GROUP_NAME_PATTERN.test(group)) throw new QueueLockError(`consumerGroup ${JSON.stringify(group)} is not a group name`);
  if (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId)) throw new QueueLockError(`clientId ${JSON.stringify(clientId)} is not a client id`);
  return { group, clientId };
}

const keyOf = (q: LockedQueue): string => `${q.queueId}@${q.brokerName}@${q.topic}`;

export class QueueLocks implements StateExtension {
  /** group -> queue key -> holder. Invariant: lockCount = the number of entries over all groups. */
  private readonly groups = new Map<string, Map<string, LockEntry>>();
  private lockCount = 0;

  constructor(private readonly log: (line: string) => void = () => undefined, private readonly maxLiveMs = REBALANCE_LOCK_MAX_LIVE_MS) {}

  /** The queues of `queues` that `clientId` holds as of `nowMs` (what LOCK_BATCH_MQ answers). */
  heldBy(group: string, clientId: string, queues: readonly LockedQueue[], nowMs: number): LockedQueue[] {
    const table = this.groups.get(group);
    return queues.filter((q) => {
      const entry = table?.get(keyOf(q));
      return entry !== undefined && entry.clientId === clientId && nowMs - entry.lastUpdateMs <= this.maxLiveMs;
    });
  }

  /** Who holds a queue now (null: nobody, or the lock expired). */
  holderOf(group: string, queue: LockedQueue, nowMs: number): string | null {
    const entry = this.groups.get(group)?.get(keyOf(queue));
    return entry === undefined || nowMs - entry.lastUpdateMs > this.maxLiveMs ? null : entry.clientId;
  }

  get size(): number {
    return this.lockCount;
  }

  apply(body: unknown, index: number): void {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    let who;
    let queues;
    try {
      who = parseGroupAndClient(b);
      queues = parseQueues(b['queues']);
    } catch (error) {
      if (!(error instanceof QueueLockError)) throw error;
      return this.log(`entry ${index}: queue lock command ignored: ${error.message}`);
    }
    if (b['op'] === 'unlock') {
      const table = this.groups.get(who.group);
      for (const q of queues) {
        const entry = table?.get(keyOf(q));
        if (table !== undefined && entry !== undefined && entry.clientId === who.clientId) {
          table.delete(keyOf(q));
          this.lockCount--;
        }
      }
      if (table?.size === 0) this.groups.delete(who.group);
      return;
    }
    const atMs = b['atMs'];
    if (b['op'] !== 'lock' || typeof atMs !== 'number' || !Number.isSafeInteger(atMs)) return this.log(`entry ${index}: queue lock command ignored (op lock needs atMs)`);
    let table = this.groups.get(who.group);
    // Locks of the group that expired by this command's time go (a client that left never unlocks):
    // the table holds live locks plus at most those of groups that stopped asking.
    if (table !== undefined) {
      for (const [key, entry] of table) {
        if (atMs - entry.lastUpdateMs > this.maxLiveMs) {
          table.delete(key);
          this.lockCount--;
        }
      }
    }
    for (const q of queues) {
      const key = keyOf(q);
      const entry = table?.get(key);
      if (entry === undefined) {
        if (this.lockCount >= QUEUE_LOCKS_MAX) {
          this.log(`entry ${index}: lock of ${key} for ${who.group}/${who.clientId} not granted: ${QUEUE_LOCKS_MAX} queues locked`);
          continue;
        }
        if (table === undefined) this.groups.set(who.group, (table = new Map()));
        table.set(key, { clientId: who.clientId, lastUpdateMs: atMs });
        this.lockCount++;
      } else if (entry.clientId === who.clientId || atMs - entry.lastUpdateMs > this.maxLiveMs) {
        // A renewal, or another client's lock that expired (tryLockBatch's isExpired).
        entry.clientId = who.clientId;
        entry.lastUpdateMs = Math.max(entry.lastUpdateMs, atMs);
      }
    }
  }

  snapshot(): unknown {
    const out: Array<[string, string, string, number]> = [];
    for (const [group, table] of this.groups) for (const [key, entry] of table) out.push([group, key, entry.clientId, entry.lastUpdateMs]);
    return out;
  }

  restore(snapshot: unknown): void {
    this.clear();
    if (!Array.isArray(snapshot)) return;
    for (const item of snapshot.slice(0, QUEUE_LOCKS_MAX)) {
      if (!Array.isArray(item)) continue;
      const [group, key, clientId, lastUpdateMs] = item as unknown[];
      if (typeof group !== 'string' || !GROUP_NAME_PATTERN.test(group) || typeof key !== 'string' || key.length > 512 || typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId) || typeof lastUpdateMs !== 'number') continue;
      let table = this.groups.get(group);
      if (table === undefined) this.groups.set(group, (table = new Map()));
      if (!table.has(key)) this.lockCount++;
      table.set(key, { clientId, lastUpdateMs });
    }
  }

  clear(): void {
    this.groups.clear();
    this.lockCount = 0;
  }
}
