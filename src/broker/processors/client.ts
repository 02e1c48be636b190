// Client bookkeeping: HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38).
// A consumer group's heartbeat also creates its %RETRY%<group> topic on the master (ali-ons
// subscribes to it and reports an error every 30 s while it does not exist).
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import type { RemotingConnection } from '../../remoting/connection.js';
import { optionalString, requiredString } from '../../remoting/ext-fields.js';
import { readJson, RocketMqJsonError, SCALAR, type JsonShape } from '../../remoting/json-reader.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import type { ConsumerGroupMode, Subscription } from '../consumer-manager.js';
import { GROUP_NAME_PATTERN } from '../state/commands.js';
import { TOPIC_NAME_PATTERN } from '../state/topic-config.js';
import { createRetryTopic, RETRY_GROUP_TOPIC_PREFIX } from './send.js';

export function registerClientProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.HEART_BEAT, (request, connection) => heartbeat(context, request, connection));
  server.registerHandler(RequestCode.UNREGISTER_CLIENT, (request) => unregisterClient(context, request));
  server.registerHandler(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (request) => consumerList(context, request));
  server.onConnectionClosed((connection) => {
    context.consumers.onConnectionClosed(connection.id);
    context.producers.onConnectionClosed(connection.id);
  });
}

interface ConsumerData {
  readonly groupName: string;
  readonly subscriptions: Subscription[];
  /** consumeType, messageModel, consumeFromWhere (GET_CONSUMER_CONNECTION_LIST shows them). */
  readonly mode: ConsumerGroupMode;
}

/** Enum names a heartbeat may carry (anything else is shown as the default). */
const ENUM_NAME = /^[A-Z_]{1,64}$/;

/**
 * What a heartbeat handler reads of HeartbeatData; the rest (producerDataSet, tagsSet, codeSet,
 * anything unknown) is checked and skipped, never built (json-reader.ts).
 */
export const HEARTBEAT_SHAPE: JsonShape = {
  kind: 'object',
  fields: {
    clientID: SCALAR,
    producerDataSet: { kind: 'array', items: { kind: 'object', fields: { groupName: SCALAR } } },
    consumerDataSet: {
      kind: 'array',
      items: { kind: 'object', fields: { groupName: SCALAR, consumeType: SCALAR, messageModel: SCALAR, consumeFromWhere: SCALAR, subscriptionDataSet: { kind: 'array', items: { kind: 'object', fields: { topic: SCALAR, subString: SCALAR } } } } },
    },
  },
};

/** The consumer part of HeartbeatData; a HeartbeatError names what is malformed. */
function parseHeartbeat(body: Buffer | null): { clientId: string; consumers: ConsumerData[]; producerGroups: string[] } {
  if (body === null) throw new HeartbeatError('HEART_BEAT without a body');
  let value: unknown;
  try {
    value = readJson(body, HEARTBEAT_SHAPE);
  } catch (error) {
    if (error instanceof RocketMqJsonError) throw new HeartbeatError(error.message);
    throw error;
  }
  if (typeof value !== 'object' || value === null) throw new HeartbeatError('HeartbeatData is not a JSON object');
  const v = value as Record<string, unknown>;
  const clientId = v['clientID'];
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 255) throw new HeartbeatError('HeartbeatData.clientID is not a string of 1-255 characters');
  const set = v['consumerDataSet'] ?? [];
  if (!Array.isArray(set)) throw new HeartbeatError('HeartbeatData.consumerDataSet is not an array');
  const consumers = set.map((item: unknown, i): ConsumerData => {
    const c = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const groupName = c['groupName'];
    if (typeof groupName !== 'string' || !GROUP_NAME_PATTERN.test(groupName)) throw new HeartbeatError(`consumerDataSet[${i}].groupName ${JSON.stringify(groupName)} is not a group name`);
    const subs = Array.isArray(c['subscriptionDataSet']) ? (c['subscriptionDataSet'] as unknown[]) : [];
    const subscriptions = subs.flatMap((s): Subscription[] => {
      const d = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
      // Kept only with a topic name RocketMQ accepts and an expression of sane length: they are
      // held per client until it goes away.
      const topic = d['topic'];
      const subString = typeof d['subString'] === 'string' ? d['subString'] : '*';
      return typeof topic === 'string' && TOPIC_NAME_PATTERN.test(topic) && subString.length <= SUB_STRING_MAX_LENGTH ? [{ topic, subString }] : [];
    });
    const name = (field: string, fallback: string): string => (typeof c[field] === 'string' && ENUM_NAME.test(c[field] as string) ? (c[field] as string) : fallback);
    const mode = { consumeType: name('consumeType', 'CONSUME_PASSIVELY'), messageModel: name('messageModel', 'CLUSTERING'), consumeFromWhere: name('consumeFromWhere', 'CONSUME_FROM_LAST_OFFSET') };
    return { groupName, subscriptions, mode };
  });
  const producerSet = v['producerDataSet'] ?? [];
  if (!Array.isArray(producerSet)) throw new HeartbeatError('HeartbeatData.producerDataSet is not an array');
  const producerGroups = producerSet.map((item: unknown, i): string => {
    const groupName = (typeof item === 'object' && item !== null ? (item as Record<string, unknown>)['groupName'] : undefined);
    if (typeof groupName !== 'string' || !GROUP_NAME_PATTERN.test(groupName)) throw new HeartbeatError(`producerDataSet[${i}].groupName ${JSON.stringify(groupName)} is not a group name`);
    return groupName;
  });
  return { clientId, consumers, producerGroups };
}

/** A subscription expression at most (tag lists; RocketMQ has no limit, 4 KiB is generous). */
const SUB_STRING_MAX_LENGTH = 4096;

class HeartbeatError extends Error {
  override name = 'HeartbeatError';
}

async function heartbeat(context: BrokerContext, request: RemotingCommand, connection: RemotingConnection): Promise<RemotingCommand> {
  const bodyBytes = request.body?.length ?? 0;
  if (bodyBytes > context.config.heartbeatBodyMaxBytes) {
    const remark = `HEART_BEAT body of ${bodyBytes} bytes exceeds heartbeatBodyMaxBytes=${context.config.heartbeatBodyMaxBytes}: not parsed`;
    context.stats.refusals.refuse('heartbeatBodyMaxBytes', `${remark} (from ${connection.remoteAddress})`);
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark });
  }
  let data;
  try {
    data = parseHeartbeat(request.body);
  } catch (error) {
    if (error instanceof HeartbeatError) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: error.message });
    throw error;
  }
  const nowMs = Date.now();
  for (const group of data.producerGroups) {
    // CLIENT_INNER_PRODUCER (every Java client announces it) is never asked for a transaction state.
    if (group === 'CLIENT_INNER_PRODUCER') continue;
    if (!context.producers.heartbeat(group, data.clientId, connection, nowMs)) {
      const remark = `too many producer groups or clients (consumerGroupsMax=${context.config.consumerGroupsMax}, consumerClientsMax=${context.config.consumerClientsMax}); ${group}/${data.clientId} not recorded`;
      context.stats.refusals.refuse('consumerClientsMax', `${remark} (from ${connection.remoteAddress})`);
      return createResponse(request, ResponseCode.SYSTEM_BUSY, { remark });
    }
  }
  const channel = { clientAddr: connection.remoteAddress, language: request.language, version: request.version, send: (command: RemotingCommand) => connection.send(command) };
  for (const consumer of data.consumers) {
    const bound = context.consumers.heartbeat(consumer.groupName, data.clientId, connection.id, consumer.subscriptions, nowMs, channel, consumer.mode);
    if (bound !== null) {
      const remark = `too many consumer groups or clients (${bound}=${context.config[bound]}); ${consumer.groupName}/${data.clientId} not recorded`;
      context.stats.refusals.refuse(bound, `${remark} (from ${connection.remoteAddress})`);
      return createResponse(request, ResponseCode.SYSTEM_BUSY, { remark });
    }
    const retryTopic = `${RETRY_GROUP_TOPIC_PREFIX}${consumer.groupName}`;
    if (context.commitLog.isWritable() && context.commitLog.state.topicConfig(retryTopic) === null && retryTopic.length <= 127 && subscribesToATopic(context, consumer)) {
      if (retryTopicCount(context) >= context.config.autoCreateRetryTopicsMax) {
        context.stats.refusals.refuse('autoCreateRetryTopicsMax', `${retryTopic} not created: ${context.config.autoCreateRetryTopicsMax} retry topics exist (heartbeat from ${connection.remoteAddress})`);
        continue;
      }
      await createRetryTopic(context, retryTopic).catch((error: Error) => context.log(`retry topic ${retryTopic} not created: ${error.message}`));
    }
  }
  return createResponse(request, ResponseCode.SUCCESS);
}

/**
 * A group gets a retry topic from its heartbeat only when it subscribes to a topic this broker
 * has (RocketMQ creates it for a consumer's subscriptions; without this check any name in a
 * heartbeat, or a flood of them, became a replicated topic: issue 11).
 */
function subscribesToATopic(context: BrokerContext, consumer: ConsumerData): boolean {
  const state = context.commitLog.state;
  return consumer.subscriptions.some((s) => !s.topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) && state.topicConfig(s.topic) !== null);
}

function retryTopicCount(context: BrokerContext): number {
  let count = 0;
  for (const name of context.commitLog.state.topicConfigs().keys()) if (name.startsWith(RETRY_GROUP_TOPIC_PREFIX)) count++;
  return count;
}

function unregisterClient(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const clientId = requiredString(request, 'clientID');
  const group = optionalString(request, 'consumerGroup');
  if (group !== null) context.consumers.unregister(group, clientId);
  const producerGroup = optionalString(request, 'producerGroup');
  if (producerGroup !== null) context.producers.unregister(producerGroup, clientId);
  return createResponse(request, ResponseCode.SUCCESS);
}

function consumerList(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const group = requiredString(request, 'consumerGroup');
  const ids = context.consumers.clientIds(group);
  if (ids.length === 0) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `no consumer for this group, ${group}` });
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(JSON.stringify({ consumerIdList: ids }), 'utf8') });
}
