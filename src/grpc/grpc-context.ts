// What the gRPC services share: the broker's context (config, commit log, replicated state), the
// members' gRPC endpoints, the gRPC clients seen by heartbeats, the Telemetry sessions, and where
// this member serves.
import type { AclService } from '../acl/acl-service.js';
import type { BrokerContext } from '../broker/context.js';
import type { GrpcClients } from './grpc-clients.js';
import type { MemberEndpoints } from './member-endpoints.js';
import type { TelemetrySessions } from './telemetry-sessions.js';

export interface GrpcContext {
  readonly broker: BrokerContext;
  readonly endpoints: MemberEndpoints;
  readonly clients: GrpcClients;
  readonly telemetry: TelemetrySessions;
  readonly acl: AclService | null;
  /** brokerIP1:bound gRPC port (0 before listening). */
  readonly selfEndpoint: () => string;
}

/** The gRPC endpoint of the master: this member's own when it is the master, else the replicated one of the leader. */
export function masterEndpoint(context: GrpcContext): string | null {
  const commitLog = context.broker.commitLog;
  if (commitLog.role.role === 'master') return context.selfEndpoint();
  const leaderId = commitLog.role.leaderId;
  return leaderId === null ? null : context.endpoints.endpointOf(leaderId);
}

/** A service-level refusal: answered as a Status with this code (never a gRPC error). */
export class GrpcRefusal extends Error {
  override name = 'GrpcRefusal';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}
