// The name server's request handlers (DefaultRequestProcessor): each reads its typed header,
// changes or reads the RouteInfo, and builds the answer Java's name server gives, remarks
// included where clients or operators read them.
import { ResponseCode, RequestCode, MQVersion } from '../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../remoting/command.js';
import { optionalBoolean, optionalInteger, requiredInteger, requiredString } from '../remoting/ext-fields.js';
import { toFastjson } from '../remoting/fastjson.js';
import type { RemotingConnection } from '../remoting/connection.js';
import type { RefusalCounter } from '../remoting/refusals.js';
import type { RemotingServer } from '../remoting/server.js';
import { crc32Of } from '../store/crc.js';
import { parseRegisterBody, RegisterBodyError } from './register-body.js';
import type { RouteInfo } from './route-info.js';

export interface ProcessorContext {
  readonly routeInfo: RouteInfo;
  readonly nowMs: () => number;
  /** Expiry for brokers that do not say (extFields heartbeatTimeoutMillis). */
  readonly brokerExpiryMs: number;
  /** REGISTER_BROKER bodies above this are refused before anything is parsed. */
  readonly registerBrokerBodyMaxBytes: number;
  readonly refusals: RefusalCounter;
}

export function registerNamesrvHandlers(server: RemotingServer, context: ProcessorContext): void {
  server.registerHandler(RequestCode.REGISTER_BROKER, (request, connection) => registerBroker(context, request, connection));
  server.registerHandler(RequestCode.UNREGISTER_BROKER, (request) => unregisterBroker(context, request));
  server.registerHandler(RequestCode.GET_ROUTEINFO_BY_TOPIC, (request) => routeInfoByTopic(context, request));
  server.registerHandler(RequestCode.GET_BROKER_CLUSTER_INFO, (request) => clusterInfo(context, request));
  server.registerHandler(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, (request) => allTopics(context, request));
  server.registerHandler(RequestCode.DELETE_TOPIC_IN_NAMESRV, (request) => deleteTopic(context, request));
}

/**
 * DELETE_TOPIC_IN_NAMESRV (DeleteTopicFromNamesrvRequestHeader: topic; clusterName from 4.9.5 on,
 * optional): the topic's queue data goes, on every broker group or, with clusterName, on that
 * cluster's groups only; SUCCESS whether it was known or not, as Java answers. Brokers never remove
 * a topic by re-registering (registration only adds), hence this request after DELETE_TOPIC_IN_BROKER.
 */
function deleteTopic(context: ProcessorContext, request: RemotingCommand): RemotingCommand {
  const topic = requiredString(request, 'topic');
  const clusterName = request.extFields['clusterName'];
  context.routeInfo.deleteTopic(topic, clusterName === undefined || clusterName === '' ? null : clusterName);
  return createResponse(request, ResponseCode.SUCCESS);
}

function registerBroker(context: ProcessorContext, request: RemotingCommand, connection: RemotingConnection): RemotingCommand {
  const brokerName = requiredString(request, 'brokerName');
  const brokerAddr = requiredString(request, 'brokerAddr');
  const clusterName = requiredString(request, 'clusterName');
  const haServerAddr = requiredString(request, 'haServerAddr');
  const brokerId = requiredInteger(request, 'brokerId');
  const expiryMs = optionalInteger(request, 'heartbeatTimeoutMillis') ?? context.brokerExpiryMs;
  const bodyBytes = request.body?.length ?? 0;
  if (bodyBytes > context.registerBrokerBodyMaxBytes) {
    const remark = `REGISTER_BROKER body of ${bodyBytes} bytes exceeds registerBrokerBodyMaxBytes=${context.registerBrokerBodyMaxBytes}: not parsed`;
    context.refusals.refuse('registerBrokerBodyMaxBytes', `${remark} (${brokerName}/${brokerId} at ${brokerAddr}, from ${connection.remoteAddress})`);
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark });
  }
  const bodyCrc32 = optionalInteger(request, 'bodyCrc32') ?? 0;
  if (bodyCrc32 !== 0 && request.body !== null) {
    // UtilAll.crc32 is java.util.zip.CRC32 masked to a non-negative int.
    const actual = crc32Of(request.body) & 0x7fffffff;
    if (actual !== bodyCrc32) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `crc32 not match: header says ${bodyCrc32}, body has ${actual}` });
  }
  let body;
  try {
    body = parseRegisterBody(request.body, request.version, optionalBoolean(request, 'compressed') ?? false);
  } catch (error) {
    if (error instanceof RegisterBodyError) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `bad REGISTER_BROKER body from ${brokerAddr}: ${error.message}` });
    throw error;
  }
  const result = context.routeInfo.register({
    clusterName,
    brokerName,
    brokerAddr,
    brokerId,
    haServerAddr,
    topicConfigs: request.body === null ? null : body.topicConfigs,
    dataVersion: body.dataVersion,
    connectionId: connection.id,
    expiryMs,
  }, context.nowMs());
  return createResponse(request, ResponseCode.SUCCESS, { extFields: { masterAddr: result.masterAddr, haServerAddr: result.haServerAddr } });
}

function unregisterBroker(context: ProcessorContext, request: RemotingCommand): RemotingCommand {
  context.routeInfo.unregister(
    requiredString(request, 'clusterName'),
    requiredString(request, 'brokerName'),
    requiredString(request, 'brokerAddr'),
    requiredInteger(request, 'brokerId'),
  );
  return createResponse(request, ResponseCode.SUCCESS);
}

/** fastjson's bare numeric map keys go to clients older than 4.9.4 that did not ask for standard JSON. */
function bareKeysFor(request: RemotingCommand): boolean {
  return request.version < MQVersion.V4_9_4 && optionalBoolean(request, 'acceptStandardJsonOnly') !== true;
}

function routeInfoByTopic(context: ProcessorContext, request: RemotingCommand): RemotingCommand {
  const topic = requiredString(request, 'topic');
  const route = context.routeInfo.topicRoute(topic);
  if (route === null) {
    return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, { remark: `No topic route info in name server for the topic: ${topic}, see https://rocketmq.apache.org/docs/bestPractice/06FAQ` });
  }
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(toFastjson(route, { bareNumericKeys: bareKeysFor(request) }), 'utf8') });
}

function clusterInfo(context: ProcessorContext, request: RemotingCommand): RemotingCommand {
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(toFastjson(context.routeInfo.clusterInfo(), { bareNumericKeys: bareKeysFor(request) }), 'utf8') });
}

function allTopics(context: ProcessorContext, request: RemotingCommand): RemotingCommand {
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(toFastjson({ topicList: context.routeInfo.topics() }, { bareNumericKeys: false }), 'utf8') });
}
