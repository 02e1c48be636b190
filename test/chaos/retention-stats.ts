// Goal: what retention did during a chaos run, read from the members' own output (every process
// of a member, restarts included), so a campaign can prove deletions and snapshot installs really
// happened instead of assuming them.
// Lines (src/node/retention-service.ts, src/raft/leader-replication.ts):
//   `retention: N data segment(s) deleted, log starts at index I pos P` (also `retention (forced: ...)`)
//   `<leader> snapshot <index> installed on <member>; probing after it`
export interface RetentionStats {
  /** Data segments each member's retention deleted (sum over its processes). */
  readonly segmentsDeleted: Record<string, number>;
  /** Deletion runs that were forced (disk over its force-clean ratio), per member. */
  readonly forcedRuns: Record<string, number>;
  /** Snapshot installs acknowledged to a leader, per member that installed one. */
  readonly snapshotInstalls: Record<string, number>;
  readonly snapshotInstallsTotal: number;
}

const DELETED = /retention( \(forced[^)]*\))?: (\d+) data segment\(s\) deleted/g;
const INSTALLED = /snapshot \d+ installed on (\S+?);/g;

/** `outputs`: member id -> the output of each of its processes. */
export function retentionStatsOf(outputs: ReadonlyMap<string, readonly string[]>): RetentionStats {
  const segmentsDeleted: Record<string, number> = {};
  const forcedRuns: Record<string, number> = {};
  const snapshotInstalls: Record<string, number> = {};
  let snapshotInstallsTotal = 0;
  for (const id of outputs.keys()) {
    segmentsDeleted[id] = 0;
    forcedRuns[id] = 0;
    snapshotInstalls[id] = 0;
  }
  for (const [id, texts] of outputs) {
    for (const text of texts) {
      for (const m of text.matchAll(DELETED)) {
        segmentsDeleted[id]! += Number(m[2]);
        if (m[1] !== undefined) forcedRuns[id]!++;
      }
      for (const m of text.matchAll(INSTALLED)) {
        const member = m[1]!;
        snapshotInstalls[member] = (snapshotInstalls[member] ?? 0) + 1;
        snapshotInstallsTotal++;
      }
    }
  }
  return { segmentsDeleted, forcedRuns, snapshotInstalls, snapshotInstallsTotal };
}

export function formatRetentionStats(stats: RetentionStats, firstIndexes: Record<string, number>): string {
  const ids = Object.keys(stats.segmentsDeleted);
  return `retention: segments deleted ${ids.map((id) => `${id} ${stats.segmentsDeleted[id]}`).join(', ')}; log starts ${ids.map((id) => `${id} ${firstIndexes[id] ?? '?'}`).join(', ')}; snapshot installs ${stats.snapshotInstallsTotal} (${Object.entries(stats.snapshotInstalls).filter(([, n]) => n > 0).map(([id, n]) => `${id} ${n}`).join(', ') || 'none'}); forced runs ${Object.values(stats.forcedRuns).reduce((a, b) => a + b, 0)}`;
}
