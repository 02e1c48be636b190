// Goal: `npm run chaos -- --rocketmq --minutes M --seed S [--faults kill,pause,partition]
// [--producers N] [--in-flight N] [--flush-disk-type ASYNC_FLUSH|SYNC_FLUSH] [--out DIR] [--keep-data]`
// runs one seeded RocketMQ fault campaign (rocketmq-campaign.ts), prints the summary, writes the
// JSON report (bench/results/ when it exists, else the temp dir, or --out) and exits 1 on any
// violation (2 on bad arguments). cli.ts hands argv here when it sees --rocketmq.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatRocketMQSummary, ROCKETMQ_FAULT_FAMILIES, runRocketMQCampaign, type RocketMQFaultFamily } from './rocketmq-campaign.js';

const USAGE = `usage: npm run chaos -- --rocketmq --minutes M --seed S [--faults ${ROCKETMQ_FAULT_FAMILIES.join(',')}] [--producers N] [--in-flight N] [--flush-disk-type ASYNC_FLUSH|SYNC_FLUSH] [--out DIR] [--keep-data]`;
const VALUE_FLAGS = ['--minutes', '--seed', '--faults', '--producers', '--in-flight', '--flush-disk-type', '--out'];

function usage(problem: string): never {
  process.stderr.write(`${problem}\n${USAGE}\n`);
  process.exit(2);
}

function integerIn(values: Map<string, string>, flag: string, fallback: number, min: number, max: number): number {
  const text = values.get(flag);
  const n = text === undefined ? fallback : Number(text);
  if (!(Number.isSafeInteger(n) && n >= min && n <= max)) usage(`${flag}: expected an integer in [${min}, ${max}], got ${text}`);
  return n;
}

export async function rocketmqMain(argv: readonly string[]): Promise<number> {
  const values = new Map<string, string>();
  let keepData = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--rocketmq') continue;
    if (flag === '--keep-data') { keepData = true; continue; }
    if (!VALUE_FLAGS.includes(flag)) usage(`unknown argument ${flag} (with --rocketmq)`);
    const value = argv[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    values.set(flag, value);
  }
  const minutes = Number(values.get('--minutes') ?? '1');
  if (!(Number.isFinite(minutes) && minutes > 0 && minutes <= 24 * 60)) usage(`--minutes: expected a number in (0, 1440], got ${values.get('--minutes')}`);
  const seed = Number(values.get('--seed') ?? '1');
  if (!Number.isSafeInteger(seed)) usage(`--seed: expected an integer, got ${values.get('--seed')}`);
  const faults = (values.get('--faults') ?? ROCKETMQ_FAULT_FAMILIES.join(',')).split(',').map((f) => f.trim());
  for (const f of faults) if (!ROCKETMQ_FAULT_FAMILIES.includes(f as RocketMQFaultFamily)) usage(`--faults: unknown family ${f} (known with --rocketmq: ${ROCKETMQ_FAULT_FAMILIES.join(', ')})`);
  const producers = integerIn(values, '--producers', 2, 1, 16);
  const inFlight = integerIn(values, '--in-flight', 4, 1, 64);
  const flushDiskType = values.get('--flush-disk-type') ?? 'ASYNC_FLUSH';
  if (flushDiskType !== 'ASYNC_FLUSH' && flushDiskType !== 'SYNC_FLUSH') usage(`--flush-disk-type: expected ASYNC_FLUSH or SYNC_FLUSH, got ${flushDiskType}`);

  const report = await runRocketMQCampaign({
    seed, durationMs: Math.round(minutes * 60_000), faults: faults as RocketMQFaultFamily[], producers, inFlight, flushDiskType, keepData,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${formatRocketMQSummary(report)}\n`);
  const benchResults = path.resolve('bench', 'results');
  const outDir = values.get('--out') ?? (fs.existsSync(benchResults) ? benchResults : os.tmpdir());
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `chaos-rocketmq-seed${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`report: ${file}\n`);
  return report.violations.length === 0 ? 0 : 1;
}
