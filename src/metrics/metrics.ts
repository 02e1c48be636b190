// What a DLedger node reports, as an interface with a no-op default, so that src/raft and
// src/store never import prom-client (they are handed a Metrics, or nothing). Units are in the
// names: latencies in seconds, sizes in bytes, as Prometheus expects.

export type Role = 'leader' | 'follower' | 'candidate' | 'pre-candidate';

export interface Metrics {
  setRole(role: Role): void;
  setTerm(term: number): void;
  setIndexes(indexes: { commitIndex: number; appliedIndex: number; lastIndex: number }): void;
  setFollowerProgress(peerId: string, matchIndex: number, lagEntries: number): void;
  observeAppendLatencySeconds(seconds: number): void;
  observeCommitLatencySeconds(seconds: number): void;
  observeBatchEntries(count: number): void;
  observeFlushLatencySeconds(seconds: number): void;
  setStoreSize(bytes: number, segments: number): void;
  /** Retention: the log's first index, the used fraction of its disk, deletions so far (totals). */
  setRetention(state: { firstIndex: number; diskUsageRatio: number; segmentsDeleted: number; bytesDeleted: number }): void;
  incElections(): void;
  incLeaderChanges(): void;
  setRingOccupancyBytes(ring: string, bytes: number): void;
  /** A connection to `listener` closed during or before its TLS handshake (plaintext, wrong CA, no client cert). */
  incTlsRefusedConnections(listener: string): void;
  /** A refused peer-port handshake or a message whose `from` is not its connection's peer. */
  incAuthFailures(reason: 'inbound' | 'outbound' | 'timeout' | 'from_mismatch'): void;
  /** A connection a listener's bounds refused or closed (src/net/connection-guard.ts reasons). */
  incConnectionRefusals(listener: string, reason: string): void;
}

export class NoopMetrics implements Metrics {
  setRole(): void {}
  setTerm(): void {}
  setIndexes(): void {}
  setFollowerProgress(): void {}
  observeAppendLatencySeconds(): void {}
  observeCommitLatencySeconds(): void {}
  observeBatchEntries(): void {}
  observeFlushLatencySeconds(): void {}
  setStoreSize(): void {}
  setRetention(): void {}
  incElections(): void {}
  incLeaderChanges(): void {}
  setRingOccupancyBytes(): void {}
  incTlsRefusedConnections(): void {}
  incAuthFailures(): void {}
  incConnectionRefusals(): void {}
}
