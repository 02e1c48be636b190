// The FIFO rules a consumer's history must keep (RocketMQ 5's order lock per queue, see
// docs/architecture.md "FIFO groups"), judged from outside: what the client received and acked,
// and what the queues hold in the end. A delivery is one message in one receive's answer.
//  - order: before a message of a message group is delivered, every message of that group stored
//    at a lower offset was delivered before it: earlier in the same receive (RocketMQ's batch), or
//    in an earlier receive and acked (answered OK, or an ack sent whose answer was lost: it may
//    have been applied) before this receive was answered. So nothing of a group comes before the
//    previous one is acked, and a redelivery is only of the unacked head;
//  - one in flight: nothing of a group comes while a message of it from an earlier receive is
//    neither acked (since that receive) nor past its invisible time (that receive's invoke time +
//    invisibleMs - slackMs: the pop happened after the invoke);
//  - no ack lost: nothing comes again after its ack was answered OK.
export interface FifoDelivery {
  readonly group: string;
  readonly queueId: number;
  readonly offset: number;
  readonly attempt: number;
  /** The receive it came in (1, 2, ... in answer order), when that receive was invoked and answered. */
  readonly receive: number;
  readonly invokeMs: number;
  readonly atMs: number;
}

export interface FifoAck {
  readonly queueId: number;
  readonly offset: number;
  /** ok: answered OK at atMs; unknown: sent at atMs, the answer failed (it may be applied). */
  readonly outcome: 'ok' | 'unknown';
  readonly atMs: number;
}

export interface FifoStored {
  readonly group: string;
  readonly queueId: number;
  readonly offset: number;
}

const key = (queueId: number, offset: number): string => `${queueId}:${offset}`;

/** Every broken rule, one line each (empty: the history keeps FIFO). Deliveries in receive order. */
export function fifoViolations(deliveries: readonly FifoDelivery[], acks: readonly FifoAck[], stored: readonly FifoStored[], invisibleMs: number, slackMs: number): string[] {
  const out: string[] = [];
  const acksOf = new Map<string, FifoAck[]>();
  for (const ack of acks) acksOf.set(key(ack.queueId, ack.offset), [...(acksOf.get(key(ack.queueId, ack.offset)) ?? []), ack]);
  const ackedBetween = (queueId: number, offset: number, fromMs: number, toMs: number): boolean =>
    (acksOf.get(key(queueId, offset)) ?? []).some((a) => a.atMs >= fromMs && a.atMs <= toMs);
  const storedOf = new Map<string, FifoStored[]>();
  for (const s of stored) storedOf.set(s.group, [...(storedOf.get(s.group) ?? []), s]);
  const earlier: FifoDelivery[] = [];
  for (let i = 0; i < deliveries.length; i++) {
    const d = deliveries[i] as FifoDelivery;
    const name = `${d.group} offset ${d.offset} (attempt ${d.attempt}, receive ${d.receive})`;
    const okAck = (acksOf.get(key(d.queueId, d.offset)) ?? []).find((a) => a.outcome === 'ok' && a.atMs < d.atMs);
    if (okAck !== undefined) out.push(`${name}: delivered again ${d.atMs - okAck.atMs} ms after its ack was answered OK`);
    for (const s of storedOf.get(d.group) ?? []) {
      if (s.queueId !== d.queueId || s.offset >= d.offset) continue;
      const sameReceive = deliveries.slice(0, i).some((e) => e.receive === d.receive && e.queueId === s.queueId && e.offset === s.offset);
      if (sameReceive) continue;
      const before = earlier.some((e) => e.receive < d.receive && e.queueId === s.queueId && e.offset === s.offset);
      if (!before) out.push(`${name}: delivered before offset ${s.offset} of its group was ever delivered`);
      else if (!ackedBetween(s.queueId, s.offset, -Infinity, d.atMs)) out.push(`${name}: delivered while offset ${s.offset} of its group was delivered and not acked`);
    }
    for (const e of earlier) {
      if (e.group !== d.group || e.receive === d.receive) continue;
      if (ackedBetween(e.queueId, e.offset, e.atMs, d.atMs)) continue;
      if (d.atMs < e.invokeMs + invisibleMs - slackMs) out.push(`${name}: delivered ${Math.round(d.atMs - e.invokeMs)} ms after the receive of offset ${e.offset} of its group (attempt ${e.attempt}) was invoked, not acked and invisible for ${invisibleMs} ms`);
    }
    earlier.push(d);
  }
  return out;
}
