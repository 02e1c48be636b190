// The broker's gRPC endpoint (RocketMQ 5's proxy in "local" mode, inside the broker process):
// apache.rocketmq.v2.MessagingService on @grpc/grpc-js, plaintext, bound to 0.0.0.0:grpcServerPort.
// Every call is checked against the ACL when aclEnable (grpc-acl.ts); a refusal or bad input is
// answered with a Status in the response, as the proxy does (the clients read it), never left
// unanswered. Bounds: the request size (grpcMaxReceiveMessageBytes), calls in flight per
// connection (grpcMaxConcurrentStreams), idle connections closed (grpcMaxConnectionIdleMs),
// Telemetry sessions (grpcTelemetrySessionsMax), clients recorded (consumerClientsMax).
import * as grpc from '@grpc/grpc-js';
import { hostOf } from '../acl/remote-address.js';
import { Perm } from '../acl/permission.js';
import type { AclService } from '../acl/acl-service.js';
import type { BrokerContext } from '../broker/context.js';
import { checkGrpcRequest, groupNeed, type GrpcNeed } from './grpc-acl.js';
import { GrpcClients } from './grpc-clients.js';
import { GrpcRefusal, type GrpcContext } from './grpc-context.js';
import { MemberEndpoints } from './member-endpoints.js';
import { isFifoGroup, PopService } from './pop-service.js';
import { PopState } from './pop-state.js';
import { messagingServiceDefinition, status, type PbResource } from './messaging-proto.js';
import { queryAssignment, queryRoute, resourceName } from './route-service.js';
import { sendMessage } from './send-service.js';
import { endTransaction } from './transaction-grpc.js';
import { TelemetrySessions } from './telemetry-sessions.js';

type Unary = grpc.ServerUnaryCall<Record<string, unknown>, Record<string, unknown>>;
type Reply = grpc.sendUnaryData<Record<string, unknown>>;
type Handler = (call: Unary) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface GrpcEndpointOptions {
  readonly broker: BrokerContext;
  readonly endpoints: MemberEndpoints;
  readonly acl: AclService | null;
  /** The replicated POP state (registered with the broker state by the broker). */
  readonly pop?: PopState;
}

function metadataText(metadata: grpc.Metadata, key: string): string | null {
  const [value] = metadata.get(key);
  return typeof value === 'string' ? value : null;
}

function groupOf(request: Record<string, unknown>): string | null {
  const group = (request['group'] as PbResource | null | undefined)?.name ?? '';
  return group === '' ? null : group;
}

/** The topics and groups a call touches, with the permission each needs (PlainAccessResource.parse). */
function neededBy(method: string, request: Record<string, unknown>): GrpcNeed[] {
  const topic = (request['topic'] as PbResource | null | undefined)?.name ?? null;
  const group = groupOf(request);
  switch (method) {
    case 'QueryRoute': return topic === null ? [] : [{ resource: topic, perm: Perm.ANY }];
    case 'Heartbeat': return group === null ? [] : [groupNeed(group, Perm.SUB)];
    case 'SendMessage': {
      const first = ((request['messages'] ?? []) as Array<{ topic?: PbResource }>)[0]?.topic?.name;
      return first === undefined ? [] : [{ resource: first, perm: Perm.PUB }];
    }
    case 'QueryAssignment': return [...(group === null ? [] : [groupNeed(group, Perm.SUB)]), ...(topic === null ? [] : [{ resource: topic, perm: Perm.SUB }])];
    case 'NotifyClientTermination': return group === null ? [] : [groupNeed(group, Perm.SUB)];
    case 'EndTransaction': return topic === null ? [] : [{ resource: topic, perm: Perm.PUB }];
    case 'ReceiveMessage': {
      const queueTopic = (request['messageQueue'] as { topic?: PbResource } | null | undefined)?.topic?.name ?? null;
      return [...(group === null ? [] : [groupNeed(group, Perm.SUB)]), ...(queueTopic === null ? [] : [{ resource: queueTopic, perm: Perm.SUB }])];
    }
    case 'AckMessage':
    case 'ChangeInvisibleDuration':
    case 'ForwardMessageToDeadLetterQueue':
      return [...(group === null ? [] : [groupNeed(group, Perm.SUB)]), ...(topic === null ? [] : [{ resource: topic, perm: Perm.SUB }])];
    default: return [];
  }
}

export class GrpcEndpoint {
  readonly context: GrpcContext;
  readonly pop: PopService;
  private readonly server: grpc.Server;
  private boundPort = 0;
  private closed = false;

  constructor(private readonly options: GrpcEndpointOptions) {
    const config = options.broker.config;
    const clients = new GrpcClients(config.consumerClientsMax);
    const telemetry = new TelemetrySessions(config.grpc.telemetrySessionsMax, {
      maxBodySizeBytes: config.maxMessageSize,
      consumerMaxAttempts: config.grpc.consumerMaxAttempts,
      receiveBatchSize: config.grpc.maxReceiveBatchSize,
      longPollingTimeoutMs: Math.min(20_000, config.grpc.maxLongPollingMs),
      isFifoGroup: (group) => isFifoGroup(options.broker, group),
    }, options.broker.log);
    this.context = {
      broker: options.broker, endpoints: options.endpoints, clients, telemetry, acl: options.acl,
      selfEndpoint: () => `${config.brokerIP1}:${this.boundPort}`,
    };
    const g = config.grpc;
    this.pop = new PopService(this.context, options.pop ?? new PopState(options.broker.log), {
      minInvisibleMs: g.minInvisibleTimeMs, maxInvisibleMs: g.maxInvisibleTimeMs, defaultInvisibleMs: g.defaultInvisibleTimeMs, maxAttempts: g.consumerMaxAttempts,
      inflightMaxPerGroup: g.popInflightMax, heldReceivesMax: g.heldReceivesMax, maxLongPollingMs: g.maxLongPollingMs, maxBatch: g.maxReceiveBatchSize,
    });
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': config.grpc.maxReceiveMessageBytes,
      'grpc.max_concurrent_streams': config.grpc.maxConcurrentStreams,
      'grpc.max_connection_idle_ms': config.grpc.maxConnectionIdleMs,
    });
    const unary = (method: string, handler: Handler) => (call: Unary, callback: Reply): void => {
      void this.runUnary(method, call, handler).then((response) => callback(null, response));
    };
    const notImplemented = (method: string) => (call: Unary, callback: Reply): void => {
      callback(null, { status: status('NOT_IMPLEMENTED', `${method} is not implemented by this broker yet`) });
      void call;
    };
    const notImplementedStream = (method: string) => (call: grpc.ServerWritableStream<Record<string, unknown>, Record<string, unknown>>): void => {
      call.write({ status: status('NOT_IMPLEMENTED', `${method} is not implemented by this broker yet`) });
      call.end();
    };
    this.server.addService(messagingServiceDefinition(), {
      QueryRoute: unary('QueryRoute', (call) => queryRoute(this.context, call.request)),
      Heartbeat: unary('Heartbeat', (call) => this.heartbeat(call)),
      SendMessage: unary('SendMessage', (call) => sendMessage(this.context, call.request, call.getPeer())),
      QueryAssignment: unary('QueryAssignment', (call) => queryAssignment(this.context, call.request)),
      NotifyClientTermination: unary('NotifyClientTermination', (call) => {
        const clientId = metadataText(call.metadata, 'x-mq-client-id');
        if (clientId !== null) this.context.clients.remove(clientId);
        return { status: status('OK', 'OK') };
      }),
      Telemetry: (call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>) => this.telemetryStream(call),
      ReceiveMessage: (call: grpc.ServerWritableStream<Record<string, unknown>, Record<string, unknown>>) => this.receiveStream(call),
      PullMessage: notImplementedStream('PullMessage'),
      AckMessage: unary('AckMessage', (call) => this.pop.ack(call.request)),
      ChangeInvisibleDuration: unary('ChangeInvisibleDuration', (call) => this.pop.changeInvisibleDuration(call.request)),
      ForwardMessageToDeadLetterQueue: unary('ForwardMessageToDeadLetterQueue', (call) => this.pop.forwardToDeadLetterQueue(call.request)),
      UpdateOffset: notImplemented('UpdateOffset'),
      GetOffset: notImplemented('GetOffset'),
      QueryOffset: notImplemented('QueryOffset'),
      EndTransaction: unary('EndTransaction', (call) => endTransaction(this.context, options.broker.transactions, call.request)),
      RecallMessage: notImplemented('RecallMessage'),
      SyncLiteSubscription: notImplemented('SyncLiteSubscription'),
    });
  }

  get port(): number {
    return this.boundPort;
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error !== null) reject(new Error(`gRPC endpoint cannot listen on 0.0.0.0:${port} (grpcServerPort): ${error.message}`));
        else {
          this.boundPort = bound;
          resolve(bound);
        }
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.context.telemetry.closeAll();
    this.pop.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The ACL decision for a call; the refusal's Status, or null. */
  private refusal(method: string, metadata: grpc.Metadata, peer: string, request: Record<string, unknown>): Record<string, unknown> | null {
    const acl = this.options.acl;
    if (acl === null) return null;
    const host = hostOf(peer.replace(/^ipv[46]:/, ''));
    const refused = checkGrpcRequest(acl.rules, { authorization: metadataText(metadata, 'authorization'), dateTime: metadataText(metadata, 'x-mq-date-time') }, host, neededBy(method, request), method, Date.now(), this.options.broker.config.grpc.clockSkewMaxMs);
    if (refused === null) return null;
    acl.refusals.set(refused.kind, (acl.refusals.get(refused.kind) ?? 0) + 1);
    this.options.broker.log(`gRPC ACL refused: ${refused.remark}`);
    return { status: status(refused.kind === 'no-permission' || refused.kind === 'not-admin' ? 'FORBIDDEN' : 'UNAUTHORIZED', refused.remark) };
  }

  private async runUnary(method: string, call: Unary, handler: Handler): Promise<Record<string, unknown>> {
    try {
      const refused = this.refusal(method, call.metadata, call.getPeer(), call.request);
      if (refused !== null) return refused;
      const response = await handler(call);
      return response['status'] === undefined ? { status: status('OK', 'OK'), ...response } : response;
    } catch (error) {
      if (error instanceof GrpcRefusal) return { status: status(error.code, error.message) };
      this.options.broker.log(`gRPC ${method} failed: ${(error as Error).stack ?? String(error)}`);
      return { status: status('INTERNAL_SERVER_ERROR', `${method} failed: ${(error as Error).message}`) };
    }
  }

  private heartbeat(call: Unary): Record<string, unknown> {
    const clientId = metadataText(call.metadata, 'x-mq-client-id');
    if (clientId === null || clientId === '' || clientId.length > 255) throw new GrpcRefusal('CLIENT_ID_REQUIRED', 'x-mq-client-id (1-255 characters) is required');
    const clientType = String(call.request['clientType'] ?? 'CLIENT_TYPE_UNSPECIFIED');
    let group: string | null = null;
    if (clientType !== 'PRODUCER') {
      group = groupOf(call.request);
      if (group === null) throw new GrpcRefusal('ILLEGAL_CONSUMER_GROUP', 'a consumer heartbeat needs its group');
      resourceName({ name: group }, 'group', 'ILLEGAL_CONSUMER_GROUP');
    }
    if (!this.context.clients.touch(clientId, clientType, group, Date.now())) {
      throw new GrpcRefusal('TOO_MANY_REQUESTS', `too many gRPC clients (consumerClientsMax=${this.options.broker.config.consumerClientsMax}); ${clientId} not recorded`);
    }
    return { status: status('OK', 'OK') };
  }

  private receiveStream(call: grpc.ServerWritableStream<Record<string, unknown>, Record<string, unknown>>): void {
    const refused = this.refusal('ReceiveMessage', call.metadata, call.getPeer(), call.request);
    if (refused !== null) {
      call.write(refused);
      call.end();
      return;
    }
    void this.pop.receive(call);
  }

  private telemetryStream(call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>): void {
    const clientId = metadataText(call.metadata, 'x-mq-client-id');
    const refused = clientId === null || clientId === '' || clientId.length > 255 ? { status: status('CLIENT_ID_REQUIRED', 'x-mq-client-id (1-255 characters) is required') } : this.refusal('Telemetry', call.metadata, call.getPeer(), {});
    if (refused !== null) {
      call.write(refused);
      call.end();
      return;
    }
    const opened = this.context.telemetry.open(clientId as string, call, (settings) => {
      this.context.clients.touch(clientId as string, settings.clientType, settings.group, Date.now());
    });
    if (!opened) {
      call.write({ status: status('TOO_MANY_REQUESTS', `too many Telemetry sessions (grpcTelemetrySessionsMax=${this.options.broker.config.grpc.telemetrySessionsMax})`) });
      call.end();
    }
  }
}

export { MemberEndpoints };
