// Which topics one POP receive reads, as RocketMQ 5's PopMessageProcessor picks them: the topic
// asked, and the group's retry topics with its retry-priority ratio (popFromRetryProbability = 20:
// one receive in five reads the retry topics first, the others read the topic first and the
// retry topics only when the batch is not full yet).
// Retry topics read (facts from apache/rocketmq 5.x PopMessageProcessor, KeyBuilder, BrokerConfig):
//  - %RETRY%<group>_<topic>: 5.x's pop retry topic (KeyBuilder.buildPopRetryTopicV1; V2 '+' only
//    with enableRetryTopicV2, default false), where PopReviveService puts an unacked message
//    after its invisible time. This broker revives in place (pop-state.ts: the in-flight entry
//    comes back with attempt + 1), so only messages stored there by a 5.x broker before a
//    migration are found in it; it is read so they are not stranded;
//  - %RETRY%<group>: where a remoting consumer of the same group sends a message back
//    (CONSUMER_SEND_MSG_BACK). A 5.x gRPC consumer does not subscribe it (only a remoting consumer
//    does, by itself); it is read here so that a group mixing both sees its retries. It holds
//    the retries of every topic of the group: a receive of <topic> delivers only messages whose
//    RETRY_TOPIC is <topic>, and stops that queue's scan at one of another topic (they wait for a
//    receive of their own topic, never skipped).
// A retry message is shown as one of <topic> (popResponseReturnActualRetryTopic=false, 5.x's
// default: the message's topic is set back to the original); its receipt handle names the retry
// topic it lives in (as ExtraInfoUtil's retry flag does), and an ack or change for <topic> accepts
// a handle of one of <topic>'s retry topics for the same group. Its delivery attempt is its
// RECONSUMETIMES + the POP deliveries of it (5.x: reconsumeTimes + 1 for the first), and it goes
// to %DLQ%<group> once that reaches grpcConsumerMaxAttempts.
import { RETRY_GROUP_TOPIC_PREFIX } from '../broker/processors/send.js';
import { TOPIC_NAME_PATTERN } from '../broker/state/topic-config.js';

/** RocketMQ 5's BrokerConfig.popFromRetryProbability default: percent of receives that read retry topics first. */
export const POP_FROM_RETRY_PERCENT = 20;

export interface PopSource {
  /** The topic whose queues are popped (the asked topic or one of its retry topics). */
  readonly topic: string;
  /** The retry topic a remoting consumer sends back to (%RETRY%<group>): only messages of `forTopic` are delivered. */
  readonly sharedRetry: boolean;
  readonly retry: boolean;
}

export function popRetryTopic(group: string, topic: string): string {
  return `${RETRY_GROUP_TOPIC_PREFIX}${group}_${topic}`;
}

export function groupRetryTopic(group: string): string {
  return `${RETRY_GROUP_TOPIC_PREFIX}${group}`;
}

/** The asked topic is itself a retry topic (a consumer reading %RETRY%... directly): no retry sources for it. */
function isRetryTopic(topic: string): boolean {
  return topic.startsWith(RETRY_GROUP_TOPIC_PREFIX);
}

/**
 * The sources of one receive, in reading order. `percent` is a draw in [0, 100) (the caller's
 * Math.random: the order decides only who is read first, never what is replicated).
 */
export function popSources(group: string, topic: string, percent: number, fifo: boolean): PopSource[] {
  const main: PopSource = { topic, sharedRetry: false, retry: false };
  // FIFO pops read no retry topic (5.x: `!requestHeader.isOrder()`), nor does a retry topic asked directly.
  if (fifo || isRetryTopic(topic)) return [main];
  const retries: PopSource[] = [
    { topic: popRetryTopic(group, topic), sharedRetry: false, retry: true },
    { topic: groupRetryTopic(group), sharedRetry: true, retry: true },
  ].filter((s) => TOPIC_NAME_PATTERN.test(s.topic));
  return percent < POP_FROM_RETRY_PERCENT ? [...retries, main] : [main, ...retries];
}

/** A receipt handle of `handleTopic` may be acked/changed as one of `topic` by `group`. */
export function handleTopicAllowed(group: string, topic: string, handleTopic: string): boolean {
  return handleTopic === topic || (!isRetryTopic(topic) && (handleTopic === popRetryTopic(group, topic) || handleTopic === groupRetryTopic(group)));
}

/** The topic a retry message was first sent to (RETRY_TOPIC), else its own. */
export function originalTopicOf(topic: string, properties: ReadonlyMap<string, string>): string {
  return isRetryTopic(topic) ? (properties.get('RETRY_TOPIC') ?? topic) : topic;
}
