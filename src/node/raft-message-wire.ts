// Raft messages on the wire: what a peer sends is untrusted input, so every field is checked
// before the message reaches the core (whose assertions are for programmer errors, not for bad
// bytes from the network). A message that fails the check is refused with a reason naming the
// field; the connection that sent it is closed by the transport's caller.
//
// Append entries travel as the records the leader's store holds (header + body, CRCs included):
// `raw` (msgpack bin) at `rawPos`, instead of one msgpack object per entry. The receiver decodes
// the headers into Entry objects whose bodies are views into those bytes, and its store appends
// the same bytes verbatim after verifying their CRCs (LogRaftStorage.persist -> store.appendRaw).
import type { Entry, Message, SnapshotMeta } from '../raft/types.js';
import { EntryType } from '../raft/types.js';
import { readEntryHeader } from '../store/entry-codec.js';
import { ENTRY_HEADER_BYTES, EntryMagic, type RawRecords } from '../store/types.js';

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

function binary(type: string, m: Fields, field: string): Uint8Array {
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
    return { index, term, type: entryType, data: binary(type, e, 'data') };
  });
}

/** Entries from raw records: headers checked against the Append, bodies as views (no copy). */
function rawEntries(type: string, m: Fields, prevLogIndex: number): { entries: Entry[]; raw: RawRecords } {
  const bytes = binary(type, m, 'raw');
  const pos = integer(type, m, 'rawPos', 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Entry[] = [];
  let previousTerm = 0;
  for (let offset = 0; offset < bytes.byteLength; ) {
    const i = out.length;
    if (bytes.byteLength - offset < ENTRY_HEADER_BYTES) fail(type, `raw[${i}]`, `a ${ENTRY_HEADER_BYTES}-byte header`, `${bytes.byteLength - offset} bytes left`);
    const header = readEntryHeader(view, offset);
    if (header.magic !== EntryMagic.Normal && header.magic !== EntryMagic.Noop) fail(type, `raw[${i}].magic`, '1 (normal) or 2 (noop)', header.magic);
    if (header.sizeBytes !== ENTRY_HEADER_BYTES + header.bodyLength || header.bodyLength < 0 || header.sizeBytes > bytes.byteLength - offset) {
      fail(type, `raw[${i}].size`, `48 + bodyLength (${header.bodyLength}) within the ${bytes.byteLength - offset} bytes left`, header.sizeBytes);
    }
    if (header.index !== prevLogIndex + 1 + i) fail(type, `raw[${i}].index`, String(prevLogIndex + 1 + i), header.index);
    if (header.pos !== pos + offset) fail(type, `raw[${i}].pos`, String(pos + offset), header.pos);
    if (!Number.isSafeInteger(header.term) || header.term < Math.max(1, previousTerm)) fail(type, `raw[${i}].term`, `an integer >= ${Math.max(1, previousTerm)}`, header.term);
    previousTerm = header.term;
    const bodyAt = offset + ENTRY_HEADER_BYTES;
    out.push({ index: header.index, term: header.term, type: header.magic === EntryMagic.Noop ? EntryType.Noop : EntryType.Normal, data: bytes.subarray(bodyAt, bodyAt + header.bodyLength) });
    offset += header.sizeBytes;
  }
  if (out.length === 0) fail(type, 'raw', 'at least one record', bytes);
  return { entries: out, raw: { firstIndex: prevLogIndex + 1, lastIndex: prevLogIndex + out.length, pos, bytes } };
}

/**
 * The wire form of a message: an Append whose entries are the stored records `raw` carries those
 * bytes instead of its entries (the caller checked that `raw` holds exactly those entries).
 */
export function wireMessage(message: Message, raw: RawRecords | null): unknown {
  if (message.type !== 'Append' || raw === null) return message;
  const { entries: _entries, ...rest } = message;
  return { ...rest, rawPos: raw.pos, raw: raw.bytes };
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
export function parseWireMessage(value: unknown, from: string, selfId: string, onRaw?: (raw: RawRecords) => void): Message {
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
      let list: Entry[];
      if (m['raw'] === undefined) list = entries(type, m, prevLogIndex);
      else {
        const decoded = rawEntries(type, m, prevLogIndex);
        list = decoded.entries;
        onRaw?.(decoded.raw);
      }
      return { type, from, to: selfId, term, prevLogIndex, prevLogTerm: integer(type, m, 'prevLogTerm', 0), entries: list, commitIndex: integer(type, m, 'commitIndex', -1) };
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
      return { type, from, to: selfId, term, snapshot: snapshotMeta(type, m), offset: integer(type, m, 'offset', 0), data: binary(type, m, 'data'), done: bool(type, m, 'done') };
    case 'SnapshotResp':
      return { type, from, to: selfId, term, snapshotIndex: integer(type, m, 'snapshotIndex', -1), nextOffset: integer(type, m, 'nextOffset', 0), reject: bool(type, m, 'reject'), done: bool(type, m, 'done') };
    default:
      throw new WireMessageError(`message.type: unknown type ${JSON.stringify(type)}`);
  }
}
