// `mqbroker`: one broker of a DLedger group, as `sh bin/mqbroker -c conf/dledger/broker-n0.conf`
// starts it in the quick start.
//   mqbroker -c FILE [-n NAMESRV_ADDR] [-p]
// -c loads the broker conf (Java properties, RocketMQ's keys; every key validated before anything
// starts, errors name file:line); -n overrides namesrvAddr; -p prints the effective config and
// exits. Prints Java's boot-success line once serving; SIGTERM/SIGINT unregister from the name
// servers, answer held pulls, flush and close the store, then exit 0.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AclFileError } from '../acl/acl-file.js';
import { Broker } from '../broker/broker.js';
import { BrokerConfigError, loadBrokerConfigFile } from '../broker/config.js';
import { ConfigError } from '../node/config.js';
import { runUntilSignal } from './run-until-signal.js';

const USAGE = 'usage: mqbroker -c configFile [-n namesrvAddr] [-p printConfigItem] [-h]';

export async function main(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        configFile: { type: 'string', short: 'c' },
        namesrvAddr: { type: 'string', short: 'n' },
        printConfigItem: { type: 'boolean', short: 'p' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`mqbroker: ${(error as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.configFile === undefined) {
    process.stderr.write(`mqbroker: -c configFile is required (a DLedger broker needs dLegerPeers and dLegerSelfId)\n${USAGE}\n`);
    return 1;
  }
  const configFile = values.configFile;
  return runUntilSignal({
    name: 'mqbroker',
    isOperatorError: (error) => error instanceof BrokerConfigError || error instanceof ConfigError || error instanceof AclFileError,
    start: async () => {
      const config = loadBrokerConfigFile(configFile, values.namesrvAddr === undefined ? {} : { namesrvAddr: values.namesrvAddr });
      if (values.printConfigItem === true) {
        for (const [key, value] of Object.entries(config)) {
          if (key === 'remotingTls') {
            process.stdout.write(`tls.server.mode=${config.remotingTls.server.mode}\ntls.enable=${config.remotingTls.client !== null}\n`);
            continue;
          }
          if (key === 'dLegerTlsKeys') {
            for (const [name, v] of Object.entries(config.dLegerTlsKeys)) process.stdout.write(`dLeger${name[0]?.toUpperCase()}${name.slice(1)}=${v}\n`);
            continue;
          }
          if (key === 'metrics') {
            process.stdout.write(`metricsExporterType=${config.metrics.enabled ? 'PROM' : 'DISABLE'}\nmetricsPromExporterHost=${config.metrics.host}\nmetricsPromExporterPort=${config.metrics.port}\nmetricsPromExporterMaxConnections=${config.metrics.maxConnections}\n`);
            continue;
          }
          if (key === 'aclCredentials') {
            // The secret stays out of the printout (it ends up in terminals and logs).
            process.stdout.write(`accessKey=${config.aclCredentials?.accessKey ?? ''}\nsecretKey=${config.aclCredentials === null ? '' : '***'}\n`);
            continue;
          }
          process.stdout.write(`${key}=${Array.isArray(value) ? value.map((v) => (typeof v === 'object' ? `${v.id}-${v.host}:${v.port}` : String(v))).join(';') : String(value)}\n`);
        }
        return null;
      }
      const broker = new Broker({ config });
      await broker.start();
      process.stdout.write(`The broker[${config.brokerName}, ${broker.brokerAddr}] boot success. serializeType=JSON and name server is ${config.namesrvAddrs.join(';')}\n`);
      return broker;
    },
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`mqbroker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
