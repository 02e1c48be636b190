// Raft messages on the wire: what a peer sends is untrusted input, so every field is checked
// before the message reaches the core (whose assertions are for programmer errors, not for bad
// bytes from the network). A message that fails the check is refused with a reason naming the
// field; the connection that sent it is closed by the transport's caller.
import type { Entry, Message, SnapshotMeta } from '../raft/types.js';
import { EntryType } from '../raft/types.js';

export class WireMessageError extends Error {
  override name = 'WireMessageError';
}

type Fields = Record<string, unknown>;

function fail(type: string, field: string, expected: string, value: unknown): never {
  const shown = value instanceof Uint8Array ? `${value.byteLength} bytes` : JSON.stringify(value);
  throw new WireMessageError(`${type}.${field}: expected ${expected}, got ${shown ?? String(value)}`);
}

function integer(type: string, m: Fields, field: string, min: number): number {
  const value = m[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(type, field, `an integer >= ${min}`, value);
  return value;
}

function text(type: string, m: Fields, field: string): string {
  const value = m[field];
  if (typeof value !== 'string' || value.length > 256) fail(type, field, 'a string of at most 256 characters', value);
  return value;
}

function bool(type: string, m: Fields, field: string): boolean {
  const value = m[field];
  if (typeof value !== 'boolean') fail(type, field, 'a boolean', value);
  return value;
}

function bytes(type: string, m: Fields, field: string): Uint8Array {
  const value = m[field];
  if (!(value instanceof Uint8Array)) fail(type, field, 'binary data', value);
  return value;
}

function entries(type: string, m: Fields, prevLogIndex: number): Entry[] {
  const list = m['entries'];
  if (!Array.isArray(list)) fail(type, 'entries', 'an array', list);
  let previousTerm = 0;
  return list.map((raw: unknown, i: number) => {
    if (raw === null || typeof raw !== 'object') fail(type, `entries[${i}]`, 'an object', raw);
    const e = raw as Fields;
    const index = integer(type, e, 'index', 0);
    if (index !== prevLogIndex + 1 + i) fail(type, `entries[${i}].index`, String(prevLogIndex + 1 + i), index);
    const term = integer(type, e, 'term', 1);
    if (term < previousTerm) fail(type, `entries[${i}].term`, `>= ${previousTerm}`, term);
    previousTerm = term;
    const entryType = e['type'];
    if (entryType !== EntryType.Normal && entryType !== EntryType.Noop) fail(type, `entries[${i}].type`, '1 (normal) or 2 (noop)', entryType);
    return { index, term, type: entryType, data: bytes(type, e, 'data') };
  });
}

function snapshotMeta(type: string, m: Fields): SnapshotMeta {
  const raw = m['snapshot'];
  if (raw === null || typeof raw !== 'object') fail(type, 'snapshot', 'an object', raw);
  const s = raw as Fields;
  return { index: integer(type, s, 'index', 0), term: integer(type, s, 'term', 1), sizeBytes: integer(type, s, 'sizeBytes', 0) };
}

/**
 * Check a decoded frame from peer `from` (the id its connection authenticated with hello) and
 * return it as a Message addressed to `selfId`. Throws WireMessageError naming the bad field.
 */
export function parseWireMessage(value: unknown, from: string, selfId: string): Message {
  if (value === null || typeof value !== 'object') throw new WireMessageError(`message: expected an object, got ${typeof value}`);
  const m = value as Fields;
  const type = m['type'];
  if (typeof type !== 'string') throw new WireMessageError('message.type: missing');
  if (m['from'] !== from) fail(type, 'from', `"${from}" (the connection's peer)`, m['from']);
  if (m['to'] !== selfId) fail(type, 'to', `"${selfId}"`, m['to']);
  const term = integer(type, m, 'term', 0);
  switch (type) {
    case 'PreVote':
    case 'Vote':
      return { type, from, to: selfId, term, lastLogIndex: integer(type, m, 'lastLogIndex', -1), lastLogTerm: integer(type, m, 'lastLogTerm', 0), transfer: bool(type, m, 'transfer') };
    case 'PreVoteResp':
    case 'VoteResp':
      return { type, from, to: selfId, term, reject: bool(type, m, 'reject') };
    case 'Append': {
      const prevLogIndex = integer(type, m, 'prevLogIndex', -1);
      return { type, from, to: selfId, term, prevLogIndex, prevLogTerm: integer(type, m, 'prevLogTerm', 0), entries: entries(type, m, prevLogIndex), commitIndex: integer(type, m, 'commitIndex', -1) };
    }
    case 'AppendResp':
      return { type, from, to: selfId, term, reject: bool(type, m, 'reject'), index: integer(type, m, 'index', -1), conflictTerm: integer(type, m, 'conflictTerm', 0), conflictIndex: integer(type, m, 'conflictIndex', -1) };
    case 'Heartbeat':
      return { type, from, to: selfId, term, commitIndex: integer(type, m, 'commitIndex', -1), readCtx: text(type, m, 'readCtx'), sentAtTick: integer(type, m, 'sentAtTick', 0) };
    case 'HeartbeatResp':
      return { type, from, to: selfId, term, readCtx: text(type, m, 'readCtx'), sentAtTick: integer(type, m, 'sentAtTick', 0) };
    case 'TimeoutNow':
      return { type, from, to: selfId, term };
    case 'Snapshot':
      return { type, from, to: selfId, term, snapshot: snapshotMeta(type, m), offset: integer(type, m, 'offset', 0), data: bytes(type, m, 'data'), done: bool(type, m, 'done') };
    case 'SnapshotResp':
      return { type, from, to: selfId, term, snapshotIndex: integer(type, m, 'snapshotIndex', -1), nextOffset: integer(type, m, 'nextOffset', 0), reject: bool(type, m, 'reject'), done: bool(type, m, 'done') };
    default:
      throw new WireMessageError(`message.type: unknown type ${JSON.stringify(type)}`);
  }
}
