// What the request processors share: the broker's config and identity, its commit log (and the
// replicated state behind it), and the local services (clients, long polling, offset commits).
import type { BrokerConfig } from './config.js';
import type { ConsumerManager } from './consumer-manager.js';
import type { BrokerCommitLog } from './dledger-commit-log.js';
import type { OffsetCommitter } from './offset-committer.js';
import type { ProducerManager } from './producer-manager.js';
import type { PullHoldService } from './pull-hold.js';
import type { RefusalCounter } from '../remoting/refusals.js';
import type { KeyedRateMeters, RateMeter } from './rate-meter.js';
import type { BrokerMetrics } from './broker-metrics.js';
import type { TransactionService } from './transaction/transaction-service.js';
import type { QueueLocks } from './state/queue-locks.js';
import type { SubscriptionGroups } from './state/subscription-groups.js';

export interface BrokerContext {
  readonly config: BrokerConfig;
  /** brokerIP1:listenPort */
  readonly brokerAddr: string;
  readonly commitLog: BrokerCommitLog;
  readonly consumers: ConsumerManager;
  /** Producer groups and their connections (the transaction check loop asks them). */
  readonly producers: ProducerManager;
  /** Half messages, their end and the check loop (transaction/). */
  readonly transactions: TransactionService;
  readonly pullHold: PullHoldService;
  readonly offsets: OffsetCommitter;
  readonly log: (line: string) => void;
  readonly stats: BrokerStats;
  /** The replicated subscription group table (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP). */
  readonly groups: SubscriptionGroups;
  /** The replicated orderly-consumption queue locks (LOCK_BATCH_MQ). */
  readonly queueLocks: QueueLocks;
  /** Hand the DLedger leadership to a member (null: a classic broker has no group). */
  readonly transferLeadership: ((to: string, timeoutMs: number) => Promise<void>) | null;
}

export interface BrokerStats {
  messagesPut: number;
  messagesPulled: number;
  readonly putRate: RateMeter;
  readonly pullRate: RateMeter;
  /** Messages pulled per consumer group (GET_CONSUME_STATS' consumeTps). */
  readonly groupPullRates: KeyedRateMeters;
  readonly startedAtMs: number;
  /** Requests refused by a bound (issue 11), per config key; GET_BROKER_RUNTIME_INFO shows them. */
  readonly refusals: RefusalCounter;
  /** The Prometheus endpoint's broker metrics (metricsExporterType=PROM), else null. */
  readonly metrics: BrokerMetrics | null;
}
