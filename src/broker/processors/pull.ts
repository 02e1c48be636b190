// PULL_MESSAGE (11): the messages of one queue from an offset, with RocketMQ's status codes and
// the extFields ali-ons always reads (nextBeginOffset, minOffset, maxOffset, suggestWhichBrokerId).
// With the suspend flag, a pull that finds nothing new is held (long polling) until a message
// for its queue is applied or suspendTimeoutMillis passes. Followers serve pulls too: their
// queues hold the same committed messages at the same offsets.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalInteger, optionalString, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { getMessages, type GetMessageResult, tagCodesOf } from '../get-message.js';
import { isReadable } from '../state/topic-config.js';
import { offsetCommitRefusal } from './consumer-offset.js';

export const PullSysFlag = { COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4, CLASS_FILTER: 8 } as const;

/** How long a master may take to confirm its leadership before it tells a consumer to move its offset. */
const CONFIRM_MASTER_MS = 1000;
/** A held pull is answered after at most this long, whatever the client asked (Java clients ask 15 s). */
const SUSPEND_MAX_MS = 30_000;

interface PullHeader {
  readonly consumerGroup: string;
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly maxMsgNums: number;
  readonly sysFlag: number;
  readonly commitOffset: number;
  readonly suspendTimeoutMillis: number;
  readonly subscription: string | null;
  readonly expressionType: string | null;
  readonly maxMsgBytes: number;
}

function pullHeaderOf(request: RemotingCommand): PullHeader {
  return {
    consumerGroup: requiredString(request, 'consumerGroup'),
    topic: requiredString(request, 'topic'),
    queueId: requiredInteger(request, 'queueId'),
    queueOffset: requiredInteger(request, 'queueOffset'),
    maxMsgNums: requiredInteger(request, 'maxMsgNums'),
    sysFlag: requiredInteger(request, 'sysFlag'),
    commitOffset: requiredInteger(request, 'commitOffset'),
    suspendTimeoutMillis: requiredInteger(request, 'suspendTimeoutMillis'),
    subscription: optionalString(request, 'subscription'),
    expressionType: optionalString(request, 'expressionType'),
    maxMsgBytes: optionalInteger(request, 'maxMsgBytes') ?? Number.MAX_SAFE_INTEGER,
  };
}

export function registerPullProcessor(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.PULL_MESSAGE, (request) => pull(context, request));
}

function pull(context: BrokerContext, request: RemotingCommand): RemotingCommand | Promise<RemotingCommand> {
  const header = pullHeaderOf(request);
  // PullMessageProcessor: a group whose subscription group config disables consumption (updateSubGroup -s false).
  if (context.groups.get(header.consumerGroup)?.consumeEnable === false) return createResponse(request, ResponseCode.NO_PERMISSION, { remark: `subscription group no permission, ${header.consumerGroup}` });
  const topicConfig = context.commitLog.state.topicConfig(header.topic);
  if (topicConfig === null) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, { remark: `topic[${header.topic}] not exist, apply first please!` });
  if (!isReadable(topicConfig.perm)) return createResponse(request, ResponseCode.NO_PERMISSION, { remark: `the topic[${header.topic}] pulling message is forbidden` });
  if (header.queueId < 0 || header.queueId >= topicConfig.readQueueNums) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `queueId[${header.queueId}] is illegal, topic:[${header.topic}] topicConfig.readQueueNums:[${topicConfig.readQueueNums}] consumer:[${header.consumerGroup}]` });
  }
  if (header.maxMsgNums <= 0 || header.queueOffset < 0) {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `maxMsgNums ${header.maxMsgNums} and queueOffset ${header.queueOffset} must be positive` });
  }
  // The piggybacked commit offset is stored on the master only (as in RocketMQ).
  if ((header.sysFlag & PullSysFlag.COMMIT_OFFSET) !== 0 && header.commitOffset >= 0 && context.commitLog.role.role === 'master' && offsetCommitRefusal(context, header.consumerGroup, header.topic, header.queueId) === null) {
    context.offsets.commit(header.consumerGroup, header.topic, header.queueId, header.commitOffset).catch(() => undefined);
  }
  // RocketMQ's transfer bounds (maxTransfer*OnMessageInMemory): whatever the request asks, one
  // answer holds at most that many messages and bytes (the first message always goes).
  const maxBytes = Math.min(Math.max(1, header.maxMsgBytes), context.config.maxTransferBytesOnMessageInMemory);
  const maxNums = Math.min(header.maxMsgNums, context.config.maxTransferCountOnMessageInMemory);
  if (header.maxMsgBytes > context.config.maxTransferBytesOnMessageInMemory && header.maxMsgBytes !== Number.MAX_SAFE_INTEGER) {
    context.stats.refusals.refuse('maxTransferBytesOnMessageInMemory', `pull asked maxMsgBytes=${header.maxMsgBytes}, answered at most ${maxBytes}`);
  }
  // ExpressionType.isTagType: absent, empty or TAG; SQL92 needs enablePropertyFilter, which we do not have.
  if ((header.sysFlag & PullSysFlag.SUBSCRIPTION) !== 0 && header.expressionType !== null && header.expressionType !== '' && header.expressionType !== 'TAG') {
    return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `The broker does not support consumer to filter message by ${header.expressionType}` });
  }
  const tagCodes = (header.sysFlag & PullSysFlag.SUBSCRIPTION) !== 0 ? tagCodesOf(header.subscription) : tagCodesOfGroup(context, header);
  const run = (): GetMessageResult => getMessages(context.commitLog, header.topic, header.queueId, header.queueOffset, maxNums, maxBytes, tagCodes);
  const first = run();
  if (movesOffset(first, header.queueOffset) && context.commitLog.role.role === 'master') {
    // Chaos R3: a deposed master that has not heard of its successor yet (resumed from a pause,
    // cut off) has a stale queue end; PULL_OFFSET_MOVED to it sent ali-ons back (redeliveries,
    // and the lower offset committed). Only a master a quorum still follows, caught up, moves it.
    return context.commitLog.confirmMaster(CONFIRM_MASTER_MS).then((confirmed) => responseOf(context, request, header.queueOffset, confirmed ? run() : first, confirmed));
  }
  const suspend = (header.sysFlag & PullSysFlag.SUSPEND) !== 0 && context.config.longPollingEnable && header.suspendTimeoutMillis > 0;
  // Held only when the answer would be PULL_NOT_FOUND: the consumer is at the end of the queue.
  const atEnd = first.status === 'OFFSET_OVERFLOW_ONE' || (first.status === 'NO_MESSAGE_IN_QUEUE' && header.queueOffset === 0);
  if (!atEnd || !suspend) return responseOf(context, request, header.queueOffset, first, false);
  return new Promise((resolve) => {
    const held = context.pullHold.hold(header.topic, header.queueId, Math.min(header.suspendTimeoutMillis, SUSPEND_MAX_MS), () => resolve(responseOf(context, request, header.queueOffset, run(), false)));
    if (!held) resolve(responseOf(context, request, header.queueOffset, first, false));
  });
}

/** Answers that would make the consumer take another offset (PULL_OFFSET_MOVED). */
function movesOffset(result: GetMessageResult, queueOffset: number): boolean {
  return result.status === 'OFFSET_TOO_SMALL' || result.status === 'OFFSET_OVERFLOW_BADLY' || (result.status === 'NO_MESSAGE_IN_QUEUE' && queueOffset !== 0);
}

/** Without a subscription in the request, the group's subscription from its heartbeats. */
function tagCodesOfGroup(context: BrokerContext, header: PullHeader): Set<number> | null {
  const subscription = context.consumers.subscriptions(header.consumerGroup).find((s) => s.topic === header.topic);
  return tagCodesOf(subscription?.subString ?? null);
}

/** `confirmedMaster`: this member confirmed it is the caught-up master (confirmMaster) for this pull. */
function responseOf(context: BrokerContext, request: RemotingCommand, queueOffset: number, result: GetMessageResult, confirmedMaster: boolean): RemotingCommand {
  // A follower may lag (restarted, paused, cut off): an offset beyond its queue is not illegal, it
  // is not applied here yet. Java's slave (offsetCheckInSlave=false) keeps the offset and answers
  // PULL_RETRY_IMMEDIATELY suggesting the master; answering PULL_OFFSET_MOVED with our stale max
  // made ali-ons move its offset (and then the committed one) back: chaos R1, redeliveries. The
  // same holds for a master that could not confirm it still leads (R3).
  if (movesOffset(result, queueOffset) && !confirmedMaster) {
    const who = context.commitLog.role.role === 'master' ? 'a master that could not confirm its leadership' : 'a follower';
    return createResponse(request, ResponseCode.PULL_RETRY_IMMEDIATELY, {
      extFields: { suggestWhichBrokerId: 0, nextBeginOffset: queueOffset, minOffset: result.minOffset, maxOffset: result.maxOffset },
      remark: `${result.status} on ${who}: offset kept, pull from the master`,
    });
  }
  let code: number;
  switch (result.status) {
    case 'FOUND': code = ResponseCode.SUCCESS; break;
    case 'NO_MATCHED_MESSAGE': code = ResponseCode.PULL_RETRY_IMMEDIATELY; break;
    case 'OFFSET_OVERFLOW_ONE': code = ResponseCode.PULL_NOT_FOUND; break;
    case 'NO_MESSAGE_IN_QUEUE': code = Number(request.extFields['queueOffset']) === 0 ? ResponseCode.PULL_NOT_FOUND : ResponseCode.PULL_OFFSET_MOVED; break;
    case 'OFFSET_TOO_SMALL':
    case 'OFFSET_OVERFLOW_BADLY': code = ResponseCode.PULL_OFFSET_MOVED; break;
  }
  context.stats.messagesPulled += result.messages.length;
  context.stats.pullRate.add(result.messages.length);
  // The header was validated before: consumerGroup is present.
  if (result.messages.length > 0) context.stats.groupPullRates.add(request.extFields['consumerGroup'] as string, result.messages.length);
  return createResponse(request, code, {
    extFields: { suggestWhichBrokerId: 0, nextBeginOffset: result.nextBeginOffset, minOffset: result.minOffset, maxOffset: result.maxOffset },
    // One message goes as it is: concat would copy it (a 4 MiB copy per pull of a big message).
    body: result.messages.length === 0 ? null : result.messages.length === 1 ? Buffer.from((result.messages[0] as Uint8Array).buffer, (result.messages[0] as Uint8Array).byteOffset, (result.messages[0] as Uint8Array).byteLength) : Buffer.concat(result.messages),
    remark: result.status,
  });
}
