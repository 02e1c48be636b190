// POP consumption state (RocketMQ 5's pop checkpoints, acks and revivals), replicated through the
// Raft log as a BrokerState extension: a failover neither loses an acknowledgement (an ack is
// answered only once its command is applied) nor redelivers a message before its invisible time
// (the new master holds every in-flight receipt with the time it becomes visible).
//
// Per consumer group and (topic, queueId): `next`, the first queue offset never handed out, and
// the in-flight table: offset -> { attempt (deliveries so far, 1 = first), visibleAtMs }.
// Every time in a command is the master's clock, decided and logged by the master (pop-service.ts);
// apply() only compares logged numbers, so every member applies the same thing and no clock is
// read here (nor in src/raft/). A revival is part of the pop that redelivers the message: the
// master logs `revive` entries with the pop's `atMs`, and apply accepts one only when the entry's
// visibleAtMs <= atMs and its attempt is the one the master saw.
//
// FIFO groups (consumeMessageOrderly; the pop command says `fifo: true`): a queue is the order
// lock, as RocketMQ 5's ConsumerOrderInfoManager keeps it per queue: while any message of the queue
// is in flight and still invisible at the pop's logged time, nothing of that queue is handed out;
// once all are due they come back (lowest offsets first) and nothing newer until every one is acked
// or dead-lettered. The lock is the in-flight table itself, so it is replicated with it and a new
// master keeps the order. apply() checks the same rule and ignores a fifo pop that breaks it.
//
// A receipt handle names one delivery: (queueId, offset, attempt, visibleAtMs); an ack or change
// with any other handle (a redelivered message's old handle, a handle from before a change) is
// ignored the same way everywhere.
//
// Bounds (constants: apply must not depend on a member's config): POP_GROUPS_MAX groups,
// POP_QUEUES_PER_GROUP_MAX (topic, queue) pairs per group, POP_INFLIGHT_PER_GROUP_MAX in-flight
// receipts per group and POP_INFLIGHT_TOTAL_MAX over all groups; a pop that would pass one is
// ignored whole (the master checks the same bounds before proposing: it never proposes one).
import type { ExtensionHost, StateExtension } from '../broker/state/broker-state.js';
import { GROUP_NAME_PATTERN } from '../broker/state/commands.js';
import { TOPIC_NAME_PATTERN } from '../broker/state/topic-config.js';

export const POP_EXTENSION = 'pop';
export const POP_GROUPS_MAX = 10_000;
export const POP_QUEUES_PER_GROUP_MAX = 4_096;
export const POP_INFLIGHT_PER_GROUP_MAX = 10_000;
export const POP_INFLIGHT_TOTAL_MAX = 100_000;
/** Entries of one command at most (a pop is one receive batch, an ack one request). */
export const POP_COMMAND_ENTRIES_MAX = 1024;

export interface Inflight {
  readonly attempt: number;
  readonly visibleAtMs: number;
}

export interface QueuePop {
  next: number;
  readonly inflight: Map<number, Inflight>;
}

/** The handle of one delivery of one message. */
export interface Receipt {
  readonly topic: string;
  readonly queueId: number;
  readonly offset: number;
  readonly attempt: number;
  readonly visibleAtMs: number;
}

export type PopCommand =
  | {
    readonly op: 'pop'; readonly group: string; readonly topic: string; readonly queueId: number;
    /** New offsets [from, to) were scanned; `offsets` of them are delivered (the others did not match the filter). */
    readonly from: number; readonly to: number; readonly offsets: readonly number[];
    /** In-flight offsets redelivered: [offset, attempt the master saw]. */
    readonly revive: ReadonlyArray<readonly [number, number]>;
    readonly atMs: number; readonly invisibleMs: number;
    /** A FIFO group's pop: the queue's order lock applies (see above). */
    readonly fifo?: true;
  }
  /** Acks (and DLQ forwards: `dlq`): each [topic, queueId, offset, attempt, visibleAtMs]. */
  | { readonly op: 'ack'; readonly group: string; readonly receipts: readonly Receipt[]; readonly dlq: boolean }
  | { readonly op: 'change'; readonly group: string; readonly receipt: Receipt; readonly visibleAtMs: number };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPositive = (v: unknown): v is number => isCount(v) && v > 0;

function parseReceipt(value: unknown): Receipt | null {
  if (!Array.isArray(value) || value.length !== 5) return null;
  const [topic, queueId, offset, attempt, visibleAtMs] = value as unknown[];
  if (typeof topic !== 'string' || !TOPIC_NAME_PATTERN.test(topic) || !isCount(queueId) || !isCount(offset) || !isPositive(attempt) || !isCount(visibleAtMs)) return null;
  return { topic, queueId, offset, attempt, visibleAtMs };
}

export function receiptTuple(r: Receipt): readonly [string, number, number, number, number] {
  return [r.topic, r.queueId, r.offset, r.attempt, r.visibleAtMs];
}

/** A command body as logged (JSON), or null when it is not a valid pop command. */
export function parsePopCommand(body: unknown): PopCommand | null {
  if (typeof body !== 'object' || body === null) return null;
  const v = body as Record<string, unknown>;
  const group = v['group'];
  if (typeof group !== 'string' || !GROUP_NAME_PATTERN.test(group)) return null;
  switch (v['op']) {
    case 'pop': {
      const { topic, queueId, from, to, offsets, revive, atMs, invisibleMs } = v;
      if (typeof topic !== 'string' || !TOPIC_NAME_PATTERN.test(topic) || !isCount(queueId) || !isCount(from) || !isCount(to) || to < from || !isCount(atMs) || !isCount(invisibleMs)) return null;
      if (!Array.isArray(offsets) || !Array.isArray(revive) || offsets.length + revive.length > POP_COMMAND_ENTRIES_MAX) return null;
      if (!offsets.every((o) => isCount(o) && o >= from && o < to)) return null;
      if (!revive.every((r) => Array.isArray(r) && r.length === 2 && isCount(r[0]) && isPositive(r[1]))) return null;
      return { op: 'pop', group, topic, queueId, from, to, offsets: offsets as number[], revive: revive as Array<[number, number]>, atMs, invisibleMs, ...(v['fifo'] === true ? { fifo: true as const } : {}) };
    }
    case 'ack': {
      const receipts = v['receipts'];
      if (!Array.isArray(receipts) || receipts.length === 0 || receipts.length > POP_COMMAND_ENTRIES_MAX) return null;
      const parsed = receipts.map(parseReceipt);
      if (parsed.some((r) => r === null)) return null;
      return { op: 'ack', group, receipts: parsed as Receipt[], dlq: v['dlq'] === true };
    }
    case 'change': {
      const receipt = parseReceipt(v['receipt']);
      const visibleAtMs = v['visibleAtMs'];
      if (receipt === null || !isCount(visibleAtMs)) return null;
      return { op: 'change', group, receipt, visibleAtMs };
    }
    default:
      return null;
  }
}

/** The JSON body of a command (receipts as tuples). */
export function popCommandBody(command: PopCommand): Record<string, unknown> {
  switch (command.op) {
    case 'pop': return { ...command, offsets: [...command.offsets], revive: command.revive.map((r) => [...r]) };
    case 'ack': return { op: 'ack', group: command.group, receipts: command.receipts.map(receiptTuple), dlq: command.dlq };
    case 'change': return { op: 'change', group: command.group, receipt: receiptTuple(command.receipt), visibleAtMs: command.visibleAtMs };
  }
}

const queueKey = (topic: string, queueId: number): string => `${queueId}@${topic}`;

export interface PopStats {
  pops: number;
  acks: number;
  changes: number;
  deadLettered: number;
  /** Commands (or parts) that did not match the state: stale handles, a pop from an old view. */
  ignored: number;
}

/**
 * Why a FIFO pop breaks its queue's order lock, or null when it keeps it. The lock (RocketMQ 5's
 * ConsumerOrderInfoManager.needBlock, per queue): nothing while one in-flight message is still
 * invisible at the pop's time; the redelivered ones are the lowest in-flight offsets, in order, each
 * at the attempt in the table (a gap would hand a later message of a group out before an earlier
 * one); new offsets only when nothing of the queue is in flight.
 */
function fifoBlock(queue: QueuePop, command: Extract<PopCommand, { op: 'pop' }>): string | null {
  for (const [offset, entry] of queue.inflight) {
    if (entry.visibleAtMs > command.atMs) return `offset ${offset} is in flight until ${entry.visibleAtMs} (pop at ${command.atMs})`;
  }
  const lowest = [...queue.inflight.keys()].sort((a, b) => a - b);
  for (let i = 0; i < command.revive.length; i++) {
    const [offset, attempt] = command.revive[i] as readonly [number, number];
    if (offset !== lowest[i]) return `redelivery ${i} is offset ${offset}, not the in-flight offset ${lowest[i] ?? 'none'} (the lowest first, in order)`;
    if (queue.inflight.get(offset)?.attempt !== attempt) return `offset ${offset} is at attempt ${queue.inflight.get(offset)?.attempt}, not ${attempt}`;
  }
  if (command.offsets.length > 0 && queue.inflight.size > 0) return `new offsets while ${queue.inflight.size} older message(s) are in flight`;
  return null;
}

export class PopState implements StateExtension {
  private readonly groups = new Map<string, Map<string, QueuePop>>();
  private readonly inflightPerGroup = new Map<string, number>();
  private inflightTotal = 0;
  readonly stats: PopStats = { pops: 0, acks: 0, changes: 0, deadLettered: 0, ignored: 0 };
  private readonly appliedListeners: Array<() => void> = [];

  private host: ExtensionHost | null = null;

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  attach(host: ExtensionHost): void {
    this.host = host;
  }

  /**
   * The group's consumer offset of a queue after a pop or ack (RocketMQ 5 commits a pop queue's
   * offset once the checkpoints before it are done): the lowest offset still in flight, else the
   * next offset never handed out, so it advances past the contiguous prefix acked (or not matching
   * the filter, or dead-lettered). It only moves forward: a committed offset ahead (a remoting
   * consumer of the group, a reset) stays.
   */
  private commitFloor(group: string, topic: string, queueId: number): void {
    const queue = this.queue(group, topic, queueId);
    if (this.host === null || queue === null) return;
    let floor = queue.next;
    for (const offset of queue.inflight.keys()) if (offset < floor) floor = offset;
    const committed = this.host.consumerOffset(group, topic, queueId);
    if (committed === null || floor > committed) this.host.commitOffset(group, topic, queueId, floor);
  }

  /** Called after every pop command applied (a waiting receive re-checks). */
  onApplied(listener: () => void): void {
    this.appliedListeners.push(listener);
  }

  queue(group: string, topic: string, queueId: number): QueuePop | null {
    return this.groups.get(group)?.get(queueKey(topic, queueId)) ?? null;
  }

  inflightOf(group: string): number {
    return this.inflightPerGroup.get(group) ?? 0;
  }

  get inflightCount(): number {
    return this.inflightTotal;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** The delivery a receipt names, if it is still in flight with exactly that handle. */
  current(group: string, receipt: Receipt): Inflight | null {
    const entry = this.queue(group, receipt.topic, receipt.queueId)?.inflight.get(receipt.offset);
    return entry !== undefined && entry.attempt === receipt.attempt && entry.visibleAtMs === receipt.visibleAtMs ? entry : null;
  }

  apply(body: unknown, index: number): void {
    const command = parsePopCommand(body);
    if (command === null) {
      this.stats.ignored++;
      this.log(`entry ${index}: pop command ${JSON.stringify(body)?.slice(0, 200)} ignored (malformed)`);
      return;
    }
    switch (command.op) {
      case 'pop':
        this.applyPop(command, index);
        this.commitFloor(command.group, command.topic, command.queueId);
        break;
      case 'ack': {
        const touched = new Map<string, Receipt>();
        for (const receipt of command.receipts) {
          if (this.current(command.group, receipt) === null) {
            this.stats.ignored++;
            continue;
          }
          this.remove(command.group, receipt);
          touched.set(queueKey(receipt.topic, receipt.queueId), receipt);
          if (command.dlq) this.stats.deadLettered++;
          else this.stats.acks++;
        }
        for (const receipt of touched.values()) this.commitFloor(command.group, receipt.topic, receipt.queueId);
        break;
      }
      case 'change': {
        const queue = this.queue(command.group, command.receipt.topic, command.receipt.queueId);
        if (queue === null || this.current(command.group, command.receipt) === null) {
          this.stats.ignored++;
          break;
        }
        queue.inflight.set(command.receipt.offset, { attempt: command.receipt.attempt, visibleAtMs: command.visibleAtMs });
        this.stats.changes++;
        break;
      }
    }
    for (const listener of this.appliedListeners) listener();
  }

  private applyPop(command: Extract<PopCommand, { op: 'pop' }>, index: number): void {
    let queues = this.groups.get(command.group);
    const key = queueKey(command.topic, command.queueId);
    let queue = queues?.get(key) ?? null;
    const added = command.offsets.length;
    if ((queues === undefined && this.groups.size >= POP_GROUPS_MAX) || (queue === null && (queues?.size ?? 0) >= POP_QUEUES_PER_GROUP_MAX)
      || this.inflightOf(command.group) + added > POP_INFLIGHT_PER_GROUP_MAX || this.inflightTotal + added > POP_INFLIGHT_TOTAL_MAX) {
      this.stats.ignored++;
      this.log(`entry ${index}: pop of ${command.group} on ${key} ignored: a POP bound is reached (groups ${this.groups.size}/${POP_GROUPS_MAX}, in flight ${this.inflightOf(command.group)}/${POP_INFLIGHT_PER_GROUP_MAX} of the group, ${this.inflightTotal}/${POP_INFLIGHT_TOTAL_MAX} in all)`);
      return;
    }
    if (queues === undefined) this.groups.set(command.group, (queues = new Map()));
    if (queue === null) queues.set(key, (queue = { next: command.from, inflight: new Map() }));
    if (command.fifo === true) {
      const blocked = fifoBlock(queue, command);
      if (blocked !== null) {
        this.stats.ignored++;
        this.log(`entry ${index}: FIFO pop of ${command.group} on ${key} ignored: ${blocked}`);
        return;
      }
    }
    const visibleAtMs = command.atMs + command.invisibleMs;
    // Revivals: only an entry still in flight, at the attempt the master saw, and due by the logged time.
    for (const [offset, attempt] of command.revive) {
      const entry = queue.inflight.get(offset);
      if (entry === undefined || entry.attempt !== attempt || entry.visibleAtMs > command.atMs) {
        this.stats.ignored++;
        continue;
      }
      queue.inflight.set(offset, { attempt: attempt + 1, visibleAtMs });
    }
    if (command.to > command.from) {
      // Invariant: offsets below `next` were handed out once; a pop from another start is from a stale view.
      if (command.from !== queue.next) {
        this.stats.ignored++;
        this.log(`entry ${index}: pop of ${command.group} on ${key} from ${command.from} ignored: the queue's next offset is ${queue.next}`);
        return;
      }
      queue.next = command.to;
      for (const offset of command.offsets) {
        if (!queue.inflight.has(offset)) this.count(command.group, 1);
        queue.inflight.set(offset, { attempt: 1, visibleAtMs });
      }
    }
    this.stats.pops++;
  }

  /** A FIFO group's queue: the latest time one of its in-flight messages becomes visible, or null when none is invisible at `atMs`. */
  lockedUntil(group: string, topic: string, queueId: number, atMs: number): number | null {
    let until: number | null = null;
    for (const entry of this.queue(group, topic, queueId)?.inflight.values() ?? []) {
      if (entry.visibleAtMs > atMs && (until === null || entry.visibleAtMs > until)) until = entry.visibleAtMs;
    }
    return until;
  }

  private remove(group: string, receipt: Receipt): void {
    const queue = this.queue(group, receipt.topic, receipt.queueId);
    if (queue?.inflight.delete(receipt.offset) === true) this.count(group, -1);
  }

  private count(group: string, delta: number): void {
    this.inflightPerGroup.set(group, this.inflightOf(group) + delta);
    this.inflightTotal += delta;
  }

  snapshot(): unknown {
    const groups: unknown[] = [];
    for (const [group, queues] of this.groups) {
      const qs: unknown[] = [];
      for (const [key, queue] of queues) {
        const at = key.indexOf('@');
        qs.push([key.slice(at + 1), Number(key.slice(0, at)), queue.next, [...queue.inflight].map(([offset, e]) => [offset, e.attempt, e.visibleAtMs])]);
      }
      groups.push([group, qs]);
    }
    return groups;
  }

  restore(snapshot: unknown): void {
    this.clear();
    if (!Array.isArray(snapshot)) return;
    for (const g of snapshot.slice(0, POP_GROUPS_MAX)) {
      if (!Array.isArray(g) || typeof g[0] !== 'string' || !GROUP_NAME_PATTERN.test(g[0]) || !Array.isArray(g[1])) continue;
      const group = g[0];
      const queues = new Map<string, QueuePop>();
      for (const q of (g[1] as unknown[]).slice(0, POP_QUEUES_PER_GROUP_MAX)) {
        if (!Array.isArray(q) || typeof q[0] !== 'string' || !TOPIC_NAME_PATTERN.test(q[0]) || !isCount(q[1]) || !isCount(q[2]) || !Array.isArray(q[3])) continue;
        const inflight = new Map<number, Inflight>();
        for (const e of q[3] as unknown[]) {
          if (!Array.isArray(e) || !isCount(e[0]) || !isPositive(e[1]) || !isCount(e[2])) continue;
          if (this.inflightOf(group) >= POP_INFLIGHT_PER_GROUP_MAX || this.inflightTotal >= POP_INFLIGHT_TOTAL_MAX) break;
          inflight.set(e[0], { attempt: e[1], visibleAtMs: e[2] });
          this.count(group, 1);
        }
        queues.set(queueKey(q[0], q[1]), { next: q[2], inflight });
      }
      this.groups.set(group, queues);
    }
  }

  clear(): void {
    this.groups.clear();
    this.inflightPerGroup.clear();
    this.inflightTotal = 0;
  }
}
