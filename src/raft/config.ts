// Raft configuration: sensible defaults and an up-front validator, so a bad setting fails at
// start-up with the name of the key instead of surfacing later as a stuck or unsafe cluster.
import { leaseDurationTicks } from './lease.js';
import type { NodeId, RaftConfig } from './types.js';

/** A configuration error: `key` names the offending setting. */
export class RaftConfigError extends Error {
  override name = 'RaftConfigError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`raft config ${key}: ${message}`);
  }
}

/**
 * Defaults for a node of a small cluster. With a 10 ms tick: elections after 1–2 s of silence,
 * heartbeats every 100 ms (DLedger's own defaults are 6 s / 2 s; etcd's 1 s / 100 ms).
 */
export function defaultRaftConfig(selfId: NodeId, peerIds: readonly NodeId[]): RaftConfig {
  return {
    selfId,
    peerIds: [...peerIds],
    electionTimeoutTicks: 100,
    heartbeatTimeoutTicks: 10,
    preVote: true,
    checkQuorum: true,
    leaseReads: false,
    maxInflightMsgs: 256,
    maxInflightBytes: 32 * 1024 * 1024,
    maxSizePerMsgBytes: 1024 * 1024,
    maxUncommittedEntriesBytes: 64 * 1024 * 1024,
    snapshotChunkBytes: 1024 * 1024,
    preferredLeaderIds: [],
    transferTimeoutTicks: 100,
    maxCommittedSizePerReadyBytes: 16 * 1024 * 1024,
    maxPendingReadIndexRequests: 10_000,
  };
}

function requirePositiveInteger(config: RaftConfig, key: keyof RaftConfig): void {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new RaftConfigError(key, `must be a positive integer, got ${String(value)}`);
  }
}

function requireBoolean(config: RaftConfig, key: keyof RaftConfig): void {
  if (typeof config[key] !== 'boolean') {
    throw new RaftConfigError(key, `must be a boolean, got ${String(config[key])}`);
  }
}

function requireIdList(config: RaftConfig, key: 'peerIds' | 'preferredLeaderIds'): void {
  const ids = config[key];
  if (!Array.isArray(ids)) throw new RaftConfigError(key, 'must be an array of node ids');
  const seen = new Set<string>();
  for (const id of ids) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new RaftConfigError(key, `ids must be non-empty strings, got ${JSON.stringify(id)}`);
    }
    if (seen.has(id)) throw new RaftConfigError(key, `duplicate id ${JSON.stringify(id)}`);
    seen.add(id);
  }
}

/** Throws RaftConfigError naming the first bad key; returns the config unchanged when valid. */
export function validateRaftConfig(config: RaftConfig): RaftConfig {
  if (typeof config.selfId !== 'string' || config.selfId.length === 0) {
    throw new RaftConfigError('selfId', `must be a non-empty string, got ${JSON.stringify(config.selfId)}`);
  }
  requireIdList(config, 'peerIds');
  if (!config.peerIds.includes(config.selfId)) {
    throw new RaftConfigError('peerIds', `must include selfId ${JSON.stringify(config.selfId)}`);
  }
  requireIdList(config, 'preferredLeaderIds');
  for (const id of config.preferredLeaderIds) {
    if (!config.peerIds.includes(id)) {
      throw new RaftConfigError('preferredLeaderIds', `${JSON.stringify(id)} is not in peerIds`);
    }
  }
  for (const key of [
    'electionTimeoutTicks',
    'heartbeatTimeoutTicks',
    'maxInflightMsgs',
    'maxInflightBytes',
    'maxSizePerMsgBytes',
    'maxUncommittedEntriesBytes',
    'snapshotChunkBytes',
    'transferTimeoutTicks',
    'maxCommittedSizePerReadyBytes',
    'maxPendingReadIndexRequests',
  ] as const) {
    requirePositiveInteger(config, key);
  }
  for (const key of ['preVote', 'checkQuorum', 'leaseReads'] as const) requireBoolean(config, key);
  if (config.electionTimeoutTicks <= config.heartbeatTimeoutTicks) {
    throw new RaftConfigError(
      'electionTimeoutTicks',
      `must be greater than heartbeatTimeoutTicks (${config.electionTimeoutTicks} <= ${config.heartbeatTimeoutTicks})`,
    );
  }
  if (config.leaseReads && !config.checkQuorum) {
    throw new RaftConfigError('leaseReads', 'requires checkQuorum: without it a deposed leader keeps serving reads');
  }
  if (config.leaseReads && leaseDurationTicks(config.electionTimeoutTicks) < 1) {
    throw new RaftConfigError(
      'electionTimeoutTicks',
      `${config.electionTimeoutTicks} is too short for lease reads: the lease would be ${leaseDurationTicks(config.electionTimeoutTicks)} ticks (needs >= 4)`,
    );
  }
  if (config.maxSizePerMsgBytes > config.maxInflightBytes) {
    throw new RaftConfigError(
      'maxSizePerMsgBytes',
      `must not exceed maxInflightBytes (${config.maxSizePerMsgBytes} > ${config.maxInflightBytes}), or one message could never be sent`,
    );
  }
  if (config.appliedIndex !== undefined && (!Number.isSafeInteger(config.appliedIndex) || config.appliedIndex < -1)) {
    throw new RaftConfigError('appliedIndex', `must be an integer >= -1 (got ${String(config.appliedIndex)})`);
  }
  const bugs = config.testingBugs;
  if (bugs !== undefined && (bugs.commitPreviousTermEntries === true || bugs.grantVoteWithoutLogCheck === true)) {
    if (config.allowTestingBugs !== true) {
      throw new RaftConfigError('testingBugs', 'deliberate bugs are refused unless allowTestingBugs is true (tests only)');
    }
  }
  return config;
}
