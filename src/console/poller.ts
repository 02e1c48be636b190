// The console's server-side poll: a cluster snapshot every pollMs (one at a time: the next starts
// when the last ended), kept as the latest view and as a bounded history for the charts, and
// pushed to every page listening on /api/events. Pages therefore see a failover as the next poll
// finds it, without reloading, and N open pages cost the cluster one poll, not N.
import type { ClusterSnapshot } from './cluster-view.js';
import type { GroupMetrics } from './metrics-scrape.js';

export interface GroupSample {
  readonly leader: string | null;
  readonly term: number | null;
  /** Messages per second stored by the group (its members' putTps summed: only the leader takes sends). */
  readonly putTps: number;
  readonly commitIndex: number | null;
  /** Per follower: leader's last index minus its match index. */
  readonly lag: Record<string, number>;
  /** Commit latency over the last poll interval from the leader's /metrics histogram, when it serves one (metrics-scrape.ts). */
  readonly commitP50Ms: number | null;
  readonly commitP99Ms: number | null;
  /** Per member (selfId): entries written to its log per second, from its /metrics. */
  readonly appendTps: Record<string, number>;
}

export interface Sample {
  readonly atMs: number;
  readonly groups: Record<string, GroupSample>;
}

/** Samples kept: 10 minutes at the default 500 ms poll. */
export const HISTORY_SAMPLES = 1200;

export type LatencyProbe = (snapshot: ClusterSnapshot) => Promise<Map<string, GroupMetrics>>;

export class Poller {
  private latest: ClusterSnapshot | null = null;
  private readonly samples: Sample[] = [];
  private readonly listeners = new Set<(snapshot: ClusterSnapshot, sample: Sample) => void>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly poll: (nowMs: number) => Promise<ClusterSnapshot>,
    private readonly pollMs: number,
    private readonly latency: LatencyProbe | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  start(): Promise<void> {
    const first = this.tick();
    return first;
  }

  snapshot(): ClusterSnapshot | null {
    return this.latest;
  }

  history(sinceMs = 0): Sample[] {
    return this.samples.filter((s) => s.atMs > sinceMs);
  }

  onSnapshot(listener: (snapshot: ClusterSnapshot, sample: Sample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Polls now (e.g. right after a write) instead of waiting for the timer. */
  async refresh(): Promise<ClusterSnapshot | null> {
    if (this.running !== null) await this.running;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.tick();
    return this.latest;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }

  private tick(): Promise<void> {
    this.timer = null;
    this.running = (async () => {
      let snapshot: ClusterSnapshot;
      try {
        snapshot = await this.poll(this.now());
      } catch (error) {
        snapshot = { atMs: this.now(), clusters: [], error: `poll failed: ${(error as Error).message}`, aclRefused: false };
      }
      let latencies = new Map<string, GroupMetrics>();
      if (this.latency !== null) latencies = await this.latency(snapshot).catch(() => latencies);
      const sample = sampleOf(snapshot, latencies);
      this.latest = snapshot;
      this.samples.push(sample);
      // Invariant: at most HISTORY_SAMPLES samples (the oldest go first).
      if (this.samples.length > HISTORY_SAMPLES) this.samples.splice(0, this.samples.length - HISTORY_SAMPLES);
      for (const listener of this.listeners) listener(snapshot, sample);
    })().finally(() => {
      this.running = null;
      if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.pollMs);
    });
    return this.running;
  }
}

function sampleOf(snapshot: ClusterSnapshot, latencies: Map<string, GroupMetrics>): Sample {
  const groups: Record<string, GroupSample> = {};
  for (const cluster of snapshot.clusters) {
    for (const group of cluster.groups) {
      const leader = group.members.find((m) => m.selfId === group.leader && m.live) ?? null;
      const lag: Record<string, number> = {};
      for (const peer of group.peers) if (peer.lag !== null) lag[peer.id] = peer.lag;
      const latency = latencies.get(group.brokerName);
      groups[group.brokerName] = {
        leader: group.leader,
        term: group.term,
        putTps: group.members.reduce((sum, m) => sum + (m.live ? m.putTps ?? 0 : 0), 0),
        commitIndex: leader?.commitIndex ?? null,
        lag,
        commitP50Ms: latency?.p50Ms ?? null,
        commitP99Ms: latency?.p99Ms ?? null,
        appendTps: latency?.appendTps ?? {},
      };
    }
  }
  return { atMs: snapshot.atMs, groups };
}
