// DLedger node configuration: DLedger's own key names and defaults where they make sense, our
// timing defaults where DLedger's are too slow (see DEFAULT_TIMING below), validated in full
// before anything starts. Every error names the key and the value it got.
import { PEER_TLS_DEFAULTS, parsePeerTls, type PeerTls } from '../net/tls-config.js';
import { isThreadsSetting, RAFT_WORKER_ENV, raftWorkerEnvProblem, STORAGE_WORKER_WRITES_DEFAULT, STORAGE_WORKER_WRITES_ENV, storageWorkerWritesEnvProblem, THREADS_ENV, threadsEnvProblem, type ThreadsSetting } from './threads-mode.js';
import { DLEDGER_CHECK_INTERVAL_MS, DLEDGER_UNLINK_INTERVAL_MS, MAX_RESERVED_HOURS, MAX_SEGMENTS_PER_RUN, parseDecimal, parseDeleteWhen, reservedHoursToMs, type RetentionSettings } from './retention-settings.js';

export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export type FlushPolicyName = 'sync' | 'async';

export interface DLedgerNodeConfig {
  readonly group: string;
  readonly selfId: string;
  /** DLedger syntax: "n0-host:port;n1-host:port;..."; the id is the text before the first '-'. */
  readonly peers: readonly PeerAddress[];
  readonly storeBaseDir: string;
  /** Leader heartbeat period. */
  readonly heartBeatTimeIntervalMs: number;
  /** A follower campaigns after missing this many heartbeats (randomized up to twice that). */
  readonly maxHeartBeatLeak: number;
  /** Raft tick period: every timeout is a whole number of ticks. */
  readonly tickIntervalMs: number;
  readonly preferredLeaderIds: readonly string[];
  readonly mappedFileSizeForEntryData: number;
  readonly mappedFileSizeForEntryIndex: number;
  /** 'sync': fdatasync/msync on a majority before ack (group commit). 'async': ack from page cache. */
  readonly flushPolicy: FlushPolicyName;
  /** Period of the background flush under 'async' (DLedger's flushFileInterval). */
  readonly flushFileInterval: number;
  /** Group-commit flushes on the libuv thread pool (true) or on the event-loop thread (false). */
  readonly flushInBackground: boolean;
  /**
   * Appends carry the leader's stored records and followers append those bytes verbatim (true),
   * or entries travel as msgpack objects and each follower encodes its own records (false).
   */
  readonly shipStoredRecords: boolean;
  readonly maxPendingRequestsNum: number;
  readonly maxEntryBodyBytes: number;
  readonly metricsPort: number | null;
  /** TLS on the peer port (members and clients), from the tls* keys (src/net/tls-config.ts); null: plaintext. */
  readonly tls: PeerTls | null;
  /**
   * 'secret' (default): every peer-port connection proves it holds the group secret (peer-auth.ts)
   * and a node without peerSecretFile refuses to start. 'none': no authentication (warned at start).
   */
  readonly peerAuth: PeerAuthMode;
  /** File of the group secret(s), one per line; the first proves, all are accepted. '' = unset. */
  readonly peerSecretFile: string;
  /** File of the secret(s) DLedgerClients prove with; '' = the peer secret file. */
  readonly clientSecretFile: string;
  /** Bounds of the peer port (members and clients together): src/net/connection-guard.ts. */
  readonly peerMaxConnections: number;
  readonly peerMaxConnectionsPerAddress: number;
  /** A connection without a complete frame for this long is closed (0: never). */
  readonly peerIdleTimeoutMs: number;
  /** Bytes all peer-port connections together may hold in partial frames. */
  readonly peerPartialFrameBudgetBytes: number;
  /** A client's replies not yet taken by it beyond which its requests are not read. */
  readonly clientReplyBacklogMaxBytes: number;
  /** inline | workers | auto (threads-mode.ts; DLEDGER_THREADS overrides auto). */
  readonly threads: ThreadsSetting;
  /**
   * threads=workers only: run the Raft core, the store, the peer transport and the ticks on a
   * Raft worker thread (src/node/raft-worker*.ts); the embedding API and the state machine stay
   * on the calling thread. Default false (issue 13 stage: the broker does not use it yet).
   */
  readonly raftWorker: boolean;
  /**
   * threads=workers only: the storage worker also encodes, CRCs and writes the appends into the
   * mapped segments (the main thread keeps the logical log and a pending tail; storage-worker.ts).
   * Default STORAGE_WORKER_WRITES_DEFAULT (false: measured slower on this machine).
   */
  readonly storageWorkerWrites: boolean;
  /**
   * DLedger's retention keys (fileReservedHours, deleteWhen, diskSpaceRatioToCheckExpired,
   * diskSpaceRatioToForceClean, enableDiskForceClean) as settings; used by a server without a
   * state machine (DLedger: retention is off once a state machine is registered).
   */
  readonly retention: RetentionSettings;
}

export type PeerAuthMode = 'secret' | 'none';

/**
 * Why these timings: DLedger's 2000 ms x 3 heartbeat leak gives ~10 s failovers. etcd's 100 ms
 * heartbeat / 1000 ms election gives 1.5-2.9 s on this 2-core machine. We tick every 50 ms,
 * heartbeat every 100 ms and time out after 6 missed heartbeats (600-1200 ms randomized): short
 * enough for sub-1.5 s failover, long enough that a GC pause or a busy event loop of a few
 * hundred ms on a shared 2-core machine does not start an election (pre-vote and check-quorum
 * also keep a partitioned or slow node from deposing a healthy leader).
 */
export const DEFAULT_TIMING = {
  tickIntervalMs: 50,
  heartBeatTimeIntervalMs: 100,
  maxHeartBeatLeak: 6,
} as const;

export const DEFAULT_CONFIG: Omit<DLedgerNodeConfig, 'peers' | 'selfId' | 'tls' | 'retention'> & {
  peers: string;
  selfId: string;
  fileReservedHours: number;
  deleteWhen: string;
  diskSpaceRatioToCheckExpired: number;
  diskSpaceRatioToForceClean: number;
  enableDiskForceClean: boolean;
} = {
  group: 'default',
  selfId: 'n0',
  peers: 'n0-localhost:20911',
  storeBaseDir: '/tmp/dledgerstore',
  ...DEFAULT_TIMING,
  preferredLeaderIds: [],
  mappedFileSizeForEntryData: 1024 * 1024 * 1024,
  mappedFileSizeForEntryIndex: 32 * 5 * 1024 * 1024,
  flushPolicy: 'sync',
  flushFileInterval: 10,
  flushInBackground: true,
  shipStoredRecords: true,
  maxPendingRequestsNum: 10_000,
  maxEntryBodyBytes: 4 * 1024 * 1024 - 48,
  metricsPort: null,
  peerAuth: 'secret',
  peerSecretFile: '',
  peerMaxConnections: 1024,
  peerMaxConnectionsPerAddress: 256,
  peerIdleTimeoutMs: 120_000,
  peerPartialFrameBudgetBytes: 256 * 1024 * 1024,
  clientReplyBacklogMaxBytes: 16 * 1024 * 1024,
  clientSecretFile: '',
  threads: 'auto',
  raftWorker: false,
  storageWorkerWrites: STORAGE_WORKER_WRITES_DEFAULT,
  fileReservedHours: 72,
  deleteWhen: '04',
  diskSpaceRatioToCheckExpired: 0.7,
  diskSpaceRatioToForceClean: 0.85,
  enableDiskForceClean: true,
};

/** The peer port's frame cap (an Append, a Snapshot chunk...). */
export const PEER_FRAME_MAX_BYTES = 64 * 1024 * 1024;
/** A stored record's header (store/types.ts ENTRY_HEADER_BYTES). */
const RECORD_HEADER_BYTES = 48;
/**
 * An Append frame beyond its records: length and version bytes, the msgpack map of type, from,
 * to (ids of at most ID_MAX_LENGTH), term, indexes, rawPos, and the bin32 header of raw. Measured
 * ~150 bytes; 4 KiB leaves room for fields added later.
 */
const APPEND_FRAME_OVERHEAD_BYTES = 4096;
/**
 * Largest maxEntryBodyBytes: the leader sends an entry in an Append by itself at worst, and that
 * frame must fit the cap — a body up to the cap used to be stored and then its Append threw
 * outside any handler, whenever that node led (issue 11).
 */
export const MAX_ENTRY_BODY_BYTES_LIMIT = PEER_FRAME_MAX_BYTES - RECORD_HEADER_BYTES - APPEND_FRAME_OVERHEAD_BYTES;
/** Member ids name directories (dledger-<selfId>) and travel in every frame. */
const ID_MAX_LENGTH = 64;
const ID_PATTERN = /^[A-Za-z0-9_.]+$/;

/** Why `id` cannot be a member id (no path characters: it names a directory), or null. */
export function memberIdProblem(id: string): string | null {
  if (id.length === 0 || id.length > ID_MAX_LENGTH || !ID_PATTERN.test(id) || id.includes('..')) {
    return `"${id}" must be 1-${ID_MAX_LENGTH} letters, digits, '_' or '.', without '..' (it names the directory dledger-<id>)`;
  }
  return null;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Parse DLedger's peers syntax. Throws ConfigError naming the bad element. */
export function parsePeers(text: string, key = 'peers'): PeerAddress[] {
  const problems: string[] = [];
  const peers: PeerAddress[] = [];
  const parts = text.split(';').map((part) => part.trim()).filter((part) => part.length > 0);
  if (parts.length === 0) problems.push(`${key}: empty; expected "n0-host:port;n1-host:port;..."`);
  for (const part of parts) {
    const dash = part.indexOf('-');
    const colon = part.lastIndexOf(':');
    if (dash <= 0 || colon < dash + 2 || colon === part.length - 1) {
      problems.push(`${key}: "${part}" is not of the form id-host:port`);
      continue;
    }
    const id = part.slice(0, dash);
    const host = part.slice(dash + 1, colon);
    const portText = part.slice(colon + 1);
    const port = Number(portText);
    if (!/^[0-9]+$/.test(portText) || port < 1 || port > 65535) {
      problems.push(`${key}: "${part}" has port "${portText}", expected 1-65535`);
      continue;
    }
    if (peers.some((peer) => peer.id === id)) problems.push(`${key}: id "${id}" appears twice`);
    const idProblem = memberIdProblem(id);
    if (idProblem !== null) problems.push(`${key}: id ${idProblem}`);
    peers.push({ id, host, port });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return peers;
}

export function formatPeers(peers: readonly PeerAddress[]): string {
  return peers.map((peer) => `${peer.id}-${peer.host}:${peer.port}`).join(';');
}

const KNOWN_KEYS = new Set([...Object.keys(DEFAULT_CONFIG), ...Object.keys(PEER_TLS_DEFAULTS)]);

/**
 * Build a validated config from raw key/values (CLI flags or a properties file, values as
 * strings or numbers). Unknown keys are errors: a typo must not silently fall back to a default.
 */
export function buildNodeConfig(raw: Readonly<Record<string, unknown>>): DLedgerNodeConfig {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) problems.push(`${key}: unknown key (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  const text = (key: keyof typeof DEFAULT_CONFIG): string => {
    const value = raw[key] ?? DEFAULT_CONFIG[key];
    return Array.isArray(value) ? value.join(';') : String(value);
  };
  const integer = (key: keyof typeof DEFAULT_CONFIG, min: number, max: number): number => {
    const value = text(key);
    const n = Number(value);
    if (!/^-?[0-9]+$/.test(value) || n < min || n > max) {
      problems.push(`${key}: "${value}" is not an integer in [${min}, ${max}]`);
      return min;
    }
    return n;
  };

  const group = text('group');
  // '-' is allowed: RocketMQ brokers default dLegerGroup to brokerName, commonly 'broker-a'. The
  // group name is only compared (peer hello) and shown (metrics labels), never split on '-'.
  if (!/^[A-Za-z0-9_.-]{1,127}$/.test(group) || group.includes('..')) problems.push(`group: "${group}" must be 1-127 letters, digits, '_', '-' or '.', without '..'`);
  let peers: PeerAddress[] = [];
  try {
    peers = parsePeers(text('peers'));
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems);
    else throw error;
  }
  const selfId = text('selfId');
  const selfIdProblem = memberIdProblem(selfId);
  if (selfIdProblem !== null) problems.push(`selfId: ${selfIdProblem}`);
  if (peers.length > 0 && !peers.some((peer) => peer.id === selfId)) {
    problems.push(`selfId: "${selfId}" is not one of the peers (${peers.map((peer) => peer.id).join(', ')})`);
  }
  const storeBaseDir = text('storeBaseDir');
  if (storeBaseDir.length === 0) problems.push('storeBaseDir: empty');
  const tickIntervalMs = integer('tickIntervalMs', 1, 10_000);
  const heartBeatTimeIntervalMs = integer('heartBeatTimeIntervalMs', 1, 60_000);
  const maxHeartBeatLeak = integer('maxHeartBeatLeak', 2, 100);
  if (heartBeatTimeIntervalMs % tickIntervalMs !== 0) {
    problems.push(`heartBeatTimeIntervalMs: ${heartBeatTimeIntervalMs} must be a multiple of tickIntervalMs (${tickIntervalMs})`);
  }
  const preferredText = text('preferredLeaderIds');
  const preferredLeaderIds = preferredText.split(';').map((id) => id.trim()).filter((id) => id.length > 0);
  for (const id of preferredLeaderIds) {
    if (!peers.some((peer) => peer.id === id)) problems.push(`preferredLeaderIds: "${id}" is not one of the peers`);
  }
  const mappedFileSizeForEntryData = integer('mappedFileSizeForEntryData', 4096, 2 ** 40);
  if (mappedFileSizeForEntryData % 4096 !== 0) problems.push(`mappedFileSizeForEntryData: ${mappedFileSizeForEntryData} must be a multiple of 4096`);
  const mappedFileSizeForEntryIndex = integer('mappedFileSizeForEntryIndex', 4096, 2 ** 40);
  if (mappedFileSizeForEntryIndex % 4096 !== 0) problems.push(`mappedFileSizeForEntryIndex: ${mappedFileSizeForEntryIndex} must be a multiple of 4096`);
  const flushPolicy = text('flushPolicy');
  if (flushPolicy !== 'sync' && flushPolicy !== 'async') problems.push(`flushPolicy: "${flushPolicy}" must be "sync" or "async"`);
  const flushFileInterval = integer('flushFileInterval', 1, 60_000);
  const flushInBackgroundText = text('flushInBackground');
  if (flushInBackgroundText !== 'true' && flushInBackgroundText !== 'false') problems.push(`flushInBackground: "${flushInBackgroundText}" must be true or false`);
  const shipStoredRecordsText = text('shipStoredRecords');
  if (shipStoredRecordsText !== 'true' && shipStoredRecordsText !== 'false') problems.push(`shipStoredRecords: "${shipStoredRecordsText}" must be true or false`);
  const maxPendingRequestsNum = integer('maxPendingRequestsNum', 1, 10_000_000);
  const maxEntryBodyBytes = integer('maxEntryBodyBytes', 1, PEER_FRAME_MAX_BYTES);
  if (maxEntryBodyBytes > MAX_ENTRY_BODY_BYTES_LIMIT) {
    problems.push(`maxEntryBodyBytes: ${maxEntryBodyBytes} is over ${MAX_ENTRY_BODY_BYTES_LIMIT}: an entry with its ${RECORD_HEADER_BYTES}-byte record header and the Append frame's overhead (${APPEND_FRAME_OVERHEAD_BYTES} bytes reserved) must fit in one ${PEER_FRAME_MAX_BYTES}-byte peer frame`);
  }
  if (maxEntryBodyBytes + 48 + 8 > mappedFileSizeForEntryData) {
    problems.push(`maxEntryBodyBytes: ${maxEntryBodyBytes} does not fit in a data segment of ${mappedFileSizeForEntryData} bytes`);
  }
  const metricsText = raw['metricsPort'];
  let metricsPort: number | null = null;
  if (metricsText !== undefined && metricsText !== null && metricsText !== '') {
    metricsPort = integer('metricsPort', 0, 65535);
  }
  const tls = parsePeerTls({ text: (key) => String(raw[key] ?? PEER_TLS_DEFAULTS[key] ?? '').trim(), where: (key) => key }, problems);
  const peerAuth = text('peerAuth');
  if (peerAuth !== 'secret' && peerAuth !== 'none') problems.push(`peerAuth: "${peerAuth}" must be "secret" or "none"`);
  // The files are read when the node starts (peer-auth.ts loadNodeSecrets), not here.
  const peerSecretFile = text('peerSecretFile').trim();
  const peerMaxConnections = integer('peerMaxConnections', 4, 1_000_000);
  const peerMaxConnectionsPerAddress = integer('peerMaxConnectionsPerAddress', 2, 1_000_000);
  const peerIdleTimeoutMs = integer('peerIdleTimeoutMs', 0, 86_400_000);
  if (peerIdleTimeoutMs !== 0 && peerIdleTimeoutMs < 10 * heartBeatTimeIntervalMs) {
    problems.push(`peerIdleTimeoutMs: ${peerIdleTimeoutMs} must be 0 or at least 10 heartbeats (${10 * heartBeatTimeIntervalMs} ms): members talk every heartbeat`);
  }
  const peerPartialFrameBudgetBytes = integer('peerPartialFrameBudgetBytes', 2 * PEER_FRAME_MAX_BYTES, 2 ** 40);
  const clientReplyBacklogMaxBytes = integer('clientReplyBacklogMaxBytes', 64 * 1024, 2 ** 40);
  const clientSecretFile = text('clientSecretFile').trim();
  const threads = text('threads');
  if (!isThreadsSetting(threads)) problems.push(`threads: "${threads}" must be inline, workers or auto`);
  // Checked here with the keys, so a typo in the override fails before anything starts.
  const envProblem = threadsEnvProblem(process.env[THREADS_ENV]);
  if (envProblem !== null) problems.push(envProblem);
  const raftWorkerText = text('raftWorker');
  if (raftWorkerText !== 'true' && raftWorkerText !== 'false') problems.push(`raftWorker: "${raftWorkerText}" must be true or false`);
  else if (raftWorkerText === 'true' && threads === 'inline') problems.push('raftWorker: true needs threads workers (or auto), not inline');
  const raftWorkerEnv = raftWorkerEnvProblem(process.env[RAFT_WORKER_ENV]);
  if (raftWorkerEnv !== null) problems.push(raftWorkerEnv);
  const storageWorkerWritesText = text('storageWorkerWrites');
  if (storageWorkerWritesText !== 'true' && storageWorkerWritesText !== 'false') problems.push(`storageWorkerWrites: "${storageWorkerWritesText}" must be true or false`);
  else if (storageWorkerWritesText === 'true' && threads === 'inline') problems.push('storageWorkerWrites: true needs threads workers (or auto), not inline');
  const storageWorkerWritesEnv = storageWorkerWritesEnvProblem(process.env[STORAGE_WORKER_WRITES_ENV]);
  if (storageWorkerWritesEnv !== null) problems.push(storageWorkerWritesEnv);
  const retention = dledgerRetention(text, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    retention,
    group,
    selfId,
    peers,
    storeBaseDir,
    heartBeatTimeIntervalMs,
    maxHeartBeatLeak,
    tickIntervalMs,
    preferredLeaderIds,
    mappedFileSizeForEntryData,
    mappedFileSizeForEntryIndex,
    flushPolicy: flushPolicy as FlushPolicyName,
    flushFileInterval,
    flushInBackground: flushInBackgroundText === 'true',
    shipStoredRecords: shipStoredRecordsText === 'true',
    maxPendingRequestsNum,
    maxEntryBodyBytes,
    metricsPort,
    tls,
    peerAuth: peerAuth as PeerAuthMode,
    peerSecretFile,
    peerMaxConnections,
    peerMaxConnectionsPerAddress,
    peerIdleTimeoutMs,
    peerPartialFrameBudgetBytes,
    clientReplyBacklogMaxBytes,
    clientSecretFile,
    threads: threads as ThreadsSetting,
    raftWorker: raftWorkerText === 'true',
    storageWorkerWrites: storageWorkerWritesText === 'true',
  };
}

/** The Raft core's tick counts for this config. */
export function raftTimingTicks(config: DLedgerNodeConfig): { heartbeatTimeoutTicks: number; electionTimeoutTicks: number } {
  const heartbeatTimeoutTicks = config.heartBeatTimeIntervalMs / config.tickIntervalMs;
  return { heartbeatTimeoutTicks, electionTimeoutTicks: heartbeatTimeoutTicks * config.maxHeartBeatLeak };
}

/**
 * DLedger's retention keys. Differences from DLedger: fileReservedHours may be a fraction (DLedger
 * floors it at 1 h); the force-clean ratio is taken as given in [0.5, 0.95] instead of floored at
 * 0.5 by its getter. Disk full (appends refused with DISK_FULL) is force-clean + 0.05, at most 0.95,
 * as DLedger's isDiskFull.
 */
function dledgerRetention(text: (key: keyof typeof DEFAULT_CONFIG) => string, problems: string[]): RetentionSettings {
  const fileReservedHours = parseDecimal('fileReservedHours', text('fileReservedHours'), 0, MAX_RESERVED_HOURS, problems, true);
  const deleteWhen = parseDeleteWhen('deleteWhen', text('deleteWhen'), problems);
  const checkExpiredRatio = parseDecimal('diskSpaceRatioToCheckExpired', text('diskSpaceRatioToCheckExpired'), 0.01, 0.95, problems);
  const forceCleanRatio = parseDecimal('diskSpaceRatioToForceClean', text('diskSpaceRatioToForceClean'), 0.5, 0.95, problems);
  const enableDiskForceClean = text('enableDiskForceClean');
  if (enableDiskForceClean !== 'true' && enableDiskForceClean !== 'false') problems.push(`enableDiskForceClean: "${enableDiskForceClean}" must be true or false`);
  return {
    fileReservedMs: reservedHoursToMs(fileReservedHours),
    deleteWhen,
    checkExpiredRatio,
    forceCleanRatio: enableDiskForceClean === 'false' ? null : forceCleanRatio,
    diskFullRatio: Math.min(forceCleanRatio + 0.05, 0.95),
    checkIntervalMs: DLEDGER_CHECK_INTERVAL_MS,
    unlinkIntervalMs: DLEDGER_UNLINK_INTERVAL_MS,
    maxSegmentsPerRun: MAX_SEGMENTS_PER_RUN,
  };
}
