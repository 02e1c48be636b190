// The simulated network: every message sent by a core lands here with a delivery tick drawn
// from the run's network profile. It can be dropped, duplicated, delayed and (through unequal
// delays) reordered; one-way link cuts model symmetric and asymmetric partitions. Delivery is
// in (tick, sequence) order after a seeded shuffle of messages due on the same tick, so the
// order is a pure function of the seed.
import type { Message, NodeId } from '../../../src/raft/types.js';
import { assert } from '../../../src/util/assert.js';
import type { Prng } from '../../../src/util/prng.js';
import type { NetworkProfile } from './options.js';

interface InFlight {
  readonly message: Message;
  readonly deliverAtTick: number;
  /** Tie-breaker that keeps the queue order deterministic. */
  readonly sequence: number;
}

/** Bound on messages in flight; a core that floods the network is itself a bug worth seeing. */
export const IN_FLIGHT_MESSAGES_MAX = 100_000;

export class SimNetwork {
  private inFlight: InFlight[] = [];
  private sequence = 0;
  // Invariant: every key is `${from}>${to}` for two distinct node ids.
  private readonly cutLinks = new Set<string>();
  private profile: NetworkProfile;
  droppedCount = 0;
  duplicatedCount = 0;
  deliveredCount = 0;

  constructor(
    private readonly prng: Prng,
    profile: NetworkProfile,
  ) {
    this.profile = profile;
  }

  /** Liveness phase: the network becomes reliable and prompt, but messages already in flight stay. */
  heal(): void {
    this.cutLinks.clear();
    this.profile = {
      dropProbability: 0,
      duplicateProbability: 0,
      delayMinTicks: 1,
      delayMaxTicks: 1,
      reorderProbability: 0,
      reorderExtraDelayMaxTicks: 0,
    };
  }

  cut(from: NodeId, to: NodeId): void {
    assert(from !== to, `cannot cut a node from itself (${from})`);
    this.cutLinks.add(linkKey(from, to));
  }

  clearCuts(): void {
    this.cutLinks.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cutLinks.has(linkKey(from, to));
  }

  cutCount(): number {
    return this.cutLinks.size;
  }

  send(message: Message, nowTick: number): void {
    assert(message.from !== message.to, `message to self: ${message.type} from ${message.from}`);
    if (this.prng.chance(this.profile.dropProbability)) {
      this.droppedCount++;
      return;
    }
    this.enqueue(message, nowTick);
    if (this.prng.chance(this.profile.duplicateProbability)) {
      this.duplicatedCount++;
      this.enqueue(message, nowTick);
    }
  }

  /** Removes and returns the messages due at or before nowTick, in a seeded order. */
  takeDue(nowTick: number): Message[] {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const item of this.inFlight) (item.deliverAtTick <= nowTick ? due : rest).push(item);
    if (due.length === 0) return [];
    this.inFlight = rest;
    due.sort((a, b) => a.deliverAtTick - b.deliverAtTick || a.sequence - b.sequence);
    shuffleAdjacentWithinTick(due, this.prng);
    const delivered: Message[] = [];
    for (const item of due) {
      // A link cut while the message was in flight still loses it: the cut models a dead route.
      if (this.isCut(item.message.from, item.message.to)) {
        this.droppedCount++;
        continue;
      }
      delivered.push(item.message);
    }
    this.deliveredCount += delivered.length;
    return delivered;
  }

  /** A crashed node loses what it had sent but not yet handed to the wire, and what was sent to it. */
  dropAllOf(nodeId: NodeId): void {
    const before = this.inFlight.length;
    this.inFlight = this.inFlight.filter((m) => m.message.from !== nodeId && m.message.to !== nodeId);
    this.droppedCount += before - this.inFlight.length;
  }

  inFlightCount(): number {
    return this.inFlight.length;
  }

  private enqueue(message: Message, nowTick: number): void {
    assert(this.inFlight.length < IN_FLIGHT_MESSAGES_MAX, `more than ${IN_FLIGHT_MESSAGES_MAX} messages in flight`);
    const p = this.profile;
    let delayTicks = this.prng.intBetween(p.delayMinTicks, p.delayMaxTicks + 1);
    if (p.reorderProbability > 0 && this.prng.chance(p.reorderProbability)) {
      delayTicks += this.prng.intBetween(1, p.reorderExtraDelayMaxTicks + 1);
    }
    assert(delayTicks >= 1, 'a message must take at least one tick, or a tick could never end');
    this.inFlight.push({ message, deliverAtTick: nowTick + delayTicks, sequence: this.sequence++ });
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

/** Fisher-Yates within each run of equal delivery ticks, so same-tick arrivals race fairly. */
function shuffleAdjacentWithinTick(items: InFlight[], prng: Prng): void {
  let start = 0;
  while (start < items.length) {
    let end = start + 1;
    const tick = items[start]!.deliverAtTick;
    while (end < items.length && items[end]!.deliverAtTick === tick) end++;
    for (let i = end - 1; i > start; i--) {
      const j = prng.intBetween(start, i + 1);
      const a = items[i]!;
      items[i] = items[j]!;
      items[j] = a;
    }
    start = end;
  }
}
