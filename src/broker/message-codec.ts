// RocketMQ's stored message format (CommitLog / MessageExtEncoder / MessageDecoder): one record per
// message, big-endian, 17 fields. It is both what a DLedger entry's body holds and what a PULL
// response body concatenates, so ali-ons decodes exactly these bytes. The decoder checks every
// length against the record and the buffer before it reads; malformed input is a
// MessageFormatError naming the field and byte offset, never an out-of-range read.
//
//   off  size  field
//     0     4  TOTALSIZE          whole record
//     4     4  MAGICCODE          0xDAA320A7 (V1: 1-byte topic length) or 0xDAA320AB (V2: 2-byte)
//     8     4  BODYCRC            CRC32(body) & 0x7FFFFFFF
//    12     4  QUEUEID
//    16     4  FLAG
//    20     8  QUEUEOFFSET        position in the (topic, queueId) consume queue
//    28     8  PHYSICALOFFSET     DLedger: entry pos + 48, written by patchPhysicalOffset
//    36     4  SYSFLAG
//    40     8  BORNTIMESTAMP
//    48  8/20  BORNHOST           IPv4 (or IPv6 if SYSFLAG & 16) + int32 port
//     …     8  STORETIMESTAMP
//     …  8/20  STOREHOST          IPv4 (or IPv6 if SYSFLAG & 32) + int32 port
//     …     4  RECONSUMETIMES
//     …     8  PREPAREDTRANSACTIONOFFSET
//     …   4+B  BODY
//     … 1/2+T  TOPIC
//     …   2+P  PROPERTIES         name\u0001value\u0002...
import { crc32 } from 'node:zlib';
import { assert } from '../util/assert.js';

export const MESSAGE_MAGIC_V1 = 0xdaa320a7 | 0;
export const MESSAGE_MAGIC_V2 = 0xdaa320ab | 0;

export const QUEUE_OFFSET_AT = 20;
export const PHYSICAL_OFFSET_AT = 28;
/** A DLedger entry's header precedes its body: a message's physical offset is entry pos + 48. */
export const DLEDGER_ENTRY_HEADER_BYTES = 48;

export const MessageSysFlag = {
  COMPRESSED: 1,
  MULTI_TAGS: 2,
  BORNHOST_V6: 16,
  STOREHOST_V6: 32,
} as const;

export const TOPIC_MAX_BYTES_V1 = 127;
export const PROPERTIES_MAX_BYTES = 32767;

export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';

export interface HostAddress {
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  readonly ip: Uint8Array;
  readonly port: number;
}

/** The fields a writer chooses; TOTALSIZE, MAGICCODE and BODYCRC follow from them. */
export interface MessageFields {
  readonly topic: string;
  readonly queueId: number;
  readonly flag: number;
  readonly queueOffset: number;
  readonly physicalOffset: number;
  readonly sysFlag: number;
  readonly bornTimestampMs: number;
  readonly bornHost: HostAddress;
  readonly storeTimestampMs: number;
  readonly storeHost: HostAddress;
  readonly reconsumeTimes: number;
  readonly preparedTransactionOffset: number;
  readonly body: Uint8Array;
  /** The properties string as RocketMQ stores it (see formatMessageProperties). */
  readonly properties: string;
}

export interface StoredMessage extends MessageFields {
  readonly totalSize: number;
  readonly magic: number;
  readonly bodyCrc: number;
}

/** Bytes that are not a well-formed stored message, or fields that cannot be stored. */
export class MessageFormatError extends Error {
  override name = 'MessageFormatError';
}

const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** RocketMQ's bodyCRC: CRC32 (java.util.zip) masked to a non-negative int. */
export function bodyCrcOf(body: Uint8Array): number {
  return (crc32(body) & 0x7fffffff) >>> 0;
}

function hostBytes(host: HostAddress): number {
  return host.ip.length + 4;
}

/** Encode one stored message. Field values out of their Java ranges are a MessageFormatError. */
export function encodeMessage(fields: MessageFields): Uint8Array {
  const topic = encoder.encode(fields.topic);
  const properties = encoder.encode(fields.properties);
  if (topic.length === 0 || topic.length > 32767) throw new MessageFormatError(`topic of ${topic.length} bytes: must be 1-32767`);
  if (properties.length > PROPERTIES_MAX_BYTES) throw new MessageFormatError(`properties of ${properties.length} bytes exceed ${PROPERTIES_MAX_BYTES}`);
  for (const [name, host] of [['bornHost', fields.bornHost], ['storeHost', fields.storeHost]] as const) {
    if (host.ip.length !== 4 && host.ip.length !== 16) throw new MessageFormatError(`${name}: ip of ${host.ip.length} bytes, expected 4 or 16`);
    checkInt32(`${name}.port`, host.port);
  }
  checkInt32('queueId', fields.queueId);
  checkInt32('flag', fields.flag);
  checkInt32('reconsumeTimes', fields.reconsumeTimes);
  checkInt32('sysFlag', fields.sysFlag);
  for (const name of ['queueOffset', 'physicalOffset', 'bornTimestampMs', 'storeTimestampMs', 'preparedTransactionOffset'] as const) {
    if (!Number.isSafeInteger(fields[name])) throw new MessageFormatError(`${name}: ${fields[name]} is not a safe integer`);
  }
  // The host flags follow the addresses actually written (a reader sizes the hosts by them).
  let sysFlag = fields.sysFlag & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6);
  if (fields.bornHost.ip.length === 16) sysFlag |= MessageSysFlag.BORNHOST_V6;
  if (fields.storeHost.ip.length === 16) sysFlag |= MessageSysFlag.STOREHOST_V6;
  const v2 = topic.length > TOPIC_MAX_BYTES_V1;
  const totalSize = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + hostBytes(fields.bornHost) + 8 + hostBytes(fields.storeHost) + 4 + 8
    + 4 + fields.body.length + (v2 ? 2 : 1) + topic.length + 2 + properties.length;
  if (totalSize > 0x7fffffff) throw new MessageFormatError(`message of ${totalSize} bytes does not fit an int32 TOTALSIZE`);
  const out = new Uint8Array(totalSize);
  const view = new DataView(out.buffer);
  let at = 0;
  const int32 = (value: number): void => { view.setInt32(at, value); at += 4; };
  const int64 = (value: number): void => { view.setBigInt64(at, BigInt(value)); at += 8; };
  const bytes = (value: Uint8Array): void => { out.set(value, at); at += value.length; };
  const host = (value: HostAddress): void => { bytes(value.ip); int32(value.port); };
  int32(totalSize);
  int32(v2 ? MESSAGE_MAGIC_V2 : MESSAGE_MAGIC_V1);
  int32(bodyCrcOf(fields.body));
  int32(fields.queueId);
  int32(fields.flag);
  int64(fields.queueOffset);
  int64(fields.physicalOffset);
  int32(sysFlag);
  int64(fields.bornTimestampMs);
  host(fields.bornHost);
  int64(fields.storeTimestampMs);
  host(fields.storeHost);
  int32(fields.reconsumeTimes);
  int64(fields.preparedTransactionOffset);
  int32(fields.body.length);
  bytes(fields.body);
  if (v2) view.setInt16(at, topic.length);
  else view.setInt8(at, topic.length);
  at += v2 ? 2 : 1;
  bytes(topic);
  view.setInt16(at, properties.length);
  at += 2;
  bytes(properties);
  assert(at === totalSize, `encoded ${at} bytes, computed ${totalSize}`);
  return out;
}

function checkInt32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw new MessageFormatError(`${name}: ${value} is not an int32`);
}

export interface DecodeOptions {
  /** Recompute BODYCRC and reject a mismatch (default true). */
  readonly verifyBodyCrc?: boolean;
}

/** Decode the record at `offset` of `bytes`; it must lie wholly inside `bytes`. */
export function decodeMessage(bytes: Uint8Array, offset = 0, options: DecodeOptions = {}): StoredMessage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new MessageFormatError(`message at byte ${offset}: ${what}`);
  };
  if (offset < 0 || offset + 8 > bytes.length) fail(`${bytes.length - offset} bytes left, a message header needs at least 8`);
  const totalSize = view.getInt32(offset);
  const magic = view.getInt32(offset + 4);
  if (magic !== MESSAGE_MAGIC_V1 && magic !== MESSAGE_MAGIC_V2) fail(`MAGICCODE 0x${(magic >>> 0).toString(16)} is not a message magic`);
  const minimum = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2;
  if (totalSize < minimum) fail(`TOTALSIZE ${totalSize} is below the minimum ${minimum}`);
  if (totalSize > bytes.length - offset) fail(`TOTALSIZE ${totalSize} runs past the end of the buffer (${bytes.length - offset} bytes left)`);
  const end = offset + totalSize;
  let at = offset + 8;
  const need = (count: number, field: string): void => {
    if (count < 0 || at + count > end) fail(`${field} of ${count} bytes at +${at - offset} runs past TOTALSIZE ${totalSize}`);
  };
  const int32 = (field: string): number => { need(4, field); const v = view.getInt32(at); at += 4; return v; };
  const int16 = (field: string): number => { need(2, field); const v = view.getInt16(at); at += 2; return v; };
  const int64 = (field: string): number => {
    need(8, field);
    const v = view.getBigInt64(at);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) fail(`${field} ${v} is beyond 2^53`);
    return Number(v);
  };
  const slice = (count: number, field: string): Uint8Array => { need(count, field); const v = bytes.subarray(at, at + count); at += count; return v; };
  const host = (v6: boolean, field: string): HostAddress => {
    const ip = slice(v6 ? 16 : 4, field).slice();
    return { ip, port: int32(`${field} port`) };
  };
  const text = (raw: Uint8Array, field: string): string => {
    try {
      return utf8.decode(raw);
    } catch {
      return fail(`${field} is not valid UTF-8`);
    }
  };

  const bodyCrc = int32('BODYCRC');
  const queueId = int32('QUEUEID');
  const flag = int32('FLAG');
  const queueOffset = int64('QUEUEOFFSET');
  const physicalOffset = int64('PHYSICALOFFSET');
  const sysFlag = int32('SYSFLAG');
  const bornTimestampMs = int64('BORNTIMESTAMP');
  const bornHost = host((sysFlag & MessageSysFlag.BORNHOST_V6) !== 0, 'BORNHOST');
  const storeTimestampMs = int64('STORETIMESTAMP');
  const storeHost = host((sysFlag & MessageSysFlag.STOREHOST_V6) !== 0, 'STOREHOST');
  const reconsumeTimes = int32('RECONSUMETIMES');
  const preparedTransactionOffset = int64('PREPAREDTRANSACTIONOFFSET');
  const bodyLength = int32('BODY length');
  const body = slice(bodyLength, 'BODY');
  let topicLength: number;
  if (magic === MESSAGE_MAGIC_V2) topicLength = int16('TOPIC length');
  else {
    need(1, 'TOPIC length');
    topicLength = view.getUint8(at);
    at += 1;
  }
  if (topicLength <= 0) fail(`TOPIC length ${topicLength}`);
  const topic = text(slice(topicLength, 'TOPIC'), 'TOPIC');
  const propertiesLength = int16('PROPERTIES length');
  const properties = text(slice(propertiesLength, 'PROPERTIES'), 'PROPERTIES');
  if (at !== end) fail(`${end - at} bytes left over inside TOTALSIZE ${totalSize}`);
  if (options.verifyBodyCrc !== false && bodyCrcOf(body) !== bodyCrc) fail(`BODYCRC ${bodyCrc} does not match the body (${bodyCrcOf(body)})`);
  return {
    totalSize, magic, bodyCrc, queueId, flag, queueOffset, physicalOffset, sysFlag, bornTimestampMs, bornHost,
    storeTimestampMs, storeHost, reconsumeTimes, preparedTransactionOffset, body, topic, properties,
  };
}

/** Decode back-to-back records (a PULL response body). */
export function decodeMessages(bytes: Uint8Array, options: DecodeOptions = {}): StoredMessage[] {
  const messages: StoredMessage[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const message = decodeMessage(bytes, offset, options);
    messages.push(message);
    offset += message.totalSize;
  }
  return messages;
}

/** Is this the start of a stored message (by magic)? Cheap; no validation beyond that. */
export function looksLikeMessage(bytes: Uint8Array): boolean {
  if (bytes.length < PHYSICAL_OFFSET_AT + 8) return false;
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 8).getInt32(4);
  return magic === MESSAGE_MAGIC_V1 || magic === MESSAGE_MAGIC_V2;
}

/**
 * DLedger's append hook for RocketMQ: write PHYSICALOFFSET = entry pos + 48 into the message as
 * the store writes it, on every replica, so stored bytes (and msgIds) are identical everywhere.
 * Runs inside the store's write path: bytes that are not a message are left alone (the state
 * machine reports them when it applies them) rather than failing the whole write.
 */
export function patchPhysicalOffset(body: Uint8Array, pos: number): void {
  if (!looksLikeMessage(body)) return;
  new DataView(body.buffer, body.byteOffset, body.byteLength).setBigInt64(PHYSICAL_OFFSET_AT, BigInt(pos + DLEDGER_ENTRY_HEADER_BYTES));
}

/** PHYSICALOFFSET of an encoded message (0 = not yet patched by the store hook), or null if `body` is not one. */
export function physicalOffsetField(body: Uint8Array): number | null {
  if (!looksLikeMessage(body)) return null;
  return Number(new DataView(body.buffer, body.byteOffset, body.byteLength).getBigInt64(PHYSICAL_OFFSET_AT));
}

/** STORETIMESTAMP of an encoded message (after BORNHOST, 8 or 20 bytes by SYSFLAG), or null if `body` is not one. */
export function storeTimestampField(body: Uint8Array): number | null {
  if (!looksLikeMessage(body)) return null;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const at = 48 + ((view.getInt32(36) & MessageSysFlag.BORNHOST_V6) !== 0 ? 20 : 8);
  return at + 8 <= body.length ? Number(view.getBigInt64(at)) : null;
}

/** Write QUEUEOFFSET into an encoded message (the leader assigns it just before proposing). */
export function patchQueueOffset(message: Uint8Array, queueOffset: number): void {
  assert(looksLikeMessage(message) && Number.isSafeInteger(queueOffset) && queueOffset >= 0, 'patchQueueOffset needs an encoded message and an offset');
  new DataView(message.buffer, message.byteOffset, message.byteLength).setBigInt64(QUEUE_OFFSET_AT, BigInt(queueOffset));
}

/** RocketMQ's offsetMsgId: uppercase hex of store ip, store port (int32) and physical offset (int64). */
export function createMessageId(storeHost: HostAddress, physicalOffset: number): string {
  const raw = Buffer.alloc(storeHost.ip.length + 4 + 8);
  raw.set(storeHost.ip, 0);
  raw.writeInt32BE(storeHost.port, storeHost.ip.length);
  raw.writeBigInt64BE(BigInt(physicalOffset), storeHost.ip.length + 4);
  return raw.toString('hex').toUpperCase();
}

/**
 * RocketMQ's MessageDecoder.decodeMessageId for an IPv4 store host: 32 hex digits = ip (4 bytes),
 * port (int32), commit-log offset (int64). A MessageFormatError names what is wrong.
 */
export function decodeMessageId(msgId: string): { readonly addr: string; readonly physicalOffset: number } {
  if (!/^[0-9A-Fa-f]{32}$/.test(msgId)) throw new MessageFormatError(`message id ${JSON.stringify(msgId)} is not 32 hex digits (IPv4 store host, port, commit-log offset)`);
  const raw = Buffer.from(msgId, 'hex');
  const offset = raw.readBigInt64BE(8);
  if (offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new MessageFormatError(`message id ${msgId}: commit-log offset ${offset} out of range`);
  return { addr: `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}:${raw.readInt32BE(4)}`, physicalOffset: Number(offset) };
}

/** Parse "a.b.c.d" into 4 bytes; a MessageFormatError otherwise. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.replace(/^::ffff:/, '').split('.');
  if (parts.length !== 4 || !parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255)) throw new MessageFormatError(`"${address}" is not an IPv4 address`);
  return Uint8Array.from(parts.map(Number));
}

/** RocketMQ's properties string: name\u0001value\u0002 for each pair (Java writes the trailing \u0002). */
export function formatMessageProperties(properties: Iterable<readonly [string, string]>): string {
  let out = '';
  for (const [name, value] of properties) {
    if (/[\u0001\u0002]/.test(name) || /[\u0001\u0002]/.test(value)) throw new MessageFormatError(`property "${name}" contains a separator character`);
    out += name + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return out;
}

/** Java's string2messageProperties: items without exactly one separator are skipped. */
export function parseMessageProperties(text: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const item of text.split(PROPERTY_SEPARATOR)) {
    const pair = item.split(NAME_VALUE_SEPARATOR);
    if (pair.length === 2) properties.set(pair[0] as string, pair[1] as string);
  }
  return properties;
}

/** java.lang.String.hashCode over UTF-16 code units: the consume queue's tagsCode. */
export function javaStringHashCode(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}
