// ReceiveMessage, AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue: POP
// consumption as RocketMQ 5's proxy and broker (PopMessageProcessor, AckMessageProcessor,
// ChangeInvisibleTimeProcessor, PopReviveService) give it to the 5.x SimpleConsumer and
// PushConsumer, decided here on the master and replicated through the log (pop-state.ts):
//  - a receive scans the group's readable queues of the topic (the request's queue only names
//    the broker, as for RocketMQ's proxy) and hands out first the in-flight messages whose invisible time is
//    over (delivery attempt + 1), then messages never handed out that match the tag filter; one pop
//    command per queue, applied before the messages are answered, so a receive the client got is
//    replicated; nothing found -> held (long polling) until a message arrives in the topic, an
//    invisible time ends, or the polling time is over (the client's long_polling_timeout, at most
//    grpcMaxLongPollingMs and the call's deadline), then MESSAGE_NOT_FOUND;
//  - a message due again after grpcConsumerMaxAttempts deliveries goes to %DLQ%<group> instead
//    (PopMessageResultFilterImpl's TO_DLQ): put there, then removed by an `ack` with dlq=true;
//  - a FIFO group (consumeMessageOrderly): each queue is an order lock (pop-state.ts): a queue with
//    a message in flight and invisible hands out nothing; due ones come back lowest offset first,
//    newer ones only once none of the queue is in flight (RocketMQ 5's ConsumerOrderInfoManager
//    blocks the queue the same way); a message group's messages share one queue (queue-selection.ts);
//  - the invisible time: the request's (grpcMinInvisibleTimeMs..grpcMaxInvisibleTimeMs, else
//    ILLEGAL_INVISIBLE_TIME), or grpcDefaultInvisibleTimeMs for a PushConsumer's auto-renew receive
//    (the proxy's defaultInvisibleTimeMills; we do not renew it: see docs/architecture.md);
//  - an ack / change / forward names the delivery by its receipt handle; one that is no longer in
//    flight with that handle (acked, redelivered, changed since) is INVALID_RECEIPT_HANDLE.
// A group's pops and acks on this master run one at a time (a per-group chain), so the next
// offset a pop starts from is the applied one. AckMessage calls of a group that arrive while its
// chain is busy wait in a bounded queue (ACK_QUEUE_ENTRIES_MAX) and go into the log as one ack
// command (one replication round for many acks), each call answered as if it had run alone. Held receives are bounded (grpcHeldReceivesMax);
// in-flight receipts per group (grpcPopInflightMax <= POP_INFLIGHT_PER_GROUP_MAX) and in all
// (POP_INFLIGHT_TOTAL_MAX): a receive over them answers TOO_MANY_REQUESTS.
import type * as grpc from '@grpc/grpc-js';
import type { BrokerContext } from '../broker/context.js';
import { decodeMessage, formatMessageProperties, parseMessageProperties, type StoredMessage } from '../broker/message-codec.js';
import { createDlqTopic, DLQ_GROUP_TOPIC_PREFIX } from '../broker/processors/send-back.js';
import { newTopicRefusal } from '../broker/processors/admin.js';
import { isReadable } from '../broker/state/topic-config.js';
import { GrpcRefusal, masterEndpoint, type GrpcContext } from './grpc-context.js';
import { durationMs, status, timestampOf, type PbFilterExpression, type PbMessageQueue, type PbResource } from './messaging-proto.js';
import { decodeReceiptHandle, encodeReceiptHandle, matches, messageIdOf, parseFilter, toPbMessage, type TagFilter } from './pop-messages.js';
import { POP_COMMAND_ENTRIES_MAX, POP_EXTENSION, POP_INFLIGHT_PER_GROUP_MAX, POP_INFLIGHT_TOTAL_MAX, popCommandBody, receiptTuple, type PopCommand, type PopState, type Receipt } from './pop-state.js';
import { existingTopic, resourceName } from './route-service.js';
import { handleTopicAllowed, originalTopicOf, popSources, type PopSource } from './pop-retry.js';
import { asDeliveredAs, deliveryAttemptOf } from './pop-delivery.js';
import { putFailureStatus } from './send-service.js';

/** A FIFO consumer group: its subscription group says consumeMessageOrderly (RocketMQ 5's flag, set by mqadmin updateSubGroup -o true). */
export function isFifoGroup(context: BrokerContext, group: string): boolean {
  return context.groups.get(group)?.consumeMessageOrderly === true;
}

/** The topic a handle is decoded for: its own when it is one of `topic`'s retry topics for `group` (pop-retry.ts), else `topic`. */
function handleTopicOf(handle: unknown, group: string, topic: string): string {
  const named = typeof handle === 'string' ? handle.slice(0, handle.indexOf(' ')) : '';
  return named !== '' && handleTopicAllowed(group, topic, named) ? named : topic;
}

type Stream = grpc.ServerWritableStream<Record<string, unknown>, Record<string, unknown>>;

/** Units one receive scans per queue at most (non-matching tags are skipped over). */
const SCAN_UNITS_MAX = 256;
const SCAN_BYTES_MAX = 4 * 1024 * 1024;
/** Kept back from the call's deadline so the answer still reaches the client. */
const DEADLINE_RESERVE_MS = 200;
/** Messages one queue's pop moves to the DLQ at most (the rest on the next receive). */
const DEAD_PER_POP_MAX = 64;

export interface PopSettings {
  readonly minInvisibleMs: number;
  readonly maxInvisibleMs: number;
  readonly defaultInvisibleMs: number;
  readonly maxAttempts: number;
  readonly inflightMaxPerGroup: number;
  readonly heldReceivesMax: number;
  readonly maxLongPollingMs: number;
  readonly maxBatch: number;
}

interface Delivery {
  readonly receipt: Receipt;
  readonly message: StoredMessage;
}

type AckEntry = { messageId?: string; receiptHandle?: string };
/** One AckMessage call waiting for its group's next ack command. */
interface QueuedAck {
  readonly topic: string;
  readonly entries: readonly AckEntry[];
  readonly resolve: (answer: Record<string, unknown>) => void;
  readonly reject: (error: unknown) => void;
}
interface AckResult {
  readonly entry: AckEntry;
  readonly receipt: Receipt | null;
  status: null | { code: string; message: string };
}
/** Ack entries one group may have waiting for its next ack command (beyond: TOO_MANY_REQUESTS). */
const ACK_QUEUE_ENTRIES_MAX = 8 * 1024;

export class PopService {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  // Invariant: a group has a queue here only while one flushAcks of it is scheduled on its chain
  // and has not started; the queue holds at most ACK_QUEUE_ENTRIES_MAX entries.
  private readonly ackQueues = new Map<string, QueuedAck[]>();
  private held = 0;
  private closed = false;

  constructor(private readonly context: GrpcContext, readonly state: PopState, readonly settings: PopSettings) {
    context.broker.commitLog.state.addListener({ onMessage: (topic) => this.wake(topic) });
  }

  get heldReceives(): number {
    return this.held;
  }

  close(): void {
    this.closed = true;
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }

  private wake(topic: string): void {
    const set = this.waiters.get(topic);
    if (set === undefined) return;
    this.waiters.delete(topic);
    for (const wake of set) wake();
  }

  /** One at a time per group on this master. */
  private async serial<T>(group: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(group) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.chains.set(group, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.chains.get(group) === tail) this.chains.delete(group);
    }
  }

  private async propose(command: PopCommand): Promise<void> {
    await this.context.broker.commitLog.proposeCommand({ type: 'extension', extension: POP_EXTENSION, body: popCommandBody(command) });
  }

  private notMaster(): Record<string, unknown> | null {
    const commitLog = this.context.broker.commitLog;
    if (commitLog.isWritable()) return null;
    const role = commitLog.role;
    return { status: status('INTERNAL_SERVER_ERROR', `not the master (${this.context.broker.config.dLegerSelfId} is ${role.role}, leader ${role.leaderId ?? 'unknown'}); the master serves gRPC at ${masterEndpoint(this.context) ?? 'an unknown endpoint'}`) };
  }

  // ---------------------------------------------------------------- ReceiveMessage

  async receive(call: Stream): Promise<void> {
    let answered = false;
    const answer = (responses: Array<Record<string, unknown>>): void => {
      if (answered) return;
      answered = true;
      for (const response of responses) call.write(response);
      call.end();
    };
    try {
      await this.receiveInto(call, answer);
    } catch (error) {
      if (error instanceof GrpcRefusal) answer([{ status: status(error.code, error.message) }]);
      else {
        this.context.broker.log(`gRPC ReceiveMessage failed: ${(error as Error).stack ?? String(error)}`);
        try {
          answer([{ status: putFailureStatus(error, this.context) }]);
        } catch {
          answer([{ status: status('INTERNAL_SERVER_ERROR', `ReceiveMessage failed: ${(error as Error).message}`) }]);
        }
      }
    }
  }

  private async receiveInto(call: Stream, answer: (responses: Array<Record<string, unknown>>) => void): Promise<void> {
    const request = call.request;
    const settings = this.settings;
    const group = resourceName(request['group'] as PbResource, 'group', 'ILLEGAL_CONSUMER_GROUP');
    const mq = (request['messageQueue'] ?? null) as PbMessageQueue | null;
    const topicName = resourceName(mq?.topic, 'topic', 'ILLEGAL_TOPIC');
    const topic = existingTopic(this.context, topicName);
    if (!isReadable(topic.perm)) throw new GrpcRefusal('FORBIDDEN', `the topic[${topicName}] consuming is forbidden (perm ${topic.perm})`);
    // The queue names a broker, not a queue: RocketMQ's proxy pops every queue of the topic on the
    // broker it picks (its read selector's queue id -1), and 1.0.8's SimpleConsumer always sends queue 0.
    const queueIds = [...Array(topic.readQueueNums).keys()];
    const fifo = isFifoGroup(this.context.broker, group);
    const batch = Math.max(1, Math.min(Number(request['batchSize'] ?? 0) || 1, settings.maxBatch));
    const filter = parseFilter(request['filterExpression'] as PbFilterExpression | null);
    const invisibleMs = request['autoRenew'] === true ? settings.defaultInvisibleMs : this.invisibleOf(request['invisibleDuration']);
    const nowMs = Date.now();
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : Infinity;
    const requested = durationMs(request['longPollingTimeout'] as never) ?? settings.maxLongPollingMs;
    const pollEndMs = nowMs + Math.max(0, Math.min(requested, settings.maxLongPollingMs, deadlineMs - nowMs - DEADLINE_RESERVE_MS));
    let first = true;
    for (;;) {
      const refused = this.notMaster();
      if (refused !== null) return answer([refused]);
      // The topic and the group's retry topics (pop-retry.ts), in the order this receive's draw gives.
      const sources = this.sourcesOf(group, topicName, queueIds, fifo);
      const found = await this.serial(group, () => this.popOnce(group, topicName, sources, batch, invisibleMs, filter, fifo));
      if (found.deliveries.length > 0) {
        const deliveredAt = Date.now();
        return answer([
          { status: status('OK', 'OK') },
          { deliveryTimestamp: timestampOf(deliveredAt) },
          ...found.deliveries.map((d) => ({ message: asDeliveredAs(toPbMessage(d.message, d.receipt, encodeReceiptHandle(d.receipt), invisibleMs), topicName, deliveryAttemptOf(d.message, d.receipt)) })),
        ]);
      }
      if (found.full !== null) return answer([{ status: status('TOO_MANY_REQUESTS', found.full) }]);
      const now = Date.now();
      if (now >= pollEndMs || this.closed || call.cancelled) return answer([{ status: status('MESSAGE_NOT_FOUND', 'no new message') }]);
      if (first && this.held >= settings.heldReceivesMax) {
        this.context.broker.stats.refusals.refuse('grpcHeldReceivesMax', `${this.held} receives held (grpcHeldReceivesMax=${settings.heldReceivesMax})`);
        return answer([{ status: status('TOO_MANY_REQUESTS', `polling full: ${this.held} receives held (grpcHeldReceivesMax=${settings.heldReceivesMax})`) }]);
      }
      first = false;
      await this.hold(call, sources.map((s) => s.source.topic), Math.min(pollEndMs, found.nextVisibleAtMs ?? Infinity) - now);
    }
  }

  private invisibleOf(duration: unknown): number {
    const ms = durationMs(duration as never);
    const { minInvisibleMs, maxInvisibleMs } = this.settings;
    if (ms === null || ms < minInvisibleMs || ms > maxInvisibleMs) {
      throw new GrpcRefusal('ILLEGAL_INVISIBLE_TIME', `the invisible time ${ms ?? 'missing'} ms is not in [${minInvisibleMs}, ${maxInvisibleMs}] (grpcMinInvisibleTimeMs, grpcMaxInvisibleTimeMs)`);
    }
    return ms;
  }

  /** The sources of one receive: each topic that exists, with its readable queues. */
  private sourcesOf(group: string, topic: string, queueIds: readonly number[], fifo: boolean): Array<{ readonly source: PopSource; readonly queueIds: readonly number[] }> {
    const out: Array<{ readonly source: PopSource; readonly queueIds: readonly number[] }> = [];
    for (const source of popSources(group, topic, Math.random() * 100, fifo)) {
      if (!source.retry) {
        out.push({ source, queueIds });
        continue;
      }
      const config = this.context.broker.commitLog.state.topicConfig(source.topic);
      if (config !== null && isReadable(config.perm)) out.push({ source, queueIds: [...Array(config.readQueueNums).keys()] });
    }
    return out;
  }

  /** Wait until a message arrives in one of `topics`, `waitMs` passes, or the client goes away. */
  private hold(call: Stream, topics: readonly string[], waitMs: number): Promise<void> {
    this.held++;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        call.off('cancelled', done);
        for (const topic of topics) {
          this.waiters.get(topic)?.delete(done);
          if (this.waiters.get(topic)?.size === 0) this.waiters.delete(topic);
        }
        this.held--;
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, waitMs));
      for (const topic of topics) {
        let set = this.waiters.get(topic);
        if (set === undefined) this.waiters.set(topic, (set = new Set()));
        set.add(done);
      }
      call.on('cancelled', done);
    }).then(() => undefined);
  }

  /** Where a group starts on a queue it never popped: its committed (remoting) offset, else the queue start when it was never truncated, else its end. */
  private initialOffset(group: string, topic: string, queueId: number): number {
    const state = this.context.broker.commitLog.state;
    const committed = state.consumerOffset(group, topic, queueId);
    if (committed !== null) return Math.max(committed, state.minOffset(topic, queueId));
    // A retry topic is read from its start (5.x getInitOffset: RETRY_GROUP_TOPIC_PREFIX -> min offset).
    if (topic.startsWith('%RETRY%')) return state.minOffset(topic, queueId);
    return state.minOffset(topic, queueId) === 0 ? 0 : state.maxOffset(topic, queueId);
  }

  private readAt(topic: string, queueId: number, offset: number): StoredMessage | null {
    const [bytes] = this.context.broker.commitLog.readMessages(topic, queueId, offset, 1, SCAN_BYTES_MAX);
    if (bytes === undefined) return null;
    const message = decodeMessage(bytes, 0, { verifyBodyCrc: false });
    return message.queueOffset === offset ? message : null;
  }

  private async popOnce(group: string, askedTopic: string, sources: ReadonlyArray<{ readonly source: PopSource; readonly queueIds: readonly number[] }>, batch: number, invisibleMs: number, filter: TagFilter, fifo: boolean): Promise<{ deliveries: Delivery[]; nextVisibleAtMs: number | null; full: string | null }> {
    const deliveries: Delivery[] = [];
    let nextVisibleAtMs: number | null = null;
    let full: string | null = null;
    for (const { source, queueIds } of sources) {
      const topic = source.topic;
      const start = queueIds.length > 1 ? Math.floor(Math.random() * queueIds.length) : 0;
      for (let i = 0; i < queueIds.length && deliveries.length < batch; i++) {
        if (!this.context.broker.commitLog.isWritable()) break;
        const queueId = queueIds[(start + i) % queueIds.length] as number;
        const atMs = Date.now();
        const queue = this.state.queue(group, topic, queueId);
        if (fifo) {
          // The queue's order lock: nothing of it while one of its messages is still invisible.
          const until = this.state.lockedUntil(group, topic, queueId, atMs);
          if (until !== null) {
            if (nextVisibleAtMs === null || until < nextVisibleAtMs) nextVisibleAtMs = until;
            continue;
          }
        }
        const revive: Array<readonly [number, number]> = [];
        const dead: Array<{ readonly receipt: Receipt; readonly message: StoredMessage | null }> = [];
        const read = new Map<number, StoredMessage | null>();
        const inflight = [...(queue?.inflight ?? [])];
        if (fifo) inflight.sort((a, b) => a[0] - b[0]);
        for (const [offset, entry] of inflight) {
          if (entry.visibleAtMs > atMs) {
            if (nextVisibleAtMs === null || entry.visibleAtMs < nextVisibleAtMs) nextVisibleAtMs = entry.visibleAtMs;
            continue;
          }
          const full = revive.length + deliveries.length >= batch;
          if (full && (fifo || dead.length >= DEAD_PER_POP_MAX)) break;
          // The attempt counts the message's RECONSUMETIMES too (a retry message was delivered before it was sent back).
          const message = this.readAt(topic, queueId, offset);
          read.set(offset, message);
          const isDead = (message?.reconsumeTimes ?? 0) + entry.attempt >= this.settings.maxAttempts;
          // A FIFO queue hands out its lowest in-flight offsets, in order: it stops at the first it cannot redeliver now.
          if (fifo && revive.length > 0 && isDead) break;
          if (isDead) {
            if (dead.length < DEAD_PER_POP_MAX) dead.push({ receipt: { topic, queueId, offset, attempt: entry.attempt, visibleAtMs: entry.visibleAtMs }, message });
          } else if (!full) revive.push([offset, entry.attempt]);
        }
        if (dead.length > 0) await this.deadLetter(group, dead);
        // New messages: within the in-flight bounds (for a FIFO group only when none of the queue is in flight).
        const fifoHeld = fifo && (revive.length > 0 || (this.state.queue(group, topic, queueId)?.inflight.size ?? 0) > 0);
        const room = fifoHeld ? 0 : Math.min(batch - deliveries.length - revive.length, this.settings.inflightMaxPerGroup - this.state.inflightOf(group), POP_INFLIGHT_TOTAL_MAX - this.state.inflightCount);
        const from = queue?.next ?? this.initialOffset(group, topic, queueId);
        const offsets: number[] = [];
        let to = from;
        if (room > 0) {
          const scanned = this.context.broker.commitLog.readMessages(topic, queueId, from, SCAN_UNITS_MAX, SCAN_BYTES_MAX);
          for (const bytes of scanned) {
            if (offsets.length >= room) break;
            const message = decodeMessage(bytes, 0, { verifyBodyCrc: false });
            const properties = parseMessageProperties(message.properties);
            // %RETRY%<group> holds every topic's retries: one of another topic ends this scan (never skipped).
            if (source.sharedRetry && originalTopicOf(topic, properties) !== askedTopic) break;
            to = message.queueOffset + 1;
            // Retry messages matched the filter when first delivered (5.x reads retry topics with SUB_ALL).
            if (source.retry || matches(filter, properties)) offsets.push(message.queueOffset);
          }
        } else if (!fifoHeld && this.context.broker.commitLog.state.maxOffset(topic, queueId) > from && revive.length === 0 && batch - deliveries.length > 0) {
          full = `${this.state.inflightOf(group)} messages of ${group} in flight (grpcPopInflightMax=${this.settings.inflightMaxPerGroup}, ${this.state.inflightCount}/${POP_INFLIGHT_TOTAL_MAX} in all): ack some first`;
          this.context.broker.stats.refusals.refuse('grpcPopInflightMax', full);
        }
        if (revive.length === 0 && to === from) continue;
        await this.propose({ op: 'pop', group, topic, queueId, from, to, offsets, revive, atMs, invisibleMs, ...(fifo ? { fifo: true as const } : {}) });
        // Only what the applied command recorded is delivered (a stale view's pop is ignored).
        const visibleAtMs = atMs + invisibleMs;
        const candidates: Array<readonly [number, number]> = [...revive.map(([offset, attempt]) => [offset, attempt + 1] as const), ...offsets.map((offset) => [offset, 1] as const)];
        for (const [offset, attempt] of candidates) {
          const receipt: Receipt = { topic, queueId, offset, attempt, visibleAtMs };
          if (this.state.current(group, receipt) === null) continue;
          const message = read.get(offset) ?? this.readAt(topic, queueId, offset);
          if (message === null) {
            // Retention deleted it since: nothing to deliver, drop the receipt.
            await this.propose({ op: 'ack', group, receipts: [receipt], dlq: false });
            continue;
          }
          deliveries.push({ receipt, message });
        }
      }
    }
    return { deliveries, nextVisibleAtMs, full };
  }

  // ---------------------------------------------------------------- the dead-letter queue

  /**
   * Put each message into %DLQ%<group> (created write-only like RocketMQ's) and remove its receipt
   * in one Raft entry: the DLQ message carries its `ack dlq` (attached-command.ts), so a crash
   * keeps both or neither. A message already gone (retention) only has its receipt removed.
   */
  private async deadLetter(group: string, dead: ReadonlyArray<{ readonly receipt: Receipt; readonly message: StoredMessage | null }>): Promise<void> {
    const moved: Receipt[] = [];
    const gone: Receipt[] = [];
    for (const { receipt, message } of dead) {
      if (message === null) gone.push(receipt);
      else await this.putDeadLetter(group, message, receipt);
      moved.push(receipt);
    }
    if (gone.length > 0) await this.propose({ op: 'ack', group, receipts: gone, dlq: true });
    this.context.broker.log(`POP: ${moved.length} message(s) of ${group} moved to ${DLQ_GROUP_TOPIC_PREFIX}${group} after ${this.settings.maxAttempts} deliveries (grpcConsumerMaxAttempts)`);
  }

  private async putDeadLetter(group: string, original: StoredMessage, receipt: Receipt): Promise<void> {
    const context = this.context.broker;
    const topic = `${DLQ_GROUP_TOPIC_PREFIX}${group}`;
    if (topic.length > 127) throw new GrpcRefusal('ILLEGAL_CONSUMER_GROUP', `group ${group} is too long for a DLQ topic`);
    if (context.commitLog.state.topicConfig(topic) === null) {
      const refusal = newTopicRefusal(context, topic);
      if (refusal !== null) throw new GrpcRefusal('INTERNAL_SERVER_ERROR', refusal);
      await createDlqTopic(context, topic);
    }
    const properties = parseMessageProperties(original.properties);
    const originalTopic = originalTopicOf(original.topic, properties);
    if (!properties.has('RETRY_TOPIC')) properties.set('RETRY_TOPIC', originalTopic);
    properties.set('ORIGIN_MESSAGE_ID', messageIdOf(original, properties));
    properties.set('DLQ_ORIGIN_TOPIC', originalTopic);
    properties.set('DLQ_ORIGIN_MESSAGE_ID', messageIdOf(original, properties));
    properties.delete('DELAY');
    await context.commitLog.putMessages([{
      topic, queueId: 0, flag: original.flag, sysFlag: original.sysFlag, bornTimestampMs: original.bornTimestampMs, bornHost: original.bornHost,
      reconsumeTimes: deliveryAttemptOf(original, receipt), body: original.body, properties: formatMessageProperties(properties),
      attachedCommand: { type: 'extension', extension: POP_EXTENSION, body: popCommandBody({ op: 'ack', group, receipts: [receipt], dlq: true }) },
    }]);
  }

  // ---------------------------------------------------------------- AckMessage, ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue

  async ack(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const group = resourceName(request['group'] as PbResource, 'group', 'ILLEGAL_CONSUMER_GROUP');
    const topic = resourceName(request['topic'] as PbResource, 'topic', 'ILLEGAL_TOPIC');
    const entries = (request['entries'] ?? []) as AckEntry[];
    if (entries.length === 0 || entries.length > POP_COMMAND_ENTRIES_MAX) throw new GrpcRefusal('BAD_REQUEST', `an ack holds 1-${POP_COMMAND_ENTRIES_MAX} entries, not ${entries.length}`);
    const refused = this.notMaster();
    if (refused !== null) return refused;
    return new Promise((resolve, reject) => {
      let queue = this.ackQueues.get(group);
      const queuedEntries = queue?.reduce((n, a) => n + a.entries.length, 0) ?? 0;
      if (queuedEntries + entries.length > ACK_QUEUE_ENTRIES_MAX) {
        this.context.broker.stats.refusals.refuse('grpcAckQueueEntriesMax', `${queuedEntries} ack entries of ${group} queued`);
        resolve({ status: status('TOO_MANY_REQUESTS', `${queuedEntries} ack entries of ${group} wait for the log (at most ${ACK_QUEUE_ENTRIES_MAX}): retry`) });
        return;
      }
      if (queue === undefined) {
        queue = [];
        this.ackQueues.set(group, queue);
        void this.serial(group, () => this.flushAcks(group));
      }
      queue.push({ topic, entries, resolve, reject });
    });
  }

  /**
   * The group's queued acks as few commands as POP_COMMAND_ENTRIES_MAX allows (one log entry and
   * one replication round for many AckMessage calls: acks that came while the group's previous
   * command was committing wait here for the next one). Answers each call as if it had run alone,
   * in arrival order: a receipt a call before it in the same command acked is INVALID_RECEIPT_HANDLE.
   */
  private async flushAcks(group: string): Promise<void> {
    const queued = this.ackQueues.get(group) ?? [];
    this.ackQueues.delete(group);
    for (let i = 0; i < queued.length;) {
      const chunk: QueuedAck[] = [];
      for (let size = 0; i < queued.length && size + queued[i]!.entries.length <= POP_COMMAND_ENTRIES_MAX; i++) {
        size += queued[i]!.entries.length;
        chunk.push(queued[i]!);
      }
      await this.ackChunk(group, chunk);
    }
  }

  private async ackChunk(group: string, chunk: readonly QueuedAck[]): Promise<void> {
    const taken = new Set<string>();
    const calls: Array<{ call: QueuedAck; results: AckResult[] }> = [];
    for (const call of chunk) {
      try {
        const results = call.entries.map((entry): AckResult => {
          try {
            const receipt = decodeReceiptHandle(entry.receiptHandle, handleTopicOf(entry.receiptHandle, group, call.topic));
            const key = receiptTuple(receipt).join(' ');
            if (this.state.current(group, receipt) === null || taken.has(key)) throw new GrpcRefusal('INVALID_RECEIPT_HANDLE', 'the receipt handle is not in flight: the message was acked, its invisible time ended and it was delivered again, or it was changed since');
            taken.add(key);
            return { entry, receipt, status: null };
          } catch (error) {
            if (!(error instanceof GrpcRefusal)) throw error;
            return { entry, receipt: null, status: status(error.code, error.message) };
          }
        });
        calls.push({ call, results });
      } catch (error) {
        call.reject(error);
      }
    }
    const receipts = calls.flatMap((c) => c.results.flatMap((r) => (r.receipt === null ? [] : [r.receipt])));
    if (receipts.length > 0) {
      try {
        await this.propose({ op: 'ack', group, receipts, dlq: false });
      } catch (error) {
        const failure = putFailureStatus(error, this.context);
        for (const c of calls) for (const r of c.results) if (r.receipt !== null) r.status = failure;
      }
    }
    for (const { call, results } of calls) {
      const out = results.map((r) => {
        let s = r.status;
        if (s === null && r.receipt !== null) {
          // Applied: gone = acked; still there with another handle = redelivered or changed first.
          const entry = this.state.queue(group, r.receipt.topic, r.receipt.queueId)?.inflight.get(r.receipt.offset);
          s = entry === undefined ? status('OK', 'OK') : status('INVALID_RECEIPT_HANDLE', 'the message was delivered again or changed before this ack');
        }
        return { messageId: r.entry.messageId ?? '', receiptHandle: r.entry.receiptHandle ?? '', status: s ?? status('INTERNAL_SERVER_ERROR', 'no outcome') };
      });
      const codes = new Set(out.map((o) => o.status.code));
      const overall = codes.size === 1 ? (out[0]?.status ?? status('OK', 'OK')) : status('MULTIPLE_RESULTS', 'the entries have different outcomes');
      call.resolve({ status: overall, entries: out });
    }
  }

  async changeInvisibleDuration(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const group = resourceName(request['group'] as PbResource, 'group', 'ILLEGAL_CONSUMER_GROUP');
    const topic = resourceName(request['topic'] as PbResource, 'topic', 'ILLEGAL_TOPIC');
    const receipt = decodeReceiptHandle(request['receiptHandle'], handleTopicOf(request['receiptHandle'], group, topic));
    const ms = durationMs(request['invisibleDuration'] as never);
    if (ms === null || ms < 0 || ms > this.settings.maxInvisibleMs) throw new GrpcRefusal('ILLEGAL_INVISIBLE_TIME', `the invisible time ${ms ?? 'missing'} ms is not in [0, ${this.settings.maxInvisibleMs}] (grpcMaxInvisibleTimeMs)`);
    const refused = this.notMaster();
    if (refused !== null) return refused;
    return this.serial(group, async () => {
      if (this.state.current(group, receipt) === null) throw new GrpcRefusal('INVALID_RECEIPT_HANDLE', 'the receipt handle is not in flight (acked, delivered again, or changed since)');
      const visibleAtMs = Date.now() + ms;
      await this.propose({ op: 'change', group, receipt, visibleAtMs });
      const changed: Receipt = { ...receipt, visibleAtMs };
      if (this.state.current(group, changed) === null) throw new GrpcRefusal('INVALID_RECEIPT_HANDLE', 'the message was acked or delivered again before this change');
      return { status: status('OK', 'OK'), receiptHandle: encodeReceiptHandle(changed) };
    });
  }

  async forwardToDeadLetterQueue(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const group = resourceName(request['group'] as PbResource, 'group', 'ILLEGAL_CONSUMER_GROUP');
    const topic = resourceName(request['topic'] as PbResource, 'topic', 'ILLEGAL_TOPIC');
    const receipt = decodeReceiptHandle(request['receiptHandle'], handleTopicOf(request['receiptHandle'], group, topic));
    const refused = this.notMaster();
    if (refused !== null) return refused;
    return this.serial(group, async () => {
      if (this.state.current(group, receipt) === null) throw new GrpcRefusal('INVALID_RECEIPT_HANDLE', 'the receipt handle is not in flight (acked, delivered again, or changed since)');
      try {
        await this.deadLetter(group, [{ receipt, message: this.readAt(receipt.topic, receipt.queueId, receipt.offset) }]);
      } catch (error) {
        if (error instanceof GrpcRefusal) throw error;
        return { status: putFailureStatus(error, this.context) };
      }
      return { status: status('OK', 'OK') };
    });
  }
}
