// Which clients are online per consumer group (ConsumerManager): filled by HEART_BEAT, emptied by
// UNREGISTER_CLIENT, by the client's connection closing and by 120 s without a heartbeat. Local
// to each member: clients heartbeat every broker of the group, followers included, so a new
// master already knows them. GET_CONSUMER_LIST_BY_GROUP answers from here, and ali-ons only pulls
// once its own clientId is in that list.
import type { RemotingCommand } from '../remoting/command.js';

export interface Subscription {
  readonly topic: string;
  readonly subString: string;
}

/** What GET_CONSUMER_CONNECTION_LIST reports of a client's channel, and how to reach it (RESET_CONSUMER_CLIENT_OFFSET). */
export interface ClientChannel {
  /** host:port the client connects from. */
  readonly clientAddr: string;
  /** The request header's language and version (LanguageCode name, MQVersion ordinal). */
  readonly language: string;
  readonly version: number;
  /** Write a command to the client's connection; false when it is gone. */
  send(command: RemotingCommand): boolean;
}

/** The group-wide fields of the latest heartbeat (ConsumerGroupInfo in Java). */
export interface ConsumerGroupMode {
  readonly consumeType: string;
  readonly messageModel: string;
  readonly consumeFromWhere: string;
}

export const DEFAULT_GROUP_MODE: ConsumerGroupMode = { consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' };

interface ClientInfo {
  readonly clientId: string;
  connectionId: number;
  lastHeartbeatMs: number;
  subscriptions: readonly Subscription[];
  channel: ClientChannel | null;
}

/** Java's channelExpiredTimeout for clients. */
export const CLIENT_EXPIRY_MS = 120_000;
/** Bounds on what heartbeats may create (broker keys consumerGroupsMax, consumerClientsMax). */
export interface ConsumerTableLimits {
  readonly groupsMax: number;
  /** Clients over all groups. */
  readonly clientsMax: number;
  /** Subscriptions held over all clients (each client's latest heartbeat). */
  readonly subscriptionsMax: number;
}

export class ConsumerManager {
  private readonly groups = new Map<string, Map<string, ClientInfo>>();
  /** Invariant: a key here is a key of `groups` (removed with the group). */
  private readonly modes = new Map<string, ConsumerGroupMode>();
  // Invariant: clientCount = the sum of the groups' sizes; subscriptionCount = the sum of the
  // clients' subscriptions.length.
  private clientCount = 0;
  private subscriptionCount = 0;

  constructor(private readonly limits: ConsumerTableLimits = { groupsMax: 10_000, clientsMax: 100_000, subscriptionsMax: 1_000_000 }) {}

  /** Record a heartbeat; the name of the bound that refuses a new group or client, or null. */
  heartbeat(group: string, clientId: string, connectionId: number, subscriptions: readonly Subscription[], nowMs: number, channel: ClientChannel | null = null, mode: ConsumerGroupMode | null = null): 'consumerGroupsMax' | 'consumerClientsMax' | 'consumerSubscriptionsMax' | null {
    let clients = this.groups.get(group);
    const known = clients?.get(clientId);
    if (known === undefined && this.clientCount >= this.limits.clientsMax) return 'consumerClientsMax';
    if (this.subscriptionCount - (known?.subscriptions.length ?? 0) + subscriptions.length > this.limits.subscriptionsMax) return 'consumerSubscriptionsMax';
    if (clients === undefined) {
      if (this.groups.size >= this.limits.groupsMax) return 'consumerGroupsMax';
      this.groups.set(group, (clients = new Map()));
    }
    if (known === undefined) {
      this.clientCount++;
      this.subscriptionCount += subscriptions.length;
      clients.set(clientId, { clientId, connectionId, lastHeartbeatMs: nowMs, subscriptions, channel });
    } else {
      known.connectionId = connectionId;
      known.channel = channel;
      known.lastHeartbeatMs = nowMs;
      this.subscriptionCount += subscriptions.length - known.subscriptions.length;
      known.subscriptions = subscriptions;
    }
    if (mode !== null) this.modes.set(group, mode);
    return null;
  }

  unregister(group: string, clientId: string): void {
    const clients = this.groups.get(group);
    const client = clients?.get(clientId);
    if (clients !== undefined && client !== undefined) {
      clients.delete(clientId);
      this.clientCount--;
      this.subscriptionCount -= client.subscriptions.length;
    }
    if (clients?.size === 0) this.removeGroup(group);
  }

  onConnectionClosed(connectionId: number): void {
    this.removeWhere((client) => client.connectionId === connectionId);
  }

  expire(nowMs: number): void {
    this.removeWhere((client) => nowMs - client.lastHeartbeatMs > CLIENT_EXPIRY_MS);
  }

  /** Client ids of a group, sorted (every consumer allocates queues from the same order). */
  clientIds(group: string): string[] {
    return [...(this.groups.get(group)?.keys() ?? [])].sort();
  }

  /** The online clients of a group with their channels, sorted by client id (null channel: recorded without one). */
  clients(group: string): Array<{ readonly clientId: string; readonly channel: ClientChannel | null; readonly subscriptions: readonly Subscription[] }> {
    return [...(this.groups.get(group)?.values() ?? [])].sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  }

  /** The consume type, message model and consume-from of the group's latest heartbeat. */
  modeOf(group: string): ConsumerGroupMode {
    return this.modes.get(group) ?? DEFAULT_GROUP_MODE;
  }

  subscriptions(group: string): Subscription[] {
    return [...(this.groups.get(group)?.values() ?? [])].flatMap((c) => c.subscriptions);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  private removeWhere(predicate: (client: ClientInfo) => boolean): void {
    for (const [group, clients] of this.groups) {
      for (const [id, client] of clients) {
        if (predicate(client)) {
          clients.delete(id);
          this.clientCount--;
          this.subscriptionCount -= client.subscriptions.length;
        }
      }
      if (clients.size === 0) this.removeGroup(group);
    }
  }

  private removeGroup(group: string): void {
    this.groups.delete(group);
    this.modes.delete(group);
  }
}
