// Topic admin requests, answered as RocketMQ 4.9's AdminBrokerProcessor does: GET_TOPIC_STATS_INFO
// (202, header topic: per write queue the min and max offset and the store time of the last
// message, body TopicStatsTable) and DELETE_TOPIC_IN_BROKER (215, header topic: the topic config
// goes, through the Raft log; the name server keeps the route until DELETE_TOPIC_IN_NAMESRV, as
// mqadmin deleteTopic sends next). Plus DLEDGER_TRANSFER_LEADERSHIP (20001, ours: RocketMQ 4.9 has
// no remoting code for it): header transferee = a member id of this DLedger group, sent to the
// master, which hands leadership to it (DLedgerServer.transferLeadership, the Raft core's
// TimeoutNow transfer); admin-only under ACL like the other writes (src/acl/resources.ts).
// Differences from Java's deleteTopic: consume-queue files are kept (a re-created topic continues
// them; retention frees them with the commit log), and the topic's consumer offsets stay.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { BROKER_STATE_TOPIC } from '../state/commands.js';
import { storeTimestampAt } from './consumer-offset.js';
import { NOT_MASTER_REMARK, putFailureResponse } from './errors.js';
import { messageQueueMapJson } from './mq-json.js';

/** TopicValidator's system topics (4.9), which DELETE_TOPIC_IN_BROKER refuses, plus our state topic. */
const SYSTEM_TOPICS = new Set(['TBW102', 'SCHEDULE_TOPIC_XXXX', 'BenchmarkTest', 'RMQ_SYS_TRANS_HALF_TOPIC', 'RMQ_SYS_TRACE_TOPIC', 'RMQ_SYS_TRANS_OP_HALF_TOPIC', 'TRANS_CHECK_MAX_TIME_TOPIC', 'SELF_TEST_TOPIC', 'OFFSET_MOVED_EVENT', BROKER_STATE_TOPIC]);

export function isSystemTopic(topic: string): boolean {
  return SYSTEM_TOPICS.has(topic) || topic.startsWith('rmq_sys_');
}

const MEMBER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** How long a transfer may take before the answer says it did not happen. */
const TRANSFER_TIMEOUT_MS = 3000;

export function registerTopicAdminProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.GET_TOPIC_STATS_INFO, (request) => topicStats(context, request));
  server.registerHandler(RequestCode.DELETE_TOPIC_IN_BROKER, (request) => deleteTopic(context, request));
  server.registerHandler(RequestCode.DLEDGER_TRANSFER_LEADERSHIP, (request) => transferLeadership(context, request));
}

function topicStats(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const topic = requiredString(request, 'topic');
  const state = context.commitLog.state;
  const config = state.topicConfig(topic);
  if (config === null) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, { remark: `topic[${topic}] not exist` });
  const entries: Array<[{ topic: string; brokerName: string; queueId: number }, string]> = [];
  for (let queueId = 0; queueId < config.writeQueueNums; queueId++) {
    const min = Math.max(0, state.minOffset(topic, queueId));
    const max = Math.max(0, state.maxOffset(topic, queueId));
    const last = max > 0 ? storeTimestampAt(context, topic, queueId, max - 1) ?? 0 : 0;
    entries.push([{ topic, brokerName: context.config.brokerName, queueId }, `{"lastUpdateTimestamp":${last},"maxOffset":${max},"minOffset":${min}}`]);
  }
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(messageQueueMapJson('offsetTable', entries), 'utf8') });
}

async function deleteTopic(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const topic = (request.extFields['topic'] ?? '').trim();
  if (topic === '') return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: 'The specified topic is blank.' });
  if (isSystemTopic(topic)) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `The topic[${topic}] is conflict with system topic.` });
  // Java answers SUCCESS for a topic it does not have; nothing to replicate then.
  if (context.commitLog.state.topicConfig(topic) === null) return createResponse(request, ResponseCode.SUCCESS);
  try {
    await context.commitLog.proposeCommand({ type: 'deleteTopic', topicName: topic });
  } catch (error) {
    return putFailureResponse(request, error);
  }
  context.log(`deleteTopic ${topic}: removed from the topic table`);
  return createResponse(request, ResponseCode.SUCCESS);
}

async function transferLeadership(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const transferee = requiredString(request, 'transferee');
  if (!MEMBER_ID_PATTERN.test(transferee)) return createResponse(request, ResponseCode.INVALID_PARAMETER, { remark: `transferee ${JSON.stringify(transferee)} is not a member id` });
  if (context.transferLeadership === null) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: 'a classic broker (enableDLegerCommitLog=false) has no DLedger group to transfer' });
  const role = context.commitLog.role;
  if (role.role !== 'master') {
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: `${NOT_MASTER_REMARK} Leadership is transferred by the leader (leader ${role.leaderId ?? 'unknown'}).` });
  }
  if (transferee === context.config.dLegerSelfId) return createResponse(request, ResponseCode.SUCCESS, { remark: `${transferee} already leads` });
  if (!context.config.dLegerPeers.some((peer) => peer.id === transferee)) {
    return createResponse(request, ResponseCode.INVALID_PARAMETER, { remark: `${transferee} is not a member of ${context.config.dLegerGroup} (members ${context.config.dLegerPeers.map((p) => p.id).join(', ')})` });
  }
  try {
    await context.transferLeadership(transferee, TRANSFER_TIMEOUT_MS);
  } catch (error) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `leadership not transferred to ${transferee}: ${(error as Error).message}` });
  }
  context.log(`leadership transferred to ${transferee} on request`);
  return createResponse(request, ResponseCode.SUCCESS);
}
