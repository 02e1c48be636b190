// The prom-client adapter of Metrics, one registry per node (so several nodes can live in one
// process in tests), with prom-client's default process metrics (event-loop lag among them) and a
// small HTTP server for /metrics.
import http from 'node:http';
import type net from 'node:net';
import { ConnectionGuard, type GuardedConnection, type RefusalReason } from '../net/connection-guard.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How often nodejs_eventloop_lag_* samples the loop's delay (prom-client's default is 10 ms). */
export const EVENT_LOOP_SAMPLE_MS = 500;
import type { Metrics, Role } from './metrics.js';

// 10 µs .. ~10 s, roughly x2.5 per bucket: fine enough around our sub-millisecond commits.
const LATENCY_BUCKETS_SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
const ROLES: readonly Role[] = ['leader', 'follower', 'candidate', 'pre-candidate'];

export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly role: Gauge;
  private readonly term: Gauge;
  private readonly commitIndex: Gauge;
  private readonly appliedIndex: Gauge;
  private readonly lastIndex: Gauge;
  private readonly followerMatchIndex: Gauge;
  private readonly followerLagEntries: Gauge;
  private readonly appendLatency: Histogram;
  private readonly commitLatency: Histogram;
  private readonly batchEntries: Histogram;
  private readonly flushLatency: Histogram;
  private readonly storeBytes: Gauge;
  private readonly storeSegments: Gauge;
  private readonly firstIndex: Gauge;
  private readonly diskUsageRatio: Gauge;
  private readonly segmentsDeleted: Counter;
  private readonly bytesDeleted: Counter;
  private reportedSegmentsDeleted = 0;
  private reportedBytesDeleted = 0;
  private readonly elections: Counter;
  private readonly leaderChanges: Counter;
  private readonly ringOccupancy: Gauge;
  private readonly tlsRefused: Counter;
  private readonly authFailures: Counter;
  private readonly connectionRefusals: Counter;

  constructor(labels: { group: string; selfId: string }) {
    this.registry.setDefaultLabels({ group: labels.group, self_id: labels.selfId });
    // eventLoopMonitoringPrecision: prom-client's default (10 ms) arms a libuv timer that wakes the
    // event loop 100 times a second for nodejs_eventloop_lag_*; on an idle 3-member group that was
    // most of each node's wake-ups (strace: ~250 epoll_pwait/s per node, 100 of them this timer).
    // Sampled every EVENT_LOOP_SAMPLE_MS instead; a long stall still shows (the sample that was due
    // during it is late by the stall) and the node's own tick reports stalls too (loop-stall.ts).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    const registers = [this.registry];
    this.role = new Gauge({ name: 'dledger_role', help: '1 for the role this node has now, 0 for the others', labelNames: ['role'], registers });
    this.term = new Gauge({ name: 'dledger_term', help: 'Current Raft term', registers });
    this.commitIndex = new Gauge({ name: 'dledger_commit_index', help: 'Highest index known committed', registers });
    this.appliedIndex = new Gauge({ name: 'dledger_applied_index', help: 'Highest index applied to the state machine', registers });
    this.lastIndex = new Gauge({ name: 'dledger_last_index', help: 'Index of the last entry in the local log', registers });
    this.followerMatchIndex = new Gauge({ name: 'dledger_follower_match_index', help: 'Leader view: highest index known replicated on the follower', labelNames: ['remote_id'], registers });
    this.followerLagEntries = new Gauge({ name: 'dledger_follower_lag_entries', help: 'Leader view: entries the follower is behind the leader', labelNames: ['remote_id'], registers });
    this.appendLatency = new Histogram({ name: 'dledger_append_latency_seconds', help: 'Time from receiving an append to writing it locally', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.commitLatency = new Histogram({ name: 'dledger_commit_latency_seconds', help: 'Time from receiving an append to its commit', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.batchEntries = new Histogram({ name: 'dledger_batch_entries', help: 'Entries per persisted batch', buckets: BATCH_BUCKETS, registers });
    this.flushLatency = new Histogram({ name: 'dledger_flush_latency_seconds', help: 'Duration of one fdatasync/msync of the log', buckets: LATENCY_BUCKETS_SECONDS, registers });
    this.storeBytes = new Gauge({ name: 'dledger_store_bytes', help: 'Bytes of log data between the first and the last entry', registers });
    this.storeSegments = new Gauge({ name: 'dledger_store_segments', help: 'Data segment files', registers });
    this.firstIndex = new Gauge({ name: 'dledger_log_first_index', help: 'Index of the first entry the log still holds (moves when retention deletes segments)', registers });
    this.diskUsageRatio = new Gauge({ name: 'dledger_disk_usage_ratio', help: 'Used fraction of the file system holding the data segments (statfs), as retention last measured it', registers });
    this.segmentsDeleted = new Counter({ name: 'dledger_retention_segments_deleted_total', help: 'Data segments deleted by retention', registers });
    this.bytesDeleted = new Counter({ name: 'dledger_retention_deleted_bytes_total', help: 'Bytes of data and index segment files deleted by retention', registers });
    this.elections = new Counter({ name: 'dledger_elections_total', help: 'Elections this node started', registers });
    this.leaderChanges = new Counter({ name: 'dledger_leader_changes_total', help: 'Times this node saw the leader change', registers });
    this.authFailures = new Counter({ name: 'dledger_peer_auth_failures_total', help: 'Peer-port handshakes refused (inbound: a dialer failed to prove the secret; outbound: an acceptor did; timeout) and messages dropped for a from other than the authenticated peer (from_mismatch)', labelNames: ['reason'], registers });
    this.ringOccupancy = new Gauge({ name: 'dledger_ring_occupancy_bytes', help: 'Bytes queued in a thread ring', labelNames: ['ring'], registers });
    this.connectionRefusals = new Counter({ name: 'dledger_connection_refusals_total', help: 'Connections a listener refused or closed for its bounds: max-connections, max-connections-per-address, first-frame-deadline, idle, partial-frame-budget, unread-output-budget', labelNames: ['listener', 'reason'], registers });
    this.tlsRefused = new Counter({ name: 'dledger_tls_refused_connections_total', help: 'Connections closed during or before the TLS handshake (plaintext on a TLS port, unknown CA, no client cert)', labelNames: ['listener'], registers });
  }

  setRole(role: Role): void {
    for (const r of ROLES) this.role.set({ role: r }, r === role ? 1 : 0);
  }
  setTerm(term: number): void {
    this.term.set(term);
  }
  setIndexes(indexes: { commitIndex: number; appliedIndex: number; lastIndex: number }): void {
    this.commitIndex.set(indexes.commitIndex);
    this.appliedIndex.set(indexes.appliedIndex);
    this.lastIndex.set(indexes.lastIndex);
  }
  setFollowerProgress(peerId: string, matchIndex: number, lagEntries: number): void {
    this.followerMatchIndex.set({ remote_id: peerId }, matchIndex);
    this.followerLagEntries.set({ remote_id: peerId }, lagEntries);
  }
  observeAppendLatencySeconds(seconds: number): void {
    this.appendLatency.observe(seconds);
  }
  observeCommitLatencySeconds(seconds: number): void {
    this.commitLatency.observe(seconds);
  }
  observeBatchEntries(count: number): void {
    this.batchEntries.observe(count);
  }
  observeFlushLatencySeconds(seconds: number): void {
    this.flushLatency.observe(seconds);
  }
  setRetention(state: { firstIndex: number; diskUsageRatio: number; segmentsDeleted: number; bytesDeleted: number }): void {
    this.firstIndex.set(state.firstIndex);
    this.diskUsageRatio.set(state.diskUsageRatio);
    // Counters only go up: add what was deleted since the last report.
    this.segmentsDeleted.inc(state.segmentsDeleted - this.reportedSegmentsDeleted);
    this.bytesDeleted.inc(state.bytesDeleted - this.reportedBytesDeleted);
    this.reportedSegmentsDeleted = state.segmentsDeleted;
    this.reportedBytesDeleted = state.bytesDeleted;
  }
  setStoreSize(bytes: number, segments: number): void {
    this.storeBytes.set(bytes);
    this.storeSegments.set(segments);
  }
  incAuthFailures(reason: 'inbound' | 'outbound' | 'timeout' | 'from_mismatch'): void {
    this.authFailures.inc({ reason });
  }
  incConnectionRefusals(listener: string, reason: string): void {
    this.connectionRefusals.inc({ listener, reason });
  }
  incElections(): void {
    this.elections.inc();
  }
  incLeaderChanges(): void {
    this.leaderChanges.inc();
  }
  setRingOccupancyBytes(ring: string, bytes: number): void {
    this.ringOccupancy.set({ ring }, bytes);
  }
  incTlsRefusedConnections(listener: string): void {
    this.tlsRefused.inc({ listener });
  }
}

/** Prometheus scrapes with one or two connections; 64 leaves room for several scrapers and curl. */
export const METRICS_MAX_CONNECTIONS = 64;
/** Headers and the whole request must arrive within this (slowloris). */
const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** The /metrics listener's connection bounds (src/net/connection-guard.ts); a "frame" is a request. */
export interface MetricsListenerOptions {
  /** Names the listener in log lines and in dledger_connection_refusals_total{listener}. */
  readonly name?: string;
  readonly log?: (line: string) => void;
  /** Connections open at once (default METRICS_MAX_CONNECTIONS). */
  readonly maxConnections?: number;
  /** Connections open at once from one address (default half of maxConnections). */
  readonly maxConnectionsPerAddress?: number;
  /** A refused or closed connection (counted by the caller, e.g. incConnectionRefusals). */
  readonly onRefusal?: (reason: RefusalReason) => void;
}

/**
 * Serve GET /metrics on host:port (0 = any free port); resolves with the server and its port.
 * Every connection goes through a ConnectionGuard as on the other listeners: capped in total and
 * per address, the first request due within METRICS_REQUEST_TIMEOUT_MS, closed after 60 s without
 * one; node's own header/request timeouts bound a slow request (no body is ever read).
 */
export async function serveMetrics(registry: Registry, host: string, port: number, options: MetricsListenerOptions = {}): Promise<{ server: http.Server; port: number; guard: ConnectionGuard }> {
  const maxConnections = options.maxConnections ?? METRICS_MAX_CONNECTIONS;
  const guard = new ConnectionGuard({
    name: options.name ?? 'metrics',
    log: options.log ?? (() => undefined),
    limits: {
      maxConnections,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? Math.max(1, Math.floor(maxConnections / 2)),
      firstFrameDeadlineMs: METRICS_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: 60_000,
      // Node caps request headers itself (16 KiB each); no partial "frames" are reported.
      partialFrameBudgetBytes: 1,
    },
    ...(options.onRefusal === undefined ? {} : { onRefusal: options.onRefusal }),
  });
  const guarded = new WeakMap<net.Socket, GuardedConnection>();
  const server = http.createServer((request, response) => {
    const connection = guarded.get(request.socket);
    if (connection !== undefined) guard.frameReceived(connection);
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${error.message}\n`),
    );
  });
  server.on('connection', (socket: net.Socket) => {
    const connection = guard.admit(socket);
    if (connection === null) return;
    guarded.set(socket, connection);
    socket.once('close', () => guard.release(connection));
  });
  server.once('close', () => guard.close());
  // A scrape is one short GET: bound what a hostile client can hold open on this port.
  server.headersTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : port, guard };
}
