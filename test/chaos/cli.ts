// Goal: `npm run chaos -- --minutes M --seed S [--faults kill,pause,partition,power,slow-disk,duplicate]
// [--members 3|5] [--flush sync|async] [--flush-interval-ms N] [--clients N]
// [--client-mode single-attempt|library-retry] [--no-reads] [--out DIR] [--keep-data]` runs one seeded fault
// campaign (every family but disk-full by default; disk-full needs root for a tmpfs per member) against a real 3- or 5-member group, prints a readable summary, writes the full report as JSON (bench/results/ when it
// exists, else the temp dir, or --out) and its SVG timeline next to it (same name, .svg), and exits 1 on any violation (2 on bad arguments).
// With --rocketmq, rocketmq-cli.ts takes over (`npm run chaos -- --rocketmq --minutes M --seed S`).
// Method: parse flags strictly (cli-args.ts, shared with rocketmq-cli.ts), call runCampaign, report. The same seed replays the same fault
// schedule (timings of the processes themselves are not reproducible).
import fs from 'node:fs';
import { DEFAULT_FAULT_FAMILIES, FAULT_FAMILIES, formatSummary, runCampaign, type FaultFamily } from './campaign.js';
import { campaignTimelineSvg } from './timeline-svg.js';
import { choiceArg, exitWithUsage, faultsArg, integerIn, minutesArg, optionalIntegerIn, parseFlags, seedArg, writeReportJson } from './cli-args.js';

const usage = exitWithUsage(`usage: npm run chaos -- --minutes M --seed S [--faults ${FAULT_FAMILIES.join(',')}] [--members 3|5] [--flush sync|async] [--flush-interval-ms N] [--clients N] [--client-mode single-attempt|library-retry] [--no-reads] [--retention-seconds N] [--out DIR] [--keep-data]`);

function parse(argv: readonly string[]): { minutes: number; seed: number; faults: FaultFamily[]; flush?: 'sync' | 'async'; flushIntervalMs?: number; members: number; clients: number; clientMode: 'single-attempt' | 'library-retry'; out?: string; keepData: boolean; reads: boolean; retentionSeconds?: number } {
  const { values, switches } = parseFlags(argv, { valueFlags: ['--minutes', '--seed', '--faults', '--flush', '--flush-interval-ms', '--members', '--clients', '--client-mode', '--out', '--retention-seconds'], switches: ['--keep-data', '--no-reads'] }, usage);
  return {
    minutes: minutesArg(values, usage),
    seed: seedArg(values, usage),
    faults: faultsArg(values, FAULT_FAMILIES, DEFAULT_FAULT_FAMILIES, 'known', usage),
    flush: values.has('--flush') ? choiceArg(values, '--flush', ['sync', 'async'], 'sync', usage) : undefined,
    flushIntervalMs: optionalIntegerIn(values, '--flush-interval-ms', 1, 60_000, usage),
    members: Number(choiceArg(values, '--members', ['3', '5'], '3', usage)),
    clients: integerIn(values, '--clients', 3, 1, 32, usage),
    clientMode: choiceArg(values, '--client-mode', ['single-attempt', 'library-retry'], 'single-attempt', usage),
    out: values.get('--out'),
    keepData: switches.has('--keep-data'),
    reads: !switches.has('--no-reads'),
    // Retention on (DLedger's fileReservedHours = N s, deleteWhen=*, 16 KiB segments): see campaign.ts.
    retentionSeconds: optionalIntegerIn(values, '--retention-seconds', 1, 3600, usage),
  };
}

// --rocketmq: the RocketMQ-on-DLedger campaign (name server + 3 brokers, ali-ons clients), its own flags.
if (process.argv.includes('--rocketmq')) process.exit(await (await import('./rocketmq-cli.js')).rocketmqMain(process.argv.slice(2)));
const args = parse(process.argv.slice(2));
const report = await runCampaign({
  seed: args.seed,
  durationMs: Math.round(args.minutes * 60_000),
  faults: args.faults,
  flush: args.flush,
  flushIntervalMs: args.flushIntervalMs,
  members: args.members,
  clients: args.clients,
  clientMode: args.clientMode,
  keepData: args.keepData,
  reads: args.reads,
  ...(args.retentionSeconds !== undefined ? { retentionSeconds: args.retentionSeconds } : {}),
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`\n${formatSummary(report)}\n`);
const file = writeReportJson(args.out, `chaos-seed${args.seed}`, report);
const svgFile = file.replace(/\.json$/, '.svg');
fs.writeFileSync(svgFile, campaignTimelineSvg(report));
process.stdout.write(`report: ${file}\ntimeline: ${svgFile}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
