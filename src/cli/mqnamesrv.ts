// `mqnamesrv`: the name server, as `sh bin/mqnamesrv` starts it in the DLedger quick start.
//   mqnamesrv [-c FILE] [-n PORT | --listen-port PORT] [-p]
// -c loads Java-properties keys (listenPort, bindAddress, scanNotActiveBrokerInterval,
// brokerChannelExpiredTime, and ours: aclEnable, aclFilePath); a flag given too overrides the file. -p prints the effective config
// and exits. Prints Java's "The Name Server boot success" line once listening; SIGTERM/SIGINT
// stop it. Bad flags or config keys exit 1 with a one-line message.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AclFileError } from '../acl/acl-file.js';
import { buildNamesrvConfig, NamesrvConfigError } from '../namesrv/config.js';
import { NameServer } from '../namesrv/namesrv.js';
import { parseProperties, PropertiesError } from '../util/properties.js';
import { runUntilSignal } from './run-until-signal.js';

const USAGE = 'usage: mqnamesrv [-c configFile] [-n port | --listen-port port] [-p printConfigItem] [-h]';

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        configFile: { type: 'string', short: 'c' },
        'listen-port': { type: 'string', short: 'n' },
        printConfigItem: { type: 'boolean', short: 'p' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`mqnamesrv: ${(error as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return runUntilSignal({
    name: 'mqnamesrv',
    isOperatorError: (error) => error instanceof NamesrvConfigError || error instanceof PropertiesError || error instanceof AclFileError,
    start: async () => {
      const raw: Record<string, string> = values.configFile === undefined ? {} : parseProperties(fs.readFileSync(values.configFile, 'utf8'), values.configFile);
      if (values['listen-port'] !== undefined) raw['listenPort'] = values['listen-port'];
      const config = buildNamesrvConfig(raw, values.configFile ?? 'command line');
      if (values.printConfigItem === true) {
        for (const [key, value] of Object.entries(config)) {
          if (key === 'security') process.stdout.write(`tls.server.mode=${config.security.mode}\n`);
          else process.stdout.write(`${key}=${String(value)}\n`);
        }
        return null;
      }
      const server = new NameServer({ config });
      await server.start();
      process.stdout.write(`The Name Server boot success. serializeType=JSON, port=${server.port ?? 0}\n`);
      return server;
    },
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`mqnamesrv: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
