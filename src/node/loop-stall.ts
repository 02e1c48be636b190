// Notices when the node's tick ran late: the event loop was blocked (our own work: a huge JSON
// body, a big copy, a GC pause) or the process got no CPU (a loaded machine). Either way the
// members' heartbeats were late, and past the election timeout the group elects again; the log
// line says which of the two it was (CPU this process used during the gap), so an election
// under load can be explained from the logs.

export interface LoopStall {
  /** How late the tick was, beyond its interval (ms). */
  readonly lateMs: number;
  /** CPU time this process used during the gap (ms), all threads. */
  readonly cpuMs: number;
}

export class LoopStallDetector {
  private lastTickMs: number | null = null;
  private lastCpuMicros = 0;
  private lastReportMs = -Infinity;

  constructor(
    private readonly tickIntervalMs: number,
    /** A tick this much later than due is reported. */
    private readonly thresholdMs: number,
    /** At most one report per this many ms. */
    private readonly reportEveryMs = 1000,
  ) {}

  /** Called at every tick with a monotonic clock and the process's CPU time. */
  observe(nowMs: number, cpuMicros: number): LoopStall | null {
    const last = this.lastTickMs;
    const lastCpu = this.lastCpuMicros;
    this.lastTickMs = nowMs;
    this.lastCpuMicros = cpuMicros;
    if (last === null) return null;
    const lateMs = nowMs - last - this.tickIntervalMs;
    if (lateMs < this.thresholdMs || nowMs - this.lastReportMs < this.reportEveryMs) return null;
    this.lastReportMs = nowMs;
    return { lateMs, cpuMs: (cpuMicros - lastCpu) / 1000 };
  }
}

export function describeStall(stall: LoopStall, electionTimeoutMs: number): string {
  const gapMs = stall.lateMs;
  // Nearly all of the gap on the CPU: this process was busy; far less: it waited for a core.
  const cause = stall.cpuMs >= 0.7 * gapMs ? 'busy on its own work' : stall.cpuMs <= 0.3 * gapMs ? 'waiting for a CPU (machine loaded)' : 'partly busy, partly waiting for a CPU';
  return `event loop stalled ${Math.round(gapMs)} ms (${Math.round(stall.cpuMs)} ms of CPU used meanwhile: ${cause}); the election timeout is ${electionTimeoutMs} ms`;
}
