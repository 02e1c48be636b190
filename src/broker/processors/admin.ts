// Admin requests: UPDATE_AND_CREATE_TOPIC (17) replicates the topic config through the log (the
// broker then re-registers with the name server, from the state listener), GET_ALL_TOPIC_CONFIG
// (21) and GET_BROKER_RUNTIME_INFO (28, the KVTable clusterList reads).
import fs from 'node:fs';
import { DLEDGER_ENTRY_HEADER_BYTES } from '../message-codec.js';
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalBoolean, optionalInteger, optionalString, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { BROKER_STATE_TOPIC } from '../state/commands.js';
import { parseTopicConfig, TopicConfigError } from '../state/topic-config.js';
import { putFailureResponse } from './errors.js';

/** The version clusterList shows (the quick start's RocketMQ generation). */
export const BROKER_VERSION_DESC = 'V4_9_4';

export function registerAdminProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.UPDATE_AND_CREATE_TOPIC, (request) => updateAndCreateTopic(context, request));
  server.registerHandler(RequestCode.GET_ALL_TOPIC_CONFIG, (request) => allTopicConfig(context, request));
  server.registerHandler(RequestCode.GET_BROKER_RUNTIME_INFO, (request) => runtimeInfo(context, request));
}

async function updateAndCreateTopic(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const topicName = requiredString(request, 'topic');
  let attributes: Record<string, string> = {};
  const attributesText = optionalString(request, 'attributes');
  const attributesBytes = attributesText === null ? 0 : Buffer.byteLength(attributesText, 'utf8');
  if (attributesBytes > context.config.topicAttributesMaxBytes) {
    // They are replicated into every member's table; unbounded, ~5 of 4 MB made every
    // REGISTER_BROKER body too large for a frame (issue 11).
    const remark = `attributes of ${attributesBytes} bytes exceed topicAttributesMaxBytes=${context.config.topicAttributesMaxBytes}`;
    context.stats.refusals.refuse('topicAttributesMaxBytes', `${remark} (topic ${topicName})`);
    return createResponse(request, ResponseCode.INVALID_PARAMETER, { remark });
  }
  if (attributesText !== null && attributesText !== '') {
    try {
      attributes = JSON.parse(attributesText) as Record<string, string>;
    } catch {
      return createResponse(request, ResponseCode.INVALID_PARAMETER, { remark: `attributes ${JSON.stringify(attributesText)} is not JSON` });
    }
  }
  let topic;
  try {
    topic = parseTopicConfig({
      topicName,
      readQueueNums: requiredInteger(request, 'readQueueNums'),
      writeQueueNums: requiredInteger(request, 'writeQueueNums'),
      perm: requiredInteger(request, 'perm'),
      topicFilterType: optionalString(request, 'topicFilterType') ?? 'SINGLE_TAG',
      topicSysFlag: optionalInteger(request, 'topicSysFlag') ?? 0,
      order: optionalBoolean(request, 'order') ?? false,
      attributes,
    });
  } catch (error) {
    if (error instanceof TopicConfigError) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: error.message });
    throw error;
  }
  if (topic.topicName === BROKER_STATE_TOPIC) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `The topic[${topic.topicName}] is conflict with system topic.` });
  }
  const refusal = newTopicRefusal(context, topic.topicName);
  if (refusal !== null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: refusal });
  try {
    await context.commitLog.proposeCommand({ type: 'upsertTopic', topic });
  } catch (error) {
    return putFailureResponse(request, error);
  }
  return createResponse(request, ResponseCode.SUCCESS);
}

/**
 * Why a topic may not be added now (topicsMax), or null; an existing topic may always be updated.
 * Checked when proposed: topics proposed at the same moment may overshoot by their number.
 */
export function newTopicRefusal(context: BrokerContext, topicName: string): string | null {
  const topics = context.commitLog.state.topicConfigs();
  if (topics.has(topicName) || topics.size < context.config.topicsMax) return null;
  const remark = `the broker holds ${topics.size} topics, topicsMax=${context.config.topicsMax}: topic ${topicName} not created`;
  context.stats.refusals.refuse('topicsMax', remark);
  return remark;
}

function allTopicConfig(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const state = context.commitLog.state;
  const body = { topicConfigTable: Object.fromEntries(state.topicConfigs()), dataVersion: { stateVersion: 0, timestamp: context.stats.startedAtMs, counter: state.topicsVersion } };
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(JSON.stringify(body), 'utf8') });
}

/** Used fraction of the commit log's disk: retention's last measurement, else statfs now (RocketMQ's %.4f field). */
function commitLogDiskRatio(context: BrokerContext): string {
  const measured = context.commitLog.retentionStats()?.diskUsageRatio;
  if (measured !== undefined) return String(measured);
  const directory = context.config.enableDLegerCommitLog ? context.config.storePathRootDir : context.config.storePathCommitLog;
  if (!fs.existsSync(directory)) return '-1';
  const stats = fs.statfsSync(directory);
  return String(stats.blocks === 0 ? -1 : 1 - stats.bavail / stats.blocks);
}

function runtimeInfo(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  // A classic broker (enableDLegerCommitLog=false) has no Raft status: no dLeger* keys.
  const status = context.commitLog.raftStatus();
  const table: Record<string, string> = {
    brokerVersionDesc: BROKER_VERSION_DESC,
    brokerVersion: '401',
    brokerActive: String(context.commitLog.role.role === 'master'),
    // clusterList reads the first of the space-separated rates (Java: 10 s, 60 s, 600 s windows).
    putTps: context.stats.putRate.perSecond().toFixed(2),
    getTransferredTps: context.stats.pullRate.perSecond().toFixed(2),
    sendThreadPoolQueueSize: '0',
    pullThreadPoolQueueSize: '0',
    sendThreadPoolQueueHeadWaitTimeMills: '0',
    pullThreadPoolQueueHeadWaitTimeMills: '0',
    pageCacheLockTimeMills: '0',
    earliestMessageTimeStamp: String(context.stats.startedAtMs),
    commitLogDiskRatio: commitLogDiskRatio(context),
    msgPutTotalTodayNow: String(context.stats.messagesPut),
    msgGetTotalTodayNow: String(context.stats.messagesPulled),
    bootTimestamp: String(context.stats.startedAtMs),
    sendMessageThreadPoolNums: String(context.config.sendMessageThreadPoolNums),
    heldPulls: String(context.pullHold.heldCount),
    // Requests refused by a bound since start, per config key (README "Broker request bounds").
    boundRefusals: JSON.stringify(context.stats.refusals.snapshot()),
    // The Prometheus endpoint (metricsExporterType=PROM), for the console's charts.
    ...(context.stats.metrics?.endpoint == null ? {} : { dLegerMetricsHost: context.stats.metrics.endpoint.host, dLegerMetricsPort: String(context.stats.metrics.endpoint.port) }),
  };
  if (status !== null) {
    Object.assign(table, {
      dLegerGroup: context.config.dLegerGroup,
      dLegerSelfId: context.config.dLegerSelfId,
      dLegerRole: status.role,
      dLegerTerm: String(status.term),
      dLegerLeaderId: status.leaderId ?? '',
      dLegerCommitIndex: String(status.commitIndex),
      dLegerAppliedIndex: String(status.appliedIndex),
      dLegerLastIndex: String(status.lastIndex),
    });
  }
  const range = context.commitLog.retainedRange();
  if (range !== null) {
    // What the commit log retains (retention moves the start): RocketMQ's min/max physical offsets and the Raft range.
    const retention = context.commitLog.retentionStats();
    Object.assign(table, {
      commitLogMinOffset: String(range.firstPos + DLEDGER_ENTRY_HEADER_BYTES),
      commitLogMaxOffset: String(range.endPos),
      dLegerFirstIndex: String(range.firstIndex),
      dLegerRetainedBytes: String(range.endPos - range.firstPos),
      dLegerDataSegments: String(range.dataSegments),
      retentionSegmentsDeleted: String(retention?.segmentsDeleted ?? 0),
      retentionBytesDeleted: String(retention?.bytesDeleted ?? 0),
      diskFull: String(retention?.diskFull ?? false),
    });
  }
  if (status?.role === 'leader') {
    // The leader's view of each follower, for mqadmin dledgerStatus (src/admin/README.md).
    const progress: Record<string, { match: number; next: number; state: string; recentActive: boolean }> = {};
    for (const [peerId, p] of status.progress) {
      if (peerId !== context.config.dLegerSelfId) progress[peerId] = { match: p.match, next: p.next, state: p.state, recentActive: p.recentActive };
    }
    table['dLegerPeerProgress'] = JSON.stringify(progress);
  }
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(JSON.stringify({ table }), 'utf8') });
}
