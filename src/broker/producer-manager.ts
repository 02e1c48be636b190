// RocketMQ's ProducerManager: the producer groups seen in heartbeats (HeartbeatData.producerDataSet)
// and the connection of each of their clients, so the transaction check loop can ask a producer of
// a half message's group for its state (CHECK_TRANSACTION_STATE over that producer's connection).
// Bounded: groups and clients at most the consumer table's bounds; a client not heard from for
// CHANNEL_EXPIRED_MS (Java's channelExpiredTimeout, 120 s) or whose connection closed is dropped.
import type { RemotingConnection } from '../remoting/connection.js';

export const CHANNEL_EXPIRED_MS = 120_000;

interface ProducerClient {
  readonly connection: RemotingConnection;
  readonly clientId: string;
  lastSeenMs: number;
}

export class ProducerManager {
  private readonly groups = new Map<string, Map<number, ProducerClient>>();
  private clients = 0;

  constructor(private readonly groupsMax: number, private readonly clientsMax: number) {}

  /** Record a heartbeat; false when a bound refused a new group or client. */
  heartbeat(group: string, clientId: string, connection: RemotingConnection, nowMs: number): boolean {
    let byConnection = this.groups.get(group);
    if (byConnection === undefined) {
      if (this.groups.size >= this.groupsMax) return false;
      this.groups.set(group, (byConnection = new Map()));
    }
    const known = byConnection.get(connection.id);
    if (known !== undefined) {
      known.lastSeenMs = nowMs;
      return true;
    }
    if (this.clients >= this.clientsMax) return false;
    byConnection.set(connection.id, { connection, clientId, lastSeenMs: nowMs });
    this.clients++;
    return true;
  }

  unregister(group: string, clientId: string): void {
    const byConnection = this.groups.get(group);
    if (byConnection === undefined) return;
    for (const [id, client] of byConnection) if (client.clientId === clientId) this.remove(group, byConnection, id);
  }

  onConnectionClosed(connectionId: number): void {
    for (const [group, byConnection] of this.groups) if (byConnection.has(connectionId)) this.remove(group, byConnection, connectionId);
  }

  /** A live connection of a producer of `group` (the one heard from last), or null. */
  connectionOf(group: string, nowMs: number): RemotingConnection | null {
    const byConnection = this.groups.get(group);
    if (byConnection === undefined) return null;
    let best: ProducerClient | null = null;
    for (const [id, client] of byConnection) {
      if (client.connection.closed || nowMs - client.lastSeenMs > CHANNEL_EXPIRED_MS) this.remove(group, byConnection, id);
      else if (best === null || client.lastSeenMs > best.lastSeenMs) best = client;
    }
    return best?.connection ?? null;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  private remove(group: string, byConnection: Map<number, ProducerClient>, connectionId: number): void {
    if (byConnection.delete(connectionId)) this.clients--;
    if (byConnection.size === 0) this.groups.delete(group);
  }
}
