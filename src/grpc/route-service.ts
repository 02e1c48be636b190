// QueryRoute and QueryAssignment as RocketMQ's proxy answers them: one MessageQueue per queue of
// the topic, all on the group's master (Broker id 0, brokerName, the master's gRPC endpoint; a
// follower answers with the master's endpoint, replicated in MemberEndpoints), permissions from
// the topic's read/write queue counts and perm, and the message types the topic accepts from its
// `message.type` attribute (RocketMQ 5's TopicAttributes: NORMAL by default, FIFO, DELAY,
// TRANSACTION, MIXED = all). QueryAssignment gives a consumer one queue of id -1 on the master:
// POP consumption reads every queue of the topic from there.
import { isReadable, isWriteable, TOPIC_NAME_PATTERN, type TopicConfig } from '../broker/state/topic-config.js';
import { GrpcRefusal, masterEndpoint, type GrpcContext } from './grpc-context.js';
import type { PbMessageQueue, PbResource } from './messaging-proto.js';

export const MESSAGE_TYPES = ['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION'] as const;
export type TopicMessageType = (typeof MESSAGE_TYPES)[number] | 'MIXED';

/** The topic's message.type attribute (also accepted as "+message.type", mqadmin's spelling). */
export function topicMessageType(topic: TopicConfig): TopicMessageType {
  const raw = (topic.attributes['message.type'] ?? topic.attributes['+message.type'] ?? 'NORMAL').toUpperCase();
  return raw === 'FIFO' || raw === 'DELAY' || raw === 'TRANSACTION' || raw === 'MIXED' ? raw : 'NORMAL';
}

export function acceptedMessageTypes(topic: TopicConfig): string[] {
  const type = topicMessageType(topic);
  return type === 'MIXED' ? [...MESSAGE_TYPES] : [type];
}

export function resourceName(resource: PbResource | null | undefined, what: string, code: string): string {
  const name = resource?.name ?? '';
  if (!TOPIC_NAME_PATTERN.test(name)) throw new GrpcRefusal(code, `${what} ${JSON.stringify(name.slice(0, 200))} must be 1-127 characters of [%|a-zA-Z0-9_-]`);
  return name;
}

export function existingTopic(context: GrpcContext, name: string): TopicConfig {
  const topic = context.broker.commitLog.state.topicConfig(name);
  if (topic === null) throw new GrpcRefusal('TOPIC_NOT_FOUND', `topic ${name} not exist, create it first (mqadmin updateTopic)`);
  return topic;
}

function endpointsOf(endpoint: string): { scheme: string; addresses: Array<{ host: string; port: number }> } {
  const colon = endpoint.lastIndexOf(':');
  return { scheme: 'IPv4', addresses: [{ host: endpoint.slice(0, colon), port: Number(endpoint.slice(colon + 1)) }] };
}

function masterBroker(context: GrpcContext): PbMessageQueue['broker'] {
  const endpoint = masterEndpoint(context);
  if (endpoint === null) {
    const role = context.broker.commitLog.role;
    throw new GrpcRefusal('INTERNAL_SERVER_ERROR', `no master endpoint known yet (${context.broker.config.dLegerSelfId} is ${role.role}, leader ${role.leaderId ?? 'unknown'}): retry`);
  }
  return { name: context.broker.config.brokerName, id: 0, endpoints: endpointsOf(endpoint) };
}

function permissionOf(topic: TopicConfig, queueId: number): string {
  const read = isReadable(topic.perm) && queueId < topic.readQueueNums;
  const write = isWriteable(topic.perm) && queueId < topic.writeQueueNums;
  return read && write ? 'READ_WRITE' : read ? 'READ' : write ? 'WRITE' : 'NONE';
}

export function queryRoute(context: GrpcContext, request: Record<string, unknown>): Record<string, unknown> {
  const name = resourceName(request['topic'] as PbResource, 'topic', 'ILLEGAL_TOPIC');
  const topic = existingTopic(context, name);
  const broker = masterBroker(context);
  const accept = acceptedMessageTypes(topic);
  const queues: PbMessageQueue[] = [];
  for (let id = 0; id < Math.max(topic.readQueueNums, topic.writeQueueNums); id++) {
    queues.push({ topic: { name, resourceNamespace: '' }, id, permission: permissionOf(topic, id), broker, acceptMessageTypes: accept });
  }
  return { messageQueues: queues };
}

export function queryAssignment(context: GrpcContext, request: Record<string, unknown>): Record<string, unknown> {
  const name = resourceName(request['topic'] as PbResource, 'topic', 'ILLEGAL_TOPIC');
  resourceName(request['group'] as PbResource, 'group', 'ILLEGAL_CONSUMER_GROUP');
  const topic = existingTopic(context, name);
  if (!isReadable(topic.perm)) return { assignments: [] };
  const broker = masterBroker(context);
  return { assignments: [{ messageQueue: { topic: { name, resourceNamespace: '' }, id: -1, permission: 'READ_WRITE', broker, acceptMessageTypes: acceptedMessageTypes(topic) } }] };
}
