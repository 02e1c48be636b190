// Public API of the pure Raft core.
export * from './types.js';
export { RaftCore, MAX_TICK_RATE_RATIO, type RaftLogger } from './core.js';
export { defaultRaftConfig, validateRaftConfig, RaftConfigError } from './config.js';
export { MemoryRaftStorage, EMPTY_HARD_STATE } from './memory-storage.js';
export { quorumSize, committedIndex, voteOutcome, type VoteOutcome } from './quorum.js';
