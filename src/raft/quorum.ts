// Majority quorum arithmetic: which index a majority has reached, and how an election stands.
import { assert } from '../util/assert.js';
import type { NodeId } from './types.js';

export function quorumSize(voterCount: number): number {
  assert(voterCount > 0, 'no voters');
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters has reached: sort descending and take the
 * quorum-th value. A voter missing from `matchByVoter` counts as -1 (has nothing).
 */
export function committedIndex(voters: readonly NodeId[], matchByVoter: (id: NodeId) => number | undefined): number {
  const matches = voters.map((id) => matchByVoter(id) ?? -1).sort((a, b) => b - a);
  return matches[quorumSize(voters.length) - 1] as number;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Won once a majority granted; lost once a majority can no longer grant. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const quorum = quorumSize(voters.length);
  if (granted >= quorum) return 'won';
  if (voters.length - rejected < quorum) return 'lost';
  return 'pending';
}
