// Name server configuration: Java's keys (NamesrvConfig + NettyServerConfig) from a properties
// file (-c) and flags. Keys that only tune the Java implementation are accepted and ignored so
// existing files load; any other key, or a malformed value, is a NamesrvConfigError naming it.
import { parseRemotingListenerLimits, REMOTING_LIMIT_KEYS, type RemotingListenerLimits } from '../remoting/listener-limits.js';
import type { ListenerSecurity } from '../net/tls.js';
import { isRemotingTlsKey, parseRemotingTls } from '../net/tls-config.js';
// aclEnable / aclFilePath are ours (RocketMQ's name server has no ACL): see src/acl/validator.ts.
import path from 'node:path';

export class NamesrvConfigError extends Error {
  override name = 'NamesrvConfigError';
}

export interface NamesrvConfig {
  readonly listenPort: number;
  readonly bindAddress: string;
  /** A broker that has not re-registered for this long is removed (Java: 120 s, fixed). */
  readonly brokerChannelExpiredTimeMs: number;
  /** How often expiry is checked (Java: scanNotActiveBrokerInterval, 5 s). */
  readonly scanNotActiveBrokerIntervalMs: number;
  /** Largest REGISTER_BROKER body read; larger ones are refused unparsed (issue 11). */
  readonly registerBrokerBodyMaxBytes: number;
  /** TLS of the listener (RocketMQ's tls.server.mode and tls.server.* keys, or tls.config.file). */
  readonly security: ListenerSecurity;
  /** REGISTER_BROKER / UNREGISTER_BROKER only when signed by an admin account of aclFilePath. */
  readonly aclEnable: boolean;
  /** Absolute path of the ACL file (plain_acl.yml format). */
  readonly aclFilePath: string;
  /** Bounds of the listener (src/remoting/listener-limits.ts keys). */
  readonly listenerLimits: RemotingListenerLimits;
}

export const DEFAULT_NAMESRV_CONFIG: NamesrvConfig = {
  listenPort: 9876,
  bindAddress: '0.0.0.0',
  brokerChannelExpiredTimeMs: 120_000,
  scanNotActiveBrokerIntervalMs: 5_000,
  registerBrokerBodyMaxBytes: 8 * 1024 * 1024,
  security: { mode: 'disabled', tls: null },
  aclEnable: false,
  aclFilePath: path.resolve('conf/plain_acl.yml'),
  listenerLimits: parseRemotingListenerLimits(() => undefined, (key) => key, []),
};

/** Java keys with no meaning here (thread pools, Netty buffers, KV config paths). */
const IGNORED_JAVA_KEYS = new Set([
  'rocketmqHome', 'kvConfigPath', 'configStorePath', 'productEnvName', 'clusterTest', 'orderMessageEnable',
  'serverWorkerThreads', 'serverCallbackExecutorThreads', 'serverSelectorThreads', 'serverOnewaySemaphoreValue',
  'serverAsyncSemaphoreValue', 'serverSocketSndBufSize', 'serverSocketRcvBufSize',
  'serverPooledByteBufAllocatorEnable', 'useEpollNativeSelector', 'enableAllTopicList', 'enableTopicList',
  'defaultThreadPoolNums', 'clientRequestThreadPoolNums', 'returnOrderTopicConfigToBroker', 'writeBufferHighWaterMark',
  'writeBufferLowWaterMark', 'serverSocketBacklog',
]);

export function buildNamesrvConfig(raw: Readonly<Record<string, string>>, source: string): NamesrvConfig {
  const config: { -readonly [K in keyof NamesrvConfig]: NamesrvConfig[K] } = { ...DEFAULT_NAMESRV_CONFIG };
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'listenPort': config.listenPort = integerIn(value, key, source, 0, 65535); break;
      case 'bindAddress': config.bindAddress = value.trim(); break;
      case 'brokerChannelExpiredTime': config.brokerChannelExpiredTimeMs = integerIn(value, key, source, 1, 86_400_000); break;
      case 'scanNotActiveBrokerInterval': config.scanNotActiveBrokerIntervalMs = integerIn(value, key, source, 1, 86_400_000); break;
      case 'registerBrokerBodyMaxBytes': config.registerBrokerBodyMaxBytes = integerIn(value, key, source, 1024, 16 * 1024 * 1024); break;
      case 'aclEnable': {
        const text = value.trim();
        if (text !== 'true' && text !== 'false') throw new NamesrvConfigError(`${source}: aclEnable=${JSON.stringify(value)} must be true or false`);
        config.aclEnable = text === 'true';
        break;
      }
      case 'aclFilePath':
        if (value.trim() === '') throw new NamesrvConfigError(`${source}: aclFilePath is empty`);
        config.aclFilePath = path.resolve(value.trim());
        break;
      default:
        if (!IGNORED_JAVA_KEYS.has(key) && !isRemotingTlsKey(key) && !(key in REMOTING_LIMIT_KEYS)) throw new NamesrvConfigError(`${source}: unknown name server key "${key}"`);
    }
  }
  const problems: string[] = [];
  config.security = parseRemotingTls(raw, (key) => `${source}: ${key}`, problems).server;
  config.listenerLimits = parseRemotingListenerLimits((key) => raw[key], (key) => `${source}: ${key}`, problems);
  if (problems.length > 0) throw new NamesrvConfigError(problems.join('; '));
  return config;
}

function integerIn(value: string, key: string, source: string, min: number, max: number): number {
  const text = value.trim();
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) throw new NamesrvConfigError(`${source}: ${key}=${JSON.stringify(value)} is not an integer in [${min}, ${max}]`);
  return n;
}
