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
import { integerIn, type KeySource, type KeyTable, readKeyTable, trueOrFalse, type ValuesOf } from '../util/key-table.js';

const MIB = 1024 * 1024;
const HOUR_MS = 3_600_000;

export const GRPC_TABLE = {
  enabled: { key: 'enableGrpcServer', defaultValue: 'true', doc: 'serve the RocketMQ 5 gRPC protocol (apache.rocketmq.v2) for the 5.x clients', type: trueOrFalse },
  port: { key: 'grpcServerPort', defaultValue: '8081', doc: 'gRPC port (0 = OS-assigned)', type: integerIn(0, 65535) },
  maxConnectionIdleMs: { key: 'grpcMaxConnectionIdleMs', defaultValue: '120000', doc: 'gRPC connections without a call this long are closed', type: integerIn(1000, 24 * HOUR_MS) },
  maxConcurrentStreams: { key: 'grpcMaxConcurrentStreams', defaultValue: '256', doc: 'gRPC calls in flight per connection', type: integerIn(1, 100_000) },
  telemetrySessionsMax: { key: 'grpcTelemetrySessionsMax', defaultValue: '10000', doc: 'Telemetry streams held at once', type: integerIn(1, 1_000_000) },
  // No default text: maxMessageSize + 1 MiB (parseGrpcConfig).
  maxReceiveMessageBytes: { key: 'grpcMaxReceiveMessageBytes', defaultValue: null, doc: 'largest gRPC request (default maxMessageSize + 1 MiB)', type: integerIn(64 * 1024, 64 * MIB) },
  clockSkewMaxMs: { key: 'grpcClockSkewMaxMs', defaultValue: '900000', doc: 'ACL: refuse a signed x-mq-date-time further than this from our clock', type: integerIn(1000, 7 * 24 * HOUR_MS) },
  maxReceiveBatchSize: { key: 'grpcMaxReceiveBatchSize', defaultValue: '32', doc: 'messages of one ReceiveMessage at most', type: integerIn(1, 1024) },
  maxLongPollingMs: { key: 'grpcMaxLongPollingMs', defaultValue: '30000', doc: 'a ReceiveMessage is held at most this long', type: integerIn(0, 300_000) },
  minInvisibleTimeMs: { key: 'grpcMinInvisibleTimeMs', defaultValue: '10000', doc: "a SimpleConsumer receive's invisible duration at least", type: integerIn(0, HOUR_MS) },
  maxInvisibleTimeMs: { key: 'grpcMaxInvisibleTimeMs', defaultValue: '43200000', doc: 'an invisible duration at most', type: integerIn(1000, 7 * 24 * HOUR_MS) },
  defaultInvisibleTimeMs: { key: 'grpcDefaultInvisibleTimeMs', defaultValue: '60000', doc: "invisible time of a PushConsumer's receive", type: integerIn(1000, 7 * 24 * HOUR_MS) },
  consumerMaxAttempts: { key: 'grpcConsumerMaxAttempts', defaultValue: '17', doc: 'deliveries of a message before it goes to %DLQ%<group>', type: integerIn(1, 1000) },
  popInflightMax: { key: 'grpcPopInflightMax', defaultValue: '10000', doc: 'received, not yet acked messages per consumer group', type: integerIn(1, POP_INFLIGHT_PER_GROUP_MAX) },
  heldReceivesMax: { key: 'grpcHeldReceivesMax', defaultValue: '10000', doc: 'ReceiveMessage calls held at once', type: integerIn(1, 1_000_000) },
} satisfies KeyTable;

export type GrpcConfig = ValuesOf<typeof GRPC_TABLE>;

export function parseGrpcConfig(source: KeySource, maxMessageSize: number): GrpcConfig {
  return readKeyTable(GRPC_TABLE, source, { maxReceiveMessageBytes: maxMessageSize + MIB });
}
