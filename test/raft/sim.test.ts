// Goal: the Raft core survives 1,000 hostile seeded schedules (3 and 5 nodes; loss,
// duplication, reordering, delay; symmetric and asymmetric partitions; crashes that lose
// unpersisted state; slow disks; clock skew; transfers, compaction and snapshots) with no
// safety violation, and converges after every fault heals (liveness).
// Method: run the simulator in-process over a fixed seed range; every violation fails the test
// with the checker's message and the exact `npm run sim` command that replays it. Also checks
// that a run is a pure function of its seed (the reproduce command would be useless otherwise).
// SIM_SEEDS / SIM_STEPS override the range and the steps per seed for local runs.
import t from 'tap';
import { reproduceCommand } from './sim/cli-args.js';
import { realCoreFactory } from './sim/real-core.js';
import { runSeed } from './sim/simulation.js';

const SEED_COUNT = Number(process.env['SIM_SEEDS'] ?? 1000);
const STEPS = Number(process.env['SIM_STEPS'] ?? 400);
const FIRST_SEED = 1;
/** Violations reported in full; the rest are counted. */
const REPORTED_MAX = 10;

t.test('a run is a pure function of its seed', async (t) => {
  for (const seed of [3, 4]) {
    const a = runSeed({ seed, steps: STEPS, coreFactory: realCoreFactory, traceCapacity: 50 });
    const b = runSeed({ seed, steps: STEPS, coreFactory: realCoreFactory, traceCapacity: 50 });
    t.same(b.stats, a.stats, `seed ${seed}: same stats`);
    t.same(b.trace, a.trace, `seed ${seed}: same last events`);
    t.equal(b.violation?.message ?? null, a.violation?.message ?? null, `seed ${seed}: same verdict`);
  }
});

t.test(`seeds ${FIRST_SEED}..${FIRST_SEED + SEED_COUNT - 1} at ${STEPS} steps: no violation`, async (t) => {
  const startedAtMs = performance.now();
  const failures: string[] = [];
  let acknowledged = 0;
  let fiveNodeRuns = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEED_COUNT; seed++) {
    const result = runSeed({ seed, steps: STEPS, coreFactory: realCoreFactory });
    acknowledged += result.stats.acknowledged;
    if (result.profile.nodeCount === 5) fiveNodeRuns++;
    if (result.violation !== null) {
      failures.push(`seed ${seed}: ${result.violation.message}\n  reproduce: ${reproduceCommand(seed, STEPS, null)}`);
    }
  }
  const seconds = ((performance.now() - startedAtMs) / 1000).toFixed(1);
  t.comment(`${SEED_COUNT} seeds, ${failures.length} violations, ${acknowledged} acknowledged writes, ${fiveNodeRuns} five-node runs, ${seconds} s`);
  for (const failure of failures.slice(0, REPORTED_MAX)) t.fail(failure);
  if (failures.length > REPORTED_MAX) t.fail(`... and ${failures.length - REPORTED_MAX} more violations`);
  t.equal(failures.length, 0, `${failures.length} of ${SEED_COUNT} seeds violated a property`);
  // The workload must actually have written something, or "no violation" proves little.
  t.ok(acknowledged > SEED_COUNT, `acknowledged ${acknowledged} writes`);
  t.ok(fiveNodeRuns > 0 && fiveNodeRuns < SEED_COUNT, `both cluster sizes ran (${fiveNodeRuns} five-node)`);
});
