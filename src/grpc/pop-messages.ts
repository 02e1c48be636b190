// What a ReceiveMessage answers with, and what the consumer sends back: a stored message as a v2
// Message (as RocketMQ's proxy converts a MessageExt: system properties from the stored fields and
// RocketMQ's system property keys, the rest as user properties, a CRC32 body digest the client
// checks), the receipt handle of one delivery, and the subscription's filter expression.
import { crc32 } from 'node:zlib';
import { GrpcRefusal } from './grpc-context.js';
import { durationOf, timestampOf, type PbFilterExpression, type PbMessage } from './messaging-proto.js';
import type { Receipt } from './pop-state.js';
import { createMessageId, parseMessageProperties, type HostAddress, type StoredMessage } from '../broker/message-codec.js';
import { TOPIC_NAME_PATTERN } from '../broker/state/topic-config.js';

/** RocketMQ's MessageConst system keys (never shown to a 5.x consumer as user properties). */
const SYSTEM_PROPERTIES = new Set([
  'TAGS', 'KEYS', 'UNIQ_KEY', 'DELAY', 'WAIT', 'REAL_TOPIC', 'REAL_QID', 'RETRY_TOPIC', 'ORIGIN_MESSAGE_ID', 'RECONSUME_TIME', 'MAX_RECONSUME_TIMES',
  'TRAN_MSG', 'PGROUP', '__SHARDINGKEY', 'TIMER_DELIVER_MS', 'TIMER_DELAY_SEC', 'TIMER_DELAY_MS', 'MIN_OFFSET', 'MAX_OFFSET', 'MSG_REGION', 'TRACE_ON',
  'CLUSTER', 'TRANSACTION_CHECK_TIMES', 'CHECK_IMMUNITY_TIME_IN_SECONDS', 'INNER_MULTI_DISPATCH', 'INNER_MULTI_QUEUE_OFFSET', 'CONSUME_START_TIME',
  'TRAN_PREPARED_QUEUE_OFFSET', 'BORNHOST', 'DLQ_ORIGIN_TOPIC', 'DLQ_ORIGIN_MESSAGE_ID', 'POP_CK', '1ST_POP_TIME',
]);

export function hostText(host: HostAddress): string {
  return `${host.ip.join('.')}:${host.port}`;
}

function messageTypeOf(properties: ReadonlyMap<string, string>): string {
  if ((properties.get('__SHARDINGKEY') ?? '') !== '') return 'FIFO';
  if (properties.get('TRAN_MSG') === 'true') return 'TRANSACTION';
  if (properties.has('TIMER_DELIVER_MS') || properties.has('DELAY')) return 'DELAY';
  return 'NORMAL';
}

/** The id a 5.x client knows the message by: its UNIQ_KEY, else the offset message id. */
export function messageIdOf(message: StoredMessage, properties: ReadonlyMap<string, string>): string {
  return properties.get('UNIQ_KEY') ?? createMessageId(message.storeHost, message.physicalOffset);
}

export function toPbMessage(message: StoredMessage, receipt: Receipt, receiptHandle: string, invisibleMs: number): PbMessage {
  const properties = parseMessageProperties(message.properties);
  const userProperties: Record<string, string> = {};
  for (const [key, value] of properties) if (!SYSTEM_PROPERTIES.has(key)) userProperties[key] = value;
  const deliverAt = Number(properties.get('TIMER_DELIVER_MS'));
  const group = properties.get('__SHARDINGKEY') ?? '';
  const keys = (properties.get('KEYS') ?? '').split(' ').filter((k) => k !== '');
  return {
    topic: { name: message.topic, resourceNamespace: '' },
    userProperties,
    systemProperties: {
      tag: properties.get('TAGS') ?? null,
      keys,
      messageId: messageIdOf(message, properties),
      bodyDigest: { type: 'CRC32', checksum: String(crc32(message.body) >>> 0) },
      bodyEncoding: 'IDENTITY',
      messageType: messageTypeOf(properties),
      bornTimestamp: timestampOf(message.bornTimestampMs),
      bornHost: hostText(message.bornHost),
      storeTimestamp: timestampOf(message.storeTimestampMs),
      storeHost: hostText(message.storeHost),
      deliveryTimestamp: Number.isSafeInteger(deliverAt) && deliverAt > 0 ? timestampOf(deliverAt) : null,
      receiptHandle,
      queueId: message.queueId,
      queueOffset: message.queueOffset,
      invisibleDuration: durationOf(invisibleMs),
      deliveryAttempt: receipt.attempt,
      messageGroup: group === '' ? null : group,
    },
    body: Buffer.from(message.body),
  };
}

// ---------------------------------------------------------------- receipt handles

/** "topic queueId offset attempt visibleAtMs" (opaque to clients; RocketMQ's is ExtraInfoUtil's space-separated fields). */
export function encodeReceiptHandle(receipt: Receipt): string {
  return `${receipt.topic} ${receipt.queueId} ${receipt.offset} ${receipt.attempt} ${receipt.visibleAtMs}`;
}

/** The receipt a handle names; INVALID_RECEIPT_HANDLE when it is not one of ours or not for `topic`. */
export function decodeReceiptHandle(handle: unknown, topic: string): Receipt {
  const parts = typeof handle === 'string' && handle.length <= 256 ? handle.split(' ') : [];
  const [name, ...numbers] = parts;
  const [queueId, offset, attempt, visibleAtMs] = numbers.map((n) => (/^[0-9]{1,16}$/.test(n) ? Number(n) : -1));
  if (parts.length !== 5 || name === undefined || !TOPIC_NAME_PATTERN.test(name) || [queueId, offset, visibleAtMs].some((n) => n === undefined || n < 0) || attempt === undefined || attempt < 1) {
    throw new GrpcRefusal('INVALID_RECEIPT_HANDLE', `receipt handle ${JSON.stringify(String(handle).slice(0, 100))} is not one this broker gave`);
  }
  if (name !== topic) throw new GrpcRefusal('INVALID_RECEIPT_HANDLE', `the receipt handle is for topic ${name}, not ${topic}`);
  return { topic: name, queueId: queueId as number, offset: offset as number, attempt, visibleAtMs: visibleAtMs as number };
}

// ---------------------------------------------------------------- filters

/** A tag filter: null = every message; else the tags accepted. */
export type TagFilter = ReadonlySet<string> | null;

/** The subscription's expression (TAG: "*", "" or "a || b"); SQL92 is not supported here. */
export function parseFilter(expression: PbFilterExpression | null | undefined): TagFilter {
  const type = expression?.type ?? 'TAG';
  const text = (expression?.expression ?? '').trim();
  if (type === 'SQL') throw new GrpcRefusal('UNSUPPORTED', 'SQL92 filter expressions are not supported by this broker (use TAG)');
  if (type !== 'TAG' && type !== 'FILTER_TYPE_UNSPECIFIED') throw new GrpcRefusal('ILLEGAL_FILTER_EXPRESSION', `filter type ${type} is unknown`);
  if (text === '' || text === '*') return null;
  if (text.length > 4096) throw new GrpcRefusal('ILLEGAL_FILTER_EXPRESSION', 'the filter expression is longer than 4096 characters');
  const tags = text.split('||').map((tag) => tag.trim()).filter((tag) => tag !== '');
  if (tags.length === 0) throw new GrpcRefusal('ILLEGAL_FILTER_EXPRESSION', `filter expression ${JSON.stringify(text.slice(0, 100))} names no tag`);
  return new Set(tags);
}

export function matches(filter: TagFilter, properties: ReadonlyMap<string, string>): boolean {
  return filter === null || filter.has(properties.get('TAGS') ?? '');
}
