// RocketMQ's subscription group table (SubscriptionGroupManager): one SubscriptionGroupConfig per
// consumer group, created and deleted by UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) and
// DELETE_SUBSCRIPTIONGROUP (207). Replicated through the Raft log as a state extension of
// BrokerState (its commands are `{type: 'extension', extension: 'subscriptionGroups', body}`, its
// table rides in every state checkpoint and the durable point), so every member holds the same
// table and a failover never loses a group's settings (RocketMQ copies subscriptionGroup.json
// from master to slave every 10 s instead).
//
// What reads it: a pull of a group whose config says consumeEnable=false is refused (NO_PERMISSION,
// PullMessageProcessor's remark). A group without a config consumes as RocketMQ's
// autoCreateSubscriptionGroup=true lets it; we do not write a config on first use (Java does).
import type { StateExtension } from './broker-state.js';
import { GROUP_NAME_PATTERN } from './commands.js';

export const SUBSCRIPTION_GROUPS_EXTENSION = 'subscriptionGroups';
/** Groups held at most (a bad or hostile log cannot grow the table past this). */
export const SUBSCRIPTION_GROUPS_MAX = 50_000;

/** SubscriptionGroupConfig as RocketMQ 4.9's fastjson writes it (bean fields, alphabetical). */
export interface SubscriptionGroupConfig {
  readonly brokerId: number;
  readonly consumeBroadcastEnable: boolean;
  readonly consumeEnable: boolean;
  readonly consumeFromMinEnable: boolean;
  readonly groupName: string;
  readonly notifyConsumerIdsChangedEnable: boolean;
  readonly retryMaxTimes: number;
  readonly retryQueueNums: number;
  readonly whichBrokerWhenConsumeSlowly: number;
  /**
   * RocketMQ 5's consumeMessageOrderly (a FIFO group for the 5.x clients: Telemetry settings
   * fifo=true, ReceiveMessage keeps each queue's order, src/grpc/pop-service.ts). Present only
   * when true, so a 4.9 group's JSON (a checkpoint, GET_ALL_SUBSCRIPTIONGROUP_CONFIG) is unchanged.
   */
  readonly consumeMessageOrderly?: true;
}

/** SubscriptionGroupConfig's field defaults in Java. */
export const SUBSCRIPTION_GROUP_DEFAULTS: Omit<SubscriptionGroupConfig, 'groupName'> = {
  brokerId: 0,
  consumeBroadcastEnable: true,
  consumeEnable: true,
  consumeFromMinEnable: true,
  notifyConsumerIdsChangedEnable: true,
  retryMaxTimes: 16,
  retryQueueNums: 1,
  whichBrokerWhenConsumeSlowly: 1,
};

export class SubscriptionGroupError extends Error {
  override name = 'SubscriptionGroupError';
}

/**
 * A validated config from untrusted JSON (a request body, a log entry): missing fields take
 * Java's defaults, unknown ones are ignored, a wrong type or range is a SubscriptionGroupError.
 */
export function parseSubscriptionGroupConfig(value: unknown): SubscriptionGroupConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SubscriptionGroupError('SubscriptionGroupConfig must be a JSON object');
  const v = value as Record<string, unknown>;
  const groupName = v['groupName'];
  if (typeof groupName !== 'string' || !GROUP_NAME_PATTERN.test(groupName)) throw new SubscriptionGroupError(`groupName ${JSON.stringify(groupName)} must be 1-255 characters of [%|a-zA-Z0-9_-]`);
  const bool = (name: keyof typeof SUBSCRIPTION_GROUP_DEFAULTS): boolean => {
    const x = v[name] ?? SUBSCRIPTION_GROUP_DEFAULTS[name];
    if (typeof x !== 'boolean') throw new SubscriptionGroupError(`${name} ${JSON.stringify(x)} must be true or false`);
    return x;
  };
  const int = (name: keyof typeof SUBSCRIPTION_GROUP_DEFAULTS, min: number, max: number): number => {
    const x = v[name] ?? SUBSCRIPTION_GROUP_DEFAULTS[name];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) throw new SubscriptionGroupError(`${name} ${JSON.stringify(x)} must be an integer in [${min}, ${max}]`);
    return x;
  };
  const orderly = v['consumeMessageOrderly'] ?? false;
  if (typeof orderly !== 'boolean') throw new SubscriptionGroupError(`consumeMessageOrderly ${JSON.stringify(orderly)} must be true or false`);
  return {
    brokerId: int('brokerId', 0, 1024),
    consumeBroadcastEnable: bool('consumeBroadcastEnable'),
    consumeEnable: bool('consumeEnable'),
    consumeFromMinEnable: bool('consumeFromMinEnable'),
    groupName,
    notifyConsumerIdsChangedEnable: bool('notifyConsumerIdsChangedEnable'),
    retryMaxTimes: int('retryMaxTimes', -1, 1000),
    retryQueueNums: int('retryQueueNums', 0, 1024),
    whichBrokerWhenConsumeSlowly: int('whichBrokerWhenConsumeSlowly', 0, 1024),
    ...(orderly ? { consumeMessageOrderly: true as const } : {}),
  };
}

/** The command bodies of this extension. */
export type SubscriptionGroupCommand =
  | { readonly op: 'upsert'; readonly config: SubscriptionGroupConfig }
  | { readonly op: 'delete'; readonly groupName: string };

export class SubscriptionGroups implements StateExtension {
  // Invariant: size <= SUBSCRIPTION_GROUPS_MAX; every value passed parseSubscriptionGroupConfig.
  private readonly table = new Map<string, SubscriptionGroupConfig>();
  /** Bumped on every change (the table's DataVersion.counter). */
  version = 0;

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  get(groupName: string): SubscriptionGroupConfig | null {
    return this.table.get(groupName) ?? null;
  }

  get size(): number {
    return this.table.size;
  }

  all(): SubscriptionGroupConfig[] {
    return [...this.table.values()].sort((a, b) => (a.groupName < b.groupName ? -1 : a.groupName > b.groupName ? 1 : 0));
  }

  apply(body: unknown, index: number): void {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    if (b['op'] === 'delete') {
      const name = b['groupName'];
      if (typeof name !== 'string' || !GROUP_NAME_PATTERN.test(name)) return this.log(`entry ${index}: subscription group delete ${JSON.stringify(name)} ignored (not a group name)`);
      if (this.table.delete(name)) this.version++;
      return;
    }
    if (b['op'] !== 'upsert') return this.log(`entry ${index}: subscription group command ${JSON.stringify(body)?.slice(0, 200)} ignored (op must be upsert or delete)`);
    let config;
    try {
      config = parseSubscriptionGroupConfig(b['config']);
    } catch (error) {
      if (!(error instanceof SubscriptionGroupError)) throw error;
      return this.log(`entry ${index}: subscription group upsert ignored: ${error.message}`);
    }
    if (!this.table.has(config.groupName) && this.table.size >= SUBSCRIPTION_GROUPS_MAX) {
      return this.log(`entry ${index}: subscription group ${config.groupName} ignored: ${SUBSCRIPTION_GROUPS_MAX} groups held`);
    }
    this.table.set(config.groupName, config);
    this.version++;
  }

  snapshot(): unknown {
    return this.all();
  }

  restore(snapshot: unknown): void {
    this.table.clear();
    this.version++;
    if (!Array.isArray(snapshot)) return;
    for (const item of snapshot.slice(0, SUBSCRIPTION_GROUPS_MAX)) {
      try {
        const config = parseSubscriptionGroupConfig(item);
        this.table.set(config.groupName, config);
      } catch (error) {
        if (!(error instanceof SubscriptionGroupError)) throw error;
        this.log(`subscription group in a checkpoint ignored: ${error.message}`);
      }
    }
  }

  clear(): void {
    this.table.clear();
    this.version++;
  }
}

/**
 * Java's SubscriptionGroupConfig.toString(), which mqadmin updateSubGroup prints: 4.9's bracket
 * form, with RocketMQ 5's consumeMessageOrderly where 5.x's toString puts it (after consumeBroadcastEnable).
 */
export function subscriptionGroupText(c: SubscriptionGroupConfig): string {
  return `SubscriptionGroupConfig [groupName=${c.groupName}, consumeEnable=${c.consumeEnable}, consumeFromMinEnable=${c.consumeFromMinEnable}, consumeBroadcastEnable=${c.consumeBroadcastEnable}, consumeMessageOrderly=${c.consumeMessageOrderly === true}, retryQueueNums=${c.retryQueueNums}, retryMaxTimes=${c.retryMaxTimes}, brokerId=${c.brokerId}, whichBrokerWhenConsumeSlowly=${c.whichBrokerWhenConsumeSlowly}, notifyConsumerIdsChangedEnable=${c.notifyConsumerIdsChangedEnable}]`;
}
