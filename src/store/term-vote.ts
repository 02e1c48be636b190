// DLedger's `currterm` file: properties currTerm and voteLeader (empty when no vote), replaced
// atomically and durably before the node acts on a new term or vote (DLedger renamed without
// fsync; reference/dledger.md §1.11).
import { join } from 'node:path';
import { StoreCorruptionError } from './errors.js';
import type { StoreMedium } from './medium.js';
import { formatProperties, parseProperties } from './properties.js';
import type { TermVote } from './types.js';

export const TERM_VOTE_FILE_NAME = 'currterm';

export function loadTermVote(medium: StoreMedium, nodeDir: string): TermVote {
  const path = join(nodeDir, TERM_VOTE_FILE_NAME);
  const bytes = medium.readFile(path);
  if (bytes === null) return { term: 0, votedFor: null };
  const properties = parseProperties(bytes);
  const termText = properties.get('currTerm');
  const term = termText === undefined ? Number.NaN : Number(termText);
  if (!Number.isSafeInteger(term) || term < 0) {
    throw new StoreCorruptionError({ filePath: path, fileOffsetBytes: 0, what: 'currTerm', expected: 'a non-negative integer', found: JSON.stringify(termText ?? null) });
  }
  const voteLeader = properties.get('voteLeader') ?? '';
  return { term, votedFor: voteLeader.length === 0 ? null : voteLeader };
}

export function saveTermVote(medium: StoreMedium, nodeDir: string, state: TermVote): void {
  if (!Number.isSafeInteger(state.term) || state.term < 0) throw new RangeError(`term must be a non-negative integer, got ${state.term}`);
  if (state.votedFor !== null && (state.votedFor.length === 0 || /[\r\n=:]/.test(state.votedFor))) {
    throw new RangeError(`votedFor must be a non-empty id without newline, '=' or ':', got ${JSON.stringify(state.votedFor)}`);
  }
  medium.writeFileDurably(
    join(nodeDir, TERM_VOTE_FILE_NAME),
    formatProperties({ currTerm: String(state.term), voteLeader: state.votedFor ?? '' }),
  );
}
