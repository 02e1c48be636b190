// Goal: the time series a campaign's SVG timeline draws besides its faults: who led in which term
// and when (polled from the members while the campaign runs), and how many appends were
// acknowledged per time bucket (from the client history).
// Method: LeaderPoller asks every running member for its metadata every pollMs (bounded: one poll
// in flight at a time, stops on stop()), and keeps spans of (leader, term) as reported by a member
// that claims leadership itself; overlapping claims (a deposed leader that has not noticed yet)
// are kept, since that is exactly what a timeline should show. Times are ms since the campaign's
// origin (Date.now() based, as the fault records).
import { performance } from 'node:perf_hooks';
import type { MemberStatus } from './cluster.js';
import type { History } from './history.js';

export interface LeaderSpan {
  readonly leader: string;
  readonly term: number;
  readonly fromMs: number;
  toMs: number;
}

export interface Throughput {
  readonly bucketMs: number;
  /** Acknowledged appends whose acknowledgement arrived in bucket i ([i, i+1) x bucketMs). */
  readonly acked: number[];
}

/** Polls leadership claims; spans are extended while the same (leader, term) is seen again. */
export class LeaderPoller {
  readonly spans: LeaderSpan[] = [];
  // Invariant: open holds the span last extended for each "leader@term" key, at most one per key.
  private readonly open = new Map<string, LeaderSpan>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly statuses: () => Promise<MemberStatus[]>,
    private readonly originMs: number,
    private readonly pollMs = 250,
  ) {}

  start(): this {
    this.timer = setInterval(() => {
      if (this.inFlight !== null) return;
      this.inFlight = this.poll().finally(() => (this.inFlight = null));
    }, this.pollMs);
    return this;
  }

  async stop(): Promise<LeaderSpan[]> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    return this.spans;
  }

  private async poll(): Promise<void> {
    const statuses = await this.statuses().catch(() => [] as MemberStatus[]);
    const atMs = Date.now() - this.originMs;
    for (const s of statuses) {
      if (s.leaderId !== s.id) continue;
      const key = `${s.id}@${s.term}`;
      const span = this.open.get(key);
      if (span !== undefined) span.toMs = atMs;
      else {
        const created = { leader: s.id, term: s.term, fromMs: atMs, toMs: atMs };
        this.open.set(key, created);
        this.spans.push(created);
      }
    }
  }
}

/** Acknowledged appends per bucket; `originPerfMs` is performance.now() at the campaign's origin. */
export function ackThroughput(history: History, originPerfMs: number, bucketMs = 1000): Throughput {
  const acked: number[] = [];
  for (const op of history.ops) {
    if (op.outcome?.type !== 'ok' || op.completeMs === null) continue;
    const bucket = Math.max(0, Math.floor((op.completeMs - originPerfMs) / bucketMs));
    while (acked.length <= bucket) acked.push(0);
    acked[bucket]!++;
  }
  return { bucketMs, acked };
}

/** performance.now() and Date.now() read together, to put both clocks on one axis. */
export function clockOrigin(): { dateMs: number; perfMs: number } {
  return { dateMs: Date.now(), perfMs: performance.now() };
}
