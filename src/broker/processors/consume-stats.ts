// GET_CONSUME_STATS (208), what RocketMQ's `mqadmin consumerProgress` asks each master
// (AdminBrokerProcessor.getConsumeStats): for the topic asked, or every topic the group has
// committed offsets on (its retry topic included), per queue the broker's max offset, the group's
// committed offset (0 if none) and the store time of the last message it consumed. Answered from
// the replicated state, so a follower gives the same numbers as the master.
// Body = fastjson's ConsumeStats, whose offsetTable is a Map<MessageQueue, OffsetWrapper>: the keys
// are JSON objects ({"brokerName":"b","queueId":0,"topic":"T"}:{...}), which is not standard JSON
// but what Java's mqadmin parses; parseConsumeStats (src/admin) reads it back.
// consumeTps = messages pulled by the group per second over the last 10 s (Java: the group's get TPS).
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalString, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { storeTimestampAt } from './consumer-offset.js';

export function registerConsumeStatsProcessor(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.GET_CONSUME_STATS, (request) => consumeStats(context, request));
}

/** The topics a group has committed offsets on ("topic@group" keys of the replicated state). */
function topicsOfGroup(context: BrokerContext, group: string): string[] {
  const suffix = `@${group}`;
  return [...context.commitLog.state.consumerOffsets().keys()].filter((key) => key.endsWith(suffix)).map((key) => key.slice(0, -suffix.length));
}

function consumeStats(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const group = requiredString(request, 'consumerGroup');
  const onlyTopic = optionalString(request, 'topic');
  const state = context.commitLog.state;
  const topics = onlyTopic !== null && onlyTopic !== '' ? [onlyTopic] : topicsOfGroup(context, group).sort();
  const entries: string[] = [];
  for (const topic of topics) {
    const config = state.topicConfig(topic);
    if (config === null) continue; // as Java: a topic this group does not have is no error
    for (let queueId = 0; queueId < config.writeQueueNums; queueId++) {
      const brokerOffset = Math.max(0, state.maxOffset(topic, queueId));
      const consumerOffset = Math.max(0, state.consumerOffset(group, topic, queueId) ?? 0);
      const lastTimestamp = consumerOffset > 0 ? storeTimestampAt(context, topic, queueId, consumerOffset - 1) ?? 0 : 0;
      // fastjson: bean fields in alphabetical order, the MessageQueue key as an object.
      const key = `{"brokerName":${JSON.stringify(context.config.brokerName)},"queueId":${queueId},"topic":${JSON.stringify(topic)}}`;
      entries.push(`${key}:{"brokerOffset":${brokerOffset},"consumerOffset":${consumerOffset},"lastTimestamp":${lastTimestamp}}`);
    }
  }
  const body = `{"consumeTps":${context.stats.groupPullRates.perSecond(group)},"offsetTable":{${entries.join(',')}}}`;
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(body, 'utf8') });
}
