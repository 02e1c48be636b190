// fastjson shapes of RocketMQ admin bodies keyed by MessageQueue (TopicStatsTable, ResetOffsetBody):
// a Map<MessageQueue, V> is written with each key as a JSON object, {"brokerName":"b","queueId":0,
// "topic":"T"}:{...}, which is not standard JSON but what Java's mqadmin reads (parseConsumeStats
// in src/admin reads it back). Bean fields are in alphabetical order (fastjson's SortField).

export interface MessageQueueKey {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
}

/** The MessageQueue bean as fastjson writes it. */
export function messageQueueJson(q: MessageQueueKey): string {
  return `{"brokerName":${JSON.stringify(q.brokerName)},"queueId":${q.queueId},"topic":${JSON.stringify(q.topic)}}`;
}

/** {"<field>":{mq:value,...}} with each value already JSON. */
export function messageQueueMapJson(field: string, entries: ReadonlyArray<readonly [MessageQueueKey, string]>): string {
  return `{${JSON.stringify(field)}:{${entries.map(([q, v]) => `${messageQueueJson(q)}:${v}`).join(',')}}}`;
}
