// Which clients are online per consumer group (ConsumerManager): filled by HEART_BEAT, emptied by
// UNREGISTER_CLIENT, by the client's connection closing and by 120 s without a heartbeat. Local
// to each member: clients heartbeat every broker of the group, followers included, so a new
// master already knows them. GET_CONSUMER_LIST_BY_GROUP answers from here, and ali-ons only pulls
// once its own clientId is in that list.

export interface Subscription {
  readonly topic: string;
  readonly subString: string;
}

interface ClientInfo {
  readonly clientId: string;
  connectionId: number;
  lastHeartbeatMs: number;
  subscriptions: readonly Subscription[];
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
  // Invariant: clientCount = the sum of the groups' sizes; subscriptionCount = the sum of the
  // clients' subscriptions.length.
  private clientCount = 0;
  private subscriptionCount = 0;

  constructor(private readonly limits: ConsumerTableLimits = { groupsMax: 10_000, clientsMax: 100_000, subscriptionsMax: 1_000_000 }) {}

  /** Record a heartbeat; the name of the bound that refuses a new group or client, or null. */
  heartbeat(group: string, clientId: string, connectionId: number, subscriptions: readonly Subscription[], nowMs: number): 'consumerGroupsMax' | 'consumerClientsMax' | 'consumerSubscriptionsMax' | null {
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
      clients.set(clientId, { clientId, connectionId, lastHeartbeatMs: nowMs, subscriptions });
    } else {
      known.connectionId = connectionId;
      known.lastHeartbeatMs = nowMs;
      this.subscriptionCount += subscriptions.length - known.subscriptions.length;
      known.subscriptions = subscriptions;
    }
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
    if (clients?.size === 0) this.groups.delete(group);
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
      if (clients.size === 0) this.groups.delete(group);
    }
  }
}
