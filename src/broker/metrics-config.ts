// The broker keys of its Prometheus endpoint, RocketMQ 5's names and defaults (BrokerConfig:
// metricsExporterType DISABLE, metricsPromExporterHost "" = brokerIP1, metricsPromExporterPort
// 5557; BrokerMetricsManager serves them with OpenTelemetry's PrometheusHttpServer), validated
// with the other broker keys (src/broker/config.ts) before anything starts.
//   metricsExporterType                 DISABLE (no endpoint) or PROM (GET /metrics); RocketMQ's
//                                       OTLP_GRPC, OTLP_GRPC_SLS and LOG are refused by name
//   metricsPromExporterHost             the address the endpoint binds ("" = brokerIP1, as RocketMQ)
//   metricsPromExporterPort             its port (0 = OS-assigned: tests)
//   metricsPromExporterMaxConnections   connections it holds at once (ours; half per address)
export const METRICS_KEYS: Readonly<Record<string, { readonly defaultValue: string | null; readonly doc: string }>> = {
  metricsExporterType: { defaultValue: 'DISABLE', doc: 'DISABLE or PROM: serve Prometheus text on http://metricsPromExporterHost:metricsPromExporterPort/metrics' },
  metricsPromExporterHost: { defaultValue: '', doc: 'address the metrics endpoint binds ("" = brokerIP1); 127.0.0.1 keeps it on this machine' },
  metricsPromExporterPort: { defaultValue: '5557', doc: 'metrics endpoint port (0 = OS-assigned)' },
  metricsPromExporterMaxConnections: { defaultValue: '64', doc: 'connections the metrics endpoint holds at once (half of them per address)' },
};

export interface BrokerMetricsConfig {
  /** false: metricsExporterType=DISABLE, no endpoint. */
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  readonly maxConnections: number;
}

const NOT_HERE: Readonly<Record<string, string>> = {
  OTLP_GRPC: 'an OTLP collector push is not implemented here; use PROM and let the collector scrape /metrics',
  OTLP_GRPC_SLS: 'an OTLP collector push is not implemented here; use PROM and let the collector scrape /metrics',
  LOG: 'metrics to the log are not implemented here; use PROM',
};

export function parseMetricsConfig(
  text: (key: string) => string,
  integer: (key: string, min: number, max: number) => number,
  where: (key: string) => string,
  problems: string[],
  brokerIP1: string,
  /** Ports this broker already listens on, by key (listenPort, grpcServerPort when enabled, its peer port). */
  taken: Readonly<Record<string, number>>,
): BrokerMetricsConfig {
  const type = text('metricsExporterType');
  if (type !== 'DISABLE' && type !== 'PROM') {
    // Own keys only: a value named like an Object.prototype member ("constructor") is no exporter.
    const why = Object.hasOwn(NOT_HERE, type) ? NOT_HERE[type] : undefined;
    problems.push(`${where('metricsExporterType')}: "${type}" ${why === undefined ? 'must be DISABLE or PROM' : `is not supported: ${why}`}`);
  }
  const host = text('metricsPromExporterHost') || brokerIP1;
  // An address to bind, not a name to resolve: a typo must not bind somewhere else.
  const parts = host.split('.');
  if (!(parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255))) {
    problems.push(`${where('metricsPromExporterHost')}: "${host}" is not an IPv4 address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface)`);
  }
  const port = integer('metricsPromExporterPort', 0, 65535);
  const maxConnections = integer('metricsPromExporterMaxConnections', 1, 10_000);
  if (type === 'PROM' && port !== 0) {
    for (const [key, used] of Object.entries(taken)) {
      if (used === port) problems.push(`${where('metricsPromExporterPort')}: ${port} is this broker's ${key} too`);
    }
  }
  return { enabled: type === 'PROM', host, port, maxConnections };
}
