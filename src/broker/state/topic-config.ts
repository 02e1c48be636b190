// RocketMQ's TopicConfig (the JSON the name server and mqadmin see) and its validation. A topic
// config reaches the replicated state only through a command in the log, so every member holds
// the same table; validation happens before proposing (bad input) and again on apply (a command
// that fails it is skipped identically everywhere).

export const Perm = { PRIORITY: 8, READ: 4, WRITE: 2, INHERIT: 1 } as const;
export const PERM_READ_WRITE = Perm.READ | Perm.WRITE;

/** RocketMQ's topic name rules (TopicValidator): charset and length. */
export const TOPIC_NAME_PATTERN = /^[%|a-zA-Z0-9_-]{1,127}$/;
export const QUEUE_NUMS_MAX = 1024;

export interface TopicConfig {
  readonly topicName: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly topicFilterType: 'SINGLE_TAG' | 'MULTI_TAG';
  readonly topicSysFlag: number;
  readonly order: boolean;
  readonly attributes: Readonly<Record<string, string>>;
}

export class TopicConfigError extends Error {
  override name = 'TopicConfigError';
}

/** A validated TopicConfig from untrusted JSON-ish input; TopicConfigError names the field. */
export function parseTopicConfig(value: unknown): TopicConfig {
  if (typeof value !== 'object' || value === null) throw new TopicConfigError('topic config must be an object');
  const v = value as Record<string, unknown>;
  const topicName = v['topicName'];
  if (typeof topicName !== 'string' || !TOPIC_NAME_PATTERN.test(topicName)) {
    throw new TopicConfigError(`topicName ${JSON.stringify(topicName)} must be 1-127 characters of [%|a-zA-Z0-9_-]`);
  }
  const count = (name: string): number => {
    const n = v[name];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > QUEUE_NUMS_MAX) throw new TopicConfigError(`${name} ${JSON.stringify(n)} must be an integer in [0, ${QUEUE_NUMS_MAX}]`);
    return n;
  };
  const readQueueNums = count('readQueueNums');
  const writeQueueNums = count('writeQueueNums');
  const perm = v['perm'];
  if (typeof perm !== 'number' || !Number.isInteger(perm) || perm < 0 || perm > 15) throw new TopicConfigError(`perm ${JSON.stringify(perm)} must be an integer in [0, 15]`);
  const topicFilterType = v['topicFilterType'] ?? 'SINGLE_TAG';
  if (topicFilterType !== 'SINGLE_TAG' && topicFilterType !== 'MULTI_TAG') throw new TopicConfigError(`topicFilterType ${JSON.stringify(topicFilterType)} must be SINGLE_TAG or MULTI_TAG`);
  const topicSysFlag = v['topicSysFlag'] ?? 0;
  if (typeof topicSysFlag !== 'number' || !Number.isInteger(topicSysFlag)) throw new TopicConfigError(`topicSysFlag ${JSON.stringify(topicSysFlag)} must be an integer`);
  const order = v['order'] ?? false;
  if (typeof order !== 'boolean') throw new TopicConfigError(`order ${JSON.stringify(order)} must be a boolean`);
  const attributes = v['attributes'] ?? {};
  if (typeof attributes !== 'object' || attributes === null || Object.values(attributes).some((a) => typeof a !== 'string')) {
    throw new TopicConfigError('attributes must be an object of strings');
  }
  return { topicName, readQueueNums, writeQueueNums, perm, topicFilterType, topicSysFlag, order, attributes: { ...(attributes as Record<string, string>) } };
}

export function isWriteable(perm: number): boolean {
  return (perm & Perm.WRITE) !== 0;
}

export function isReadable(perm: number): boolean {
  return (perm & Perm.READ) !== 0;
}
