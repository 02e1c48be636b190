// Goal: `npm run chaos -- --minutes M --seed S [--faults kill,pause,partition,power,slow-disk,duplicate]
// [--members 3|5] [--flush sync|async] [--flush-interval-ms N] [--clients N]
// [--client-mode single-attempt|library-retry] [--no-reads] [--out DIR] [--keep-data]` runs one seeded fault
// campaign (every family but disk-full by default; disk-full needs root for a tmpfs per member) against a real 3- or 5-member group, prints a readable summary, writes the full report as JSON (bench/results/ when it
// exists, else the temp dir, or --out) and its SVG timeline next to it (same name, .svg), and exits 1 on any violation (2 on bad arguments).
// With --rocketmq, rocketmq-cli.ts takes over (`npm run chaos -- --rocketmq --minutes M --seed S`).
// Method: parse flags strictly, call runCampaign, report. The same seed replays the same fault
// schedule (timings of the processes themselves are not reproducible).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_FAULT_FAMILIES, FAULT_FAMILIES, formatSummary, runCampaign, type FaultFamily } from './campaign.js';
import { campaignTimelineSvg } from './timeline-svg.js';

function usage(problem: string): never {
  process.stderr.write(`${problem}\nusage: npm run chaos -- --minutes M --seed S [--faults ${FAULT_FAMILIES.join(',')}] [--members 3|5] [--flush sync|async] [--flush-interval-ms N] [--clients N] [--client-mode single-attempt|library-retry] [--no-reads] [--out DIR] [--keep-data]\n`);
  process.exit(2);
}

function parse(argv: readonly string[]): { minutes: number; seed: number; faults: FaultFamily[]; flush?: 'sync' | 'async'; flushIntervalMs?: number; members: number; clients: number; clientMode: 'single-attempt' | 'library-retry'; out?: string; keepData: boolean; reads: boolean } {
  const values = new Map<string, string>();
  let keepData = false;
  let reads = true;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--keep-data') { keepData = true; continue; }
    if (flag === '--no-reads') { reads = false; continue; }
    if (!['--minutes', '--seed', '--faults', '--flush', '--flush-interval-ms', '--members', '--clients', '--client-mode', '--out'].includes(flag)) usage(`unknown argument ${flag}`);
    const value = argv[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    values.set(flag, value);
  }
  const minutes = Number(values.get('--minutes') ?? '1');
  if (!(Number.isFinite(minutes) && minutes > 0 && minutes <= 24 * 60)) usage(`--minutes: expected a number in (0, 1440], got ${values.get('--minutes')}`);
  const seed = Number(values.get('--seed') ?? '1');
  if (!Number.isSafeInteger(seed)) usage(`--seed: expected an integer, got ${values.get('--seed')}`);
  const faults = (values.get('--faults') ?? DEFAULT_FAULT_FAMILIES.join(',')).split(',').map((f) => f.trim());
  for (const f of faults) if (!FAULT_FAMILIES.includes(f as FaultFamily)) usage(`--faults: unknown family ${f} (known: ${FAULT_FAMILIES.join(', ')})`);
  const flush = values.get('--flush');
  if (flush !== undefined && flush !== 'sync' && flush !== 'async') usage(`--flush: expected sync or async, got ${flush}`);
  const flushIntervalText = values.get('--flush-interval-ms');
  const flushIntervalMs = flushIntervalText === undefined ? undefined : Number(flushIntervalText);
  if (flushIntervalMs !== undefined && !(Number.isSafeInteger(flushIntervalMs) && flushIntervalMs >= 1 && flushIntervalMs <= 60_000)) usage(`--flush-interval-ms: expected an integer in [1, 60000], got ${flushIntervalText}`);
  const members = Number(values.get('--members') ?? '3');
  if (members !== 3 && members !== 5) usage(`--members: expected 3 or 5, got ${values.get('--members')}`);
  const clients = Number(values.get('--clients') ?? '3');
  if (!(Number.isSafeInteger(clients) && clients >= 1 && clients <= 32)) usage(`--clients: expected an integer in [1, 32]`);
  const clientMode = values.get('--client-mode') ?? 'single-attempt';
  if (clientMode !== 'single-attempt' && clientMode !== 'library-retry') usage(`--client-mode: expected single-attempt or library-retry, got ${clientMode}`);
  return { minutes, seed, faults: faults as FaultFamily[], flush, flushIntervalMs, members, clients, clientMode, out: values.get('--out'), keepData, reads };
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
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`\n${formatSummary(report)}\n`);
const benchResults = path.resolve('bench', 'results');
const outDir = args.out ?? (fs.existsSync(benchResults) ? benchResults : os.tmpdir());
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `chaos-seed${args.seed}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
const svgFile = file.replace(/\.json$/, '.svg');
fs.writeFileSync(svgFile, campaignTimelineSvg(report));
process.stdout.write(`report: ${file}\ntimeline: ${svgFile}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
