// Semantic checks on a message from a peer before the core acts on it. The wire decoder checks
// framing and types; this checks what only Raft knows (indexes contiguous, terms in order,
// offsets in range), so a buggy or corrupted peer message is dropped with a reason instead of
// tripping an assertion deep inside the core and taking the node down.
import { EntryType, type Entry, type Message } from './types.js';

function isIndex(value: number): boolean {
  return Number.isSafeInteger(value) && value >= -1;
}

function isTerm(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function entriesProblem(entries: readonly Entry[], prevLogIndex: number, prevLogTerm: number, term: number): string | null {
  let previousTerm = prevLogTerm;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry;
    const expectedIndex = prevLogIndex + 1 + i;
    if (entry.index !== expectedIndex) return `entry ${i} has index ${entry.index}, expected ${expectedIndex}`;
    if (!isTerm(entry.term) || entry.term < previousTerm || entry.term > term) {
      return `entry ${entry.index} has term ${entry.term}, expected ${previousTerm}..${term}`;
    }
    if (entry.type !== EntryType.Normal && entry.type !== EntryType.Noop) return `entry ${entry.index} has type ${String(entry.type)}`;
    if (!(entry.data instanceof Uint8Array)) return `entry ${entry.index} data is not bytes`;
    previousTerm = entry.term;
  }
  return null;
}

/** Why the message cannot be acted on, or null if it is well formed. */
export function invalidMessageReason(m: Message): string | null {
  if (!isTerm(m.term)) return `term ${m.term} is not a non-negative integer`;
  switch (m.type) {
    case 'PreVote':
    case 'Vote':
      if (!isIndex(m.lastLogIndex) || !isTerm(m.lastLogTerm)) return `last log (${m.lastLogIndex},${m.lastLogTerm}) is malformed`;
      if (m.lastLogTerm > m.term) return `last log term ${m.lastLogTerm} exceeds the campaign term ${m.term}`;
      return null;
    case 'PreVoteResp':
    case 'VoteResp':
    case 'TimeoutNow':
      return null;
    case 'Append':
      if (!isIndex(m.prevLogIndex) || !isTerm(m.prevLogTerm)) return `prev (${m.prevLogIndex},${m.prevLogTerm}) is malformed`;
      if (m.prevLogTerm > m.term) return `prev term ${m.prevLogTerm} exceeds the leader term ${m.term}`;
      if (!isIndex(m.commitIndex)) return `commit index ${m.commitIndex} is malformed`;
      return entriesProblem(m.entries, m.prevLogIndex, m.prevLogTerm, m.term);
    case 'AppendResp':
      if (!isIndex(m.index) || !isTerm(m.conflictTerm) || !isIndex(m.conflictIndex)) {
        return `index ${m.index} / conflict (${m.conflictTerm},${m.conflictIndex}) is malformed`;
      }
      if (m.reject && m.conflictIndex > m.index + 1) return `conflict index ${m.conflictIndex} is past the rejected index ${m.index} + 1`;
      return null;
    case 'Heartbeat':
      if (!isIndex(m.commitIndex) || !isCount(m.sentAtTick)) return `commit ${m.commitIndex} / sentAtTick ${m.sentAtTick} is malformed`;
      return null;
    case 'HeartbeatResp':
      if (!isCount(m.sentAtTick)) return `sentAtTick ${m.sentAtTick} is malformed`;
      return null;
    case 'Snapshot': {
      const meta = m.snapshot;
      if (!isCount(meta.index) || !isTerm(meta.term) || !isCount(meta.sizeBytes)) {
        return `snapshot (${meta.index},${meta.term}) of ${meta.sizeBytes} bytes is malformed`;
      }
      if (meta.term > m.term) return `snapshot term ${meta.term} exceeds the leader term ${m.term}`;
      if (!(m.data instanceof Uint8Array)) return 'snapshot chunk data is not bytes';
      if (!isCount(m.offset) || m.offset + m.data.byteLength > meta.sizeBytes) {
        return `chunk [${m.offset}, ${m.offset + m.data.byteLength}) is outside the ${meta.sizeBytes}-byte snapshot`;
      }
      return null;
    }
    case 'SnapshotResp':
      if (!isCount(m.snapshotIndex) || !isCount(m.nextOffset)) return `snapshot ${m.snapshotIndex} / next offset ${m.nextOffset} is malformed`;
      return null;
  }
}
