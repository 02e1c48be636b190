// `mqadmin`: RocketMQ's admin tool for our name server and DLedger brokers, as the quick start
// uses it: `sh bin/mqadmin clusterList -n 127.0.0.1:9876`. Sub-commands and flags follow
// RocketMQ's (clusterList, topicList, topicRoute, updateTopic, topicStatus, consumerProgress) plus
// dledgerStatus (alias getBrokerRaftStatus) for the Raft view of each group. Output goes to
// stdout; errors are one line on stderr and exit 1; a bad command line exits 2 with the usage.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AdminClient, AdminError } from '../admin/admin-client.js';
import { commitLogMd5 } from '../admin/commit-log-md5.js';
import { parseRemotingTls } from '../net/tls-config.js';
import type { TlsClientOptions } from '../net/tls.js';
import { clusterList, consumerProgress, dledgerStatus, queryMsgById, queryMsgByKey, queryMsgByOffset, topicList, topicRoute, topicStatus, updateTopic } from '../admin/commands.js';
import { consumerConnection, deleteSubGroup, deleteTopic, resetOffsetByTime, transferLeadership, updateSubGroup } from '../admin/group-commands.js';

const USAGE = `usage: mqadmin <command> -n namesrvAddr [options]

commands:
  clusterList       [-c cluster]                 brokers per cluster and group (BID 0 = leader)
  topicList                                      every topic the name server knows
  topicRoute        -t topic                     the topic's route (queues and broker addresses)
  updateTopic       -t topic (-c cluster | -b brokerAddr) [-r readQueueNums] [-w writeQueueNums]
                    [-p perm] [-o true|false]    create or update a topic (default 8/8, perm 6)
  topicStatus       -t topic                     min and max offset and last store time of every queue
  deleteTopic       -t topic -c cluster          delete the topic on every master, then on the name server(s)
  updateSubGroup    -g group (-c cluster | -b brokerAddr) [-s consumeEnable] [-m consumeFromMinEnable]
                    [-d consumeBroadcastEnable] [-q retryQueueNums] [-r retryMaxTimes] [-i brokerId]
                    [-w whichBrokerWhenConsumeSlowly] [-a notifyConsumerIdsChanged] [-o consumeMessageOrderly]
                                                 create or update a subscription group (true|false, numbers)
  deleteSubGroup    -g group (-c cluster | -b brokerAddr) [-r removeOffset true|false]
                                                 delete a subscription group (with -c also its %RETRY%/%DLQ% topics)
  consumerConnection -g group                    the group's online clients and subscriptions
  resetOffsetByTime -g group -t topic -s (now | ms | yyyy-MM-dd#HH:mm:ss:SSS) [-f force true|false]
                                                 move the group's offsets to the first message stored at
                                                 or after the time (-s -1: to the queue ends)
  transferLeadership -b brokerName -i memberId   the group's leader hands leadership to that member (ours)
  consumerProgress  -g group [-t topic]          committed offset and lag of a consumer group
  queryMsgById      -i offsetMsgId               the stored message of an offset message id (the
                                                 msgId a send answers: store host + offset)
  queryMsgByKey     -t topic -k key              messages whose KEYS hold the key (index files)
  queryMsgByOffset  -t topic -b brokerName -i queueId -o offset
                                                 the message at a queue offset (one pull from the
                                                 group's master, else another member)
  dledgerStatus     [-c cluster]                 Raft role, term, leader, commit index and lag of
                                                 every group member (alias getBrokerRaftStatus),
                                                 its first index (retention), MiB retained, disk ratio
  commitLogMd5      -d dir1,dir2,...             before an upgrade to DLedger: last classic
                                                 commit-log file and md5 per directory; exit 1
                                                 unless they all match (no name server needed)

options:
  -n, --namesrvAddr host:port[;host:port]        name server(s) (default $NAMESRV_ADDR)
  --timeout ms                                   per-request timeout (default 5000)
  --tlsEnable                                    TLS to the name server and brokers (tls.enable)
  --tlsTrustCertPath file                        CA the servers' certs must chain to
  --tlsCertPath file --tlsKeyPath file           client cert and key (tls.server.need.client.auth)
  --tlsConfigFile file                           tls.client.* keys from a properties file (tls.config.file)
  --accessKey key --secretKey secret             sign every request with this ACL account
                                                 (brokers with aclEnable=true; updateTopic
                                                 needs an admin account)
  -h, --help                                     this text`;

class UsageError extends Error {}

function integerOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return Number(value);
}

function booleanOption(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (v !== 'true' && v !== 'false') throw new UsageError(`${name} must be true or false, got ${JSON.stringify(value)}`);
  return v === 'true';
}

function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw new UsageError(`${command} needs ${flag}`);
  return value;
}

/** The client side of RocketMQ's TLS keys, from the --tls* flags; null without --tlsEnable (or tls.enable=true in --tlsConfigFile). */
function adminTls(values: { tlsEnable?: boolean; tlsTrustCertPath?: string; tlsCertPath?: string; tlsKeyPath?: string; tlsConfigFile?: string }): TlsClientOptions | null {
  const raw: Record<string, string> = {};
  if (values.tlsEnable === true) raw['tls.enable'] = 'true';
  if (values.tlsTrustCertPath !== undefined) raw['tls.client.trustCertPath'] = values.tlsTrustCertPath;
  if (values.tlsCertPath !== undefined) raw['tls.client.certPath'] = values.tlsCertPath;
  if (values.tlsKeyPath !== undefined) raw['tls.client.keyPath'] = values.tlsKeyPath;
  if (values.tlsConfigFile !== undefined) raw['tls.config.file'] = values.tlsConfigFile;
  const flags: Record<string, string> = { 'tls.enable': '--tlsEnable', 'tls.client.trustCertPath': '--tlsTrustCertPath', 'tls.client.certPath': '--tlsCertPath', 'tls.client.keyPath': '--tlsKeyPath', 'tls.config.file': '--tlsConfigFile' };
  const problems: string[] = [];
  const { client } = parseRemotingTls(raw, (key) => flags[key] ?? key, problems);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return client;
}

export async function main(argv: readonly string[], out: (text: string) => void = (text) => process.stdout.write(text), err: (text: string) => void = (text) => process.stderr.write(text)): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        namesrvAddr: { type: 'string', short: 'n' },
        cluster: { type: 'string', short: 'c' },
        brokerAddr: { type: 'string', short: 'b' },
        topic: { type: 'string', short: 't' },
        group: { type: 'string', short: 'g' },
        readQueueNums: { type: 'string', short: 'r' },
        writeQueueNums: { type: 'string', short: 'w' },
        perm: { type: 'string', short: 'p' },
        order: { type: 'string', short: 'o' },
        timeout: { type: 'string' },
        accessKey: { type: 'string' },
        secretKey: { type: 'string' },
        dirs: { type: 'string', short: 'd' },
        msgId: { type: 'string', short: 'i' },
        key: { type: 'string', short: 'k' },
        timestamp: { type: 'string', short: 's' },
        consumeFromMinEnable: { type: 'string', short: 'm' },
        retryQueueNums: { type: 'string', short: 'q' },
        notifyConsumerIdsChanged: { type: 'string', short: 'a' },
        force: { type: 'string', short: 'f' },
        tlsEnable: { type: 'boolean' },
        tlsTrustCertPath: { type: 'string' },
        tlsCertPath: { type: 'string' },
        tlsKeyPath: { type: 'string' },
        tlsConfigFile: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    err(`mqadmin: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true || positionals[0] === 'help') {
    out(`${USAGE}\n`);
    return 0;
  }
  const [command, ...extra] = positionals;
  let admin: AdminClient | null = null;
  try {
    if (command === undefined) throw new UsageError('no command given');
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    if (command === 'commitLogMd5') {
      const dirs = required(values.dirs, '-d dir1,dir2,...', command).split(',').map((dir) => dir.trim()).filter((dir) => dir !== '');
      const comparison = await commitLogMd5(dirs);
      out(`${comparison.text}\n`);
      return comparison.match ? 0 : 1;
    }
    const namesrv = values.namesrvAddr ?? process.env['NAMESRV_ADDR'];
    if (namesrv === undefined || namesrv === '') throw new UsageError('-n namesrvAddr is required (or set NAMESRV_ADDR)');
    const timeoutMs = integerOption(values.timeout, '--timeout', 5000, 1, 600_000);
    const warn = (line: string): void => err(`${line}\n`);
    const run = async (client: AdminClient): Promise<string> => {
      switch (command) {
        case 'clusterList':
          return clusterList(client, values.cluster ?? null, warn);
        case 'topicList':
          return topicList(client);
        case 'topicRoute':
          return topicRoute(client, required(values.topic, '-t topic', command));
        case 'updateTopic': {
          if ((values.cluster === undefined) === (values.brokerAddr === undefined)) throw new UsageError('updateTopic needs exactly one of -c cluster and -b brokerAddr');
          const order = values.order ?? 'false';
          if (order !== 'true' && order !== 'false') throw new UsageError(`-o must be true or false, got ${JSON.stringify(order)}`);
          return updateTopic(client, {
            topic: required(values.topic, '-t topic', command),
            cluster: values.cluster ?? null,
            brokerAddr: values.brokerAddr ?? null,
            readQueueNums: integerOption(values.readQueueNums, '-r', 8, 1, 1024),
            writeQueueNums: integerOption(values.writeQueueNums, '-w', 8, 1, 1024),
            perm: integerOption(values.perm, '-p', 6, 0, 7),
            order: order === 'true',
          });
        }
        case 'queryMsgById':
          return queryMsgById(client, required(values.msgId, '-i msgId', command));
        case 'queryMsgByOffset':
          // RocketMQ's flags for this command: -b is the broker name, -i the queue id, -o the offset.
          return queryMsgByOffset(client, {
            topic: required(values.topic, '-t topic', command),
            brokerName: required(values.brokerAddr, '-b brokerName', command),
            queueId: integerOption(required(values.msgId, '-i queueId', command), '-i queueId', 0, 0, 65_535),
            offset: integerOption(required(values.order, '-o offset', command), '-o offset', 0, 0, Number.MAX_SAFE_INTEGER),
          }, warn);
        case 'queryMsgByKey':
          return queryMsgByKey(client, required(values.topic, '-t topic', command), required(values.key, '-k key', command));
        case 'topicStatus':
          return topicStatus(client, required(values.topic, '-t topic', command));
        case 'deleteTopic':
          return deleteTopic(client, required(values.topic, '-t topic', command), required(values.cluster, '-c cluster', command));
        case 'updateSubGroup': {
          if ((values.cluster === undefined) === (values.brokerAddr === undefined)) throw new UsageError('updateSubGroup needs exactly one of -c cluster and -b brokerAddr');
          // RocketMQ's flags for this command: -s consumeEnable, -m consumeFromMinEnable, -d consumeBroadcastEnable,
          // -q retryQueueNums, -r retryMaxTimes, -i brokerId, -w whichBrokerWhenConsumeSlowly, -a notifyConsumerIdsChanged,
          // -o consumeMessageOrderly (RocketMQ 5: a FIFO group for the 5.x clients).
          return updateSubGroup(client, {
            config: {
              groupName: required(values.group, '-g group', command),
              consumeEnable: booleanOption(values.timestamp, '-s consumeEnable', true),
              consumeFromMinEnable: booleanOption(values.consumeFromMinEnable, '-m consumeFromMinEnable', false),
              consumeBroadcastEnable: booleanOption(values.dirs, '-d consumeBroadcastEnable', false),
              retryQueueNums: integerOption(values.retryQueueNums, '-q retryQueueNums', 1, 0, 1024),
              retryMaxTimes: integerOption(values.readQueueNums, '-r retryMaxTimes', 16, 0, 1000),
              brokerId: integerOption(values.msgId, '-i brokerId', 0, 0, 1024),
              whichBrokerWhenConsumeSlowly: integerOption(values.writeQueueNums, '-w whichBrokerWhenConsumeSlowly', 1, 0, 1024),
              notifyConsumerIdsChangedEnable: booleanOption(values.notifyConsumerIdsChanged, '-a notifyConsumerIdsChanged', true),
              ...(booleanOption(values.order, '-o consumeMessageOrderly', false) ? { consumeMessageOrderly: true as const } : {}),
            },
            brokerAddr: values.brokerAddr ?? null,
            cluster: values.cluster ?? null,
          });
        }
        case 'deleteSubGroup':
          if ((values.cluster === undefined) === (values.brokerAddr === undefined)) throw new UsageError('deleteSubGroup needs exactly one of -c cluster and -b brokerAddr');
          return deleteSubGroup(client, required(values.group, '-g group', command), values.brokerAddr ?? null, values.cluster ?? null, booleanOption(values.readQueueNums, '-r removeOffset', false));
        case 'consumerConnection':
          return consumerConnection(client, required(values.group, '-g group', command));
        case 'resetOffsetByTime':
          return resetOffsetByTime(client, required(values.group, '-g group', command), required(values.topic, '-t topic', command), required(values.timestamp, '-s timestamp', command), booleanOption(values.force, '-f force', true));
        case 'transferLeadership':
          return transferLeadership(client, required(values.brokerAddr, '-b brokerName', command), required(values.msgId, '-i memberId', command));
        case 'consumerProgress':
          return consumerProgress(client, required(values.group, '-g group', command), values.topic ?? null);
        case 'dledgerStatus':
        case 'getBrokerRaftStatus':
          return dledgerStatus(client, values.cluster ?? null, warn);
        default:
          throw new UsageError(`unknown command ${JSON.stringify(command)}`);
      }
    };
    const addrs = namesrv.split(';').map((addr) => addr.trim()).filter((addr) => addr !== '');
    if ((values.accessKey === undefined) !== (values.secretKey === undefined)) throw new UsageError('--accessKey and --secretKey go together');
    const credentials = values.accessKey === undefined || values.secretKey === undefined ? null : { accessKey: values.accessKey, secretKey: values.secretKey };
    admin = new AdminClient(addrs, timeoutMs, adminTls(values), credentials);
    const text = await run(admin);
    out(text.length === 0 ? '' : `${text}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`mqadmin: ${error.message}\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof AdminError) {
      err(`mqadmin: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    admin?.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
    process.stderr.write(`mqadmin: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
