// The remoting listener bounds as broker and name-server config keys: one table, so both
// processes accept the same keys with the same ranges and defaults (DEFAULT_REMOTING_LIMITS).
import { DEFAULT_REMOTING_LIMITS } from './server.js';
import type { ConnectionLimits } from '../net/connection-guard.js';

export interface RemotingListenerLimits {
  readonly idleTimeoutMs: number;
  readonly limits: Omit<ConnectionLimits, 'idleTimeoutMs'>;
}

interface LimitKey {
  readonly defaultValue: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

/** Key -> default, range, doc. serverChannelMaxIdleTimeSeconds is RocketMQ's own key. */
export const REMOTING_LIMIT_KEYS: Readonly<Record<string, LimitKey>> = {
  serverChannelMaxIdleTimeSeconds: { defaultValue: 120, min: 1, max: 86_400, doc: 'close a connection without a complete frame (and nothing in flight) for this long' },
  serverMaxConnections: { defaultValue: DEFAULT_REMOTING_LIMITS.maxConnections, min: 1, max: 1_000_000, doc: 'connections open at once' },
  serverMaxConnectionsPerAddress: { defaultValue: DEFAULT_REMOTING_LIMITS.maxConnectionsPerAddress, min: 1, max: 1_000_000, doc: 'connections open at once from one IP address' },
  serverFirstFrameDeadlineMs: { defaultValue: DEFAULT_REMOTING_LIMITS.firstFrameDeadlineMs, min: 100, max: 3_600_000, doc: 'time from accept to the first complete frame' },
  serverPartialFrameBudgetBytes: { defaultValue: DEFAULT_REMOTING_LIMITS.partialFrameBudgetBytes, min: 32 * 1024 * 1024, max: 2 ** 40, doc: 'bytes all connections together may hold in incomplete frames (at least two 16 MiB frames)' },
  serverUnreadOutputBudgetBytes: { defaultValue: DEFAULT_REMOTING_LIMITS.unreadOutputBudgetBytes as number, min: 32 * 1024 * 1024, max: 2 ** 40, doc: 'bytes of answers all connections together may leave unread; over it, a connection holding 1 MiB or more is closed' },
};

/** Reads the keys (absent: default); a bad value is pushed to problems naming the key. */
export function parseRemotingListenerLimits(value: (key: string) => string | undefined, where: (key: string) => string, problems: string[]): RemotingListenerLimits {
  const read = (key: string): number => {
    const spec = REMOTING_LIMIT_KEYS[key] as LimitKey;
    const text = value(key)?.trim();
    if (text === undefined || text === '') return spec.defaultValue;
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || n < spec.min || n > spec.max) {
      problems.push(`${where(key)}: ${JSON.stringify(text)} is not an integer in [${spec.min}, ${spec.max}]`);
      return spec.defaultValue;
    }
    return n;
  };
  return {
    idleTimeoutMs: read('serverChannelMaxIdleTimeSeconds') * 1000,
    limits: {
      maxConnections: read('serverMaxConnections'),
      maxConnectionsPerAddress: read('serverMaxConnectionsPerAddress'),
      firstFrameDeadlineMs: read('serverFirstFrameDeadlineMs'),
      partialFrameBudgetBytes: read('serverPartialFrameBudgetBytes'),
      unreadOutputBudgetBytes: read('serverUnreadOutputBudgetBytes'),
    },
  };
}
