// Offsets: QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15), GET_MAX_OFFSET (30),
// GET_MIN_OFFSET (31), SEARCH_OFFSET_BY_TIMESTAMP (29), GET_EARLIEST_MSG_STORETIME (32).
// Consumer offsets are read from the replicated state (plus commits still on their way through
// the log) and written through the log by the master.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalBoolean, optionalString, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { decodeMessage } from '../message-codec.js';
import { offsetInQueueByTime, parseBoundaryType } from '../store/offset-by-time.js';
import { GROUP_NAME_PATTERN } from '../state/commands.js';
import { TOPIC_NAME_PATTERN } from '../state/topic-config.js';
import { NOT_MASTER_REMARK } from './errors.js';

export function registerOffsetProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.QUERY_CONSUMER_OFFSET, (request) => queryConsumerOffset(context, request));
  server.registerHandler(RequestCode.UPDATE_CONSUMER_OFFSET, (request) => updateConsumerOffset(context, request));
  server.registerHandler(RequestCode.GET_MAX_OFFSET, (request) => offsetResponse(request, context.commitLog.state.maxOffset(topicOf(request), requiredInteger(request, 'queueId'))));
  server.registerHandler(RequestCode.GET_MIN_OFFSET, (request) => offsetResponse(request, context.commitLog.state.minOffset(topicOf(request), requiredInteger(request, 'queueId'))));
  server.registerHandler(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, (request) => searchOffsetByTimestamp(context, request));
  server.registerHandler(RequestCode.GET_EARLIEST_MSG_STORETIME, (request) => earliestStoreTime(context, request));
}

function topicOf(request: RemotingCommand): string {
  return requiredString(request, 'topic');
}

function offsetResponse(request: RemotingCommand, offset: number): RemotingCommand {
  return createResponse(request, ResponseCode.SUCCESS, { extFields: { offset } });
}

function queryConsumerOffset(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const group = requiredString(request, 'consumerGroup');
  const topic = topicOf(request);
  const queueId = requiredInteger(request, 'queueId');
  const offset = context.offsets.offsetOf(group, topic, queueId);
  if (offset !== null) return offsetResponse(request, offset);
  // ConsumerManageProcessor: with no stored offset, a queue whose first message is still held
  // starts a new group at 0 unless the caller asked not to.
  if (optionalBoolean(request, 'setZeroIfNotFound') !== false && context.commitLog.state.minOffset(topic, queueId) <= 0) return offsetResponse(request, 0);
  return createResponse(request, ResponseCode.QUERY_NOT_FOUND, { remark: 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first' });
}

async function updateConsumerOffset(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const group = requiredString(request, 'consumerGroup');
  const topic = topicOf(request);
  const queueId = requiredInteger(request, 'queueId');
  const commitOffset = requiredInteger(request, 'commitOffset');
  if (!GROUP_NAME_PATTERN.test(group) || !TOPIC_NAME_PATTERN.test(topic) || queueId < 0 || commitOffset < 0) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `bad offset update ${JSON.stringify({ group, topic, queueId, commitOffset })}` });
  }
  if (context.commitLog.role.role !== 'master') {
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: `${NOT_MASTER_REMARK} Consumer offsets are committed through the master (leader ${context.commitLog.role.leaderId ?? 'unknown'}).` });
  }
  const refusal = offsetCommitRefusal(context, group, topic, queueId);
  if (refusal !== null) return createResponse(request, refusal.code, { remark: refusal.remark });
  try {
    await context.offsets.commit(group, topic, queueId, commitOffset);
    return createResponse(request, ResponseCode.SUCCESS);
  } catch (error) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `offset not committed: ${(error as Error).message}` });
  }
}

/**
 * Why an offset may not be stored for (group, topic, queueId), as RocketMQ 5's
 * ConsumerManageProcessor answers (a missing topic, a queue id past readQueueNums), plus the
 * bound on the table (consumerOffsetEntriesMax: new "topic@group" entries); null if it may.
 * Before this (issue 11) offsets were stored for any queue id of any topic, existing or not.
 */
export function offsetCommitRefusal(context: BrokerContext, group: string, topic: string, queueId: number): { code: number; remark: string } | null {
  const state = context.commitLog.state;
  const topicConfig = state.topicConfig(topic);
  if (topicConfig === null) {
    context.stats.refusals.refuse('offsetForMissingTopicOrQueue', `offset of ${group} for missing topic ${topic}`);
    return { code: ResponseCode.TOPIC_NOT_EXIST, remark: `Topic ${topic} not exist!` };
  }
  if (queueId >= topicConfig.readQueueNums) {
    context.stats.refusals.refuse('offsetForMissingTopicOrQueue', `offset of ${group} for queue ${queueId} of ${topic} (${topicConfig.readQueueNums} queues)`);
    return { code: ResponseCode.SYSTEM_ERROR, remark: `QueueId ${queueId} is out of range, topic is ${topic}` };
  }
  const offsets = state.consumerOffsets();
  if (offsets.size >= context.config.consumerOffsetEntriesMax && !offsets.has(`${topic}@${group}`)) {
    const remark = `the offset table holds ${offsets.size} topic@group entries, consumerOffsetEntriesMax=${context.config.consumerOffsetEntriesMax}: ${topic}@${group} not stored`;
    context.stats.refusals.refuse('consumerOffsetEntriesMax', remark);
    return { code: ResponseCode.SYSTEM_ERROR, remark };
  }
  return null;
}

/** The store time of the message at a queue offset, or null if there is none. */
export function storeTimestampAt(context: BrokerContext, topic: string, queueId: number, offset: number): number | null {
  const [bytes] = context.commitLog.readMessages(topic, queueId, offset, 1, Number.MAX_SAFE_INTEGER);
  return bytes === undefined ? null : decodeMessage(bytes, 0, { verifyBodyCrc: false }).storeTimestampMs;
}

/** SEARCH_OFFSET_BY_TIMESTAMP: store/offset-by-time.ts (RocketMQ's getOffsetInQueueByTime), from this member's queue. */
function searchOffsetByTimestamp(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const topic = topicOf(request);
  const queueId = requiredInteger(request, 'queueId');
  const timestampMs = requiredInteger(request, 'timestamp');
  let boundary;
  try {
    boundary = parseBoundaryType(optionalString(request, 'boundaryType'));
  } catch (error) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: (error as Error).message });
  }
  const state = context.commitLog.state;
  const offset = offsetInQueueByTime(state.minOffset(topic, queueId), state.maxOffset(topic, queueId), (queueOffset) => storeTimestampAt(context, topic, queueId, queueOffset), timestampMs, boundary);
  return offsetResponse(request, offset);
}

function earliestStoreTime(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const topic = topicOf(request);
  const queueId = requiredInteger(request, 'queueId');
  const timestamp = storeTimestampAt(context, topic, queueId, context.commitLog.state.minOffset(topic, queueId));
  if (timestamp === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `no message in ${topic}-${queueId}` });
  return createResponse(request, ResponseCode.SUCCESS, { extFields: { timestamp } });
}
