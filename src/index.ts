// The package's public API: what `import { ... } from 'dledger-ts'` gives an application.
export { DLedgerServer, DLedgerError, type DLedgerServerOptions, type AppendResult, type CommittedEntry, type StateMachine, type RoleChange } from './node/server.js';
export { buildNodeConfig, parsePeers, formatPeers, ConfigError, DEFAULT_CONFIG, DEFAULT_TIMING, type DLedgerNodeConfig, type PeerAddress } from './node/config.js';
export { DLedgerClient, DLedgerClientError, type DLedgerClientOptions } from './client/client.js';
export { ResponseCode, type Metadata, type AppendedInfo, type EntryInfo } from './node/client-protocol.js';
export { PrometheusMetrics, serveMetrics } from './metrics/prometheus.js';
export { NoopMetrics, type Metrics } from './metrics/metrics.js';
export * as store from './store/index.js';
export * as raft from './raft/index.js';
