// The broker keys of its Prometheus endpoint, RocketMQ 5's names and defaults (BrokerConfig:
// metricsExporterType DISABLE, metricsPromExporterHost "" = brokerIP1, metricsPromExporterPort
// 5557; BrokerMetricsManager serves them with OpenTelemetry's PrometheusHttpServer), validated
// with the other broker keys (src/broker/config.ts) before anything starts.
//   metricsExporterType                 DISABLE (no endpoint) or PROM (GET /metrics); RocketMQ's
//                                       OTLP_GRPC, OTLP_GRPC_SLS and LOG are refused by name
//   metricsPromExporterHost             the address the endpoint binds ("" = brokerIP1, as RocketMQ)
//   metricsPromExporterPort             its port (0 = OS-assigned: tests)
//   metricsPromExporterMaxConnections   connections it holds at once (ours; half per address)
import { integerIn, ipv4Address, type KeySource, type KeyTable, type KeyType, readKeyTable } from '../util/key-table.js';

const NOT_HERE: Readonly<Record<string, string>> = {
  OTLP_GRPC: 'an OTLP collector push is not implemented here; use PROM and let the collector scrape /metrics',
  OTLP_GRPC_SLS: 'an OTLP collector push is not implemented here; use PROM and let the collector scrape /metrics',
  LOG: 'metrics to the log are not implemented here; use PROM',
};

const exporterType: KeyType<'DISABLE' | 'PROM'> = (text) => {
  if (text === 'DISABLE' || text === 'PROM') return { value: text };
  // Own keys only: a value named like an Object.prototype member ("constructor") is no exporter.
  const why = Object.hasOwn(NOT_HERE, text) ? NOT_HERE[text] : undefined;
  return { refusal: why === undefined ? 'must be DISABLE or PROM' : `is not supported: ${why}`, fallback: 'DISABLE' };
};

export const METRICS_TABLE = {
  exporterType: { key: 'metricsExporterType', defaultValue: 'DISABLE', doc: 'DISABLE or PROM: serve Prometheus text on http://metricsPromExporterHost:metricsPromExporterPort/metrics', type: exporterType },
  // An address to bind, not a name to resolve: a typo must not bind somewhere else. '' = brokerIP1.
  host: { key: 'metricsPromExporterHost', defaultValue: '', doc: 'address the metrics endpoint binds ("" = brokerIP1); 127.0.0.1 keeps it on this machine', type: ipv4Address('is not an IPv4 address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface)') },
  port: { key: 'metricsPromExporterPort', defaultValue: '5557', doc: 'metrics endpoint port (0 = OS-assigned)', type: integerIn(0, 65535) },
  maxConnections: { key: 'metricsPromExporterMaxConnections', defaultValue: '64', doc: 'connections the metrics endpoint holds at once (half of them per address)', type: integerIn(1, 10_000) },
} satisfies KeyTable;

export interface BrokerMetricsConfig {
  /** false: metricsExporterType=DISABLE, no endpoint. */
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
}

export function parseMetricsConfig(
  source: KeySource,
  /** The default host (brokerIP1, validated where it is read). */
  brokerIP1: string,
  /** Ports this broker already listens on, by key (listenPort, grpcServerPort when enabled, its peer port). */
  taken: Readonly<Record<string, number>>,
): BrokerMetricsConfig {
  const { exporterType: type, host, port, maxConnections } = readKeyTable(METRICS_TABLE, source, { host: brokerIP1 });
  if (type === 'PROM' && port !== 0) {
    for (const [key, used] of Object.entries(taken)) {
      if (used === port) source.problems.push(`${source.where('metricsPromExporterPort')}: ${port} is this broker's ${key} too`);
    }
  }
  return { enabled: type === 'PROM', host, port, maxConnections };
}
