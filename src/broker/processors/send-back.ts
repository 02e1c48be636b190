// CONSUMER_SEND_MSG_BACK (36): a consumer could not process a message; the broker re-puts it into
// %RETRY%<group> (RETRY_TOPIC and ORIGIN_MESSAGE_ID set, RECONSUMETIMES + 1), or into %DLQ%<group>
// once it has been retried maxReconsumeTimes times or the consumer asks (delayLevel < 0). A retry
// waits its delay level (delayLevel, or 3 + reconsumeTimes when 0: 10 s, 30 s, 1 m, ... with the
// default messageDelayLevel) in SCHEDULE_TOPIC_XXXX before it reaches the retry topic.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalInteger, optionalString, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { createMessageId, decodeMessage, formatMessageProperties, parseMessageProperties } from '../message-codec.js';
import { scheduleIfDelayed } from '../schedule/delay-levels.js';
import { GROUP_NAME_PATTERN } from '../state/commands.js';
import { Perm, type TopicConfig } from '../state/topic-config.js';
import { NOT_MASTER_REMARK, putFailureResponse } from './errors.js';
import { newTopicRefusal } from './admin.js';
import { createRetryTopic, RETRY_GROUP_TOPIC_PREFIX } from './send.js';

export const DLQ_GROUP_TOPIC_PREFIX = '%DLQ%';
const MAX_RECONSUME_TIMES_DEFAULT = 16;

export function registerSendBackProcessor(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.CONSUMER_SEND_MSG_BACK, (request) => sendBack(context, request));
}

async function sendBack(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const physicalOffset = requiredInteger(request, 'offset');
  const group = requiredString(request, 'group');
  const delayLevel = requiredInteger(request, 'delayLevel');
  const originMsgId = optionalString(request, 'originMsgId');
  const maxReconsumeTimes = optionalInteger(request, 'maxReconsumeTimes') ?? MAX_RECONSUME_TIMES_DEFAULT;
  if (!GROUP_NAME_PATTERN.test(group) || `${DLQ_GROUP_TOPIC_PREFIX}${group}`.length > 127) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `group ${JSON.stringify(group)} cannot have a retry topic` });
  }
  if (!context.commitLog.isWritable()) return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: NOT_MASTER_REMARK });
  const stored = context.commitLog.readByPhysicalOffset(physicalOffset);
  if (stored === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `look message by offset failed, ${physicalOffset}` });
  const original = decodeMessage(stored, 0, { verifyBodyCrc: false });
  const properties = parseMessageProperties(original.properties);
  if (!properties.has('RETRY_TOPIC')) properties.set('RETRY_TOPIC', original.topic);
  properties.delete('DELAY'); // a delayed original's level must not delay its retries
  properties.set('ORIGIN_MESSAGE_ID', originMsgId !== null && originMsgId !== '' ? originMsgId : createMessageId(original.storeHost, original.physicalOffset));
  const reconsumeTimes = original.reconsumeTimes + 1;
  const toDlq = delayLevel < 0 || original.reconsumeTimes >= maxReconsumeTimes;
  const topic = `${toDlq ? DLQ_GROUP_TOPIC_PREFIX : RETRY_GROUP_TOPIC_PREFIX}${group}`;
  if (!toDlq) properties.set('DELAY', String(delayLevel === 0 ? 3 + original.reconsumeTimes : delayLevel));
  try {
    if (context.commitLog.state.topicConfig(topic) === null) {
      const refusal = newTopicRefusal(context, topic);
      if (refusal !== null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: refusal });
      if (toDlq) await createDlqTopic(context, topic);
      else await createRetryTopic(context, topic);
    }
    await context.commitLog.putMessages([scheduleIfDelayed({
      topic,
      queueId: 0,
      flag: original.flag,
      sysFlag: original.sysFlag,
      bornTimestampMs: original.bornTimestampMs,
      bornHost: original.bornHost,
      reconsumeTimes,
      body: original.body,
      properties: formatMessageProperties(properties),
    }, context.config.messageDelayLevelsMs.length)]);
  } catch (error) {
    return putFailureResponse(request, error);
  }
  return createResponse(request, ResponseCode.SUCCESS);
}

/** RocketMQ's DLQ topics: one queue, write-only (nobody consumes them by default). */
export async function createDlqTopic(context: BrokerContext, topic: string): Promise<void> {
  const config: TopicConfig = { topicName: topic, readQueueNums: 1, writeQueueNums: 1, perm: Perm.WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} };
  await context.commitLog.proposeCommand({ type: 'upsertTopic', topic: config });
}
