// Where each member of the group serves gRPC, replicated through the Raft log (a state extension of
// BrokerState): a master proposes its own endpoint when it becomes master, so a follower's endpoint
// can answer QueryRoute with the master's address, as RocketMQ's proxy routes clients to the
// master broker. A member is not asked for its address; the master writes the one it bound.
import type { StateExtension } from '../broker/state/broker-state.js';

export const MEMBER_ENDPOINTS_EXTENSION = 'grpcEndpoints';

/** A member id (node config rules) and an IPv4 host:port. */
const MEMBER_ID_PATTERN = /^[A-Za-z0-9_.]{1,64}$/;
const ENDPOINT_PATTERN = /^[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]{1,5}$/;
/** Members at most (a group has a handful; a bad log cannot grow this). */
const MEMBERS_MAX = 64;

export interface MemberEndpointCommand {
  readonly memberId: string;
  readonly endpoint: string;
}

export function isMemberEndpointCommand(body: unknown): body is MemberEndpointCommand {
  if (typeof body !== 'object' || body === null) return false;
  const { memberId, endpoint } = body as Record<string, unknown>;
  return typeof memberId === 'string' && MEMBER_ID_PATTERN.test(memberId) && typeof endpoint === 'string' && ENDPOINT_PATTERN.test(endpoint);
}

export class MemberEndpoints implements StateExtension {
  private readonly endpoints = new Map<string, string>();

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  endpointOf(memberId: string): string | null {
    return this.endpoints.get(memberId) ?? null;
  }

  apply(body: unknown, index: number): void {
    if (!isMemberEndpointCommand(body)) {
      this.log(`entry ${index}: member endpoint command ${JSON.stringify(body)?.slice(0, 200)} ignored (not {memberId, endpoint})`);
      return;
    }
    if (!this.endpoints.has(body.memberId) && this.endpoints.size >= MEMBERS_MAX) {
      this.log(`entry ${index}: endpoint of ${body.memberId} ignored: ${MEMBERS_MAX} members known`);
      return;
    }
    this.endpoints.set(body.memberId, body.endpoint);
  }

  snapshot(): unknown {
    return [...this.endpoints];
  }

  restore(snapshot: unknown): void {
    this.endpoints.clear();
    if (!Array.isArray(snapshot)) return;
    for (const pair of snapshot.slice(0, MEMBERS_MAX)) {
      if (Array.isArray(pair) && isMemberEndpointCommand({ memberId: pair[0], endpoint: pair[1] })) this.endpoints.set(pair[0] as string, pair[1] as string);
    }
  }

  clear(): void {
    this.endpoints.clear();
  }
}
