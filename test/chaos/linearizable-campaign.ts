// Goal: what a campaign runs beside its append loops and fault schedule, kept out of campaign.ts:
// reader loops doing linearizable read-latest (on by default), a leader poller for the timeline,
// and, once the run is over, the register linearizability check over appends + reads and the
// throughput series.
// Method: startPolling() before the first leader, startReads() with the append loops; stopReads() together with the append loops (so
// both halves of the history end together); stop() after the final check (the poller sees the
// healing too); finish(history) checks and returns the report's fields and violation lines.
// A check that cannot be completed (configuration cap) is a violation: a run is never passed
// unverified.
import { performance } from 'node:perf_hooks';
import type { ChaosCluster } from './cluster.js';
import type { History } from './history.js';
import { checkRegisterHistory, formatViolation, type LinearizabilityResult } from './linearizable.js';
import { ReadLoops, summarizeReads, toRegisterOps } from './linearizable-reads.js';
import { ackThroughput, LeaderPoller, type LeaderSpan, type Throughput } from './timeline.js';

export interface ObserverOptions {
  /** Linearizable reads interleaved with the appends (default true). */
  readonly reads?: boolean;
  /** Reader loops (default 1). */
  readonly readers?: number;
}

export interface ObservedFields {
  readonly reads: { reads: number; ok: number; fail: number; unknown: number } | null;
  readonly linearizability: LinearizabilityResult | null;
  readonly leaders: LeaderSpan[];
  readonly throughput: Throughput;
}

export class CampaignObservers {
  private readers: ReadLoops | null = null;
  private readonly poller: LeaderPoller;
  /** performance.now() at the campaign's Date.now() origin. */
  private readonly originPerfMs: number;

  constructor(
    private readonly cluster: ChaosCluster,
    originDateMs: number,
    private readonly options: ObserverOptions,
  ) {
    this.originPerfMs = performance.now() - (Date.now() - originDateMs);
    this.poller = new LeaderPoller(() => cluster.statuses(), originDateMs);
  }

  /** Leadership polls, from before the first election. */
  startPolling(): this {
    this.poller.start();
    return this;
  }

  /** Reader loops (unless reads are off), together with the append loops. */
  startReads(group: string): this {
    if (this.options.reads !== false && this.readers === null) {
      this.readers = new ReadLoops({ group, peers: this.cluster.realPeers, readers: this.options.readers ?? 1, consistency: 'linearizable', retryTimeoutMs: 3000, requestTimeoutMs: 1500, thinkMs: 5, maxOpsPerReader: 1_000_000 });
    }
    return this;
  }

  async stopReads(): Promise<void> {
    await this.readers?.stop();
  }

  async stop(): Promise<void> {
    await this.stopReads();
    await this.poller.stop();
  }

  finish(history: History): ObservedFields & { violations: string[] } {
    const violations: string[] = [];
    let linearizability: LinearizabilityResult | null = null;
    if (this.readers !== null) {
      linearizability = checkRegisterHistory(toRegisterOps(history, this.readers.reads));
      for (const v of linearizability.violations) violations.push(formatViolation(v));
      if (linearizability.violationCount > linearizability.violations.length) violations.push(`linearizability: ${linearizability.violationCount - linearizability.violations.length} more violations not listed`);
      if (linearizability.inconclusive !== null) violations.push(`linearizability: check inconclusive: ${linearizability.inconclusive}`);
    }
    return {
      reads: this.readers === null ? null : summarizeReads(this.readers.reads),
      linearizability,
      leaders: this.poller.spans,
      throughput: ackThroughput(history, this.originPerfMs),
      violations,
    };
  }
}

/** Summary lines for the reads half. */
export function formatReadsSummary(fields: ObservedFields): string[] {
  if (fields.reads === null || fields.linearizability === null) return ['reads: off'];
  const l = fields.linearizability;
  return [
    `reads: ${fields.reads.reads} (ok ${fields.reads.ok}, fail ${fields.reads.fail}, unknown ${fields.reads.unknown}); linearizability violations: ${l.violationCount}${l.inconclusive !== null ? ' (INCONCLUSIVE)' : ''} (${l.checkedOps} ops checked, ${l.unknownWritesObserved} unknown appends observed, at most ${l.maxPending} pending, ${l.maxConfigurations} configurations)`,
  ];
}
