// The fault schedule of the safety phase: partitions (with their modes), crashes and restarts.
// Each decision is drawn from the run's Prng at the moment it is made, so a schedule is a pure
// function of the seed and of the cluster's behaviour up to that tick.
import type { NodeId } from '../../../src/raft/types.js';
import { assert } from '../../../src/util/assert.js';
import type { Prng } from '../../../src/util/prng.js';
import type { SimNetwork } from './network.js';
import { PartitionMode, type FaultProfile } from './options.js';

export interface ActivePartition {
  readonly mode: PartitionMode;
  readonly endsAtTick: number;
  readonly description: string;
}

/** Cuts links according to `mode` and returns a description; the caller records when it ends. */
export function startPartition(
  mode: PartitionMode,
  ids: readonly NodeId[],
  leaderId: NodeId | null,
  network: SimNetwork,
  prng: Prng,
): string {
  assert(network.cutCount() === 0, 'a partition started while another is active');
  switch (mode) {
    case PartitionMode.IsolateOne:
    case PartitionMode.IsolateLeader: {
      const victim = mode === PartitionMode.IsolateLeader && leaderId !== null ? leaderId : prng.pick(ids);
      for (const other of ids) {
        if (other === victim) continue;
        network.cut(victim, other);
        network.cut(other, victim);
      }
      return `${mode} ${victim}`;
    }
    case PartitionMode.Halves: {
      const shuffled = shuffle(ids, prng);
      const sizeA = prng.intBetween(1, ids.length);
      const groupA = shuffled.slice(0, sizeA);
      const groupB = shuffled.slice(sizeA);
      for (const a of groupA) {
        for (const b of groupB) {
          network.cut(a, b);
          network.cut(b, a);
        }
      }
      return `halves {${groupA.join(',')}} | {${groupB.join(',')}}`;
    }
    case PartitionMode.Asymmetric: {
      const victim = leaderId !== null && prng.chance(0.5) ? leaderId : prng.pick(ids);
      const outbound = prng.chance(0.5);
      for (const other of ids) {
        if (other === victim) continue;
        if (outbound) network.cut(victim, other);
        else network.cut(other, victim);
      }
      return `asymmetric ${victim} ${outbound ? 'cannot send' : 'cannot receive'}`;
    }
    case PartitionMode.RandomLinks: {
      const cuts: string[] = [];
      for (const from of ids) {
        for (const to of ids) {
          if (from !== to && prng.chance(0.3)) {
            network.cut(from, to);
            cuts.push(`${from}>${to}`);
          }
        }
      }
      return `random-links ${cuts.join(' ') || '(none)'}`;
    }
  }
}

export function pickPartitionMode(profile: FaultProfile, prng: Prng): PartitionMode {
  return prng.pick(profile.partitionModes);
}

function shuffle<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.intBetween(0, i + 1);
    const a = out[i]!;
    out[i] = out[j]!;
    out[j] = a;
  }
  return out;
}
