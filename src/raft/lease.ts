// Leader leases for lease-based reads, in leader ticks. A follower that hears the leader ignores
// votes for electionTimeoutTicks of its own ticks. If tick rates of any two nodes differ by at
// most MAX_TICK_RATE_RATIO, those ticks last at least electionTimeoutTicks / MAX_TICK_RATE_RATIO
// of the leader's; one tick is subtracted on each side for rounding (the follower may tick just
// after it hears the heartbeat, the leader just after it sent it).

/** The clock-drift assumption behind lease reads: tick rates differ by at most this factor. */
export const MAX_TICK_RATE_RATIO = 1.25;

export function leaseDurationTicks(electionTimeoutTicks: number): number {
  return Math.floor((electionTimeoutTicks - 1) / MAX_TICK_RATE_RATIO) - 1;
}

/**
 * The leader tick from which a lease runs: the quorum-th newest heartbeat send tick that a voter
 * has answered (the leader itself counts as answering now). -1 when no quorum has answered.
 */
export function leaseStartTick(answeredSendTicks: readonly number[], quorum: number): number {
  const newestFirst = [...answeredSendTicks].sort((a, b) => b - a);
  return newestFirst[quorum - 1] ?? -1;
}
