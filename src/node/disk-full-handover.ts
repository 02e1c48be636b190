// A leader whose disk is over the disk-full ratio refuses every append (DISK_FULL), so a group led
// by it takes no writes even when the other members have space. This hands leadership to one of
// them: each retention measurement that finds this member full while it leads starts one round;
// the round asks the followers, most caught up first, to take over (the core's transfer:
// TimeoutNow once caught up), one at a time, each bounded by the transfer timeout. A member that is
// full itself ignores a TimeoutNow (server.ts), so a transfer only lands where there is space;
// when every follower is full (or down) the round fails, the leader keeps leading and refusing,
// and the next round starts after `retryAfterMs`. Appends stay refused until this member is a
// follower (then they get NOT_LEADER).
export interface HandoverPeer {
  readonly id: string;
  readonly match: number;
}

export interface HandoverTarget {
  readonly selfId: string;
  /** True while this member leads and its disk is over the disk-full ratio. */
  leadsWithFullDisk(): boolean;
  /** The followers and what they hold (the leader's progress view). */
  followers(): readonly HandoverPeer[];
  /** Resolves when `to` leads; rejects when refused or not done in time. */
  transfer(to: string): Promise<void>;
  nowMs(): number;
  log(line: string): void;
}

export class DiskFullHandover {
  private running = false;
  private notBeforeMs = 0;
  private rounds = 0;
  private handedOver = 0;

  constructor(private readonly target: HandoverTarget, private readonly retryAfterMs: number) {}

  stats(): { readonly rounds: number; readonly handedOver: number } {
    return { rounds: this.rounds, handedOver: this.handedOver };
  }

  /** Called after every disk measurement: starts a round when one is due. */
  poke(): void {
    if (this.running || !this.target.leadsWithFullDisk() || this.target.nowMs() < this.notBeforeMs) return;
    this.running = true;
    this.rounds++;
    void this.round().finally(() => {
      this.running = false;
    });
  }

  private async round(): Promise<void> {
    const candidates = [...this.target.followers()].filter((peer) => peer.id !== this.target.selfId).sort((a, b) => b.match - a.match || a.id.localeCompare(b.id));
    const refusals: string[] = [];
    for (const peer of candidates) {
      if (!this.target.leadsWithFullDisk()) return; // space came back, or someone else leads now
      this.target.log(`disk full while leading: handing leadership to ${peer.id} (match ${peer.match})`);
      try {
        await this.target.transfer(peer.id);
        this.handedOver++;
        this.target.log(`disk full: ${peer.id} leads now; this member refuses appends no longer as leader`);
        return;
      } catch (error) {
        refusals.push(`${peer.id}: ${(error as Error).message}`);
      }
    }
    if (!this.target.leadsWithFullDisk()) return;
    this.notBeforeMs = this.target.nowMs() + this.retryAfterMs;
    this.target.log(`disk full: no follower took leadership (${refusals.join('; ') || 'no followers'}); still leading and refusing appends, next try in ${this.retryAfterMs} ms`);
  }
}
