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

/**
 * The broker state as of entry `capturedAt`, written into the log by the master so that retention
 * may delete every entry up to capturedAt: a member whose log starts after entry 0 (restarted after
 * retention, or given a snapshot) rebuilds topics, consumer offsets and each queue's next offset
 * from it (broker-state.ts "restoring"). Members with the whole history apply it as a no-op.
 */
export interface StateCheckpoint {
  readonly type: 'stateCheckpoint';
  readonly capturedAt: number;
  readonly topics: readonly TopicConfig[];
  /** [topic, group, [[queueId, offset], ...]] */
  readonly offsets: ReadonlyArray<readonly [string, string, ReadonlyArray<readonly [number, number]>]>;
  /** [topic, queueId, maxOffset] of every queue. */
  readonly queues: ReadonlyArray<readonly [string, number, number]>;
  /** Each state extension's snapshot, by name (absent in checkpoints written before extensions). */
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** A state extension's name (BrokerState.registerExtension): the gRPC endpoints, POP, transactions. */
export const EXTENSION_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9]{0,31}$/;

export type BrokerCommand =
  | StateCheckpoint
  | { readonly type: 'upsertTopic'; readonly topic: TopicConfig }
  | { readonly type: 'deleteTopic'; readonly topicName: string }
  | { readonly type: 'commitOffsets'; readonly group: string; readonly offsets: readonly OffsetCommit[] }
  /** Every committed offset of a group goes (DELETE_SUBSCRIPTIONGROUP with cleanOffset). */
  | { readonly type: 'deleteGroupOffsets'; readonly group: string }
  /** A command of a state extension: `body` is validated by the extension when applied. */
  | { readonly type: 'extension'; readonly extension: string; readonly body: unknown };

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
    case 'deleteGroupOffsets': {
      const group = v['group'];
      if (typeof group !== 'string' || !GROUP_NAME_PATTERN.test(group)) throw new CommandFormatError(`deleteGroupOffsets: bad group ${JSON.stringify(group)}`);
      return { type: 'deleteGroupOffsets', group };
    }
    case 'stateCheckpoint':
      return parseCheckpoint(v);
    case 'extension': {
      const extension = v['extension'];
      if (typeof extension !== 'string' || !EXTENSION_NAME_PATTERN.test(extension)) throw new CommandFormatError(`extension: bad name ${JSON.stringify(extension)}`);
      return { type: 'extension', extension, body: v['body'] ?? null };
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

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseCheckpoint(v: Record<string, unknown>): StateCheckpoint {
  const { capturedAt, topics, offsets, queues, extensions } = v;
  if (typeof capturedAt !== 'number' || !Number.isSafeInteger(capturedAt) || capturedAt < -1) throw new CommandFormatError(`stateCheckpoint: bad capturedAt ${JSON.stringify(capturedAt)}`);
  if (!Array.isArray(topics) || !Array.isArray(offsets) || !Array.isArray(queues)) throw new CommandFormatError('stateCheckpoint: topics, offsets and queues must be arrays');
  const parsedTopics = topics.map((topic: unknown, i) => {
    try {
      return parseTopicConfig(topic);
    } catch (error) {
      throw new CommandFormatError(`stateCheckpoint: topics[${i}]: ${(error as Error).message}`);
    }
  });
  const parsedOffsets = offsets.map((entry: unknown, i): readonly [string, string, ReadonlyArray<readonly [number, number]>] => {
    const [topic, group, table] = Array.isArray(entry) ? entry : [];
    if (typeof topic !== 'string' || !TOPIC_NAME_PATTERN.test(topic) || typeof group !== 'string' || !GROUP_NAME_PATTERN.test(group) || !Array.isArray(table)) throw new CommandFormatError(`stateCheckpoint: offsets[${i}] is not [topic, group, table]`);
    return [topic, group, table.map((pair: unknown, j): readonly [number, number] => {
      if (!Array.isArray(pair) || !isCount(pair[0]) || !isCount(pair[1])) throw new CommandFormatError(`stateCheckpoint: offsets[${i}][2][${j}] is not [queueId, offset]`);
      return [pair[0], pair[1]];
    })];
  });
  const parsedQueues = queues.map((entry: unknown, i): readonly [string, number, number] => {
    const [topic, queueId, maxOffset] = Array.isArray(entry) ? entry : [];
    if (typeof topic !== 'string' || !TOPIC_NAME_PATTERN.test(topic) || !isCount(queueId) || !isCount(maxOffset)) throw new CommandFormatError(`stateCheckpoint: queues[${i}] is not [topic, queueId, maxOffset]`);
    return [topic, queueId, maxOffset];
  });
  if (extensions !== undefined && (typeof extensions !== 'object' || extensions === null || Array.isArray(extensions) || Object.keys(extensions).some((name) => !EXTENSION_NAME_PATTERN.test(name)))) {
    throw new CommandFormatError('stateCheckpoint: extensions must be an object keyed by extension names');
  }
  return { type: 'stateCheckpoint', capturedAt, topics: parsedTopics, offsets: parsedOffsets, queues: parsedQueues, ...(extensions === undefined ? {} : { extensions: extensions as Record<string, unknown> }) };
}
