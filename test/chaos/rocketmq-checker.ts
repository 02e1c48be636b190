// Goal: judge a RocketMQ chaos run — what ali-ons producers were told, what ali-ons consumers
// received, and what the brokers' replicated commit log holds. Pure functions over plain data, so
// a test can feed hand-made histories and prove each check bites (rocketmq-checker.test.ts).
// Violations (each a string prefixed by its kind; counts stay exact):
//   lost         — a message acknowledged SEND_OK was not delivered to the fresh drain consumer;
//   moved        — the log entry at the acknowledged msgId's physical offset is not that message
//                  (other body, queue or queue offset), or there is none;
//   phantom      — a delivered or logged body that no producer sent;
//   duplicate    — a body stored more often than its send attempts could have stored it (at most
//                  one copy per attempt that ended SEND_OK or with an unknown outcome; see
//                  rocketmq-clients.ts) — duplicates within that allowance are counted, not violations;
//   queue        — a consume queue of the topic in the log is not dense (offsets 0..n-1, once each);
//   drain-gap    — a message of the topic in the log was not delivered to the drain consumer;
//   live-skip    — the consumer that ran during the faults never received an acknowledged message
//                  (its group's committed offset passed a message it had not consumed);
//   retention    — (with `retention`) an acknowledged message below the retained queue minimum
//                  (expired) that was sent less than the reserved time (minus slack) before the
//                  check: deleted too early, or lost and passed off as expired;
//   offset-back  — a committed consumer offset of the live group moved backwards in log order,
//                  other than the client resuming a queue from an offset it read (the rules are in
//                  rocketmq-offset-rules.ts; allowed ones are counted in offsetRegressionsAllowed).
import type { Delivery, SendOp } from './rocketmq-clients.js';
import { offsetStepBacks, type QueueResume } from './rocketmq-offset-rules.js';
import { countOutcomes } from './op-outcome.js';
import { Violations } from './violations.js';

/** A stored message of the checked topic, from the reference replica's log. */
export interface LogMessage {
  readonly index: number;
  /** PHYSICALOFFSET (entry pos + 48), what a msgId carries. */
  readonly physicalOffset: number;
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly body: string;
}

/** One commitOffsets command's entry for one queue, in log order. */
export interface LogOffsetCommit {
  readonly index: number;
  readonly group: string;
  readonly topic: string;
  readonly queueId: number;
  readonly offset: number;
}

export interface RocketMQCheckInput {
  readonly topic: string;
  readonly ops: readonly SendOp[];
  /** Deliveries to a fresh CLUSTERING group started after healing (CONSUME_FROM_FIRST_OFFSET). */
  readonly drain: readonly Delivery[];
  /** Deliveries to the group that consumed during the faults. */
  readonly live: readonly Delivery[];
  readonly liveGroup: string;
  readonly logMessages: readonly LogMessage[];
  readonly offsetCommits: readonly LogOffsetCommit[];
  /** Offsets the live client read from brokers when it (re)took a queue (rocketmq-offset-rules.ts). */
  readonly liveResumes?: readonly QueueResume[];
  /** When (performance.now() ms) a fault that can move leadership was injected; sorted. */
  readonly faultTimesMs: readonly number[];
  /**
   * Retention on. An acknowledged message whose msgId's physical offset is below
   * retainedFromPhysicalOffset (the entry at retainedFromIndex: from it on every replica holds
   * the log) is expired: deleted by retention on some replica, not looked for in the log, the
   * drain or the live group (a consumer behind the queue minimum gets PULL_OFFSET_MOVED to it, and
   * the minimum never passes that entry). It must have been sent at least reservedMs - slackMs
   * before checkedAtMs, unless a broker cleaned forcibly. Every other acknowledged message must be
   * in the log at its msgId, drained and consumed by the live group, as without retention.
   */
  readonly retention?: {
    readonly reservedMs: number;
    readonly checkedAtMs: number;
    readonly slackMs: number;
    /** Some broker cleaned forcibly (disk over its ratio): expiry is not bounded by age. */
    readonly forced: boolean;
    /** The largest first retained DLedger index over the replicas: from it on every replica holds the log. */
    readonly retainedFromIndex: number;
    /** PHYSICALOFFSET of the entry at retainedFromIndex (its pos + 48). */
    readonly retainedFromPhysicalOffset: number;
  };
}

export interface RocketMQCheckResult {
  readonly sent: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly unknown: number;
  /** Sends that ali-ons attempted more than once. */
  readonly retriedInternally: number;
  readonly drainDeliveries: number;
  readonly consumedDistinct: number;
  readonly lost: number;
  readonly moved: number;
  readonly phantoms: number;
  /** Bodies with more than one stored copy, by what explains them. */
  readonly duplicatesAckedAfterRetry: number;
  readonly duplicatesUnknownOutcome: number;
  readonly duplicatesUnexplained: number;
  /** Unacknowledged (fail/unknown) sends that were stored anyway. */
  readonly unacknowledgedStored: number;
  readonly queueViolations: number;
  readonly drainGaps: number;
  readonly liveDeliveries: number;
  /** Live deliveries of a (queue, offset) already delivered to the live group. */
  readonly liveRedeliveries: number;
  /** Of those, redeliveries whose previous delivery came before a fault and the redelivery after it. */
  readonly liveRedeliveriesAcrossFaults: number;
  /** The first few redeliveries: queue position, both delivery times and the last fault before the second (ms, performance.now()). */
  readonly liveRedeliverySample: { queue: string; firstMs: number; againMs: number; lastFaultMs: number | null }[];
  readonly liveSkipped: number;
  readonly offsetCommits: number;
  readonly offsetRegressions: number;
  /** Steps back the offset rules allow (the client resumed a queue from an offset it read). */
  readonly offsetRegressionsAllowed: number;
  /** Acknowledged messages below the retained queue minimum (retention deleted them): not lost. */
  readonly expired: number;
  /** Of those, how many the live group never received (skipped by PULL_OFFSET_MOVED, or deleted before it got there). */
  readonly expiredNotLive: number;
  /** Per queue: the first queue offset every replica retains (null: none of the queue retained, or retention off). */
  readonly retainedFirstOffsets: (number | null)[];
  readonly violations: string[];
}

/** The physical offset a msgId carries: its last 16 hex digits (createMessageId). */
export function physicalOffsetOfMsgId(msgId: string): number {
  if (!/^[0-9A-F]{32}$/i.test(msgId)) throw new Error(`not an IPv4 msgId: ${msgId}`);
  return Number.parseInt(msgId.slice(16), 16);
}

export function checkRocketMQ(input: RocketMQCheckInput): RocketMQCheckResult {
  const found = new Violations();
  const violate = found.violate.bind(found);
  const count = found.count.bind(found);
  const opOf = new Map(input.ops.map((op) => [op.body, op]));
  const acked = input.ops.filter((op) => op.outcome?.type === 'ok');

  // The log: dense queues; positions by physical offset; stored copies per body.
  const topicMessages = input.logMessages.filter((m) => m.topic === input.topic);
  const byPhysical = new Map(topicMessages.map((m) => [m.physicalOffset, m]));
  // A gRPC send's receipt names its message id (the client's UNIQ_KEY) and queue offset, neither a
  // physical offset nor the queue (the broker picks it, as RocketMQ's proxy does): it must be stored
  // as its body at that queue offset (rocketmq-grpc-clients.ts).
  const byBody = new Map<string, LogMessage[]>();
  for (const m of topicMessages) byBody.set(m.body, [...(byBody.get(m.body) ?? []), m]);
  const storedAt = (op: SendOp, ok: { msgId: string; queueId: number; queueOffset: number }): LogMessage | undefined =>
    (op as { via?: string }).via === 'grpc' ? byBody.get(op.body)?.find((m) => m.queueOffset === ok.queueOffset) : byPhysical.get(physicalOffsetOfMsgId(ok.msgId));
  const physicalOffsetOf = (op: SendOp, ok: { msgId: string; queueId: number; queueOffset: number }): number =>
    (op as { via?: string }).via === 'grpc' ? (storedAt(op, ok)?.physicalOffset ?? -1) : physicalOffsetOfMsgId(ok.msgId);
  const copiesInLog = new Map<string, number>();
  const queues = new Map<number, number[]>();
  for (const m of topicMessages) {
    copiesInLog.set(m.body, (copiesInLog.get(m.body) ?? 0) + 1);
    if (!opOf.has(m.body)) violate('phantom', `log index ${m.index} (${m.topic}-${m.queueId}@${m.queueOffset}) holds ${JSON.stringify(m.body.slice(0, 64))}, which no producer sent`);
    const offsets = queues.get(m.queueId) ?? [];
    offsets.push(m.queueOffset);
    queues.set(m.queueId, offsets);
  }
  // Dense from the queue's first retained offset (0 unless retention deleted the log's front).
  const retention = input.retention;
  for (const [queueId, offsets] of queues) {
    const base = retention !== undefined ? (offsets[0] ?? 0) : 0;
    const bad = offsets.findIndex((offset, i) => offset !== base + i);
    if (bad !== -1) violate('queue', `${input.topic}-${queueId}: the ${bad}th message in log order has queue offset ${offsets[bad]} (expected ${base + bad}; ${offsets.length} messages)`);
  }
  // The first offset of each queue that every replica retains; below it an acknowledged message is expired.
  const retainedFirst = new Map<number, number>();
  if (retention !== undefined) for (const m of topicMessages) if (m.index >= retention.retainedFromIndex && !retainedFirst.has(m.queueId)) retainedFirst.set(m.queueId, m.queueOffset);
  const expiredBodies = new Set<string>();
  if (retention !== undefined) {
    for (const op of acked) {
      const ok = op.outcome as { msgId: string; queueId: number; queueOffset: number };
      if (physicalOffsetOf(op, ok) >= retention.retainedFromPhysicalOffset) continue;
      const first = retainedFirst.get(ok.queueId);
      if (first !== undefined && ok.queueOffset >= first) violate('retention', `${op.body} acknowledged as ${ok.msgId} (${ok.queueId}@${ok.queueOffset}) lies before the retained log start (physical offset ${retention.retainedFromPhysicalOffset}) but at or above the queue's first retained offset ${first}`);
      expiredBodies.add(op.body);
      const ageMs = retention.checkedAtMs - op.invokeMs;
      if (!retention.forced && ageMs + retention.slackMs < retention.reservedMs) violate('retention', `${op.body} acknowledged at ${ok.queueId}@${ok.queueOffset} is below the retained minimum ${first ?? '(none retained)'} of queue ${ok.queueId}, but was sent only ${Math.round(ageMs)} ms before the check (reserved ${retention.reservedMs} ms)`);
    }
  }

  // Acknowledged messages: at their msgId in the log, and delivered to the drain group.
  const drained = new Map<string, Set<string>>();
  for (const d of input.drain) {
    const positions = drained.get(d.body) ?? new Set<string>();
    positions.add(`${d.queueId}@${d.queueOffset}`);
    drained.set(d.body, positions);
    if (!opOf.has(d.body)) violate('phantom', `drain consumer received ${JSON.stringify(d.body.slice(0, 64))} (${d.queueId}@${d.queueOffset}), which no producer sent`);
  }
  for (const m of topicMessages) {
    // Below retainedFromIndex some replica (maybe the master the drain read) no longer has it.
    if (retention !== undefined && m.index < retention.retainedFromIndex) continue;
    if (!drained.get(m.body)?.has(`${m.queueId}@${m.queueOffset}`)) violate('drain-gap', `${m.topic}-${m.queueId}@${m.queueOffset} (${JSON.stringify(m.body.slice(0, 64))}, log index ${m.index}) was not delivered to the drain consumer`);
  }
  for (const op of acked) {
    if (expiredBodies.has(op.body)) continue;
    const ok = op.outcome as { msgId: string; queueId: number; queueOffset: number };
    const stored = storedAt(op, ok);
    const queueKnown = (op as { via?: string }).via !== 'grpc';
    if (stored === undefined || stored.body !== op.body || (queueKnown && stored.queueId !== ok.queueId) || stored.queueOffset !== ok.queueOffset) {
      violate('moved', `${op.body} acknowledged as ${ok.msgId} (${ok.queueId}@${ok.queueOffset}); the log has ${stored === undefined ? 'no message there' : `${JSON.stringify(stored.body.slice(0, 64))} (${stored.queueId}@${stored.queueOffset})`}`);
    }
    if (!drained.has(op.body)) violate('lost', `${op.body} acknowledged as ${ok.msgId} (${ok.queueId}@${ok.queueOffset}) was not consumed after healing`);
  }

  // Duplicates: stored copies (log) against what the attempts allow.
  let duplicatesAckedAfterRetry = 0;
  let duplicatesUnknownOutcome = 0;
  let unacknowledgedStored = 0;
  for (const [body, copies] of copiesInLog) {
    const op = opOf.get(body);
    if (op === undefined) continue;
    if (op.outcome?.type !== 'ok') unacknowledgedStored++;
    if (copies <= 1) continue;
    const allowed = op.attempts.filter((a) => a !== 'refused').length;
    if (copies > allowed) violate('duplicate', `${body} (outcome ${op.outcome?.type}, attempts ${op.attempts.join(',') || 'none recorded'}) is stored ${copies} times`);
    else if (op.outcome?.type === 'ok') duplicatesAckedAfterRetry++;
    else duplicatesUnknownOutcome++;
  }

  // The live group: every acknowledged message received; redeliveries counted; offsets monotonic.
  const liveSeen = new Map<string, number>();
  const liveBodies = new Set<string>();
  let liveRedeliveries = 0;
  let acrossFaults = 0;
  const redeliverySample: RocketMQCheckResult['liveRedeliverySample'] = [];
  for (const d of input.live) {
    liveBodies.add(d.body);
    const key = `${d.queueId}@${d.queueOffset}`;
    const previous = liveSeen.get(key);
    if (previous !== undefined) {
      liveRedeliveries++;
      if (input.faultTimesMs.some((t) => t > previous && t <= d.atMs)) acrossFaults++;
      const lastFaultMs = input.faultTimesMs.filter((t) => t <= d.atMs).at(-1) ?? null;
      if (redeliverySample.length < 20) redeliverySample.push({ queue: key, firstMs: Math.round(previous), againMs: Math.round(d.atMs), lastFaultMs: lastFaultMs === null ? null : Math.round(lastFaultMs) });
    }
    liveSeen.set(key, d.atMs);
    if (!opOf.has(d.body)) violate('phantom', `live consumer received ${JSON.stringify(d.body.slice(0, 64))}, which no producer sent`);
  }
  let expiredNotLive = 0;
  for (const op of acked) if (expiredBodies.has(op.body) && !liveBodies.has(op.body)) expiredNotLive++;
  for (const op of acked) if (!liveBodies.has(op.body) && !expiredBodies.has(op.body)) violate('live-skip', `${op.body} (acknowledged) was never delivered to the live group ${input.liveGroup}`);
  const liveCommits = input.offsetCommits.filter((c) => c.group === input.liveGroup && c.topic === input.topic);
  const stepBacks = offsetStepBacks(liveCommits, input.liveGroup, input.topic, input.liveResumes ?? []);
  for (const line of stepBacks.violations) violate('offset-back', line);

  const retriedInternally = input.ops.filter((op) => op.attempts.length > 1).length;
  const outcomes = countOutcomes(input.ops);
  return {
    sent: input.ops.length,
    acknowledged: acked.length,
    failed: outcomes.fail,
    unknown: outcomes.unknown,
    retriedInternally,
    drainDeliveries: input.drain.length,
    consumedDistinct: drained.size,
    lost: count('lost'),
    moved: count('moved'),
    phantoms: count('phantom'),
    duplicatesAckedAfterRetry,
    duplicatesUnknownOutcome,
    duplicatesUnexplained: count('duplicate'),
    unacknowledgedStored,
    queueViolations: count('queue'),
    drainGaps: count('drain-gap'),
    liveDeliveries: input.live.length,
    liveRedeliveries,
    liveRedeliveriesAcrossFaults: acrossFaults,
    liveRedeliverySample: redeliverySample,
    liveSkipped: count('live-skip'),
    offsetCommits: liveCommits.length,
    offsetRegressions: count('offset-back'),
    offsetRegressionsAllowed: stepBacks.allowed.length,
    expired: expiredBodies.size,
    expiredNotLive,
    retainedFirstOffsets: Array.from({ length: Math.max(-1, ...queues.keys()) + 1 }, (_, q) => retainedFirst.get(q) ?? null),
    violations: found.list,
  };
}
