// The `dledger` command, with DLedger's sub-commands and flag names:
//   dledger server --group G --id n0 --peers "n0-127.0.0.1:20911;..." --store-base-dir DIR
//                  --peer-secret-file FILE [--client-secret-file FILE] [--peer-auth secret|none]
//   (client commands take --client-secret-file FILE: the nodes' client secret, by default their
//    peer secret file)
//   dledger append --group G --peers ... --data TEXT --count N
//   dledger get --group G --peers ... --index I
//   dledger metadata --group G --peers ...
//   dledger leadership-transfer --group G --peers ... --leader ID --transferee ID
//   dledger read-file --dir DIR [--pos P] [--size N]
//   dledger bench --group G --peers ... --size 1024 --concurrency C --count N [--batch B] [--json]
// Errors exit non-zero with a one-line message; --help works everywhere.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DLedgerClient } from '../client/client.js';
import { buildNodeConfig, ConfigError, DEFAULT_CONFIG } from '../node/config.js';
import { loadClientTls, TlsConfigError } from '../net/tls-config.js';
import type { TlsClientOptions } from '../net/tls.js';
import { DLedgerServer } from '../node/server.js';
import { PrometheusMetrics, serveMetrics } from '../metrics/prometheus.js';
import { dumpDataDir, retainedOnDisk } from '../store/dump.js';
import { parseProperties } from '../util/properties.js';
import { runClientBench } from './client-bench.js';
import { runUntilSignal } from './run-until-signal.js';

type Options = NonNullable<ParseArgsConfig['options']>;

const CLIENT_OPTIONS: Options = {
  group: { type: 'string', short: 'g', default: DEFAULT_CONFIG.group },
  peers: { type: 'string', short: 'p', default: DEFAULT_CONFIG.peers },
  // TLS to the members (server: on its peer port): the group's CA, and this side's cert and key
  // (a client needs them when the members require client certs, the default).
  tls: { type: 'boolean' },
  'tls-ca-file': { type: 'string' },
  'tls-cert-file': { type: 'string' },
  'tls-key-file': { type: 'string' },
  'client-secret-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const COMMANDS: Record<string, { summary: string; options: Options; run: (values: Record<string, unknown>) => Promise<number> }> = {
  server: {
    summary: 'run one member of a group (SIGTERM/SIGINT: stop accepting, flush, close)',
    options: {
      ...CLIENT_OPTIONS,
      id: { type: 'string', short: 'i', default: DEFAULT_CONFIG.selfId },
      'store-base-dir': { type: 'string', short: 's', default: DEFAULT_CONFIG.storeBaseDir },
      'metrics-port': { type: 'string' },
      'preferred-leader-ids': { type: 'string' },
      flush: { type: 'string', default: 'sync' },
      'tls-require-client-cert': { type: 'string' },
      'peer-secret-file': { type: 'string' },
      'peer-auth': { type: 'string' },
      threads: { type: 'string' },
      config: { type: 'string', short: 'c' },
    },
    run: runServer,
  },
  append: {
    summary: 'append --data TEXT --count N times (one entry each) and print index/term/pos',
    options: { ...CLIENT_OPTIONS, data: { type: 'string', short: 'd', default: 'Hello' }, count: { type: 'string', short: 'c', default: '1' } },
    run: async (v) => {
      const client = clientFrom(v);
      try {
        const count = positiveInteger(v['count'], 'count');
        const body = new TextEncoder().encode(String(v['data']));
        for (let i = 0; i < count; i++) {
          const [appended] = await client.append(body);
          console.log(JSON.stringify(appended));
        }
        return 0;
      } finally {
        client.close();
      }
    },
  },
  get: {
    summary: 'print the committed entry at --index',
    options: { ...CLIENT_OPTIONS, index: { type: 'string', short: 'i', default: '0' } },
    run: async (v) => {
      const client = clientFrom(v);
      try {
        const entry = await client.get(nonNegativeInteger(v['index'], 'index'));
        console.log(JSON.stringify({ index: entry.index, term: entry.term, pos: entry.pos, body: Buffer.from(entry.body).toString('utf8') }));
        return 0;
      } finally {
        client.close();
      }
    },
  },
  metadata: {
    summary: 'print the group, leader, term and peers',
    options: CLIENT_OPTIONS,
    run: async (v) => {
      const client = clientFrom(v);
      try {
        console.log(JSON.stringify(await client.metadata()));
        return 0;
      } finally {
        client.close();
      }
    },
  },
  'leadership-transfer': {
    summary: 'ask --leader to hand leadership to --transferee',
    options: { ...CLIENT_OPTIONS, leader: { type: 'string', short: 'l' }, transferee: { type: 'string', short: 't' } },
    run: async (v) => {
      const transferee = requiredText(v['transferee'], 'transferee');
      const client = clientFrom(v);
      try {
        // DLedger sends the request to --leader; asking a member that does not lead is an error
        // there, and must not silently move leadership away from whoever leads now.
        if (v['leader'] !== undefined) {
          const leaderId = (await client.metadata()).leaderId;
          if (leaderId !== v['leader']) throw new Error(`--leader ${String(v['leader'])} does not lead the group (leader: ${leaderId ?? 'none'})`);
        }
        await client.transferLeadership(transferee);
        console.log(JSON.stringify({ leader: transferee }));
        return 0;
      } finally {
        client.close();
      }
    },
  },
  'read-file': {
    summary: 'print the entries of a data directory ({store}/dledger-ID/data), checking CRCs',
    options: { dir: { type: 'string', short: 'd' }, pos: { type: 'string', short: 'p', default: '0' }, size: { type: 'string', short: 's' }, help: { type: 'boolean', short: 'h' } },
    run: async (v) => {
      const dir = requiredText(v['dir'], 'dir');
      const dataDir = fs.existsSync(path.join(dir, 'data')) ? path.join(dir, 'data') : dir;
      // First: where the log starts (retention moves it), what is retained, the disk's usage.
      console.log(`# retained ${JSON.stringify(retainedOnDisk(dir))}`);
      const summary = dumpDataDir(dataDir, {
        fromPos: nonNegativeInteger(v['pos'], 'pos'),
        ...(v['size'] === undefined ? {} : { maxEntries: positiveInteger(v['size'], 'size') }),
      });
      console.log(JSON.stringify(summary));
      return summary.badBodyCrcs + summary.badChainCrcs === 0 ? 0 : 2;
    },
  },
  bench: {
    summary: 'append --count entries of --size bytes with --concurrency in flight; print throughput and latency',
    options: {
      ...CLIENT_OPTIONS,
      size: { type: 'string', default: '1024' },
      concurrency: { type: 'string', default: '16' },
      count: { type: 'string', default: '10000' },
      batch: { type: 'string', default: '1' },
      json: { type: 'boolean' },
    },
    run: async (v) => {
      const result = await runClientBench({
        group: String(v['group']),
        peers: String(v['peers']),
        ...(typeof v['client-secret-file'] === 'string' ? { clientSecretFile: v['client-secret-file'] } : {}),
        sizeBytes: positiveInteger(v['size'], 'size'),
        concurrency: positiveInteger(v['concurrency'], 'concurrency'),
        count: positiveInteger(v['count'], 'count'),
        batch: positiveInteger(v['batch'], 'batch'),
        tls: clientTlsFrom(v),
      });
      if (v['json'] === true) console.log(JSON.stringify(result));
      else console.log(`${result.appendsPerSecond.toFixed(0)} appends/s, p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms, p999 ${result.p999Ms.toFixed(3)} ms, errors ${result.errors}`);
      return result.errors === 0 ? 0 : 1;
    },
  },
};

async function runServer(v: Record<string, unknown>): Promise<number> {
  const raw: Record<string, unknown> = v['config'] === undefined ? {} : parseProperties(fs.readFileSync(String(v['config']), 'utf8'), String(v['config']));
  const fromFlags: Record<string, unknown> = {
    group: v['group'],
    selfId: v['id'],
    peers: v['peers'],
    storeBaseDir: v['store-base-dir'],
    flushPolicy: v['flush'],
    metricsPort: v['metrics-port'],
    preferredLeaderIds: v['preferred-leader-ids'],
    tlsEnable: v['tls'] === true ? 'true' : undefined,
    tlsCaFile: v['tls-ca-file'],
    tlsCertFile: v['tls-cert-file'],
    tlsKeyFile: v['tls-key-file'],
    tlsRequireClientCert: v['tls-require-client-cert'],
    peerSecretFile: v['peer-secret-file'],
    clientSecretFile: v['client-secret-file'],
    peerAuth: v['peer-auth'],
    threads: v['threads'],
  };
  for (const [key, value] of Object.entries(fromFlags)) if (value !== undefined && !(key in raw)) raw[key] = value;
  const config = buildNodeConfig(raw);
  const name = `[${config.group}/${config.selfId}]`;
  return runUntilSignal({
    name,
    stoppingMessage: 'stopping',
    isOperatorError: (error) => error instanceof ConfigError || error instanceof TlsConfigError,
    start: async () => {
      const metrics = new PrometheusMetrics({ group: config.group, selfId: config.selfId });
      // A node that stopped itself must not look like a clean shutdown to a supervisor: exit 3.
      let stopSelf: (code: number) => void = () => undefined;
      const stoppedByItself = new Promise<number>((resolve) => (stopSelf = resolve));
      const server = new DLedgerServer({ config, metrics, onFatal: () => stopSelf(3) });
      await server.start();
      let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | null = null;
      try {
        metricsServer = config.metricsPort === null ? null : await serveMetrics(metrics.registry, '127.0.0.1', config.metricsPort, { name: `${name} metrics`, log: (line) => process.stderr.write(`${line}\n`), onRefusal: (reason) => metrics.incConnectionRefusals('metrics', reason) });
      } catch (error) {
        await server.close();
        throw error;
      }
      if (metricsServer !== null) process.stderr.write(`${name} metrics on http://127.0.0.1:${metricsServer.port}/metrics\n`);
      return {
        stoppedByItself,
        close: async () => {
          metricsServer?.server.close();
          await server.close();
        },
      };
    },
  });
}

function clientFrom(v: Record<string, unknown>): DLedgerClient {
  const secretFile = v['client-secret-file'];
  return new DLedgerClient({ group: String(v['group']), peers: String(v['peers']), tls: clientTlsFrom(v), ...(typeof secretFile === 'string' ? { clientSecretFile: secretFile } : {}) });
}

/** --tls with --tls-ca-file (and --tls-cert-file/--tls-key-file for mutual TLS); null without --tls. */
function clientTlsFrom(v: Record<string, unknown>): TlsClientOptions | null {
  if (v['tls'] !== true) {
    if (v['tls-ca-file'] !== undefined || v['tls-cert-file'] !== undefined || v['tls-key-file'] !== undefined) throw new UsageError('--tls-ca-file/--tls-cert-file/--tls-key-file need --tls');
    return null;
  }
  const caFile = requiredText(v['tls-ca-file'], 'tls-ca-file');
  return loadClientTls({
    caFile,
    ...(typeof v['tls-cert-file'] === 'string' ? { certFile: v['tls-cert-file'] } : {}),
    ...(typeof v['tls-key-file'] === 'string' ? { keyFile: v['tls-key-file'] } : {}),
  });
}

function requiredText(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`--${flag} is required`);
  return value;
}

function nonNegativeInteger(value: unknown, flag: string): number {
  const n = Number(value);
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--${flag}: "${String(value)}" is not a non-negative integer`);
  return n;
}

function positiveInteger(value: unknown, flag: string): number {
  const n = nonNegativeInteger(value, flag);
  if (n === 0) throw new UsageError(`--${flag} must be at least 1`);
  return n;
}

class UsageError extends Error {
  override name = 'UsageError';
}

function usage(command?: string): string {
  if (command !== undefined && COMMANDS[command] !== undefined) {
    const spec = COMMANDS[command];
    const flags = Object.entries(spec.options).map(([name, o]) => `  --${name}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' VALUE' : ''}${o.default !== undefined ? ` (default ${String(o.default)})` : ''}`);
    return `usage: dledger ${command} [flags]\n${spec.summary}\n${flags.join('\n')}`;
  }
  return `usage: dledger <command> [flags]\ncommands:\n${Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(20)} ${spec.summary}`).join('\n')}\nrun "dledger <command> --help" for its flags`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage());
    return command === undefined ? 1 : 0;
  }
  const spec = COMMANDS[command];
  if (spec === undefined) {
    console.error(`dledger: unknown command "${command}"\n${usage()}`);
    return 1;
  }
  try {
    const { values } = parseArgs({ args: [...rest], options: spec.options, strict: true, allowPositionals: false });
    if (values['help'] === true) {
      console.log(usage(command));
      return 0;
    }
    return await spec.run(values);
  } catch (error) {
    const message = (error as Error).message;
    console.error(`dledger ${command}: ${message}`);
    // DLedgerClientError has a numeric code; node's parseArgs errors a string one.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) console.error(usage(command));
    return 1;
  }
}
