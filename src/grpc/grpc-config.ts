// The broker keys of the gRPC endpoint (RocketMQ 5's proxy keys, where it has them), validated with
// the other broker keys (src/broker/config.ts) before anything starts.
//   enableGrpcServer          true: the broker process serves apache.rocketmq.v2.MessagingService
//   grpcServerPort            8081 (RocketMQ's proxy port); 0 = OS-assigned (tests)
//   grpcMaxConnectionIdleMs   a connection without a call this long is closed (remoting: 120 s)
//   grpcMaxConcurrentStreams  streams (calls) in flight per connection (HTTP/2 SETTINGS)
//   grpcTelemetrySessionsMax  Telemetry streams held at once (each holds a client's settings)
//   grpcMaxReceiveMessageBytes a request (SendMessage with its messages) at most; default
//                             maxMessageSize + 1 MiB for properties and framing
//   grpcClockSkewMaxMs        with ACL on: a signed x-mq-date-time further than this from the
//                             broker's clock is refused (bounds the replay of a signature)
//   grpcMaxReceiveBatchSize   messages one ReceiveMessage returns at most (RocketMQ: 32)
//   grpcMaxLongPollingMs      how long a ReceiveMessage may be held (RocketMQ's proxy: 20 s... 30 s)
//   grpcMinInvisibleTimeMs    a SimpleConsumer's invisible duration at least (proxy minInvisibleTimeMillsForRecv 10 s)
//   grpcMaxInvisibleTimeMs    an invisible duration at most (proxy maxInvisibleTimeMills 12 h)
//   grpcDefaultInvisibleTimeMs a PushConsumer's (auto-renew) receive (proxy defaultInvisibleTimeMills 60 s)
//   grpcConsumerMaxAttempts   deliveries before %DLQ%<group> (subscription group retryMaxTimes 16, + 1)
//   grpcPopInflightMax        received, not yet acked messages per group (<= 10,000, pop-state.ts)
//   grpcHeldReceivesMax       ReceiveMessage calls held (long polling) at once
import { POP_INFLIGHT_PER_GROUP_MAX } from './pop-state.js';

export const GRPC_KEYS: Readonly<Record<string, { readonly defaultValue: string | null; readonly doc: string }>> = {
  enableGrpcServer: { defaultValue: 'true', doc: 'serve the RocketMQ 5 gRPC protocol (apache.rocketmq.v2) for the 5.x clients' },
  grpcServerPort: { defaultValue: '8081', doc: 'gRPC port (0 = OS-assigned)' },
  grpcMaxConnectionIdleMs: { defaultValue: '120000', doc: 'gRPC connections without a call this long are closed' },
  grpcMaxConcurrentStreams: { defaultValue: '256', doc: 'gRPC calls in flight per connection' },
  grpcTelemetrySessionsMax: { defaultValue: '10000', doc: 'Telemetry streams held at once' },
  grpcMaxReceiveMessageBytes: { defaultValue: null, doc: 'largest gRPC request (default maxMessageSize + 1 MiB)' },
  grpcClockSkewMaxMs: { defaultValue: '900000', doc: 'ACL: refuse a signed x-mq-date-time further than this from our clock' },
  grpcMaxReceiveBatchSize: { defaultValue: '32', doc: 'messages of one ReceiveMessage at most' },
  grpcMaxLongPollingMs: { defaultValue: '30000', doc: 'a ReceiveMessage is held at most this long' },
  grpcMinInvisibleTimeMs: { defaultValue: '10000', doc: "a SimpleConsumer receive's invisible duration at least" },
  grpcMaxInvisibleTimeMs: { defaultValue: '43200000', doc: 'an invisible duration at most' },
  grpcDefaultInvisibleTimeMs: { defaultValue: '60000', doc: "invisible time of a PushConsumer's receive" },
  grpcConsumerMaxAttempts: { defaultValue: '17', doc: 'deliveries of a message before it goes to %DLQ%<group>' },
  grpcPopInflightMax: { defaultValue: '10000', doc: 'received, not yet acked messages per consumer group' },
  grpcHeldReceivesMax: { defaultValue: '10000', doc: 'ReceiveMessage calls held at once' },
};

export interface GrpcConfig {
  readonly enabled: boolean;
  readonly port: number;
  readonly maxConnectionIdleMs: number;
  readonly maxConcurrentStreams: number;
  readonly telemetrySessionsMax: number;
  readonly maxReceiveMessageBytes: number;
  readonly clockSkewMaxMs: number;
  readonly maxReceiveBatchSize: number;
  readonly maxLongPollingMs: number;
  readonly minInvisibleTimeMs: number;
  readonly maxInvisibleTimeMs: number;
  readonly defaultInvisibleTimeMs: number;
  readonly consumerMaxAttempts: number;
  readonly popInflightMax: number;
  readonly heldReceivesMax: number;
}

const MIB = 1024 * 1024;

export function parseGrpcConfig(
  text: (key: string) => string,
  integer: (key: string, min: number, max: number) => number,
  boolean: (key: string) => boolean,
  maxMessageSize: number,
): GrpcConfig {
  const explicitMax = text('grpcMaxReceiveMessageBytes');
  return {
    enabled: boolean('enableGrpcServer'),
    port: integer('grpcServerPort', 0, 65535),
    maxConnectionIdleMs: integer('grpcMaxConnectionIdleMs', 1000, 24 * 3_600_000),
    maxConcurrentStreams: integer('grpcMaxConcurrentStreams', 1, 100_000),
    telemetrySessionsMax: integer('grpcTelemetrySessionsMax', 1, 1_000_000),
    maxReceiveMessageBytes: explicitMax === '' ? maxMessageSize + MIB : integer('grpcMaxReceiveMessageBytes', 64 * 1024, 64 * MIB),
    clockSkewMaxMs: integer('grpcClockSkewMaxMs', 1000, 7 * 24 * 3_600_000),
    maxReceiveBatchSize: integer('grpcMaxReceiveBatchSize', 1, 1024),
    maxLongPollingMs: integer('grpcMaxLongPollingMs', 0, 300_000),
    minInvisibleTimeMs: integer('grpcMinInvisibleTimeMs', 0, 3_600_000),
    maxInvisibleTimeMs: integer('grpcMaxInvisibleTimeMs', 1000, 7 * 24 * 3_600_000),
    defaultInvisibleTimeMs: integer('grpcDefaultInvisibleTimeMs', 1000, 7 * 24 * 3_600_000),
    consumerMaxAttempts: integer('grpcConsumerMaxAttempts', 1, 1000),
    popInflightMax: integer('grpcPopInflightMax', 1, POP_INFLIGHT_PER_GROUP_MAX),
    heldReceivesMax: integer('grpcHeldReceivesMax', 1, 1_000_000),
  };
}
