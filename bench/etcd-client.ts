// The etcd side of the etcd comparison (bench/lib/etcd-group.ts starts the members): a process of
// its own, like `dledger bench` for dledger, that puts `--count` values of `--size` bytes with
// `--concurrency` puts in flight through the etcd3 client (gRPC, one channel to the leader's
// endpoint, distinct keys), and prints one JSON line with the same fields as ClientBenchResult's summary.
// usage: node dist/bench/etcd-client.js --endpoints http://127.0.0.1:P,... --concurrency C --count N --size B
import { Etcd3 } from 'etcd3';
import { percentile } from '../src/cli/client-bench.js';

const MAX_COUNT = 1_000_000;
const MAX_CONCURRENCY = 4096;

function flag(args: readonly string[], name: string): string {
  const at = args.indexOf(name);
  const value = at < 0 ? undefined : args[at + 1];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
}

function positiveInteger(text: string, name: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name}: "${text}" is not an integer in [1, ${max}]`);
  return n;
}

/** The endpoint whose member is the leader (etcd's Status: member_id == leader), else all of them. */
async function leaderEndpoint(endpoints: readonly string[]): Promise<string[]> {
  for (const endpoint of endpoints) {
    const probe = new Etcd3({ hosts: endpoint });
    try {
      const status = await probe.maintenance.status();
      if (status.header.member_id === status.leader) return [endpoint];
    } catch {
      // try the next member
    } finally {
      probe.close();
    }
  }
  return [...endpoints];
}

async function main(args: readonly string[]): Promise<void> {
  const endpoints = flag(args, '--endpoints').split(',');
  const concurrency = positiveInteger(flag(args, '--concurrency'), '--concurrency', MAX_CONCURRENCY);
  const count = positiveInteger(flag(args, '--count'), '--count', MAX_COUNT);
  const sizeBytes = positiveInteger(flag(args, '--size'), '--size', 1024 * 1024);
  // Like `dledger bench`, which sends to the leader, put through the leader's endpoint (a
  // follower would forward each put: one more hop that dledger's client does not pay).
  const client = new Etcd3({ hosts: await leaderEndpoint(endpoints) });
  const value = Buffer.alloc(sizeBytes, 0x61);
  const latenciesMs: number[] = [];
  let errors = 0;
  let issued = 0;
  try {
    await client.put('bench-warm').value(value); // connect, find a member
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (issued < count) {
        const key = `bench-${issued++}`;
        const t0 = performance.now();
        try {
          await client.put(key).value(value);
          latenciesMs.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    latenciesMs.sort((a, b) => a - b);
    console.log(JSON.stringify({
      sizeBytes,
      concurrency,
      batch: 1,
      appends: latenciesMs.length,
      errors,
      seconds,
      appendsPerSecond: latenciesMs.length / seconds,
      p50Ms: percentile(latenciesMs, 0.5),
      p99Ms: percentile(latenciesMs, 0.99),
      p999Ms: percentile(latenciesMs, 0.999),
      maxMs: latenciesMs[latenciesMs.length - 1] ?? Number.NaN,
    }));
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
