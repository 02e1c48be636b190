// Command line for the seeded simulator.
//   npm run sim -- --seed N --steps M            one seed, with a trace on failure
//   npm run sim -- --seeds A..B --steps M        a range, then a summary line
// Options: --bug commitPreviousTermEntries|grantVoteWithoutLogCheck (switches a deliberate core
// bug on, to watch a checker catch it), --weather figure8 (a named variant of the seed's
// fault profile, see WEATHERS in options.ts), --trace K (events kept for a failure report, default
// 120), --max-failures K (stop a range after K violations, default 10), --quiet.
// Exit status: 0 when every seed passed, 1 on any violation, 2 on bad usage.
import { parseSimArgs, reproduceCommand, SimUsageError, type SimArgs } from './cli-args.js';
import { realCoreFactory } from './real-core.js';
import { describeProfile, WEATHERS } from './options.js';
import { runSeed, type RunResult } from './simulation.js';

function main(argv: readonly string[]): number {
  let args: SimArgs;
  try {
    args = parseSimArgs(argv);
  } catch (error) {
    if (error instanceof SimUsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const startedAtMs = performance.now();
  let failures = 0;
  let seedsRun = 0;
  let ticks = 0;
  let acknowledged = 0;
  for (let seed = args.firstSeed; seed <= args.lastSeed; seed++) {
    const result = runOne(args, seed, 0);
    seedsRun++;
    ticks += result.stats.ticks;
    acknowledged += result.stats.acknowledged;
    if (result.violation !== null) {
      failures++;
      reportFailure(args, seed);
      if (failures >= args.maxFailures) break;
    } else if (!args.quiet && args.firstSeed === args.lastSeed) {
      process.stdout.write(`seed ${seed}: ok (${describeStats(result)})\n  ${describeProfile(result.profile)}\n`);
    }
    if (!args.quiet && args.firstSeed !== args.lastSeed && seedsRun % 1000 === 0) {
      process.stdout.write(`... ${seedsRun} seeds, ${failures} violations, ${elapsedSeconds(startedAtMs)} s\n`);
    }
  }
  const seconds = elapsedSeconds(startedAtMs);
  process.stdout.write(
    `summary: seeds ${args.firstSeed}..${args.firstSeed + seedsRun - 1} run=${seedsRun} steps=${args.steps} violations=${failures} ` +
      `ticks=${ticks} acknowledged=${acknowledged} time=${seconds} s${args.bug === null ? '' : ` bug=${args.bug}`}${args.weather === null ? '' : ` weather=${args.weather}`}\n`,
  );
  return failures === 0 ? 0 : 1;
}

function runOne(args: SimArgs, seed: number, traceCapacity: number): RunResult {
  return runSeed({
    seed,
    steps: args.steps,
    coreFactory: realCoreFactory,
    traceCapacity,
    configOverrides: args.bug === null ? {} : { allowTestingBugs: true, testingBugs: { [args.bug]: true } },
    ...(args.weather === null ? {} : { adjustProfile: WEATHERS[args.weather] }),
  });
}

/** Runs the failing seed again with tracing on (the run is deterministic) and prints it all. */
function reportFailure(args: SimArgs, seed: number): void {
  const traced = runOne(args, seed, args.traceCapacity);
  const violation = traced.violation;
  const lines = [
    `VIOLATION seed ${seed}: ${violation?.message ?? 'vanished when re-run with tracing: the simulator is not deterministic (a bug in the simulator)'}`,
    `  profile: ${describeProfile(traced.profile)}`,
    `  stats: ${describeStats(traced)}`,
    `  last ${traced.trace.length} events:`,
    ...traced.trace.map((line) => `    ${line}`),
    `  reproduce: ${reproduceCommand(seed, args.steps, args.bug, args.weather)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function describeStats(result: RunResult): string {
  const s = result.stats;
  return (
    `ticks=${s.ticks} (liveness ${s.livenessTicks}) proposals=${s.proposals} acked=${s.acknowledged} reads=${s.readsAnswered}/${s.readsIssued} ` +
    `leaders=${s.leadersElected} crashes=${s.crashes} partitions=${s.partitions} transfers=${s.transfers} compactions=${s.compactions} ` +
    `snapshots=${s.snapshotsInstalled} delivered=${s.messagesDelivered} dropped=${s.messagesDropped}`
  );
}

function elapsedSeconds(startedAtMs: number): string {
  return ((performance.now() - startedAtMs) / 1000).toFixed(1);
}

process.exitCode = main(process.argv.slice(2));
