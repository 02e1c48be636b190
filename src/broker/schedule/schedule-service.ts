// The master's delivery of delayed messages (RocketMQ's ScheduleMessageService): every tick, for
// each level, messages of SCHEDULE_TOPIC_XXXX queue level - 1 whose delay has passed since they
// were stored are put to their REAL_TOPIC / REAL_QID (DELAY removed), in order, and the level's
// progress is committed as the consumer offset of SCHEDULE_OFFSET_GROUP. That offset goes through
// the Raft log like any consumer offset, so a new master continues where the old one stopped
// (RocketMQ copies delayOffset.json every 10 s and re-delivers after a failover, apache/rocketmq#1934).
// A message delivered but not yet recorded when the master dies is delivered again: at least once.
import type { BrokerCommitLog } from '../dledger-commit-log.js';
import { decodeMessage, formatMessageProperties, parseMessageProperties, type StoredMessage } from '../message-codec.js';
import type { OffsetCommitter } from '../offset-committer.js';
import { SCHEDULE_OFFSET_GROUP, SCHEDULE_TOPIC } from './delay-levels.js';

/** RocketMQ checks each level every 100 ms. */
const TICK_MS = 100;
/** Messages delivered per level per tick at most, so one busy level cannot starve the others. */
const BATCH_PER_LEVEL = 64;

export interface ScheduleServiceOptions {
  readonly commitLog: BrokerCommitLog;
  readonly offsets: OffsetCommitter;
  /** Delay of level n at index n - 1. */
  readonly levelsMs: readonly number[];
  readonly log: (line: string) => void;
}

export class ScheduleMessageService {
  private timer: NodeJS.Timeout | null = null;
  /** Invariant: at most one tick runs at a time (deliveries of a level stay in order). */
  private ticking = false;
  delivered = 0;

  constructor(private readonly options: ScheduleServiceOptions) {}

  /** Runs while this broker is the master; called on every broker-role change. */
  setMaster(master: boolean): void {
    if (master && this.timer === null) {
      this.timer = setInterval(() => void this.tick(), TICK_MS);
      this.timer.unref();
    } else if (!master && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  close(): void {
    this.setMaster(false);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (let level = 1; level <= this.options.levelsMs.length; level++) await this.deliverDue(level);
    } catch (error) {
      // Lost leadership or a put that failed: the offset was not advanced, the next master (or tick) retries.
      this.options.log(`delayed delivery paused: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private async deliverDue(level: number): Promise<void> {
    const { commitLog, offsets } = this.options;
    const queueId = level - 1;
    const delayMs = this.options.levelsMs[queueId] as number;
    // Retention may have deleted the units the offset points at: go on from the queue's minimum
    // (RocketMQ's ScheduleMessageService corrects the offset the same way).
    let offset = Math.max(offsets.offsetOf(SCHEDULE_OFFSET_GROUP, SCHEDULE_TOPIC, queueId) ?? 0, commitLog.state.minOffset(SCHEDULE_TOPIC, queueId));
    for (let n = 0; n < BATCH_PER_LEVEL && commitLog.isWritable(); n++) {
      const [bytes] = commitLog.readMessages(SCHEDULE_TOPIC, queueId, offset, 1, Number.MAX_SAFE_INTEGER);
      if (bytes === undefined) return;
      const message = decodeMessage(bytes, 0, { verifyBodyCrc: false });
      // A gRPC delivery timestamp (TIMER_DELIVER_MS, at most the level's delay after the store
      // time) is when it is due; later messages of the level were stored later, so each waits at
      // most until its own store time + the level's delay, and none is delivered early.
      const deliverAt = Number(parseMessageProperties(message.properties).get('TIMER_DELIVER_MS') ?? Number.NaN);
      const dueAtMs = Number.isSafeInteger(deliverAt) ? Math.min(deliverAt, message.storeTimestampMs + delayMs) : message.storeTimestampMs + delayMs;
      if (dueAtMs > Date.now()) return;
      await this.deliver(message);
      offset++;
      await offsets.commit(SCHEDULE_OFFSET_GROUP, SCHEDULE_TOPIC, queueId, offset);
    }
  }

  private async deliver(message: StoredMessage): Promise<void> {
    const properties = parseMessageProperties(message.properties);
    const topic = properties.get('REAL_TOPIC');
    const queueId = Number(properties.get('REAL_QID'));
    if (topic === undefined || !Number.isInteger(queueId) || queueId < 0 || this.options.commitLog.state.topicConfig(topic) === null) {
      this.options.log(`delayed message at ${message.physicalOffset} dropped: its topic ${topic ?? '(no REAL_TOPIC)'} queue ${properties.get('REAL_QID')} does not exist`);
      return;
    }
    properties.delete('DELAY');
    await this.options.commitLog.putMessages([{
      topic,
      queueId,
      flag: message.flag,
      sysFlag: message.sysFlag,
      bornTimestampMs: message.bornTimestampMs,
      bornHost: message.bornHost,
      reconsumeTimes: message.reconsumeTimes,
      body: message.body,
      properties: formatMessageProperties(properties),
    }]);
    this.delivered++;
  }
}
