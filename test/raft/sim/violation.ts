// A safety or liveness property the simulator saw broken. The checker name is stable text that
// tests match on (the bite test expects a particular checker to fire for a particular bug).
export const CheckerName = {
  ElectionSafety: 'election-safety',
  /** A voter granted two different candidates in one term (e.g. its vote was not durable). */
  VoteSafety: 'vote-safety',
  LogMatching: 'log-matching',
  LeaderCompleteness: 'leader-completeness',
  StateMachineSafety: 'state-machine-safety',
  AcknowledgedLost: 'acknowledged-lost',
  LinearizableRead: 'linearizable-read',
  Liveness: 'liveness',
  /** The core's own checkInvariants() or one of its assertions threw. */
  CoreInvariant: 'core-invariant',
} as const;
export type CheckerName = (typeof CheckerName)[keyof typeof CheckerName];

export class SimViolation extends Error {
  override name = 'SimViolation';
  constructor(
    readonly checker: CheckerName,
    message: string,
    readonly tick: number,
  ) {
    super(`[${checker}] at tick ${tick}: ${message}`);
  }
}
