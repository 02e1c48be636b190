// The apache.rocketmq.v2 protocol (proto/apache/rocketmq/v2/*.proto, from rocketmq-client-nodejs
// 1.0.8), loaded at run time with @grpc/proto-loader: no generated or hand-written codec. Messages
// are plain objects with camelCase fields; int64 fields are JS numbers (queue offsets and
// timestamps stay below 2^53), enums are their names ('OK', 'FIFO', ...), bytes are Buffers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** proto/ at the package root (this file is src/grpc/ in the sources, dist/src/grpc/ when built). */
function protoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up, 'proto');
}

let cached: grpc.ServiceDefinition | null = null;

/** The MessagingService definition (loaded once). */
export function messagingServiceDefinition(): grpc.ServiceDefinition {
  if (cached !== null) return cached;
  const definition = protoLoader.loadSync('apache/rocketmq/v2/service.proto', {
    includeDirs: [protoRoot()],
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = definition['apache.rocketmq.v2.MessagingService'] as grpc.ServiceDefinition | undefined;
  if (service === undefined || !('SendMessage' in service)) throw new Error(`apache.rocketmq.v2.MessagingService not found in ${protoRoot()}`);
  cached = service;
  return service;
}

// ---------------------------------------------------------------- the shapes we read and write

export interface PbResource { resourceNamespace?: string; name: string }
export interface PbAddress { host: string; port: number }
export interface PbEndpoints { scheme: string; addresses: PbAddress[] }
export interface PbStatus { code: string; message: string }
export interface PbDuration { seconds: number; nanos: number }
export interface PbTimestamp { seconds: number; nanos: number }
export interface PbBroker { name: string; id: number; endpoints: PbEndpoints }
export interface PbMessageQueue { topic: PbResource; id: number; permission: string; broker: PbBroker; acceptMessageTypes: string[] }
export interface PbFilterExpression { type: string; expression: string }

export interface PbSystemProperties {
  tag?: string | null;
  keys: string[];
  messageId: string;
  bodyDigest?: { type: string; checksum: string } | null;
  bodyEncoding: string;
  messageType: string;
  bornTimestamp?: PbTimestamp | null;
  bornHost: string;
  storeTimestamp?: PbTimestamp | null;
  storeHost: string;
  deliveryTimestamp?: PbTimestamp | null;
  receiptHandle?: string | null;
  queueId: number;
  queueOffset?: number | null;
  invisibleDuration?: PbDuration | null;
  deliveryAttempt?: number | null;
  messageGroup?: string | null;
  traceContext?: string | null;
  orphanedTransactionRecoveryDuration?: PbDuration | null;
  deadLetterQueue?: { topic: string; messageId: string } | null;
}

export interface PbMessage {
  topic: PbResource;
  userProperties: Record<string, string>;
  systemProperties: PbSystemProperties;
  body: Buffer;
}

export function status(code: string, message = ''): PbStatus {
  return { code, message };
}

export const OK: PbStatus = { code: 'OK', message: 'OK' };

export function durationMs(duration: PbDuration | null | undefined): number | null {
  if (duration === null || duration === undefined) return null;
  return Number(duration.seconds) * 1000 + Math.floor(Number(duration.nanos) / 1e6);
}

export function timestampMs(timestamp: PbTimestamp | null | undefined): number | null {
  if (timestamp === null || timestamp === undefined) return null;
  return Number(timestamp.seconds) * 1000 + Math.floor(Number(timestamp.nanos) / 1e6);
}

export function timestampOf(ms: number): PbTimestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

export function durationOf(ms: number): PbDuration {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
