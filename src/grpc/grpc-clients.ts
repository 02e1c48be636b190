// The 5.x clients this member has heard from (Heartbeat, Telemetry settings), by client id, with
// their type and group: QueryAssignment and POP use the groups; the table is bounded and clients
// silent for CLIENT_EXPIRY_MS are dropped (as ConsumerManager does for remoting clients).
export const GRPC_CLIENT_EXPIRY_MS = 120_000;

export interface GrpcClientInfo {
  readonly clientId: string;
  clientType: string;
  group: string | null;
  lastSeenMs: number;
}

export class GrpcClients {
  private readonly clients = new Map<string, GrpcClientInfo>();

  constructor(private readonly max: number) {}

  /** Record a sign of life; false when the table is full and this client is new. */
  touch(clientId: string, clientType: string, group: string | null, nowMs: number): boolean {
    const known = this.clients.get(clientId);
    if (known !== undefined) {
      known.clientType = clientType === 'CLIENT_TYPE_UNSPECIFIED' ? known.clientType : clientType;
      known.group = group ?? known.group;
      known.lastSeenMs = nowMs;
      return true;
    }
    if (this.clients.size >= this.max) {
      this.expire(nowMs);
      if (this.clients.size >= this.max) return false;
    }
    this.clients.set(clientId, { clientId, clientType, group, lastSeenMs: nowMs });
    return true;
  }

  remove(clientId: string): void {
    this.clients.delete(clientId);
  }

  get(clientId: string): GrpcClientInfo | null {
    return this.clients.get(clientId) ?? null;
  }

  /** Client ids of a consumer group, sorted. */
  groupClients(group: string): string[] {
    return [...this.clients.values()].filter((c) => c.group === group).map((c) => c.clientId).sort();
  }

  get size(): number {
    return this.clients.size;
  }

  expire(nowMs: number): void {
    for (const [id, client] of this.clients) if (nowMs - client.lastSeenMs > GRPC_CLIENT_EXPIRY_MS) this.clients.delete(id);
  }
}
