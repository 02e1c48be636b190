// Delay levels (RocketMQ's messageDelayLevel, ScheduleMessageService.parseDelayLevel): a message
// whose DELAY property is a level > 0 is stored in SCHEDULE_TOPIC_XXXX, queue level - 1, with its
// real topic and queue in REAL_TOPIC / REAL_QID, and delivered to them once the level's delay has
// passed since it was stored (schedule-service.ts). A consumer's retry (CONSUMER_SEND_MSG_BACK with
// delayLevel 0) uses level 3 + reconsumeTimes, so retries back off 10 s, 30 s, 1 m, ... by default.
import type { MessageToPut } from '../dledger-commit-log.js';
import { formatMessageProperties, parseMessageProperties } from '../message-codec.js';

export const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';
/** The consumer group under which the schedule's per-level progress is replicated (RocketMQ: delayOffset.json). */
export const SCHEDULE_OFFSET_GROUP = 'RMQ_SYS_SCHEDULE_PROGRESS';
export const DEFAULT_MESSAGE_DELAY_LEVEL = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Levels at most (the schedule topic has one queue per level). */
const LEVELS_MAX = 64;

/** "1s 5s 1m ..." to milliseconds per level (level n = element n - 1); throws naming the bad item. */
export function parseDelayLevels(text: string): number[] {
  const items = text.trim().split(/\s+/).filter((item) => item.length > 0);
  if (items.length === 0 || items.length > LEVELS_MAX) throw new Error(`"${text}" must list 1 to ${LEVELS_MAX} delays such as "1s 5s 1m 2h"`);
  return items.map((item) => {
    const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(item);
    if (match === null) throw new Error(`"${item}" is not a delay (a positive number and one of s, m, h, d)`);
    return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  });
}

/** Transaction type bits of SYSFLAG: prepared (4) and rollback (12) messages are never delayed. */
const TRANSACTION_TYPE_MASK = 0xc;
const TRANSACTION_PREPARED = 0x4;
const TRANSACTION_ROLLBACK = 0xc;

/**
 * The message as it is stored when its DELAY property asks for a level (CommitLog.asyncPutMessage):
 * to SCHEDULE_TOPIC_XXXX queue level - 1, the level clamped to the highest configured one, the
 * real destination kept in REAL_TOPIC / REAL_QID. Unchanged when no delay applies.
 */
export function scheduleIfDelayed(message: MessageToPut, levelsCount: number): MessageToPut {
  const type = message.sysFlag & TRANSACTION_TYPE_MASK;
  if (type === TRANSACTION_PREPARED || type === TRANSACTION_ROLLBACK) return message;
  const properties = parseMessageProperties(message.properties);
  const level = Number(properties.get('DELAY') ?? '0');
  if (!Number.isInteger(level) || level <= 0) return message;
  const clamped = Math.min(level, levelsCount);
  properties.set('DELAY', String(clamped));
  properties.set('REAL_TOPIC', message.topic);
  properties.set('REAL_QID', String(message.queueId));
  return { ...message, topic: SCHEDULE_TOPIC, queueId: clamped - 1, properties: formatMessageProperties(properties) };
}
