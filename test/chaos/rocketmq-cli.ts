// Goal: `npm run chaos -- --rocketmq --minutes M --seed S [--faults kill,pause,partition,power]
// [--producers N] [--in-flight N] [--flush-disk-type ASYNC_FLUSH|SYNC_FLUSH] [--retention-seconds N] [--clients remoting,grpc] [--out DIR] [--keep-data]`
// runs one seeded RocketMQ fault campaign (rocketmq-campaign.ts), prints the summary, writes the
// JSON report (bench/results/ when it exists, else the temp dir, or --out) and exits 1 on any
// violation (2 on bad arguments). cli.ts hands argv here when it sees --rocketmq.
import { defaultFlushDiskType, formatRocketMQSummary, ROCKETMQ_FAULT_FAMILIES, runRocketMQCampaign } from './rocketmq-campaign.js';
import { CLIENT_KINDS, type ClientKind } from './rocketmq-grpc-part.js';
import { choiceArg, exitWithUsage, faultsArg, integerIn, minutesArg, optionalIntegerIn, parseFlags, seedArg, writeReportJson } from './cli-args.js';

const USAGE = `usage: npm run chaos -- --rocketmq --minutes M --seed S [--faults ${ROCKETMQ_FAULT_FAMILIES.join(',')}] [--producers N] [--in-flight N] [--flush-disk-type ASYNC_FLUSH|SYNC_FLUSH] [--retention-seconds N] [--clients ${CLIENT_KINDS.join(',')}] [--out DIR] [--keep-data]`;
const usage = exitWithUsage(USAGE);

export async function rocketmqMain(argv: readonly string[]): Promise<number> {
  const { values, switches } = parseFlags(argv, { valueFlags: ['--minutes', '--seed', '--faults', '--producers', '--in-flight', '--flush-disk-type', '--out', '--retention-seconds', '--clients'], switches: ['--rocketmq', '--keep-data'], unknownNote: ' (with --rocketmq)' }, usage);
  const minutes = minutesArg(values, usage);
  const seed = seedArg(values, usage);
  const faults = faultsArg(values, ROCKETMQ_FAULT_FAMILIES, ROCKETMQ_FAULT_FAMILIES, 'known with --rocketmq', usage);
  const producers = integerIn(values, '--producers', 2, 1, 16, usage);
  const inFlight = integerIn(values, '--in-flight', 4, 1, 64, usage);
  // SYNC_FLUSH by default when power losses are in the mix (defaultFlushDiskType).
  const flushDiskType = choiceArg(values, '--flush-disk-type', ['ASYNC_FLUSH', 'SYNC_FLUSH'], defaultFlushDiskType(faults), usage);
  const keepData = switches.has('--keep-data');
  // ali-ons (remoting) and/or rocketmq-client-nodejs (gRPC) clients; both by default.
  const clients = [...new Set((values.get('--clients') ?? CLIENT_KINDS.join(',')).split(',').map((c) => c.trim()))];
  for (const c of clients) if (!CLIENT_KINDS.includes(c as ClientKind)) usage(`--clients: unknown client kind ${c} (known: ${CLIENT_KINDS.join(', ')})`);
  // Retention on: fileReservedTime = N s, deleteWhen=*, 64 KiB commit-log segments (rocketmq-cluster.ts).
  const retentionSeconds = optionalIntegerIn(values, '--retention-seconds', 1, 3600, usage);

  const report = await runRocketMQCampaign({
    seed, durationMs: Math.round(minutes * 60_000), faults, producers, inFlight, flushDiskType, keepData, clients: clients as ClientKind[],
    ...(retentionSeconds !== undefined ? { retentionSeconds } : {}),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`\n${formatRocketMQSummary(report)}\n`);
  const file = writeReportJson(values.get('--out'), `chaos-rocketmq-seed${seed}`, report);
  process.stdout.write(`report: ${file}\n`);
  return report.violations.length === 0 ? 0 : 1;
}
