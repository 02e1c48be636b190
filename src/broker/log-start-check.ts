// Members of one DLedger group must agree where its log starts: at dividedCommitlogOffset (the
// end of the old classic commit log every member was given before the upgrade) or at 0 for a
// group that was DLedger from the start. The store lets an EMPTY follower move its start to the
// leader's first position (the catch-up path of a wiped member), so a member started without the
// copied old log — or the only member with it — silently took the other's start: followers with
// the old files then indexed new entries below the divided offset and stopped on an assertion
// ("CQ ... offset 443 after 338658": their commit index stayed 0), and a follower without them
// served no old topics and other queue offsets. The group's entry 0 carries the start, so every
// member compares it with its own divided offset before applying anything and refuses loudly.

/** What this member expects the group's entry 0 position to be. */
export interface LogStartExpectation {
  /** dividedCommitlogOffset: the end of this member's sealed classic log, or 0 without one. */
  readonly dividedOffset: number;
  /** storePathCommitLog, for the message. */
  readonly classicDirectoryPath: string;
  /** Whether storePathCommitLog held classic files (an upgraded member). */
  readonly upgraded: boolean;
}

/**
 * null when entry 0 lies where this member expects it; otherwise the refusal, naming
 * dividedCommitlogOffset and both positions. `firstPos` null (entry 0 not stored: a log that
 * starts later) cannot be judged and passes.
 */
export function logStartMismatch(expectation: LogStartExpectation, firstPos: number | null, leaderId: string | null): string | null {
  if (firstPos === null || firstPos === expectation.dividedOffset) return null;
  const mine = expectation.upgraded
    ? `this member's dividedCommitlogOffset is ${expectation.dividedOffset} (its classic commit log in ${expectation.classicDirectoryPath} ends there)`
    : `this member has no classic commit log in ${expectation.classicDirectoryPath} (dividedCommitlogOffset 0)`;
  const theirs = firstPos === 0 ? 'no classic commit log (dividedCommitlogOffset 0)' : `dividedCommitlogOffset ${firstPos}`;
  return `the DLedger group's log starts at offset ${firstPos} (entry 0, leader ${leaderId ?? 'unknown'}), but ${mine}: `
    + `the members disagree about the old commit log (the leader that wrote entry 0 had ${theirs}). `
    + 'Every member needs the same copy of the old commit log before its first DLedger start (compare with mqadmin commitLogMd5); '
    + 'this member applies nothing and stops';
}
