// The simulator's factory for the real core in src/raft. The core derives its applied index
// from storage (the snapshot, if any); the simulator's state machine restarts from the same
// snapshot, and this factory checks that both agree before the run goes on.
import { RaftCore } from '../../../src/raft/core.js';
import { assert } from '../../../src/util/assert.js';
import type { SimCoreFactory } from './core-port.js';

export const realCoreFactory: SimCoreFactory = (config, storage, prng, appliedIndex) => {
  const core = new RaftCore(config, storage, prng);
  const coreApplied = core.status().appliedIndex;
  assert(coreApplied === appliedIndex, `${config.selfId} restarted with applied ${coreApplied}, state machine at ${appliedIndex}`);
  return core;
};
