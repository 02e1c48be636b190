// SEND_MESSAGE (10), SEND_MESSAGE_V2 (310, the same header with one-letter field names) and
// SEND_BATCH_MESSAGE (320): validate as SendMessageProcessor.msgCheck does, store through the
// DLedger commit log (master only), and answer after the quorum commit with msgId, queueId and
// queueOffset. A follower (or a leader still applying its log) answers SERVICE_NOT_AVAILABLE,
// as a RocketMQ slave does for a put.
import { diskFullRemark } from '../disk-util.js';
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import type { RemotingConnection } from '../../remoting/connection.js';
import { ExtFieldError } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { newTopicRefusal } from './admin.js';
import type { MessageToPut } from '../dledger-commit-log.js';
import { decodeMessageBatch, MessageBatchError } from '../message-batch.js';
import { ipv4Bytes, MessageFormatError, PROPERTIES_MAX_BYTES, type HostAddress } from '../message-codec.js';
import { SCHEDULE_TOPIC, scheduleIfDelayed } from '../schedule/delay-levels.js';
import { BROKER_STATE_TOPIC } from '../state/commands.js';
import { isWriteable, PERM_READ_WRITE, TOPIC_NAME_PATTERN, type TopicConfig } from '../state/topic-config.js';
import { NOT_MASTER_REMARK, putFailureResponse } from './errors.js';
import { TransactionRefusal } from '../transaction/transaction-service.js';
import { CHECK_MAX_TIME_TOPIC, HALF_TOPIC, OP_HALF_TOPIC, TRANSACTION_TYPE_MASK } from '../transaction/transaction-state.js';
import { parseMessageProperties } from '../message-codec.js';

/** SEND_MESSAGE_V2's one-letter names (SendMessageRequestHeaderV2). */
const V2_NAMES: Readonly<Record<string, string>> = {
  producerGroup: 'a', topic: 'b', defaultTopic: 'c', defaultTopicQueueNums: 'd', queueId: 'e', sysFlag: 'f',
  bornTimestamp: 'g', flag: 'h', properties: 'i', reconsumeTimes: 'j', unitMode: 'k', maxReconsumeTimes: 'l', batch: 'm',
};

export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';

interface SendHeader {
  readonly producerGroup: string;
  readonly topic: string;
  readonly queueId: number;
  readonly sysFlag: number;
  readonly bornTimestampMs: number;
  readonly flag: number;
  readonly properties: string;
  readonly reconsumeTimes: number;
}

function sendHeaderOf(request: RemotingCommand): SendHeader {
  const v2 = request.code !== RequestCode.SEND_MESSAGE;
  const raw = (name: string): string | null => {
    const key = v2 ? (V2_NAMES[name] as string) : name;
    return Object.hasOwn(request.extFields, key) ? (request.extFields[key] as string) : null;
  };
  const required = (name: string): string => {
    const value = raw(name);
    if (value === null) throw new ExtFieldError(`the request header field "${v2 ? V2_NAMES[name] : name}" (${name}) is required (request code ${request.code})`);
    return value;
  };
  const integer = (name: string, text: string | null, fallback: number): number => {
    if (text === null) return fallback;
    const n = Number(text.trim());
    if (!/^[+-]?[0-9]+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new ExtFieldError(`the request header field "${name}" is ${JSON.stringify(text)}, expected an integer`);
    return n;
  };
  required('defaultTopic');
  return {
    producerGroup: required('producerGroup'),
    topic: required('topic'),
    queueId: integer('queueId', required('queueId'), 0),
    sysFlag: integer('sysFlag', required('sysFlag'), 0),
    bornTimestampMs: integer('bornTimestamp', required('bornTimestamp'), 0),
    flag: integer('flag', required('flag'), 0),
    properties: raw('properties') ?? '',
    reconsumeTimes: integer('reconsumeTimes', raw('reconsumeTimes'), 0),
  };
}

/** The connection's peer as a stored-message host (IPv4; other families are stored as 0.0.0.0). */
export function bornHostOf(connection: RemotingConnection): HostAddress {
  const colon = connection.remoteAddress.lastIndexOf(':');
  const port = Number(connection.remoteAddress.slice(colon + 1)) || 0;
  try {
    return { ip: ipv4Bytes(connection.remoteAddress.slice(0, colon)), port };
  } catch (error) {
    if (!(error instanceof MessageFormatError)) throw error;
    return { ip: new Uint8Array(4), port };
  }
}

export function registerSendProcessors(server: RemotingServer, context: BrokerContext): void {
  const handler = (request: RemotingCommand, connection: RemotingConnection): Promise<RemotingCommand> => send(context, request, connection);
  server.registerHandler(RequestCode.SEND_MESSAGE, handler);
  server.registerHandler(RequestCode.SEND_MESSAGE_V2, handler);
  server.registerHandler(RequestCode.SEND_BATCH_MESSAGE, handler);
}

async function send(context: BrokerContext, request: RemotingCommand, connection: RemotingConnection): Promise<RemotingCommand> {
  const header = sendHeaderOf(request);
  const { topic } = header;
  if (!TOPIC_NAME_PATTERN.test(topic)) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `The specified topic[${topic}] contains illegal characters or is longer than 127, allowing only ^[%|a-zA-Z0-9_-]+$` });
  }
  if (topic === BROKER_STATE_TOPIC || topic === SCHEDULE_TOPIC || topic === HALF_TOPIC || topic === OP_HALF_TOPIC || topic === CHECK_MAX_TIME_TOPIC) return createResponse(request, ResponseCode.NO_PERMISSION, { remark: `Sending message to topic[${topic}] is forbidden.` });
  if (!context.commitLog.isWritable()) {
    const role = context.commitLog.role;
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: `${NOT_MASTER_REMARK} (${context.config.dLegerSelfId} is ${role.role}, leader ${role.leaderId ?? 'unknown'})` });
  }
  // The disk is over diskSpaceWarningLevelRatio: refused until retention brings it back (RocketMQ's runningFlags disk full).
  const disk = context.commitLog.retentionStats();
  if (disk !== null && disk.diskFull) return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: diskFullRemark(disk.diskUsageRatio, context.config.storePathRootDir) });
  let topicConfig = context.commitLog.state.topicConfig(topic);
  if (topicConfig === null && topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) {
    try {
      topicConfig = await createRetryTopic(context, topic);
    } catch (error) {
      return putFailureResponse(request, error);
    }
  }
  if (topicConfig === null) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, { remark: `topic[${topic}] not exist, apply first please!` });
  if (!isWriteable(topicConfig.perm)) return createResponse(request, ResponseCode.NO_PERMISSION, { remark: `the topic[${topic}] sending is forbidden` });
  let queueId = header.queueId;
  if (queueId < 0) queueId = Math.floor(Math.random() * topicConfig.writeQueueNums);
  if (queueId >= Math.max(topicConfig.writeQueueNums, topicConfig.readQueueNums)) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `request queueId[${queueId}] is illegal, ${JSON.stringify(topicConfig)} Producer: ${connection.remoteAddress}` });
  }
  const body = request.body ?? Buffer.alloc(0);
  if (body.length > context.config.maxMessageSize) {
    return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: `the message body size ${body.length} is over the limit ${context.config.maxMessageSize}` });
  }
  const bornHost = bornHostOf(connection);
  // SendMessageProcessor: TRAN_MSG=true makes a half message (not for a retry with a delay level);
  // a transaction type a client sets otherwise is cleared: only the broker writes COMMIT messages.
  const sendProperties = parseMessageProperties(header.properties);
  const prepared = sendProperties.get('TRAN_MSG')?.toLowerCase() === 'true' && !(header.reconsumeTimes > 0 && Number(sendProperties.get('DELAY') ?? 0) > 0);
  const sysFlag = header.sysFlag & ~TRANSACTION_TYPE_MASK;
  if (prepared) {
    if (request.code === RequestCode.SEND_BATCH_MESSAGE) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: 'batch message does not support transaction' });
    if (Buffer.byteLength(header.properties, 'utf8') > PROPERTIES_MAX_BYTES - 64) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: `the message properties are longer than ${PROPERTIES_MAX_BYTES - 64} bytes (a half message adds REAL_TOPIC, REAL_QID)` });
    try {
      const result = await context.transactions.prepare({ topic, queueId, flag: header.flag, sysFlag, bornTimestampMs: header.bornTimestampMs, bornHost, reconsumeTimes: header.reconsumeTimes, body, properties: header.properties }, header.producerGroup);
      context.stats.messagesPut++;
      context.stats.putRate.add(1);
      return createResponse(request, ResponseCode.SUCCESS, {
        extFields: { msgId: result.msgId, queueId, queueOffset: result.queueOffset, transactionId: sendProperties.get('UNIQ_KEY') ?? result.msgId, MSG_REGION: 'DefaultRegion', TRACE_ON: 'true' },
      });
    } catch (error) {
      if (error instanceof TransactionRefusal) return createResponse(request, ResponseCode.NO_PERMISSION, { remark: error.message });
      return putFailureResponse(request, error);
    }
  }
  let messages: MessageToPut[];
  if (request.code === RequestCode.SEND_BATCH_MESSAGE) {
    try {
      messages = decodeMessageBatch(body).map((inner) => ({ topic, queueId, flag: inner.flag, sysFlag, bornTimestampMs: header.bornTimestampMs, bornHost, reconsumeTimes: header.reconsumeTimes, body: inner.body, properties: inner.properties }));
    } catch (error) {
      if (!(error instanceof MessageBatchError)) throw error;
      return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: error.message });
    }
    if (messages.length === 0) return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: 'the batch holds no message' });
  } else {
    // A DELAY level parks the message in SCHEDULE_TOPIC_XXXX until it is due (batches are not delayed, as in RocketMQ).
    messages = [scheduleIfDelayed({ topic, queueId, flag: header.flag, sysFlag, bornTimestampMs: header.bornTimestampMs, bornHost, reconsumeTimes: header.reconsumeTimes, body, properties: header.properties }, context.config.messageDelayLevelsMs.length)];
  }
  for (const message of messages) {
    if (Buffer.byteLength(message.properties, 'utf8') > PROPERTIES_MAX_BYTES) {
      return createResponse(request, ResponseCode.MESSAGE_ILLEGAL, { remark: `the message properties are longer than ${PROPERTIES_MAX_BYTES} bytes` });
    }
  }
  try {
    const results = await context.commitLog.putMessages(messages);
    context.stats.messagesPut += results.length;
    context.stats.putRate.add(results.length);
    context.stats.metrics?.recordPut(messages);
    const first = results[0];
    return createResponse(request, ResponseCode.SUCCESS, {
      // queueId is the one asked for even when the message was scheduled (SendMessageProcessor does the same).
      extFields: { msgId: results.map((r) => r.msgId).join(','), queueId, queueOffset: first?.queueOffset, MSG_REGION: 'DefaultRegion', TRACE_ON: 'true' },
    });
  } catch (error) {
    return putFailureResponse(request, error);
  }
}

/**
 * %RETRY%<group> topics are created on first use with one read-write queue, as RocketMQ does;
 * null when topicsMax refuses a new topic (counted and logged there).
 */
export async function createRetryTopic(context: BrokerContext, topic: string): Promise<TopicConfig | null> {
  if (newTopicRefusal(context, topic) !== null) return null;
  const config: TopicConfig = { topicName: topic, readQueueNums: 1, writeQueueNums: 1, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} };
  await context.commitLog.proposeCommand({ type: 'upsertTopic', topic: config });
  return context.commitLog.state.topicConfig(topic) ?? config;
}
