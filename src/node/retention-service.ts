// The node's retention timer (DLedger's CleanSpaceService; RocketMQ's CleanCommitLogService for a
// broker): every checkIntervalMs it measures the disk (statfs of the data directory), marks the
// disk full above diskFullRatio (appends are refused then), and when it is the hour of deleteWhen
// or the disk is above checkExpiredRatio, asks the store to delete expired segments (all old
// segments when above forceCleanRatio), never past `keepFromIndex()` (what the node may compact:
// committed, applied, and not needed by live followers). The store unlinks off the event loop;
// one run at a time. The decisions are here, not in src/raft (which stays free of clocks).
// Between two checks the disk alone is measured every DISK_MEASURE_INTERVAL_MS (a statfs, a few
// microseconds): a disk that fills up is marked full, and a full leader hands over (server.ts,
// disk-full-handover.ts), within a second instead of a whole cleanResourceInterval (10 s).
import type { LogStore, RetentionRun } from '../store/types.js';
import { isTimeToDelete, type RetentionSettings } from './retention-settings.js';

export interface RetentionClock {
  nowMs(): number;
  /** Hour of the day, local time (RocketMQ and DLedger compare deleteWhen with the local hour). */
  hourOfDay(): number;
}

const SYSTEM_CLOCK: RetentionClock = { nowMs: () => Date.now(), hourOfDay: () => new Date().getHours() };

/** The disk is measured at least this often (more often when checkIntervalMs is shorter). */
export const DISK_MEASURE_INTERVAL_MS = 1000;

export interface RetentionHooks {
  /** The first index that must stay; `forceClean` says the disk is over its force-clean ratio. */
  keepFromIndex(forceClean: boolean): number;
  /** The log start moved (every member runs its own retention): consume queues and the like follow it. */
  onLogStartMoved?(run: RetentionRun, firstIndex: number, firstPos: number): void;
  log(line: string): void;
  clock?: RetentionClock;
  /** After every disk measurement (server.ts: a full leader hands leadership over). */
  onMeasured?(diskFull: boolean): void;
}

export interface RetentionStats {
  readonly runs: number;
  readonly segmentsDeleted: number;
  readonly bytesDeleted: number;
  readonly diskUsageRatio: number;
  readonly diskFull: boolean;
}

export class RetentionService {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private runs = 0;
  private segmentsDeleted = 0;
  private bytesDeleted = 0;
  private ratio = 0;
  // Invariant: set when a measured ratio went above diskFullRatio, cleared at or below diskOkRatio.
  private full = false;
  private stopped = false;

  /** A run waits for the entry writer (see check). */
  private awaitingWrites = false;

  constructor(
    private readonly store: LogStore,
    readonly settings: RetentionSettings,
    private readonly hooks: RetentionHooks,
  ) {}

  // Invariant: null with an own timer; else the caller's ticks per check (>= 1) and the count.
  private ticksPerCheck: number | null = null;
  private ticksSinceCheck = 0;
  // Invariant: 1 <= ticksPerMeasure <= ticksPerCheck (tick mode) / measuresPerCheck >= 1 (timer mode).
  private ticksPerMeasure = 1;
  private measuresPerCheck = 1;
  private measuresSinceCheck = 0;

  /**
   * Check now, then every checkIntervalMs: on an own timer, or, given the caller's tick period
   * (tickIntervalMs <= checkIntervalMs), from the caller's ticks (onTick), every
   * round(checkIntervalMs / tickIntervalMs) of them: the check then shares the tick's wake-up of
   * the event loop instead of waking it 10 times a second by itself (measured on an idle member:
   * the 100 ms timer fired ~2 ms after every other tick, a wake-up of its own).
   */
  start(tickIntervalMs?: number): void {
    this.checkFromTimer();
    const measureMs = Math.min(DISK_MEASURE_INTERVAL_MS, this.settings.checkIntervalMs);
    if (tickIntervalMs !== undefined && tickIntervalMs > 0 && tickIntervalMs <= this.settings.checkIntervalMs) {
      this.ticksPerCheck = Math.max(1, Math.round(this.settings.checkIntervalMs / tickIntervalMs));
      this.ticksPerMeasure = Math.min(this.ticksPerCheck, Math.max(1, Math.round(measureMs / tickIntervalMs)));
      return;
    }
    this.measuresPerCheck = Math.max(1, Math.round(this.settings.checkIntervalMs / measureMs));
    this.timer = setInterval(() => {
      if (++this.measuresSinceCheck < this.measuresPerCheck) return this.measureFromTimer();
      this.measuresSinceCheck = 0;
      this.checkFromTimer();
    }, this.settings.checkIntervalMs / this.measuresPerCheck);
    this.timer.unref();
  }

  /**
   * The caller's tick (start(tickIntervalMs) only): a check every ticksPerCheck ticks, a disk
   * measurement alone every ticksPerMeasure ticks between them.
   */
  onTick(): void {
    if (this.ticksPerCheck === null || this.stopped) return;
    if (++this.ticksSinceCheck >= this.ticksPerCheck) {
      this.ticksSinceCheck = 0;
      this.checkFromTimer();
    } else if (this.ticksSinceCheck % this.ticksPerMeasure === 0) {
      this.measureFromTimer();
    }
  }

  private measureFromTimer(): void {
    try {
      this.measure();
    } catch (error) {
      if (!this.stopped) this.hooks.log(`disk measurement failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** statfs of the data directory: the ratio, the full flag (logged when it flips), onMeasured. */
  measure(): void {
    if (this.stopped) return;
    const settings = this.settings;
    this.ratio = this.store.diskUsageRatio();
    const full = this.full ? this.ratio > (settings.diskOkRatio ?? settings.diskFullRatio) : this.ratio > settings.diskFullRatio;
    if (full !== this.full) this.hooks.log(full ? `disk usage ${this.ratio.toFixed(4)} over ${settings.diskFullRatio}: appends refused until space returns` : `disk usage ${this.ratio.toFixed(4)} back at or below ${settings.diskOkRatio ?? settings.diskFullRatio}: appends accepted again`);
    this.full = full;
    this.hooks.onMeasured?.(full);
  }

  /**
   * A store that failed (a failed flush) or is closing refuses writes: the node is stopping on its
   * own (server.ts fatal), so a run that throws is logged, not left to crash the process.
   */
  private checkFromTimer(): void {
    try {
      this.check();
    } catch (error) {
      if (!this.stopped) this.hooks.log(`retention check failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Appends must be refused (the disk is above diskFullRatio at the last measurement). */
  get diskFull(): boolean {
    return this.full;
  }

  stats(): RetentionStats {
    return { runs: this.runs, segmentsDeleted: this.segmentsDeleted, bytesDeleted: this.bytesDeleted, diskUsageRatio: this.ratio, diskFull: this.full };
  }

  /** One measurement and, when due, one deletion run (the timer calls this; tests may too). */
  check(): RetentionRun | null {
    if (this.stopped) return null;
    const settings = this.settings;
    const clock = this.hooks.clock ?? SYSTEM_CLOCK;
    this.measure();
    if (this.inFlight !== null) return null;
    const timeUp = isTimeToDelete(settings.deleteWhen, clock.hourOfDay());
    const checkExpired = this.ratio > settings.checkExpiredRatio;
    const forceClean = settings.forceCleanRatio !== null && this.ratio > settings.forceCleanRatio;
    if (!timeUp && !checkExpired && !forceClean) return null;
    // With storage-worker writes, a run needs the written log (it flushes and reads headers):
    // run once the writer calls back with nothing pending rather than let the store drain
    // (block) for it.
    if ((this.store.pendingWrites?.() ?? 0) > 0 && this.store.afterWrites !== undefined) {
      if (!this.awaitingWrites) {
        this.awaitingWrites = true;
        this.store.afterWrites(() => {
          this.awaitingWrites = false;
          this.check();
        });
      }
      return null;
    }
    const run = this.store.applyRetention({
      fileReservedMs: settings.fileReservedMs,
      forceClean,
      keepFromIndex: this.hooks.keepFromIndex(forceClean),
      nowMs: clock.nowMs(),
      maxSegmentsPerRun: settings.maxSegmentsPerRun,
      unlinkIntervalMs: settings.unlinkIntervalMs,
    });
    if (run === null) return null;
    this.runs++;
    this.segmentsDeleted += run.dataSegmentsDeleted;
    this.bytesDeleted += run.bytesDeleted;
    const range = this.store.retainedRange();
    this.hooks.log(`retention${forceClean ? ' (forced: disk usage ' + this.ratio.toFixed(4) + ')' : ''}: ${run.dataSegmentsDeleted} data segment(s) deleted, log starts at index ${range.firstIndex} pos ${range.firstPos}`);
    this.hooks.onLogStartMoved?.(run, range.firstIndex, range.firstPos);
    this.inFlight = run.filesRemoved.then(
      () => undefined,
      (error: Error) => this.hooks.log(`retention: unlinking ${run.deleted.join(', ')} failed (${error.message}); recovery removes them at the next open`),
    ).finally(() => {
      this.inFlight = null;
    });
    return run;
  }

  /** Stop the timer and wait for unlinks in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.inFlight !== null) await this.inFlight;
  }
}

/** What the core says may be compacted, as RetentionHooks.keepFromIndex needs it. */
export interface CompactionView {
  compactableIndex(): number;
  status(): { readonly role: string; readonly progress: ReadonlyMap<string, { readonly match: number }> };
}

/**
 * The first index retention must keep. Always after what the core may compact (committed and
 * applied; on a leader, what every recently active follower holds). With a state machine that
 * cannot install a snapshot (the broker today: its state lives only in the replayed log), the
 * leader also keeps what any follower, down or not, still needs, unless the disk is over its
 * force-clean ratio: a follower behind the start then cannot catch up (it stops, see server.ts).
 */
export function retentionKeepFromIndex(core: CompactionView, selfId: string, holdForEveryFollower: boolean, forceClean: boolean): number {
  let keep = core.compactableIndex() + 1;
  const status = core.status();
  if (holdForEveryFollower && !forceClean && status.role === 'leader') {
    for (const [id, progress] of status.progress) if (id !== selfId) keep = Math.min(keep, progress.match + 1);
  }
  return keep;
}
