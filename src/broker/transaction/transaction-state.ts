// The replicated table of half (prepared) transactional messages, a BrokerState extension. It is
// derived from the stored messages themselves, in log order, on every member:
//  - a message in RMQ_SYS_TRANS_HALF_TOPIC (queue 0) is a pending half message, keyed by its half
//    queue offset (RocketMQ's tranStateTableOffset), with REAL_TOPIC, REAL_QID, PGROUP, UNIQ_KEY;
//  - the committed message (transaction type COMMIT in its sysFlag, PREPAREDTRANSACTIONOFFSET =
//    the half message's physical offset, same UNIQ_KEY) ends it as committed: the message that
//    makes the transaction visible is the same entry that ends it, so a failover can never see it
//    visible and still pending (and commit it twice), nor ended and not visible;
//  - an op message in RMQ_SYS_TRANS_OP_HALF_TOPIC tagged "d" (body: half queue offsets,
//    comma-separated, as RocketMQ 4.9/5 write them) ends what is still pending as rolled back;
//  - a copy in TRANS_CHECK_MAX_TIME_TOPIC (PREPAREDTRANSACTIONOFFSET = the half's) ends it as
//    discarded (checked transactionCheckMax times without an answer).
// The check counts travel as extension commands {op: 'checked', queueOffset, checkTimes}, proposed
// by the master before it asks a producer, so a new master continues the count.
//
// Restoring from a compacted log (BrokerState "restoring"): messages are applied as they come and
// also remembered with their entry index; the checkpoint's snapshot (taken at entry `asOf`) then
// replaces the table and the remembered ones after asOf are applied again on top.
import { assert } from '../../util/assert.js';
import type { StoredMessage } from '../message-codec.js';
import type { BrokerState, StateExtension } from '../state/broker-state.js';

export const TRANSACTION_EXTENSION = 'transactions';
export const HALF_TOPIC = 'RMQ_SYS_TRANS_HALF_TOPIC';
export const OP_HALF_TOPIC = 'RMQ_SYS_TRANS_OP_HALF_TOPIC';
export const CHECK_MAX_TIME_TOPIC = 'TRANS_CHECK_MAX_TIME_TOPIC';
/** The op message tag of an ended half message (TransactionalMessageUtil.REMOVETAG). */
export const REMOVE_TAG = 'd';
/** MessageSysFlag transaction types (bits 2-3). */
export const TransactionType = { NOT: 0, PREPARED: 4, COMMIT: 8, ROLLBACK: 12 } as const;
export const TRANSACTION_TYPE_MASK = 12;
/** Ended transactions remembered (an END_TRANSACTION repeated after the end is answered from it). */
const ENDED_REMEMBERED_MAX = 10_000;
const RESTORE_EVENTS_MAX = 1_000_000;
/** Half queue offsets one op message may name at most. */
const OP_OFFSETS_MAX = 4096;

export type TransactionOutcome = 'commit' | 'rollback' | 'discard';

export interface HalfMessage {
  /** Queue offset in RMQ_SYS_TRANS_HALF_TOPIC queue 0 (tranStateTableOffset). */
  readonly queueOffset: number;
  /** Physical offset of the half message (commitLogOffset). */
  readonly physicalOffset: number;
  readonly uniqKey: string;
  /** PGROUP, or null (gRPC producers have no group). */
  readonly producerGroup: string | null;
  readonly realTopic: string;
  readonly realQueueId: number;
  readonly bornTimestampMs: number;
  /** CHECK_IMMUNITY_TIME_IN_SECONDS in ms, or null (transactionTimeOut applies). */
  readonly checkImmunityMs: number | null;
  checkTimes: number;
}

type Event =
  | { readonly kind: 'half'; readonly half: HalfMessage }
  | { readonly kind: 'end'; readonly physicalOffset: number; readonly uniqKey: string; readonly outcome: 'commit' | 'discard' }
  | { readonly kind: 'op'; readonly queueOffsets: readonly number[] };

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The half message a stored message of the half topic describes, or a reason it does not. */
export function halfOf(message: StoredMessage, properties: ReadonlyMap<string, string>): HalfMessage | string {
  const realTopic = properties.get('REAL_TOPIC');
  const realQid = Number(properties.get('REAL_QID'));
  const uniqKey = properties.get('UNIQ_KEY');
  if (realTopic === undefined || realTopic === '' || !isCount(realQid) || uniqKey === undefined) return 'no REAL_TOPIC, REAL_QID or UNIQ_KEY';
  const immunityText = properties.get('CHECK_IMMUNITY_TIME_IN_SECONDS');
  const immunitySeconds = immunityText === undefined ? NaN : Number(immunityText);
  const checkTimes = Number(properties.get('TRANSACTION_CHECK_TIMES') ?? 0);
  return {
    queueOffset: message.queueOffset, physicalOffset: message.physicalOffset, uniqKey,
    producerGroup: properties.get('PGROUP') ?? null, realTopic, realQueueId: realQid, bornTimestampMs: message.bornTimestampMs,
    checkImmunityMs: Number.isFinite(immunitySeconds) && immunitySeconds >= 0 ? Math.min(immunitySeconds, 86_400 * 365) * 1000 : null,
    checkTimes: isCount(checkTimes) ? checkTimes : 0,
  };
}

/** The half queue offsets of an op message body ("12" in 4.9, "12,13," in 5.x), or null. */
export function opOffsetsOf(body: Uint8Array): number[] | null {
  const parts = Buffer.from(body).toString('latin1').split(',').filter((p) => p.trim() !== '');
  if (parts.length === 0 || parts.length > OP_OFFSETS_MAX) return null;
  const offsets = parts.map((p) => (/^[0-9]{1,16}$/.test(p.trim()) ? Number(p.trim()) : NaN));
  return offsets.every(isCount) ? offsets : null;
}

export class TransactionState implements StateExtension {
  // Invariant: byPhysical maps exactly the physical offsets of `pending`'s values to their queue offsets.
  private readonly pending = new Map<number, HalfMessage>();
  private readonly byPhysical = new Map<number, number>();
  /** Recently ended: half physical offset -> outcome (insertion order = end order, bounded). */
  private readonly ended = new Map<number, TransactionOutcome>();
  /** Events applied while the state restores from a compacted log, with their entry index. */
  private readonly restoreEvents: Array<{ readonly index: number; readonly event: Event }> = [];

  constructor(private readonly state: BrokerState, private readonly log: (line: string) => void = () => undefined) {
    state.registerExtension(TRANSACTION_EXTENSION, this);
    state.addListener({ onStoredMessage: (message, properties) => this.onStoredMessage(message, properties) });
  }

  get size(): number {
    return this.pending.size;
  }

  /** Pending half messages, oldest first. */
  pendingHalves(): HalfMessage[] {
    return [...this.pending.values()].sort((a, b) => a.queueOffset - b.queueOffset);
  }

  byQueueOffset(queueOffset: number): HalfMessage | null {
    return this.pending.get(queueOffset) ?? null;
  }

  byPhysicalOffset(physicalOffset: number): HalfMessage | null {
    const queueOffset = this.byPhysical.get(physicalOffset);
    return queueOffset === undefined ? null : (this.pending.get(queueOffset) ?? null);
  }

  /** How the half message at `physicalOffset` ended, if it ended recently. */
  outcomeOf(physicalOffset: number): TransactionOutcome | null {
    return this.ended.get(physicalOffset) ?? null;
  }

  private onStoredMessage(message: StoredMessage, properties: ReadonlyMap<string, string>): void {
    let event: Event | null = null;
    if (message.topic === HALF_TOPIC) {
      const half = halfOf(message, properties);
      if (typeof half === 'string') this.log(`half message at ${message.physicalOffset} ignored: ${half}`);
      else event = { kind: 'half', half };
    } else if (message.topic === OP_HALF_TOPIC) {
      const offsets = properties.get('TAGS') === REMOVE_TAG ? opOffsetsOf(message.body) : null;
      if (offsets === null) this.log(`op message at ${message.physicalOffset} ignored: not tagged "${REMOVE_TAG}" with half offsets`);
      else event = { kind: 'op', queueOffsets: offsets };
    } else if (message.topic === CHECK_MAX_TIME_TOPIC || (message.sysFlag & TRANSACTION_TYPE_MASK) === TransactionType.COMMIT) {
      event = { kind: 'end', physicalOffset: message.preparedTransactionOffset, uniqKey: properties.get('UNIQ_KEY') ?? '', outcome: message.topic === CHECK_MAX_TIME_TOPIC ? 'discard' : 'commit' };
    }
    if (event === null) return;
    this.applyEvent(event);
    if (this.state.isRestoring) {
      assert(this.restoreEvents.length < RESTORE_EVENTS_MAX, `${RESTORE_EVENTS_MAX} transaction events and no state checkpoint`);
      this.restoreEvents.push({ index: this.state.lastAppliedIndex, event });
    }
  }

  private applyEvent(event: Event): void {
    switch (event.kind) {
      case 'half':
        this.pending.set(event.half.queueOffset, { ...event.half });
        this.byPhysical.set(event.half.physicalOffset, event.half.queueOffset);
        return;
      case 'end': {
        const half = this.byPhysicalOffset(event.physicalOffset);
        if (half !== null && half.uniqKey === event.uniqKey) this.end(half, event.outcome);
        return;
      }
      case 'op':
        for (const queueOffset of event.queueOffsets) {
          const half = this.pending.get(queueOffset);
          if (half !== undefined) this.end(half, 'rollback');
        }
    }
  }

  private end(half: HalfMessage, outcome: TransactionOutcome): void {
    this.pending.delete(half.queueOffset);
    this.byPhysical.delete(half.physicalOffset);
    this.ended.set(half.physicalOffset, outcome);
    if (this.ended.size > ENDED_REMEMBERED_MAX) this.ended.delete(this.ended.keys().next().value as number);
  }

  apply(body: unknown, index: number): void {
    const v = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (v['op'] !== 'checked' || !isCount(v['queueOffset']) || !isCount(v['checkTimes'])) {
      this.log(`entry ${index}: transaction command ${JSON.stringify(body)?.slice(0, 200)} ignored (not {op: 'checked', queueOffset, checkTimes})`);
      return;
    }
    const half = this.pending.get(v['queueOffset']);
    if (half !== undefined) half.checkTimes = Math.max(half.checkTimes, v['checkTimes']);
  }

  snapshot(): unknown {
    return {
      asOf: this.state.lastAppliedIndex,
      pending: this.pendingHalves(),
      ended: [...this.ended],
    };
  }

  restore(snapshot: unknown): void {
    this.pending.clear();
    this.byPhysical.clear();
    this.ended.clear();
    const v = (typeof snapshot === 'object' && snapshot !== null ? snapshot : {}) as Record<string, unknown>;
    const asOf = typeof v['asOf'] === 'number' ? v['asOf'] : -1;
    for (const item of Array.isArray(v['pending']) ? v['pending'] : []) {
      const half = parseHalf(item);
      if (half === null) {
        this.log(`checkpoint: half message ${JSON.stringify(item)?.slice(0, 200)} ignored (malformed)`);
        continue;
      }
      this.pending.set(half.queueOffset, half);
      this.byPhysical.set(half.physicalOffset, half.queueOffset);
    }
    for (const pair of (Array.isArray(v['ended']) ? v['ended'] : []).slice(-ENDED_REMEMBERED_MAX)) {
      if (Array.isArray(pair) && isCount(pair[0]) && (pair[1] === 'commit' || pair[1] === 'rollback' || pair[1] === 'discard')) this.ended.set(pair[0], pair[1]);
    }
    for (const { index, event } of this.restoreEvents) if (index > asOf) this.applyEvent(event);
    this.restoreEvents.length = 0;
  }

  clear(): void {
    this.pending.clear();
    this.byPhysical.clear();
    this.ended.clear();
    this.restoreEvents.length = 0;
  }
}

function parseHalf(value: unknown): HalfMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const { queueOffset, physicalOffset, uniqKey, producerGroup, realTopic, realQueueId, bornTimestampMs, checkImmunityMs, checkTimes } = v;
  if (!isCount(queueOffset) || !isCount(physicalOffset) || typeof uniqKey !== 'string' || (producerGroup !== null && typeof producerGroup !== 'string')) return null;
  if (typeof realTopic !== 'string' || !isCount(realQueueId) || typeof bornTimestampMs !== 'number' || (checkImmunityMs !== null && !isCount(checkImmunityMs)) || !isCount(checkTimes)) return null;
  return { queueOffset, physicalOffset, uniqKey, producerGroup, realTopic, realQueueId, bornTimestampMs, checkImmunityMs, checkTimes };
}
