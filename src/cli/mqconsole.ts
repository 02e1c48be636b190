// `mqconsole`: the web console (issue 15). `sh bin/mqconsole -n 127.0.0.1:9876 [--port 8080]`
// serves the built single-page UI and its JSON API on http://127.0.0.1:8080/ until SIGTERM/SIGINT;
// its data comes from the name server and brokers over remoting (the same AdminClient as
// mqadmin). Read-only unless --allow-writes (ACL off) or an ACL login (ACL on).
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ConsoleServer, type ConsoleOptions } from '../console/server.js';
import { defaultUiDir } from '../console/static-ui.js';
import { runUntilSignal } from './run-until-signal.js';

export const USAGE = `usage: mqconsole -n namesrvAddr [options]

  -n, --namesrvAddr host:port[;host:port]   name server(s) (default $NAMESRV_ADDR)
  --port N                                  HTTP port (default 8080; 0 = any free port)
  --host ADDR                               address to listen on (default 127.0.0.1)
  --allow-writes                            with ACL off: allow creating and updating topics
                                            (default: read-only; with ACL on, writes need a login)
  --acl auto|on|off                         auto (default): ACL is on once a broker refuses an
                                            unsigned request
  --accessKey key --secretKey secret        the console's own ACL account for its background poll
                                            (optional: else the latest logged-in user's)
  --poll-ms N                               cluster poll interval (default 500)
  --timeout ms                              per-request timeout to name server and brokers (default 3000)
  -h, --help                                this text`;

export class ConsoleUsageError extends Error {}

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) throw new ConsoleUsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The console's options from its command line (validated: a ConsoleUsageError names the problem). */
export function parseConsoleArgs(argv: readonly string[], env: NodeJS.ProcessEnv, log: (line: string) => void): ConsoleOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        namesrvAddr: { type: 'string', short: 'n' },
        port: { type: 'string' },
        host: { type: 'string' },
        'allow-writes': { type: 'boolean' },
        acl: { type: 'string' },
        accessKey: { type: 'string' },
        secretKey: { type: 'string' },
        'poll-ms': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConsoleUsageError((error as Error).message);
  }
  if (values.help === true) return 'help';
  const namesrv = values.namesrvAddr ?? env['NAMESRV_ADDR'];
  if (namesrv === undefined || namesrv === '') throw new ConsoleUsageError('-n namesrvAddr is required (or set NAMESRV_ADDR)');
  const namesrvAddrs = namesrv.split(';').map((a) => a.trim()).filter((a) => a !== '');
  for (const addr of namesrvAddrs) if (!/^[A-Za-z0-9.:[\]-]+:[0-9]{1,5}$/.test(addr)) throw new ConsoleUsageError(`name server address ${JSON.stringify(addr)} is not host:port`);
  const acl = values.acl ?? 'auto';
  if (acl !== 'auto' && acl !== 'on' && acl !== 'off') throw new ConsoleUsageError(`--acl must be auto, on or off, got ${JSON.stringify(acl)}`);
  if ((values.accessKey === undefined) !== (values.secretKey === undefined)) throw new ConsoleUsageError('--accessKey and --secretKey go together');
  return {
    namesrvAddrs,
    host: values.host ?? '127.0.0.1',
    port: integer(values.port, '--port', 8080, 0, 65535),
    allowWrites: values['allow-writes'] === true,
    acl,
    credentials: values.accessKey === undefined || values.secretKey === undefined ? null : { accessKey: values.accessKey, secretKey: values.secretKey },
    tls: null,
    pollMs: integer(values['poll-ms'], '--poll-ms', 500, 100, 60_000),
    requestTimeoutMs: integer(values.timeout, '--timeout', 3000, 100, 60_000),
    uiDir: defaultUiDir(),
    log,
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  let options: ConsoleOptions | 'help';
  try {
    options = parseConsoleArgs(argv, process.env, log);
  } catch (error) {
    if (!(error instanceof ConsoleUsageError)) throw error;
    process.stderr.write(`mqconsole: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const chosen = options;
  return runUntilSignal({
    name: 'mqconsole',
    isOperatorError: (error) => error instanceof Error && /console UI is not built/.test(error.message),
    start: async () => {
      const server = new ConsoleServer(chosen);
      await server.start();
      const shown = chosen.host.includes(':') ? `[${chosen.host}]` : chosen.host;
      process.stdout.write(`mqconsole listening on http://${shown}:${server.port}/ (name server ${chosen.namesrvAddrs.join(';')}, ${chosen.allowWrites ? 'writes allowed' : 'read-only without an ACL login'})\n`);
      return { close: () => server.close() };
    },
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`mqconsole: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
