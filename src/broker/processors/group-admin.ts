// Consumer group admin requests, answered as RocketMQ 4.9's AdminBrokerProcessor does (codes and
// remarks): UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200, body SubscriptionGroupConfig JSON),
// DELETE_SUBSCRIPTIONGROUP (207, header groupName + cleanOffset), GET_CONSUMER_CONNECTION_LIST
// (203, header consumerGroup, body ConsumerConnection) and INVOKE_BROKER_TO_RESET_OFFSET (222,
// header topic/group/timestamp/isForce, Broker2Client.resetOffset).
// Writes go through the Raft log (subscription groups: a state extension; offsets: commitOffsets
// and deleteGroupOffsets commands), so only the master takes them.
//
// Reset offset differs from 4.9 in one point: Java only tells the group's online clients
// (RESET_CONSUMER_CLIENT_OFFSET, oneway) and lets them commit the new offsets; we also commit
// them through the log before telling the clients, so the reset holds for a client that ignores
// the request (ali-ons does: its client has no handler for broker requests) once it restarts, and
// survives a failover. A running client that ignores it overwrites it with its next commit.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createRequest, createResponse, FLAG_ONEWAY, type RemotingCommand } from '../../remoting/command.js';
import { optionalBoolean, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import { parseRocketMqJson } from '../../remoting/fastjson.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { javaStringHashCode } from '../message-codec.js';
import { offsetInQueueByTime } from '../store/offset-by-time.js';
import { GROUP_NAME_PATTERN } from '../state/commands.js';
import { parseSubscriptionGroupConfig, SUBSCRIPTION_GROUPS_EXTENSION, SUBSCRIPTION_GROUPS_MAX, SubscriptionGroupError, type SubscriptionGroupCommand } from '../state/subscription-groups.js';
import { storeTimestampAt } from './consumer-offset.js';
import { NOT_MASTER_REMARK, putFailureResponse } from './errors.js';
import { messageQueueMapJson, type MessageQueueKey } from './mq-json.js';

/** AdminBrokerProcessor.validateSlave's remark. */
export const SLAVE_REMARK = "Can't modify topic or subscription group from slave broker, please execute it from master broker.";
/** A SubscriptionGroupConfig body at most (the bean is ~300 bytes). */
const SUBSCRIPTION_GROUP_BODY_MAX_BYTES = 64 * 1024;

export function registerGroupAdminProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, (request) => updateSubscriptionGroup(context, request));
  server.registerHandler(RequestCode.DELETE_SUBSCRIPTIONGROUP, (request) => deleteSubscriptionGroup(context, request));
  server.registerHandler(RequestCode.GET_CONSUMER_CONNECTION_LIST, (request) => consumerConnectionList(context, request));
  server.registerHandler(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, (request) => resetOffset(context, request));
}

function slaveResponse(context: BrokerContext, request: RemotingCommand): RemotingCommand | null {
  return context.commitLog.role.role === 'master' ? null : createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: SLAVE_REMARK });
}

async function proposeGroupCommand(context: BrokerContext, request: RemotingCommand, body: SubscriptionGroupCommand): Promise<RemotingCommand> {
  try {
    await context.commitLog.proposeCommand({ type: 'extension', extension: SUBSCRIPTION_GROUPS_EXTENSION, body });
  } catch (error) {
    return putFailureResponse(request, error);
  }
  return createResponse(request, ResponseCode.SUCCESS);
}

async function updateSubscriptionGroup(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const slave = slaveResponse(context, request);
  if (slave !== null) return slave;
  const bytes = request.body?.length ?? 0;
  if (bytes === 0) return createResponse(request, ResponseCode.SUCCESS); // Java: a null config changes nothing
  if (bytes > SUBSCRIPTION_GROUP_BODY_MAX_BYTES) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `SubscriptionGroupConfig body of ${bytes} bytes, at most ${SUBSCRIPTION_GROUP_BODY_MAX_BYTES}` });
  let config;
  try {
    config = parseSubscriptionGroupConfig(parseRocketMqJson((request.body as Buffer).toString('utf8')));
  } catch (error) {
    if (error instanceof SubscriptionGroupError || error instanceof SyntaxError || (error as Error).name === 'RocketMqJsonError') {
      return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `bad SubscriptionGroupConfig: ${(error as Error).message}` });
    }
    throw error;
  }
  if (context.groups.get(config.groupName) === null && context.groups.size >= SUBSCRIPTION_GROUPS_MAX) {
    const remark = `the broker holds ${context.groups.size} subscription groups, at most ${SUBSCRIPTION_GROUPS_MAX}: ${config.groupName} not created`;
    context.stats.refusals.refuse('subscriptionGroupsMax', remark);
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark });
  }
  return proposeGroupCommand(context, request, { op: 'upsert', config });
}

async function deleteSubscriptionGroup(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const slave = slaveResponse(context, request);
  if (slave !== null) return slave;
  const groupName = requiredString(request, 'groupName');
  if (!GROUP_NAME_PATTERN.test(groupName)) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `groupName ${JSON.stringify(groupName)} is not a group name` });
  const deleted = await proposeGroupCommand(context, request, { op: 'delete', groupName });
  if (deleted.code !== ResponseCode.SUCCESS || optionalBoolean(request, 'cleanOffset') !== true) return deleted;
  try {
    await context.commitLog.proposeCommand({ type: 'deleteGroupOffsets', group: groupName });
  } catch (error) {
    return putFailureResponse(request, error);
  }
  return deleted;
}

/** SubscriptionData as fastjson writes it (classFilterMode, codeSet, expressionType, subString, subVersion, tagsSet, topic). */
function subscriptionDataJson(topic: string, subString: string): string {
  const tags = subString === '*' || subString === '' ? [] : subString.split('||').map((tag) => tag.trim()).filter((tag) => tag !== '');
  return `{"classFilterMode":false,"codeSet":${JSON.stringify(tags.map(javaStringHashCode))},"expressionType":"TAG","subString":${JSON.stringify(subString)},"subVersion":0,"tagsSet":${JSON.stringify(tags)},"topic":${JSON.stringify(topic)}}`;
}

function consumerConnectionList(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const group = requiredString(request, 'consumerGroup');
  const clients = context.consumers.clients(group);
  if (clients.length === 0) return createResponse(request, ResponseCode.CONSUMER_NOT_ONLINE, { remark: `the consumer group[${group}] not online` });
  const mode = context.consumers.modeOf(group);
  const connections = clients.map((c) => `{"clientAddr":${JSON.stringify(c.channel?.clientAddr ?? '')},"clientId":${JSON.stringify(c.clientId)},"language":${JSON.stringify(c.channel?.language ?? 'JAVA')},"version":${c.channel?.version ?? 0}}`);
  // Java keeps the group's subscriptions by topic (the latest heartbeat wins).
  const byTopic = new Map<string, string>();
  for (const c of clients) for (const s of c.subscriptions) byTopic.set(s.topic, s.subString);
  const table = [...byTopic].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([topic, sub]) => `${JSON.stringify(topic)}:${subscriptionDataJson(topic, sub)}`);
  const body = `{"connectionSet":[${connections.join(',')}],"consumeFromWhere":${JSON.stringify(mode.consumeFromWhere)},"consumeType":${JSON.stringify(mode.consumeType)},"messageModel":${JSON.stringify(mode.messageModel)},"subscriptionTable":{${table.join(',')}}}`;
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(body, 'utf8') });
}

async function resetOffset(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const topic = requiredString(request, 'topic');
  const group = requiredString(request, 'group');
  const timestamp = requiredInteger(request, 'timestamp');
  const isForce = optionalBoolean(request, 'isForce') ?? false;
  const state = context.commitLog.state;
  const topicConfig = state.topicConfig(topic);
  if (topicConfig === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `[reset-offset] reset offset failed, no topic in this broker. topic=${topic}` });
  const table: Array<[MessageQueueKey, number]> = [];
  for (let queueId = 0; queueId < topicConfig.writeQueueNums; queueId++) {
    const consumerOffset = context.offsets.offsetOf(group, topic, queueId);
    if (consumerOffset === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `THe consumer group <${group}> not exist` });
    let timestampOffset = timestamp === -1
      ? state.maxOffset(topic, queueId)
      : offsetInQueueByTime(state.minOffset(topic, queueId), state.maxOffset(topic, queueId), (offset) => storeTimestampAt(context, topic, queueId, offset), timestamp, 'LOWER');
    if (timestampOffset < 0) timestampOffset = 0;
    table.push([{ topic, brokerName: context.config.brokerName, queueId }, isForce || timestampOffset < consumerOffset ? timestampOffset : consumerOffset]);
  }
  const online = context.consumers.clients(group).filter((c) => c.channel !== null);
  if (online.length === 0) {
    return createResponse(request, ResponseCode.CONSUMER_NOT_ONLINE, { remark: `Consumer not online, so can not reset offset, Group: ${group} Topic: ${topic} Timestamp: ${timestamp}` });
  }
  if (context.commitLog.role.role !== 'master') {
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: `${NOT_MASTER_REMARK} Offsets are reset through the master (leader ${context.commitLog.role.leaderId ?? 'unknown'}).` });
  }
  try {
    await Promise.all(table.map(([q, offset]) => context.offsets.commit(group, topic, q.queueId, offset)));
  } catch (error) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `[reset-offset] offsets not committed: ${(error as Error).message}` });
  }
  const body = Buffer.from(messageQueueMapJson('offsetTable', table.map(([q, offset]) => [q, String(offset)])), 'utf8');
  // A C++ client (the request's language CPP: mqadmin resetOffsetByTime -c) gets ResetOffsetBodyForC.
  const clientBody = request.language === 'CPP'
    ? Buffer.from(`{"offsetTable":[${table.map(([q, offset]) => `{"brokerName":${JSON.stringify(q.brokerName)},"offset":${offset},"queueId":${q.queueId},"topic":${JSON.stringify(q.topic)}}`).join(',')}]}`, 'utf8')
    : body;
  for (const client of online) {
    const notice: RemotingCommand = { ...createRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, { extFields: { topic, group, timestamp: String(timestamp), isForce: 'false' }, body: clientBody }), flag: FLAG_ONEWAY };
    if (client.channel?.send(notice) !== true) context.log(`[reset-offset] ${group}/${client.clientId}: its connection is gone, RESET_CONSUMER_CLIENT_OFFSET not sent`);
    else context.log(`[reset-offset] reset offset ${topic} of ${group} to ${timestamp} sent to ${client.clientId} (${client.channel.clientAddr})`);
  }
  return createResponse(request, ResponseCode.SUCCESS, { body });
}

