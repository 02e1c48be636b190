// Goal: RaftConfig.commitOnlyAppends=false (what the DLedger node runs: on a commit advance the
// leader sends Appends only to followers with entries waiting, the others learn the commit index
// from their next Append or heartbeat) keeps every simulator property, including convergence
// after the faults heal (followers must still learn every commit), and really sends fewer empty
// Appends than the default.
// Method: the seeded simulator with the option switched on over a seed range (the same hostile
// schedules as sim.test.ts), then the same seeds with a core factory that counts the empty
// Appends each leader hands out, with the option on and off.
import t from 'tap';
import type { Ready } from '../../src/raft/types.js';
import { reproduceCommand } from './sim/cli-args.js';
import type { SimCoreFactory } from './sim/core-port.js';
import { realCoreFactory } from './sim/real-core.js';
import { runSeed } from './sim/simulation.js';

const SEED_COUNT = Number(process.env['SIM_SEEDS'] ?? 300);
const COUNTED_SEEDS = 40;
const STEPS = 400;

t.test(`commitOnlyAppends=false: seeds 1..${SEED_COUNT} at ${STEPS} steps, no violation`, async (t) => {
  const failures: string[] = [];
  let acknowledged = 0;
  for (let seed = 1; seed <= SEED_COUNT; seed++) {
    const result = runSeed({ seed, steps: STEPS, coreFactory: realCoreFactory, configOverrides: { commitOnlyAppends: false } });
    acknowledged += result.stats.acknowledged;
    if (result.violation !== null) failures.push(`seed ${seed}: ${result.violation.message}\n  reproduce (with commitOnlyAppends: false): ${reproduceCommand(seed, STEPS, null)}`);
  }
  t.comment(`${SEED_COUNT} seeds, ${failures.length} violations, ${acknowledged} acknowledged writes`);
  for (const failure of failures.slice(0, 10)) t.fail(failure);
  t.equal(failures.length, 0, `${failures.length} of ${SEED_COUNT} seeds violated a property`);
  t.ok(acknowledged > SEED_COUNT, `acknowledged ${acknowledged} writes`);
});

t.test('commitOnlyAppends=false sends fewer empty Appends over the same schedules', async (t) => {
  const countEmptyAppends = (commitOnlyAppends: boolean): { empty: number; acknowledged: number } => {
    let empty = 0;
    let acknowledged = 0;
    const counting: SimCoreFactory = (config, storage, prng, appliedIndex) => {
      const core = realCoreFactory(config, storage, prng, appliedIndex);
      const ready = core.ready.bind(core);
      core.ready = (): Ready => {
        const handed = ready();
        for (const m of handed.messages) if (m.type === 'Append' && m.entries.length === 0) empty++;
        return handed;
      };
      return core;
    };
    for (let seed = 1; seed <= COUNTED_SEEDS; seed++) {
      const result = runSeed({ seed, steps: STEPS, coreFactory: counting, configOverrides: { commitOnlyAppends } });
      t.equal(result.violation, null, `seed ${seed} (commitOnlyAppends ${commitOnlyAppends}) has no violation`);
      acknowledged += result.stats.acknowledged;
    }
    return { empty, acknowledged };
  };
  const eager = countEmptyAppends(true);
  const lazy = countEmptyAppends(false);
  t.comment(`${COUNTED_SEEDS} seeds: empty Appends ${eager.empty} (default) vs ${lazy.empty} (commitOnlyAppends=false); acknowledged ${eager.acknowledged} vs ${lazy.acknowledged}`);
  t.ok(eager.acknowledged > COUNTED_SEEDS && lazy.acknowledged > COUNTED_SEEDS, 'both runs acknowledged writes');
  // Measured 1,992 vs 4,162 (0.48); the bound leaves room for schedule changes elsewhere in the core.
  t.ok(lazy.empty < eager.empty * 0.75, `at most 3/4 of the empty Appends (${lazy.empty} vs ${eager.empty})`);
});
