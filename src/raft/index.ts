// Public API of the pure Raft core.
export * from './types.js';
export { RaftCore } from './core.js';
export { CommittedEntryConflictError, type CommittedConflict } from './committed-conflict.js';
export { type RaftLogger, SILENT_LOGGER } from './logger.js';
export { MAX_TICK_RATE_RATIO, leaseDurationTicks } from './lease.js';
export { defaultRaftConfig, validateRaftConfig, RaftConfigError } from './config.js';
export { MemoryRaftStorage, EMPTY_HARD_STATE } from './memory-storage.js';
export { quorumSize, committedIndex, voteOutcome, type VoteOutcome } from './quorum.js';
