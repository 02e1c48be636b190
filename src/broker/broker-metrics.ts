// What a broker process reports on its Prometheus endpoint (metricsExporterType=PROM): its DLedger
// member's dledger_* metrics (src/metrics/prometheus.ts: role, term, commit/applied index, per-peer
// match and lag, append/commit latency histograms, retained bytes, log start, disk ratio, segments
// deleted) and, on the same registry, RocketMQ 5's broker metrics for sends under their names
// (rocketmq_messages_in_total, rocketmq_throughput_in_total, rocketmq_message_size; labels topic
// and message_type), with RocketMQ's labels cluster, node_type=broker and node_id=brokerName on
// every series next to group and self_id (the three members of a group share a brokerName).
import { Counter, Histogram } from 'prom-client';
import { PrometheusMetrics } from '../metrics/prometheus.js';
import type { MessageToPut } from './dledger-commit-log.js';
import { parseMessageProperties } from './message-codec.js';
import { SCHEDULE_TOPIC } from './schedule/delay-levels.js';

/** Distinct topic labels at most; sends to further topics are counted under topic="_other". */
export const TOPIC_LABELS_MAX = 1000;
/** RocketMQ's rocketmq_message_size buckets: 1 KiB, 4 KiB, 512 KiB, 1 MiB, 2 MiB, 4 MiB. */
const MESSAGE_SIZE_BUCKETS_BYTES = [1024, 4096, 512 * 1024, 1024 * 1024, 2 * 1024 * 1024, 4 * 1024 * 1024];

export type MessageType = 'normal' | 'fifo' | 'delay' | 'transaction';

/** RocketMQ's TopicMessageType of a sent message, from its properties (as its metrics label it). */
export function messageTypeOf(properties: ReadonlyMap<string, string>): MessageType {
  if (properties.get('TRAN_MSG') === 'true') return 'transaction';
  if (properties.has('DELAY') || properties.has('TIMER_DELIVER_MS') || properties.has('TIMER_DELAY_SEC') || properties.has('TIMER_DELAY_MS')) return 'delay';
  if (properties.has('__SHARDINGKEY')) return 'fifo';
  return 'normal';
}

export class BrokerMetrics {
  readonly dledger: PrometheusMetrics;
  private readonly messagesIn: Counter;
  private readonly throughputIn: Counter;
  private readonly messageSize: Histogram;
  // Invariant: topics.size <= TOPIC_LABELS_MAX.
  private readonly topics = new Set<string>();
  /** Where the endpoint listens once it does (GET_BROKER_RUNTIME_INFO publishes it for the console). */
  endpoint: { readonly host: string; readonly port: number } | null = null;

  constructor(labels: { cluster: string; brokerName: string; group: string; selfId: string }) {
    this.dledger = new PrometheusMetrics({ group: labels.group, selfId: labels.selfId });
    const registry = this.dledger.registry;
    registry.setDefaultLabels({ group: labels.group, self_id: labels.selfId, cluster: labels.cluster, node_type: 'broker', node_id: labels.brokerName });
    const registers = [registry];
    const labelNames = ['topic', 'message_type'];
    this.messagesIn = new Counter({ name: 'rocketmq_messages_in_total', help: 'Messages sent to this broker and stored (acknowledged sends)', labelNames, registers });
    this.throughputIn = new Counter({ name: 'rocketmq_throughput_in_total', help: 'Bytes of message bodies sent to this broker and stored', labelNames, registers });
    this.messageSize = new Histogram({ name: 'rocketmq_message_size', help: 'Body size of the messages stored, in bytes', labelNames, buckets: MESSAGE_SIZE_BUCKETS_BYTES, registers });
  }

  get registry(): PrometheusMetrics['registry'] {
    return this.dledger.registry;
  }

  /** Acknowledged sends (remoting or gRPC): counted under their real topic (a delayed one's REAL_TOPIC). */
  recordPut(messages: readonly MessageToPut[]): void {
    for (const message of messages) {
      const properties = parseMessageProperties(message.properties);
      const labels = { topic: this.topicLabel(message.topic === SCHEDULE_TOPIC ? properties.get('REAL_TOPIC') ?? message.topic : message.topic), message_type: messageTypeOf(properties) };
      this.messagesIn.inc(labels);
      this.throughputIn.inc(labels, message.body.length);
      this.messageSize.observe(labels, message.body.length);
    }
  }

  private topicLabel(topic: string): string {
    if (this.topics.has(topic)) return topic;
    if (this.topics.size >= TOPIC_LABELS_MAX) return '_other';
    this.topics.add(topic);
    return topic;
  }
}
