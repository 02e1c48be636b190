// SendMessage: the v2 messages of one request, checked as RocketMQ's proxy and broker do, stored
// as RocketMQ stored messages through the DLedger commit log (master only):
//  - the properties a 4.x consumer reads: TAGS, KEYS (space-separated), UNIQ_KEY = the client's
//    message id, the user properties (system property names refused), __SHARDINGKEY = the FIFO
//    message group;
//  - the queue: for a message group Guava's consistent hash of its hashCode over the write queues
//    (queue-selection.ts), else round-robin;
//  - a delivery timestamp parks the message in SCHEDULE_TOPIC_XXXX at the shortest delay level
//    that reaches it, with TIMER_DELIVER_MS = the timestamp: the schedule service delivers it at
//    that time (never before; schedule-service.ts), so delays are exact up to the tick (100 ms);
//    one beyond the longest level is refused (ILLEGAL_DELIVERY_TIME);
//  - the message type must be one the topic accepts (its message.type attribute).
// The answer's message_id is the client's id (as the proxy answers), offset the queue offset.
import { PutMessageError, type MessageToPut } from '../broker/dledger-commit-log.js';
import { TransactionRefusal } from '../broker/transaction/transaction-service.js';
import { formatMessageProperties, ipv4Bytes, PROPERTIES_MAX_BYTES, type HostAddress } from '../broker/message-codec.js';
import { SCHEDULE_TOPIC, scheduleIfDelayed } from '../broker/schedule/delay-levels.js';
import { BROKER_STATE_TOPIC } from '../broker/state/commands.js';
import { isWriteable } from '../broker/state/topic-config.js';
import { GrpcRefusal, masterEndpoint, type GrpcContext } from './grpc-context.js';
import { durationMs, status, timestampMs, type PbMessage, type PbStatus } from './messaging-proto.js';
import { queueOfMessageGroup } from './queue-selection.js';
import { acceptedMessageTypes, existingTopic, resourceName } from './route-service.js';

/** Property names a client may not set (MessageConst.STRING_HASH_SET, the ones that matter here). */
const RESERVED_PROPERTIES = new Set([
  'TAGS', 'KEYS', 'UNIQ_KEY', 'DELAY', 'REAL_TOPIC', 'REAL_QID', 'RETRY_TOPIC', 'ORIGIN_MESSAGE_ID', 'RECONSUME_TIME', 'MAX_RECONSUME_TIMES',
  'TRAN_MSG', 'PGROUP', '__SHARDINGKEY', 'TIMER_DELIVER_MS', 'TIMER_DELAY_SEC', 'TIMER_DELAY_MS', 'MIN_OFFSET', 'MAX_OFFSET', 'WAIT', 'MSG_REGION', 'TRACE_ON',
  'CLUSTER', 'TRANSACTION_CHECK_TIMES', 'CHECK_IMMUNITY_TIME_IN_SECONDS', 'INNER_MULTI_DISPATCH', 'INNER_MULTI_QUEUE_OFFSET',
]);
/** Message ids, tags, keys and groups at most this many characters (RocketMQ 5: group 64, tag 128...). */
const MESSAGE_GROUP_MAX_LENGTH = 64;
const TAG_MAX_LENGTH = 128;
const MESSAGES_PER_REQUEST_MAX = 1024;
export const TIMER_DELIVER_MS = 'TIMER_DELIVER_MS';
export const SHARDING_KEY = '__SHARDINGKEY';

/** The peer of a call ("ipv4:1.2.3.4:5", "1.2.3.4:5", "[::1]:5") as a stored-message host. */
export function bornHostOfPeer(peer: string): HostAddress {
  const text = peer.replace(/^ipv[46]:/, '');
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1)) || 0;
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:/, '');
  try {
    return { ip: ipv4Bytes(host), port };
  } catch {
    return { ip: new Uint8Array(4), port };
  }
}

interface Converted {
  readonly put: MessageToPut;
  readonly messageId: string;
}

let roundRobin = 0;

function typeOf(message: PbMessage): string {
  const sys = message.systemProperties;
  if (sys.messageType !== 'MESSAGE_TYPE_UNSPECIFIED') return sys.messageType;
  if ((sys.messageGroup ?? '') !== '') return 'FIFO';
  if (sys.deliveryTimestamp !== null && sys.deliveryTimestamp !== undefined) return 'DELAY';
  return 'NORMAL';
}

function convert(context: GrpcContext, message: PbMessage, topicName: string, queueId: number, bornHost: HostAddress, nowMs: number): Converted {
  const sys = message.systemProperties;
  const config = context.broker.config;
  if (message.body.length === 0) throw new GrpcRefusal('MESSAGE_BODY_EMPTY', 'the message body is empty');
  if (message.body.length > config.maxMessageSize) throw new GrpcRefusal('MESSAGE_BODY_TOO_LARGE', `the message body size ${message.body.length} is over the limit ${config.maxMessageSize} (maxMessageSize)`);
  if (sys.bodyEncoding === 'GZIP') throw new GrpcRefusal('UNSUPPORTED', 'GZIP-encoded bodies are not stored by this broker');
  if (!/^[0-9A-Fa-f]{1,64}$/.test(sys.messageId)) throw new GrpcRefusal('ILLEGAL_MESSAGE_ID', `message id ${JSON.stringify(sys.messageId.slice(0, 80))} is not 1-64 hex digits`);
  const properties = new Map<string, string>();
  for (const [key, value] of Object.entries(message.userProperties)) {
    if (RESERVED_PROPERTIES.has(key) || !/^[A-Za-z0-9_.-]{1,128}$/.test(key) || /[\u0001\u0002]/.test(value)) throw new GrpcRefusal('ILLEGAL_MESSAGE_PROPERTY_KEY', `user property ${JSON.stringify(key.slice(0, 80))} is reserved or malformed`);
    properties.set(key, value);
  }
  const tag = sys.tag ?? '';
  if (tag !== '') {
    if (tag.length > TAG_MAX_LENGTH || /[|\u0001\u0002]/.test(tag) || tag.trim() === '') throw new GrpcRefusal('ILLEGAL_MESSAGE_TAG', `tag ${JSON.stringify(tag.slice(0, 80))} is illegal`);
    properties.set('TAGS', tag);
  }
  if (sys.keys.length > 0) {
    if (sys.keys.some((k) => k.trim() === '' || /[ \u0001\u0002]/.test(k))) throw new GrpcRefusal('ILLEGAL_MESSAGE_KEY', 'a message key is blank or holds a space');
    properties.set('KEYS', sys.keys.join(' '));
  }
  properties.set('UNIQ_KEY', sys.messageId.toUpperCase());
  const group = sys.messageGroup ?? '';
  if (group !== '') {
    if (group.length > MESSAGE_GROUP_MAX_LENGTH || /[\u0001\u0002]/.test(group)) throw new GrpcRefusal('ILLEGAL_MESSAGE_GROUP', `message group ${JSON.stringify(group.slice(0, 80))} is longer than ${MESSAGE_GROUP_MAX_LENGTH} or malformed`);
    properties.set(SHARDING_KEY, group);
  }
  // The proxy's mapping: a transaction's orphanedTransactionRecoveryDuration is its first check's delay.
  const recoveryMs = sys.messageType === 'TRANSACTION' ? durationMs(sys.orphanedTransactionRecoveryDuration) : null;
  if (recoveryMs !== null && recoveryMs > 0) properties.set('CHECK_IMMUNITY_TIME_IN_SECONDS', String(Math.ceil(recoveryMs / 1000)));
  const deliverAtMs = timestampMs(sys.deliveryTimestamp);
  if (deliverAtMs !== null) {
    const levels = config.messageDelayLevelsMs;
    const delayMs = deliverAtMs - nowMs;
    if (delayMs > (levels[levels.length - 1] as number)) throw new GrpcRefusal('ILLEGAL_DELIVERY_TIME', `delivery timestamp ${new Date(deliverAtMs).toISOString()} is more than the longest delay level (${levels[levels.length - 1]} ms, messageDelayLevel) away`);
    if (delayMs > 0) {
      const level = levels.findIndex((ms) => ms >= delayMs) + 1;
      properties.set('DELAY', String(level));
      properties.set(TIMER_DELIVER_MS, String(deliverAtMs));
    }
  }
  const put = scheduleIfDelayed({
    topic: topicName, queueId, flag: 0, sysFlag: 0,
    bornTimestampMs: timestampMs(sys.bornTimestamp) ?? nowMs, bornHost, reconsumeTimes: 0, body: message.body,
    properties: formatMessageProperties(properties),
  }, config.messageDelayLevelsMs.length);
  if (Buffer.byteLength(put.properties, 'utf8') > PROPERTIES_MAX_BYTES) throw new GrpcRefusal('MESSAGE_PROPERTIES_TOO_LARGE', `the message properties are longer than ${PROPERTIES_MAX_BYTES} bytes`);
  return { put, messageId: sys.messageId.toUpperCase() };
}

/**
 * Transactional messages: each stored as a half message (transaction-service.ts); its
 * transactionId is the half message's offset message id, which EndTransaction names.
 */
async function sendHalfMessages(context: GrpcContext, converted: readonly Converted[]): Promise<Record<string, unknown>> {
  const entries = [];
  for (const c of converted) {
    try {
      const result = await context.broker.transactions.prepare(c.put, null);
      context.broker.stats.messagesPut++;
      context.broker.stats.putRate.add(1);
      entries.push({ status: status('OK', 'OK'), messageId: c.messageId, transactionId: result.msgId, offset: result.queueOffset, recallHandle: '' });
    } catch (error) {
      const failure = error instanceof TransactionRefusal ? status('FORBIDDEN', error.message) : putFailureStatus(error, context);
      entries.push({ status: failure, messageId: c.messageId, transactionId: '', offset: 0, recallHandle: '' });
    }
  }
  const failed = entries.find((e) => e.status.code !== 'OK');
  return { status: failed?.status ?? status('OK', 'OK'), entries };
}

/** A put failure as the Status the proxy answers. */
export function putFailureStatus(error: unknown, context: GrpcContext): PbStatus {
  if (!(error instanceof PutMessageError)) throw error;
  switch (error.status) {
    case 'SERVICE_NOT_AVAILABLE':
      return status('INTERNAL_SERVER_ERROR', `not the master: ${error.message}; the master serves gRPC at ${masterEndpoint(context) ?? 'an unknown endpoint'} (query the route again)`);
    case 'IN_SYNC_REPLICAS_NOT_ENOUGH':
      return status('SLAVE_PERSISTENCE_TIMEOUT', `in-sync replicas not enough, the outcome is unknown: ${error.message}`);
    case 'OS_PAGE_CACHE_BUSY':
      return status('TOO_MANY_REQUESTS', `broker busy, start flow control for a while: ${error.message}`);
    case 'MESSAGE_ILLEGAL':
      return status('BAD_REQUEST', error.message);
    case 'UNKNOWN_ERROR':
      return status('INTERNAL_SERVER_ERROR', `UNKNOWN_ERROR: ${error.message}`);
  }
}

export async function sendMessage(context: GrpcContext, request: Record<string, unknown>, peer: string): Promise<Record<string, unknown>> {
  const messages = (request['messages'] ?? []) as PbMessage[];
  if (messages.length === 0) throw new GrpcRefusal('BAD_REQUEST', 'SendMessageRequest holds no message');
  if (messages.length > MESSAGES_PER_REQUEST_MAX) throw new GrpcRefusal('BAD_REQUEST', `SendMessageRequest holds ${messages.length} messages, at most ${MESSAGES_PER_REQUEST_MAX}`);
  const topicName = resourceName(messages[0]?.topic, 'topic', 'ILLEGAL_TOPIC');
  if (messages.some((m) => m.topic?.name !== topicName)) throw new GrpcRefusal('BAD_REQUEST', "the messages' topics differ");
  if (topicName === BROKER_STATE_TOPIC || topicName === SCHEDULE_TOPIC || topicName.startsWith('RMQ_SYS_')) throw new GrpcRefusal('FORBIDDEN', `Sending message to topic[${topicName}] is forbidden.`);
  const topic = existingTopic(context, topicName);
  if (!isWriteable(topic.perm) || topic.writeQueueNums === 0) throw new GrpcRefusal('FORBIDDEN', `the topic[${topicName}] sending is forbidden`);
  const types = new Set(messages.map(typeOf));
  const groups = new Set(messages.map((m) => m.systemProperties.messageGroup ?? ''));
  if (types.size > 1 || groups.size > 1) throw new GrpcRefusal('BAD_REQUEST', 'the messages of one request must have one type and one message group');
  const type = [...types][0] as string;
  if (type === 'TRANSACTION' && messages.some((m) => (m.systemProperties.messageGroup ?? '') !== '' || timestampMs(m.systemProperties.deliveryTimestamp) !== null)) {
    throw new GrpcRefusal('MESSAGE_PROPERTY_CONFLICT_WITH_TYPE', 'a transactional message has no message group and no delivery timestamp');
  }
  if (!acceptedMessageTypes(topic).includes(type)) {
    throw new GrpcRefusal('MESSAGE_PROPERTY_CONFLICT_WITH_TYPE', `topic ${topicName} accepts ${acceptedMessageTypes(topic).join('/')} messages (its message.type attribute), not ${type}`);
  }
  const commitLog = context.broker.commitLog;
  if (!commitLog.isWritable()) {
    const role = commitLog.role;
    return { status: status('INTERNAL_SERVER_ERROR', `not the master (${context.broker.config.dLegerSelfId} is ${role.role}, leader ${role.leaderId ?? 'unknown'}); the master serves gRPC at ${masterEndpoint(context) ?? 'an unknown endpoint'}`), entries: [] };
  }
  const disk = commitLog.retentionStats();
  if (disk !== null && disk.diskFull) return { status: status('INTERNAL_SERVER_ERROR', 'the broker disk is full (diskSpaceWarningLevelRatio): sends are refused until retention frees space'), entries: [] };
  const group = [...groups][0] as string;
  const queueId = group !== '' ? queueOfMessageGroup(group, topic.writeQueueNums) : (roundRobin++ & 0x7fffffff) % topic.writeQueueNums;
  const bornHost = bornHostOfPeer(peer);
  const nowMs = Date.now();
  const converted = messages.map((m) => convert(context, m, topicName, queueId, bornHost, nowMs));
  const first = converted[0]?.put;
  if (converted.some((c) => c.put.topic !== first?.topic || c.put.queueId !== first.queueId)) throw new GrpcRefusal('BAD_REQUEST', 'delayed messages of one request must have delays of one delay level');
  try {
    if (type === 'TRANSACTION') return await sendHalfMessages(context, converted);
    const results = await commitLog.putMessages(converted.map((c) => c.put));
    context.broker.stats.messagesPut += results.length;
    context.broker.stats.putRate.add(results.length);
    context.broker.stats.metrics?.recordPut(converted.map((c) => c.put));
    return {
      status: status('OK', 'OK'),
      entries: results.map((result, i) => ({ status: status('OK', 'OK'), messageId: converted[i]?.messageId ?? '', transactionId: '', offset: result.queueOffset, recallHandle: '' })),
    };
  } catch (error) {
    const failure = putFailureStatus(error, context);
    return { status: failure, entries: converted.map((c) => ({ status: failure, messageId: c.messageId, transactionId: '', offset: 0, recallHandle: '' })) };
  }
}
