// Broker commands (topic create/update/delete, consumer offset commits) travel through the Raft
// log like messages, so every member applies them in the same order as the messages around them
// and a failover never rolls them back (RocketMQ copies this state every 10 s instead, and users
// see duplicates after a failover: reference §5).
//
// How they are told apart from messages: a command IS a stored message, addressed to the internal
// topic BROKER_STATE_TOPIC, with a JSON body. We chose this over a marker byte or a separate entry
// type because it keeps "the commit log is a sequence of RocketMQ stored messages" true for every
// entry: the physical-offset hook, BODYCRC, dump tools and any reader that walks the commit log
// (RocketMQ's checkMessageAndReturnSize) see only well-formed messages. Producers cannot send to
// this topic (the send path refuses it) and it is never routed or indexed into a consume queue.
import { encodeMessage, type HostAddress } from '../message-codec.js';
import { parseTopicConfig, TOPIC_NAME_PATTERN, type TopicConfig } from './topic-config.js';

export const BROKER_STATE_TOPIC = 'RMQ_SYS_DLEDGER_BROKER_STATE';

export const GROUP_NAME_PATTERN = /^[%|a-zA-Z0-9_-]{1,255}$/;

export interface OffsetCommit {
  readonly topic: string;
  readonly queueId: number;
  readonly offset: number;
}

export type BrokerCommand =
  | { readonly type: 'upsertTopic'; readonly topic: TopicConfig }
  | { readonly type: 'deleteTopic'; readonly topicName: string }
  | { readonly type: 'commitOffsets'; readonly group: string; readonly offsets: readonly OffsetCommit[] };

export class CommandFormatError extends Error {
  override name = 'CommandFormatError';
}

/** The stored message carrying `command` (QUEUEOFFSET 0: commands are not in a consume queue). */
export function encodeCommand(command: BrokerCommand, storeHost: HostAddress, nowMs: number): Uint8Array {
  return encodeMessage({
    topic: BROKER_STATE_TOPIC,
    queueId: 0,
    flag: 0,
    queueOffset: 0,
    physicalOffset: 0,
    sysFlag: 0,
    bornTimestampMs: nowMs,
    bornHost: storeHost,
    storeTimestampMs: nowMs,
    storeHost,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: new TextEncoder().encode(JSON.stringify(command)),
    properties: '',
  });
}

/** Parse and validate a command body; CommandFormatError names what is wrong. */
export function decodeCommand(body: Uint8Array): BrokerCommand {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    throw new CommandFormatError(`command body is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new CommandFormatError('command is not an object');
  const v = value as Record<string, unknown>;
  switch (v['type']) {
    case 'upsertTopic':
      try {
        return { type: 'upsertTopic', topic: parseTopicConfig(v['topic']) };
      } catch (error) {
        throw new CommandFormatError(`upsertTopic: ${(error as Error).message}`);
      }
    case 'deleteTopic': {
      const topicName = v['topicName'];
      if (typeof topicName !== 'string' || !TOPIC_NAME_PATTERN.test(topicName)) throw new CommandFormatError(`deleteTopic: bad topicName ${JSON.stringify(topicName)}`);
      return { type: 'deleteTopic', topicName };
    }
    case 'commitOffsets': {
      const group = v['group'];
      if (typeof group !== 'string' || !GROUP_NAME_PATTERN.test(group)) throw new CommandFormatError(`commitOffsets: bad group ${JSON.stringify(group)}`);
      const offsets = v['offsets'];
      if (!Array.isArray(offsets)) throw new CommandFormatError('commitOffsets: offsets is not an array');
      return { type: 'commitOffsets', group, offsets: offsets.map((o: unknown, i) => parseOffsetCommit(o, i)) };
    }
    default:
      throw new CommandFormatError(`unknown command type ${JSON.stringify(v['type'])}`);
  }
}

function parseOffsetCommit(value: unknown, i: number): OffsetCommit {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { topic, queueId, offset } = v;
  if (typeof topic !== 'string' || !TOPIC_NAME_PATTERN.test(topic)) throw new CommandFormatError(`commitOffsets: offsets[${i}].topic ${JSON.stringify(topic)} is not a topic name`);
  if (typeof queueId !== 'number' || !Number.isInteger(queueId) || queueId < 0) throw new CommandFormatError(`commitOffsets: offsets[${i}].queueId ${JSON.stringify(queueId)} is not a queue id`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new CommandFormatError(`commitOffsets: offsets[${i}].offset ${JSON.stringify(offset)} is not an offset`);
  return { topic, queueId, offset };
}
