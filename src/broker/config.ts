// Broker configuration: the Java-properties keys of RocketMQ's BrokerConfig / MessageStoreConfig
// that a DLedger broker reads (conf/dledger/broker-n0.conf is the model), validated in full before
// anything starts. An unknown or malformed key is an error naming the key and, when the value came
// from a file, file:line — a typo must not silently fall back to a default. Keys RocketMQ has but
// that make no sense in DLedger mode (brokerId, brokerRole) are rejected with the reason.
import { parseRemotingListenerLimits, REMOTING_LIMIT_KEYS, type RemotingListenerLimits } from '../remoting/listener-limits.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildNodeConfig, ConfigError, type DLedgerNodeConfig, type PeerAddress, parsePeers } from '../node/config.js';
import { isThreadsSetting, type ThreadsSetting } from '../node/threads-mode.js';
import { FRAME_MAX_BYTES as REMOTING_FRAME_MAX_BYTES } from '../remoting/frame.js';
import { parseProperties, PropertiesError } from '../util/properties.js';
import { isRemotingTlsKey, PEER_TLS_DEFAULTS, parseRemotingTls, REMOTING_TLS_DEFAULTS, type RemotingTls } from '../net/tls-config.js';
import { DEFAULT_MESSAGE_DELAY_LEVEL, parseDelayLevels } from './schedule/delay-levels.js';
import { brokerRetention, BROKER_RETENTION_TABLE, type BrokerRetention } from './retention-config.js';
import { GRPC_TABLE, parseGrpcConfig, type GrpcConfig } from '../grpc/grpc-config.js';
import { METRICS_TABLE, parseMetricsConfig, type BrokerMetricsConfig } from './metrics-config.js';
import { parseTransactionConfig, TRANSACTION_TABLE, type TransactionConfig } from './transaction/transaction-config.js';
import { integerIn, isIPv4, keySpecs, type KeySource, readKey, trueOrFalse } from '../util/key-table.js';

export type FlushDiskType = 'ASYNC_FLUSH' | 'SYNC_FLUSH';

export interface BrokerConfig {
  readonly brokerClusterName: string;
  readonly brokerName: string;
  /** The address registered with the name server and written into STOREHOST: brokerIP1:listenPort. */
  readonly brokerIP1: string;
  readonly listenPort: number;
  /** Name server addresses ("host:port"), from namesrvAddr's ';'-separated list. */
  readonly namesrvAddrs: readonly string[];
  readonly storePathRootDir: string;
  /** The classic (pre-DLedger) commit log directory; unused while enableDLegerCommitLog is true. */
  readonly storePathCommitLog: string;
  readonly enableDLegerCommitLog: boolean;
  readonly dLegerGroup: string;
  readonly dLegerPeers: readonly PeerAddress[];
  readonly dLegerSelfId: string;
  readonly preferredLeaderId: string | null;
  /** The DLedger group secret file (node peerSecretFile); '' = unset (the broker then refuses to start unless dLegerPeerAuth=none). */
  readonly dLegerPeerSecretFile: string;
  readonly dLegerPeerAuth: 'secret' | 'none';
  /** The member's threads setting (node key threads). */
  readonly dLegerThreads: ThreadsSetting;
  /** The member on a Raft worker thread (node key raftWorker; needs dLegerThreads workers or auto; DLEDGER_RAFT_WORKER overrides). */
  readonly dLegerRaftWorker: boolean;
  /** The member's storage worker also encodes and writes appends (node key storageWorkerWrites; needs dLegerThreads workers or auto). */
  readonly dLegerStorageWorkerWrites: boolean;
  /**
   * Java's send executor size. Accepted (the quick start sets it) and reported; sends here run on
   * the event loop and are bounded by DLedger's maxPendingRequestsNum instead of a thread pool.
   */
  readonly sendMessageThreadPoolNums: number;
  /** Java's pull executor size; accepted and reported like sendMessageThreadPoolNums. */
  readonly pullMessageThreadPoolNums: number;
  /** Largest message body a producer may send (Java's maxMessageSize, 4 MiB). */
  readonly maxMessageSize: number;
  /** DLedger data segment size (Java: mappedFileSizeCommitLog, 1 GiB). */
  readonly mappedFileSizeCommitLog: number;
  /** Index files ({storePathRootDir}/index/, RocketMQ's IndexFile): hash slots and entries per file. */
  readonly maxHashSlotNum: number;
  /** Bytes of one consume-queue file ({storePathRootDir}/consumequeue/; RocketMQ: 300,000 units of 20 bytes). */
  readonly mappedFileSizeConsumeQueue: number;
  /** ms between two flushes of the consume queues (RocketMQ's FlushConsumeQueueService, 1000). */
  readonly flushIntervalConsumeQueueMs: number;
  readonly maxIndexNum: number;
  /** SYNC_FLUSH: a send is acknowledged once a majority flushed it; ASYNC_FLUSH: from page cache. */
  readonly flushDiskType: FlushDiskType;
  /** Queue count of topics created without one (heartbeat-created retry topics use 1). */
  readonly defaultTopicQueueNums: number;
  readonly registerNameServerPeriodMs: number;
  readonly longPollingEnable: boolean;
  /** Delay of each level (messageDelayLevel; level n at index n - 1), for DELAY messages and retries. */
  readonly messageDelayLevelsMs: readonly number[];
  /** Request bounds (issue 11; README "Broker request bounds"). */
  readonly heartbeatBodyMaxBytes: number;
  /** UPDATE_AND_CREATE_TOPIC's attributes JSON, in UTF-8 bytes. */
  readonly topicAttributesMaxBytes: number;
  /** Topics in the replicated table (checked when a new one is proposed). */
  readonly topicsMax: number;
  /** %RETRY% topics heartbeats may create. */
  readonly autoCreateRetryTopicsMax: number;
  /** "topic@group" entries of the replicated consumer offset table. */
  readonly consumerOffsetEntriesMax: number;
  /** Consumer groups and clients (over all groups) in the local consumer table. */
  readonly consumerGroupsMax: number;
  readonly consumerClientsMax: number;
  /** Subscriptions held over all clients of the heartbeat table. */
  readonly consumerSubscriptionsMax: number;
  /** A pull's answer at most (RocketMQ's names and defaults; the first message always goes). */
  readonly maxTransferBytesOnMessageInMemory: number;
  readonly maxTransferCountOnMessageInMemory: number;
  /** TLS of the remoting port and of outgoing remoting (registration), from RocketMQ's tls.* keys. */
  readonly remotingTls: RemotingTls;
  /** Bounds of the client listener (src/remoting/listener-limits.ts keys). */
  readonly listenerLimits: RemotingListenerLimits;
  /** The DLedger group's peer-port TLS keys (dLegerTls*), passed to the member as its tls* keys. */
  readonly dLegerTlsKeys: Readonly<Record<string, string>>;
  /** RocketMQ ACL on this broker's remoting port (plain_acl.yml rules, src/acl/). */
  readonly aclEnable: boolean;
  /** Absolute path of the ACL file (read, and re-read on change, only when aclEnable). */
  readonly aclFilePath: string;
  /** The account this broker signs its own requests with (its registrations), or null. */
  readonly aclCredentials: { readonly accessKey: string; readonly secretKey: string } | null;
  /** RocketMQ's file cleaning keys (fileReservedTime, deleteWhen, disk ratios, intervals): retention-config.ts. */
  readonly retention: BrokerRetention;
  /** The gRPC endpoint for RocketMQ 5 clients (enableGrpcServer, grpcServerPort, bounds): src/grpc/grpc-config.ts. */
  readonly grpc: GrpcConfig;
  /** The Prometheus endpoint (metricsExporterType=PROM, metricsPromExporterHost/Port): metrics-config.ts. */
  readonly metrics: BrokerMetricsConfig;
  /** Transactional messages (transactionCheckInterval, transactionTimeOut, transactionCheckMax): transaction/transaction-config.ts. */
  readonly transaction: TransactionConfig;
}

interface KeySpec {
  readonly defaultValue: string | null;
  readonly doc: string;
}

const MIB = 1024 * 1024;
/** Room left in a remoting frame for its length, header length and header (a send's header holds up to 32 KiB of properties). */
const REMOTING_HEADER_RESERVE_BYTES = 64 * 1024;
/**
 * Largest maxMessageSize: a stored message of that body (with the largest properties, topic and
 * hosts: maxStoredMessageBytes) must fit in one 16 MiB remoting frame with its header, or a send
 * of it cannot arrive and a pull of it cannot be answered.
 */
export const MAX_MESSAGE_SIZE_LIMIT = REMOTING_FRAME_MAX_BYTES - REMOTING_HEADER_RESERVE_BYTES - maxStoredMessageBytes(0);
/** A topic's entry in a REGISTER_BROKER body at most (127-character name twice, every field at its widest; attributes are not sent). */
export const REGISTERED_TOPIC_MAX_BYTES = 512;
/** topicsMax at most: every topic's entry in one registration must fit in a 16 MiB frame. */
export const TOPICS_MAX_LIMIT = Math.floor((REMOTING_FRAME_MAX_BYTES - REMOTING_HEADER_RESERVE_BYTES) / REGISTERED_TOPIC_MAX_BYTES);

/** Every key a broker conf may set, with RocketMQ's default (null: derived or required). */
const KEYS: Readonly<Record<string, KeySpec>> = {
  brokerClusterName: { defaultValue: 'DefaultCluster', doc: 'cluster name in clusterList' },
  brokerName: { defaultValue: null, doc: 'logical broker = one DLedger group (default: host name)' },
  brokerIP1: { defaultValue: null, doc: 'advertised IP (default: first non-loopback IPv4)' },
  listenPort: { defaultValue: '10911', doc: 'client remoting port' },
  namesrvAddr: { defaultValue: null, doc: 'name servers, host:port;host:port' },
  storePathRootDir: { defaultValue: null, doc: 'store root (default ~/store)' },
  storePathCommitLog: { defaultValue: null, doc: 'classic commit log dir (default {root}/commitlog)' },
  enableDLegerCommitLog: { defaultValue: 'false', doc: 'true: the commit log is a DLedger group; false: a classic single-node commit log (upgrade by restarting with true)' },
  dLegerGroup: { defaultValue: null, doc: 'DLedger group name (default: brokerName)' },
  dLegerPeers: { defaultValue: null, doc: 'n0-host:port;n1-host:port;...' },
  dLegerSelfId: { defaultValue: null, doc: 'this member: one letter and digits, e.g. n0' },
  preferredLeaderId: { defaultValue: null, doc: 'DLedger preferred leader' },
  dLegerPeerSecretFile: { defaultValue: null, doc: 'DLedger group secret file (mode 0600, one secret per line; the first proves, all are accepted); required unless dLegerPeerAuth=none' },
  dLegerPeerAuth: { defaultValue: 'secret', doc: 'secret: peers authenticate with the group secret; none: no peer authentication (warned at every start)' },
  dLegerThreads: { defaultValue: 'auto', doc: 'DLedger member threads: inline, workers or auto (DLEDGER_THREADS overrides auto)' },
  dLegerStorageWorkerWrites: { defaultValue: 'false', doc: 'DLedger member\'s storage worker also encodes, CRCs and writes appends (node key storageWorkerWrites; needs dLegerThreads workers or auto; DLEDGER_STORAGE_WORKER_WRITES=true|false overrides)' },
  dLegerRaftWorker: { defaultValue: 'false', doc: 'DLedger member on a Raft worker thread (node key raftWorker; needs dLegerThreads workers or auto; DLEDGER_RAFT_WORKER=true|false overrides)' },
  sendMessageThreadPoolNums: { defaultValue: String(Math.min(os.availableParallelism(), 4)), doc: 'Java send executor size (reported)' },
  pullMessageThreadPoolNums: { defaultValue: String(16 + os.availableParallelism() * 2), doc: 'Java pull executor size (reported)' },
  maxMessageSize: { defaultValue: String(4 * MIB), doc: 'largest message body' },
  mappedFileSizeCommitLog: { defaultValue: String(1024 * MIB), doc: 'DLedger data segment size' },
  maxHashSlotNum: { defaultValue: '5000000', doc: 'hash slots of an index file (message keys)' },
  mappedFileSizeConsumeQueue: { defaultValue: String(300_000 * 20), doc: 'bytes of a consume-queue file (rounded up to whole 20-byte units, as RocketMQ does)' },
  flushIntervalConsumeQueue: { defaultValue: '1000', doc: 'ms between consume-queue flushes' },
  maxIndexNum: { defaultValue: '20000000', doc: 'entries of an index file (a key of a message each)' },
  flushDiskType: { defaultValue: 'ASYNC_FLUSH', doc: 'ASYNC_FLUSH or SYNC_FLUSH' },
  defaultTopicQueueNums: { defaultValue: '8', doc: 'queues of a topic created without a count' },
  registerNameServerPeriod: { defaultValue: '30000', doc: 'ms between registrations' },
  longPollingEnable: { defaultValue: 'true', doc: 'hold pulls until a message arrives' },
  messageDelayLevel: { defaultValue: DEFAULT_MESSAGE_DELAY_LEVEL, doc: 'delay of each level, e.g. "1s 5s 10s 30s 1m ... 2h"' },
  ...Object.fromEntries(Object.entries(REMOTING_LIMIT_KEYS).map(([key, spec]) => [key, { defaultValue: String(spec.defaultValue), doc: spec.doc }])),
  heartbeatBodyMaxBytes: { defaultValue: String(MIB), doc: 'largest HEART_BEAT body; larger ones are refused unparsed' },
  topicAttributesMaxBytes: { defaultValue: '4096', doc: 'largest topic attributes JSON (UPDATE_AND_CREATE_TOPIC)' },
  topicsMax: { defaultValue: '10000', doc: `topics the broker keeps (at most ${TOPICS_MAX_LIMIT}: a registration must fit a frame)` },
  autoCreateRetryTopicsMax: { defaultValue: '1000', doc: '%RETRY% topics created by heartbeats' },
  consumerOffsetEntriesMax: { defaultValue: '100000', doc: 'topic@group entries of the consumer offset table' },
  consumerGroupsMax: { defaultValue: '10000', doc: 'consumer groups in the heartbeat table' },
  consumerClientsMax: { defaultValue: '100000', doc: 'consumer clients (all groups) in the heartbeat table' },
  consumerSubscriptionsMax: { defaultValue: '1000000', doc: 'subscriptions (all clients) in the heartbeat table' },
  maxTransferBytesOnMessageInMemory: { defaultValue: String(256 * 1024), doc: 'bytes of one pull answer (one message always goes)' },
  maxTransferCountOnMessageInMemory: { defaultValue: '32', doc: 'messages of one pull answer' },
  // The DLedger group's peer port: the node's tls* keys with a dLeger prefix (see README "TLS").
  ...Object.fromEntries(Object.entries(PEER_TLS_DEFAULTS).map(([key, value]) => [dLegerKey(key), { defaultValue: value, doc: `DLedger peer port: the node key ${key}` }])),
  aclEnable: { defaultValue: 'false', doc: 'RocketMQ ACL: every request signed by an account of aclFilePath (or from a white address)' },
  aclFilePath: { defaultValue: 'conf/plain_acl.yml', doc: 'ACL file, relative to the working directory (RocketMQ: $ROCKETMQ_HOME/conf/plain_acl.yml)' },
  accessKey: { defaultValue: null, doc: 'account the broker signs its registrations with (needs secretKey)' },
  ...keySpecs(BROKER_RETENTION_TABLE),
  ...keySpecs(GRPC_TABLE),
  ...keySpecs(METRICS_TABLE),
  ...keySpecs(TRANSACTION_TABLE),
  secretKey: { defaultValue: null, doc: 'secret of accessKey' },
};

/** dLegerTlsEnable for tlsEnable: the broker's name of a node TLS key. */
function dLegerKey(nodeKey: string): string {
  return `dLeger${nodeKey[0]?.toUpperCase()}${nodeKey.slice(1)}`;
}

/** RocketMQ keys that exist but cannot be set for a DLedger broker, and why. */
const REJECTED_KEYS: Readonly<Record<string, string>> = {
  brokerId: 'not configurable in DLedger mode: the leader registers as 0, a follower as the digits of dLegerSelfId + 1',
  brokerRole: 'not configurable in DLedger mode: the role follows the Raft election',
  enableControllerMode: 'controller mode cannot be combined with enableDLegerCommitLog (RocketMQ exits with -4)',
};

/** Where a raw value came from, for error messages. */
export type KeySources = Readonly<Record<string, string>>;

/** Broker config problems, each naming its key (and file:line when known). */
export class BrokerConfigError extends Error {
  override name = 'BrokerConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid broker configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Read and validate a broker conf file (Java properties). */
export function loadBrokerConfigFile(file: string, overrides: Readonly<Record<string, string>> = {}): BrokerConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new BrokerConfigError([`${file}: cannot read the config file: ${(error as Error).message}`]);
  }
  let raw: Record<string, string>;
  try {
    raw = parseProperties(text, file);
  } catch (error) {
    if (error instanceof PropertiesError) throw new BrokerConfigError([error.message]);
    throw error;
  }
  const sources: Record<string, string> = {};
  for (const [key, line] of keyLines(text)) sources[key] = `${file}:${line}`;
  for (const key of Object.keys(overrides)) sources[key] = 'command line';
  return buildBrokerConfig({ ...raw, ...overrides }, sources);
}

/**
 * The line on which each key's logical line starts. parseProperties has no positions, so we find
 * them again; keys with escapes in them (never seen in broker confs) fall back to the file name.
 */
function keyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const physical = text.split(/\r\n|\r|\n/);
  let continued = false;
  for (let i = 0; i < physical.length; i++) {
    const line = physical[i] as string;
    const wasContinued = continued;
    continued = /(^|[^\\])(\\\\)*\\$/.test(line);
    if (wasContinued) continue;
    const match = /^[ \t\f]*([^ \t\f=:#!\\][^ \t\f=:\\]*)/.exec(line);
    if (match !== null && !lines.has(match[1] as string)) lines.set(match[1] as string, i + 1);
  }
  return lines;
}

/** Validate raw key/values (strings as a properties file gives them). */
export function buildBrokerConfig(raw: Readonly<Record<string, string>>, sources: KeySources = {}): BrokerConfig {
  const problems: string[] = [];
  const where = (key: string): string => (!Object.hasOwn(sources, key) ? key : `${sources[key]}: ${key}`);
  // A classic broker (enableDLegerCommitLog=false) is a single master: brokerId 0 and a master
  // brokerRole are accepted as its old conf has them; slaves are not implemented.
  const classicMode = (raw['enableDLegerCommitLog'] ?? KEYS['enableDLegerCommitLog']?.defaultValue ?? '').trim() === 'false';
  const classicKeys: Readonly<Record<string, (value: string) => boolean>> = {
    brokerId: (value) => value === '0',
    brokerRole: (value) => value === 'ASYNC_MASTER' || value === 'SYNC_MASTER',
  };
  for (const key of Object.keys(raw)) {
    const rejected = Object.hasOwn(REJECTED_KEYS, key) ? REJECTED_KEYS[key] : undefined;
    const classicCheck = Object.hasOwn(classicKeys, key) ? classicKeys[key] : undefined;
    if (classicMode && classicCheck !== undefined) {
      if (!classicCheck((raw[key] ?? '').trim())) problems.push(`${where(key)}: "${raw[key]}" not supported: a classic broker (enableDLegerCommitLog=false) here is a single master, brokerId=0 and brokerRole ASYNC_MASTER or SYNC_MASTER`);
    } else if (rejected !== undefined) problems.push(`${where(key)}: ${rejected}`);
    else if (!Object.hasOwn(KEYS, key) && !isRemotingTlsKey(key)) problems.push(`${where(key)}: unknown key (known: ${[...Object.keys(KEYS), ...Object.keys(REMOTING_TLS_DEFAULTS)].join(', ')})`);
  }
  const text = (key: string): string => (raw[key] ?? KEYS[key]?.defaultValue ?? '').trim();
  const source: KeySource = { text, where, problems };
  const integer = (key: string, min: number, max: number): number => readKey(source, key, integerIn(min, max));
  const boolean = (key: string): boolean => readKey(source, key, trueOrFalse);
  const name = (key: string, value: string): string => {
    // RocketMQ's topic/broker-name charset; also keeps names safe as directory names.
    if (!/^[A-Za-z0-9_-]{1,127}$/.test(value)) problems.push(`${where(key)}: "${value}" must be 1-127 letters, digits, '_' or '-'`);
    return value;
  };

  const brokerClusterName = name('brokerClusterName', text('brokerClusterName'));
  const brokerName = name('brokerName', text('brokerName') || os.hostname().split('.')[0] || 'broker');
  const brokerIP1 = text('brokerIP1') || firstNonLoopbackIPv4();
  if (!isIPv4(brokerIP1)) problems.push(`${where('brokerIP1')}: "${brokerIP1}" is not an IPv4 address (stored messages and ali-ons need IPv4 hosts)`);
  const listenPort = integer('listenPort', 1, 65535);
  const namesrvAddrs = text('namesrvAddr').split(';').map((a) => a.trim()).filter((a) => a.length > 0);
  if (namesrvAddrs.length === 0) problems.push(`${where('namesrvAddr')}: required (host:port;host:port)`);
  for (const addr of namesrvAddrs) {
    if (!/^[^:\s]+:[0-9]{1,5}$/.test(addr) || Number(addr.slice(addr.lastIndexOf(':') + 1)) > 65535) {
      problems.push(`${where('namesrvAddr')}: "${addr}" is not host:port`);
    }
  }
  const storePathRootDir = text('storePathRootDir') || path.join(os.homedir(), 'store');
  if (!path.isAbsolute(storePathRootDir)) problems.push(`${where('storePathRootDir')}: "${storePathRootDir}" must be an absolute path`);
  const storePathCommitLog = text('storePathCommitLog') || path.join(storePathRootDir, 'commitlog');
  const enableDLegerCommitLog = boolean('enableDLegerCommitLog');
  const dLegerGroup = name('dLegerGroup', text('dLegerGroup') || brokerName);
  let dLegerPeers: PeerAddress[] = [];
  // A classic broker ignores the dLeger* keys (an old conf may already carry them for the upgrade).
  if (!enableDLegerCommitLog) dLegerPeers = [];
  else if (text('dLegerPeers') === '') problems.push(`${where('dLegerPeers')}: required (n0-host:port;n1-host:port;n2-host:port)`);
  else {
    try {
      dLegerPeers = parsePeers(text('dLegerPeers'), where('dLegerPeers'));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  const dLegerSelfId = enableDLegerCommitLog ? text('dLegerSelfId') : '';
  // RocketMQ derives the follower brokerId from the digits after the first character
  // (apache/rocketmq#3701: "node1" crashes the Java broker); we refuse such ids up front.
  if (enableDLegerCommitLog && !/^[A-Za-z][0-9]{1,9}$/.test(dLegerSelfId)) problems.push(`${where('dLegerSelfId')}: "${dLegerSelfId}" must be one letter followed by digits (e.g. n0): the follower brokerId is its digits + 1`);
  else if (enableDLegerCommitLog && dLegerPeers.length > 0 && !dLegerPeers.some((p) => p.id === dLegerSelfId)) {
    problems.push(`${where('dLegerSelfId')}: "${dLegerSelfId}" is not one of dLegerPeers (${dLegerPeers.map((p) => p.id).join(', ')})`);
  }
  for (const peer of dLegerPeers) {
    if (!/^[A-Za-z][0-9]{1,9}$/.test(peer.id)) problems.push(`${where('dLegerPeers')}: peer id "${peer.id}" must be one letter followed by digits`);
  }
  const brokerIds = dLegerPeers.map((p) => followerBrokerIdOf(p.id));
  if (new Set(brokerIds).size !== brokerIds.length) problems.push(`${where('dLegerPeers')}: two peer ids have the same digits, so their follower brokerIds would collide`);
  const preferredLeaderId = enableDLegerCommitLog ? text('preferredLeaderId') || null : null;
  if (preferredLeaderId !== null && !dLegerPeers.some((p) => p.id === preferredLeaderId)) {
    problems.push(`${where('preferredLeaderId')}: "${preferredLeaderId}" is not one of dLegerPeers`);
  }
  const dLegerPeerSecretFile = text('dLegerPeerSecretFile');
  if (dLegerPeerSecretFile !== '' && !path.isAbsolute(dLegerPeerSecretFile)) problems.push(`${where('dLegerPeerSecretFile')}: "${dLegerPeerSecretFile}" must be an absolute path`);
  const dLegerPeerAuth = text('dLegerPeerAuth');
  if (dLegerPeerAuth !== 'secret' && dLegerPeerAuth !== 'none') problems.push(`${where('dLegerPeerAuth')}: "${dLegerPeerAuth}" must be secret or none`);
  const dLegerThreads = text('dLegerThreads');
  if (!isThreadsSetting(dLegerThreads)) problems.push(`${where('dLegerThreads')}: "${dLegerThreads}" must be inline, workers or auto`);
  const dLegerRaftWorker = boolean('dLegerRaftWorker');
  if (dLegerRaftWorker && dLegerThreads === 'inline') problems.push(`${where('dLegerRaftWorker')}: true needs dLegerThreads workers or auto, not inline`);
  const dLegerStorageWorkerWrites = boolean('dLegerStorageWorkerWrites');
  if (dLegerStorageWorkerWrites && dLegerThreads === 'inline') problems.push(`${where('dLegerStorageWorkerWrites')}: true needs dLegerThreads workers or auto, not inline`);
  const sendMessageThreadPoolNums = integer('sendMessageThreadPoolNums', 1, 4096);
  const pullMessageThreadPoolNums = integer('pullMessageThreadPoolNums', 1, 4096);
  const maxMessageSize = integer('maxMessageSize', 1, 2 ** 31 - 1);
  if (maxMessageSize > MAX_MESSAGE_SIZE_LIMIT) {
    problems.push(`${where('maxMessageSize')}: ${maxMessageSize} is over ${MAX_MESSAGE_SIZE_LIMIT}: a message of that body with its properties (up to 32767 bytes), topic and hosts (${maxStoredMessageBytes(0)} bytes) and the request header (${REMOTING_HEADER_RESERVE_BYTES} bytes reserved) must fit in one ${REMOTING_FRAME_MAX_BYTES}-byte remoting frame`);
  }
  const mappedFileSizeCommitLog = integer('mappedFileSizeCommitLog', 64 * 1024, 2 ** 40);
  if (mappedFileSizeCommitLog % 4096 !== 0) problems.push(`${where('mappedFileSizeCommitLog')}: ${mappedFileSizeCommitLog} must be a multiple of 4096`);
  if (maxStoredMessageBytes(maxMessageSize) + 48 + 8 > mappedFileSizeCommitLog) {
    problems.push(`${where('maxMessageSize')}: ${maxMessageSize} does not fit in a commit log segment of ${mappedFileSizeCommitLog} bytes`);
  }
  const maxHashSlotNum = integer('maxHashSlotNum', 1, 50_000_000);
  // RocketMQ's getMappedFileSizeConsumeQueue: rounded up to whole units.
  const mappedFileSizeConsumeQueue = Math.ceil(integer('mappedFileSizeConsumeQueue', 20, 1024 * MIB) / 20) * 20;
  const flushIntervalConsumeQueueMs = integer('flushIntervalConsumeQueue', 10, 60_000);
  const maxIndexNum = integer('maxIndexNum', 2, 200_000_000);
  const flushDiskType = text('flushDiskType');
  if (flushDiskType !== 'ASYNC_FLUSH' && flushDiskType !== 'SYNC_FLUSH') problems.push(`${where('flushDiskType')}: "${flushDiskType}" must be ASYNC_FLUSH or SYNC_FLUSH`);
  const defaultTopicQueueNums = integer('defaultTopicQueueNums', 1, 1024);
  const registerNameServerPeriodMs = integer('registerNameServerPeriod', 1000, 60_000);
  const longPollingEnable = boolean('longPollingEnable');
  let messageDelayLevelsMs: number[] = [];
  try {
    messageDelayLevelsMs = parseDelayLevels(text('messageDelayLevel'));
  } catch (error) {
    problems.push(`${where('messageDelayLevel')}: ${(error as Error).message}`);
  }
  const remotingTls = parseRemotingTls(raw, where, problems);
  const listenerLimits = parseRemotingListenerLimits((key) => text(key), where, problems);
  const dLegerTlsKeys = Object.fromEntries(Object.keys(PEER_TLS_DEFAULTS).map((key) => [key, text(dLegerKey(key))]));

  const heartbeatBodyMaxBytes = integer('heartbeatBodyMaxBytes', 1024, REMOTING_FRAME_MAX_BYTES);
  const topicAttributesMaxBytes = integer('topicAttributesMaxBytes', 0, 64 * 1024);
  const topicsMax = integer('topicsMax', 1, TOPICS_MAX_LIMIT);
  const autoCreateRetryTopicsMax = integer('autoCreateRetryTopicsMax', 0, TOPICS_MAX_LIMIT);
  const consumerOffsetEntriesMax = integer('consumerOffsetEntriesMax', 1, 10_000_000);
  const consumerGroupsMax = integer('consumerGroupsMax', 1, 1_000_000);
  const consumerClientsMax = integer('consumerClientsMax', 1, 10_000_000);
  const consumerSubscriptionsMax = integer('consumerSubscriptionsMax', 1, 100_000_000);
  const maxTransferBytesOnMessageInMemory = integer('maxTransferBytesOnMessageInMemory', 1, REMOTING_FRAME_MAX_BYTES - REMOTING_HEADER_RESERVE_BYTES);
  const maxTransferCountOnMessageInMemory = integer('maxTransferCountOnMessageInMemory', 1, 1024);

  const aclEnable = boolean('aclEnable');
  const aclFilePath = path.resolve(text('aclFilePath'));
  const accessKey = text('accessKey');
  const secretKey = text('secretKey');
  if ((accessKey === '') !== (secretKey === '')) problems.push(`${where(accessKey === '' ? 'secretKey' : 'accessKey')}: accessKey and secretKey go together (the account the broker signs its registrations with)`);
  const aclCredentials = accessKey === '' || secretKey === '' ? null : { accessKey, secretKey };

  const retention = brokerRetention(source);
  const grpc = parseGrpcConfig(source, maxMessageSize);
  const selfPeer = dLegerPeers.find((p) => p.id === dLegerSelfId);
  const metrics = parseMetricsConfig(source, brokerIP1, { listenPort, ...(grpc.enabled ? { grpcServerPort: grpc.port } : {}), ...(selfPeer === undefined ? {} : { 'dLegerPeers port': selfPeer.port }) });
  const transaction = parseTransactionConfig(source);
  if (problems.length > 0) throw new BrokerConfigError(problems);
  return {
    retention, grpc, metrics, transaction,
    brokerClusterName, brokerName, brokerIP1, listenPort, namesrvAddrs, storePathRootDir, storePathCommitLog,
    enableDLegerCommitLog, dLegerGroup, dLegerPeers, dLegerSelfId, preferredLeaderId,
    dLegerPeerSecretFile, dLegerPeerAuth: dLegerPeerAuth as 'secret' | 'none', dLegerThreads: dLegerThreads as ThreadsSetting, dLegerRaftWorker, dLegerStorageWorkerWrites,
    sendMessageThreadPoolNums, pullMessageThreadPoolNums, maxMessageSize, mappedFileSizeCommitLog, maxHashSlotNum, maxIndexNum, mappedFileSizeConsumeQueue, flushIntervalConsumeQueueMs,
    flushDiskType: flushDiskType as FlushDiskType, defaultTopicQueueNums, registerNameServerPeriodMs, longPollingEnable,
    messageDelayLevelsMs, heartbeatBodyMaxBytes, topicAttributesMaxBytes, topicsMax, autoCreateRetryTopicsMax,
    consumerOffsetEntriesMax, consumerGroupsMax, consumerClientsMax, consumerSubscriptionsMax, maxTransferBytesOnMessageInMemory, maxTransferCountOnMessageInMemory,
    remotingTls, listenerLimits, dLegerTlsKeys,
    aclEnable, aclFilePath, aclCredentials,
  };
}

/**
 * Largest stored message for a body of maxMessageSize: the fixed fields with IPv6 hosts (131
 * bytes), a 2-byte topic length and a 32767-byte properties string (RocketMQ's limits).
 */
export function maxStoredMessageBytes(maxMessageSize: number): number {
  return maxMessageSize + 131 + 2 + 127 * 3 + 32767;
}

/** RocketMQ's follower brokerId: the digits after the first character of the selfId, plus 1. */
export function followerBrokerIdOf(selfId: string): number {
  return Number.parseInt(selfId.slice(1), 10) + 1;
}

/**
 * The DLedger member this broker runs. DLedger data lands in {storePathRootDir}/dledger-{selfId}/
 * as in RocketMQ (storeBaseDir = storePathRootDir). `overrides` are for tests (timings, ports).
 */
export function toNodeConfig(config: BrokerConfig, overrides: Readonly<Record<string, unknown>> = {}): DLedgerNodeConfig {
  return buildNodeConfig({
    group: config.dLegerGroup,
    selfId: config.dLegerSelfId,
    peers: config.dLegerPeers.map((p) => `${p.id}-${p.host}:${p.port}`).join(';'),
    storeBaseDir: config.storePathRootDir,
    preferredLeaderIds: config.preferredLeaderId ?? '',
    mappedFileSizeForEntryData: config.mappedFileSizeCommitLog,
    flushPolicy: config.flushDiskType === 'SYNC_FLUSH' ? 'sync' : 'async',
    maxEntryBodyBytes: maxStoredMessageBytes(config.maxMessageSize),
    ...config.dLegerTlsKeys,
    peerSecretFile: config.dLegerPeerSecretFile,
    peerAuth: config.dLegerPeerAuth,
    threads: config.dLegerThreads,
    raftWorker: config.dLegerRaftWorker,
    storageWorkerWrites: config.dLegerStorageWorkerWrites,
    ...overrides,
  });
}

/** RocketMQ's NetworkUtil.getLocalAddress: the first non-loopback IPv4, else 127.0.0.1. */
function firstNonLoopbackIPv4(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}
