// Bench dispatcher: `npm run bench -- <name> [flags]` (package.json: tsc, then node dist/bench/run.js).
// Each bench prints a readable table and writes JSON under bench/results/.

interface BenchModule {
  run(args: readonly string[]): Promise<void>;
}

const BENCHES: Readonly<Record<string, { description: string; load: () => Promise<BenchModule> }>> = {
  suite: {
    description: 'the whole issue-13 table (the default): 3 members inline vs workers (c1/c16/c128/batch64x8, sync + async, RSS, failover), one node (client process + embedded), etcd 3-member comparison when etcd is installed; ratios from interleaved rounds with targets ([--quick] [--rounds N] [--budget-min M, default 9])',
    load: () => import('./suite.js'),
  },
  store: {
    description: 'commit-log store append latency/throughput vs a raw write+fdatasync baseline (--quick for a smoke run)',
    load: () => import('./store.js'),
  },
  hops: {
    description: 'thread hops: flush on the libuv pool vs inline, SPSC ring + Atomics worker hop vs inline vs postMessage (--quick)',
    load: () => import('./hops.js'),
  },
  ab: {
    description: 'interleaved A/B of two builds (--a ROOT --b ROOT [--rounds N] [--flush sync|async] [--cases 1:1000,128:20000]): B/A ratios of appends/s, p50, leader CPU',
    load: () => import('./ab.js'),
  },
  threads: {
    description: 'threads=inline vs threads=workers, interleaved in one run: a 3-member group, then a 1-member group (client in its own process); B/A = workers/inline ([--rounds N] [--flush sync|async] [--cases C:N,...])',
    load: () => import('./threads.js'),
  },
  'storage-writes': {
    description: 'threads=inline vs workers vs workers+storageWorkerWrites, interleaved in one run, 3 then 1 member(s), flush sync, 1 KiB: S/W and S/I ratios per round ([--rounds N] [--members 3,1] [--cases C:N,...])',
    load: () => import('./storage-writes.js'),
  },
  cluster: {
    description: '3 dledger server processes + a client process: 1 KiB appends at concurrency 1/16/128 and batched, flush sync/async, failover time (--quick for a smoke run)',
    load: () => import('./cluster.js'),
  },
  idle: {
    description: 'CPU an idle node burns, per member and mode ([--seconds 20] [--members 3|1] [--modes inline,workers]); target < 1 % of a core',
    load: () => import('./idle.js'),
  },
  recovery: {
    description: 'start time of a store verifying its whole log (no checkpoint): serial vs segments verified in parallel on the I/O pool ([--mib 300] [--segment-mib 32] [--rounds 3])',
    load: () => import('./recovery.js'),
  },
  restart: {
    description: 'broker group restart (issue 12): 3 bin/mqbroker processes filled to 1, 4, 10 GiB of 1 KiB messages; SIGTERM/SIGKILL of all, warm/cold page cache; spawn to first send/pull, entries re-applied, heap ([--members 3] [--log-gib 1,4,10] [--stop term,kill,full] [--cache warm,cold] [--rounds 1] [--segment-mib M] [--deadline HH:MM] [--min-free-gib 10])',
    load: () => import('./restart.js'),
  },
  json: {
    description: 'RocketMQ JSON body parsing on the event loop: ms per MiB, old parser vs new vs JSON.parse, 1/4/16 MiB bodies incl. adversarial shapes (--quick)',
    load: () => import('./json.js'),
  },
};

/** What `npm run bench` without a name runs, in order. */
const DEFAULT_BENCHES = ['suite'] as const;

function usage(): string {
  const lines = Object.entries(BENCHES).map(([name, bench]) => `  ${name.padEnd(10)} ${bench.description}`);
  return `usage: npm run bench [-- <name>] [flags]   (no name: ${DEFAULT_BENCHES.join(' then ')})\n\nbenches:\n${lines.join('\n')}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') {
    console.log(usage());
    return 0;
  }
  if (name === undefined || name.startsWith('--')) {
    // Plain `npm run bench` (issue 13 item 4): the whole table; flags (--quick, --rounds N) go to it.
    for (const each of DEFAULT_BENCHES) {
      console.log(`\n== ${each}`);
      await (await (BENCHES[each] as { load: () => Promise<BenchModule> }).load()).run(argv);
    }
    return 0;
  }
  const bench = Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
  if (bench === undefined) {
    console.error(`unknown bench "${name}"\n\n${usage()}`);
    return 2;
  }
  const module = await bench.load();
  await module.run(rest);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
