// Compact, readable renderings of messages, entries and Readies for the scenario transcripts.
import type { Entry, Message, Ready } from '../../../src/raft/index.js';

const decoder = new TextDecoder();

export function formatEntry(entry: Entry): string {
  if (entry.type === 2) return `${entry.index}/${entry.term} noop`;
  return `${entry.index}/${entry.term} ${JSON.stringify(decoder.decode(entry.data))}`;
}

function formatEntryRange(entries: readonly Entry[]): string {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (first === undefined || last === undefined) return '[]';
  return first === last ? `[${first.index}]` : `[${first.index}..${last.index}]`;
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'PreVote':
    case 'Vote':
      return `${head} last=(${m.lastLogIndex},${m.lastLogTerm})${m.transfer ? ' transfer' : ''}`;
    case 'PreVoteResp':
    case 'VoteResp':
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case 'Append':
      return `${head} prev=(${m.prevLogIndex},${m.prevLogTerm}) entries=${formatEntryRange(m.entries)} commit=${m.commitIndex}`;
    case 'AppendResp':
      return m.reject
        ? `${head} reject index=${m.index} conflict=(term ${m.conflictTerm}, index ${m.conflictIndex})`
        : `${head} index=${m.index}`;
    case 'Heartbeat':
      return `${head} commit=${m.commitIndex}${m.readCtx === '' ? '' : ` ctx=${m.readCtx}`}`;
    case 'HeartbeatResp':
      return `${head}${m.readCtx === '' ? '' : ` ctx=${m.readCtx}`}`;
    case 'TimeoutNow':
      return head;
    case 'Snapshot':
      return `${head} snap=(${m.snapshot.index},${m.snapshot.term}) bytes=[${m.offset},${m.offset + m.data.byteLength})/${m.snapshot.sizeBytes}${m.done ? ' done' : ''}`;
    case 'SnapshotResp':
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.reject ? ' reject' : ''}${m.done ? ' done' : ''}`;
  }
}

export function formatReady(id: string, ready: Ready): string[] {
  const lines = [`> ${id} handling Ready ${ready.number}`];
  if (ready.softState !== null) {
    const s = ready.softState;
    lines.push(`  SoftState role=${s.role} leader=${s.leaderId ?? '-'} term=${s.term}`);
  }
  if (ready.hardState !== null) {
    const h = ready.hardState;
    lines.push(`  HardState term=${h.term} vote=${h.votedFor ?? '-'} commit=${h.commitIndex}`);
  }
  if (ready.snapshotToInstall !== null) {
    const meta = ready.snapshotToInstall.meta;
    lines.push(`  Snapshot (${meta.index},${meta.term}) ${meta.sizeBytes} bytes`);
  }
  if (ready.entriesToPersist.length > 0) lines.push(`  Entries: ${ready.entriesToPersist.map(formatEntry).join(', ')}`);
  if (ready.committedEntries.length > 0) lines.push(`  Committed: ${ready.committedEntries.map(formatEntry).join(', ')}`);
  for (const m of ready.messages) lines.push(`  send ${formatMessage(m)}`);
  for (const m of ready.messagesAfterPersist) lines.push(`  send after persist ${formatMessage(m)}`);
  for (const r of ready.readStates) lines.push(`  ReadState ctx=${r.requestCtx} index=${r.index}`);
  if (lines.length === 1) lines.push('  (empty)');
  return lines;
}
