// Goal: tell which steps back of a consumer group's committed offset are client protocol and which
// are a broker's fault (chaos R3). In log order, every commit of (group, topic, queue) lower than
// the one before is a step back. One is allowed:
//   reassignment — the client (re)took the queue and resumed from the committed offset it read
//                  from a broker (QUERY_CONSUMER_OFFSET, READ_FROM_STORE), and the lower commit is
//                  exactly that value: ali-ons then commits what it resumed from. With no master in
//                  its route it asks a follower, which answers its replicated value (as a Java
//                  slave does); that may lag the last commit. A rewind after a failed read (ali-ons
//                  then starts the queue at 0 or at the end) is NOT one: only values read count.
// Every other step back is a violation: with one client on one connection per broker the broker
// logs commits in the client's order, so a lower commit means the client was told to go back —
// R1 (a lagging follower) and R3 (a deposed master that had not heard of its successor) both
// answered PULL_OFFSET_MOVED with their stale queue end.
import type { LogOffsetCommit } from './rocketmq-checker.js';

/** The live client read `offset` from a broker as the start of `queueId` (it (re)took the queue). */
export interface QueueResume {
  readonly queueId: number;
  readonly offset: number;
}

export interface OffsetStepBacks {
  /** Allowed step backs: each lower commit equals a resume offset the client read for that queue. */
  readonly allowed: string[];
  /** The others, one line each (queue, both commits and their log indexes). */
  readonly violations: string[];
}

export function offsetStepBacks(commits: readonly LogOffsetCommit[], group: string, topic: string, resumes: readonly QueueResume[]): OffsetStepBacks {
  const allowed: string[] = [];
  const violations: string[] = [];
  const last = new Map<number, LogOffsetCommit>();
  for (const c of commits) {
    if (c.group !== group || c.topic !== topic) continue;
    const previous = last.get(c.queueId);
    last.set(c.queueId, c);
    if (previous === undefined || c.offset >= previous.offset) continue;
    const line = `${group} ${topic}-${c.queueId}: committed ${previous.offset} at log index ${previous.index}, then ${c.offset} at ${c.index}`;
    if (resumes.some((r) => r.queueId === c.queueId && r.offset === c.offset)) allowed.push(`${line} (the client resumed the queue from ${c.offset}, read from a broker)`);
    else violations.push(line);
  }
  return { allowed, violations };
}
