// One broker process of a DLedger group (BrokerController in DLedger mode): the remoting server
// on listenPort with the request processors, the DLedger commit log, and the registration with
// the name servers — brokerId 0 while master, the digits of dLegerSelfId + 1 otherwise, sent at
// once on every role change and topic change and every registerNameServerPeriod.
import path from 'node:path';
import { AclService } from '../acl/acl-service.js';
import { aclSigningHook } from '../acl/signature.js';
import { RemotingClient } from '../remoting/client.js';
import { RefusalCounter } from '../remoting/refusals.js';
import { RemotingServer } from '../remoting/server.js';
import type { DLedgerNodeConfig } from '../node/config.js';
import type { RaftConfig } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { ClassicCommitLog } from './classic-commit-log.js';
import { assertNotUpgraded, prepareClassicUpgrade } from './classic-upgrade.js';
import { type BrokerConfig, BrokerConfigError, followerBrokerIdOf, maxStoredMessageBytes, toNodeConfig } from './config.js';
import { ConsumerManager } from './consumer-manager.js';
import type { BrokerContext } from './context.js';
import { type BrokerCommitLog, DLedgerCommitLog } from './dledger-commit-log.js';
import { ipv4Bytes } from './message-codec.js';
import { NamesrvRegistrar } from './namesrv-registrar.js';
import { OffsetCommitter } from './offset-committer.js';
import { registerAdminProcessors } from './processors/admin.js';
import { registerClientProcessors } from './processors/client.js';
import { registerConsumeStatsProcessor } from './processors/consume-stats.js';
import { registerOffsetProcessors } from './processors/consumer-offset.js';
import { registerPullProcessor } from './processors/pull.js';
import { registerQueryProcessors } from './processors/query.js';
import { registerSendBackProcessor } from './processors/send-back.js';
import { registerSendProcessors } from './processors/send.js';
import { registerEndTransactionProcessor } from './processors/end-transaction.js';
import { ProducerManager } from './producer-manager.js';
import { TransactionService } from './transaction/transaction-service.js';
import { registerGroupAdminProcessors } from './processors/group-admin.js';
import { registerQueueLockProcessors } from './processors/queue-lock.js';
import { registerTopicAdminProcessors } from './processors/topic-admin.js';
import { QUEUE_LOCKS_EXTENSION, QueueLocks } from './state/queue-locks.js';
import { SUBSCRIPTION_GROUPS_EXTENSION, SubscriptionGroups } from './state/subscription-groups.js';
import { PullHoldService } from './pull-hold.js';
import { KeyedRateMeters, RateMeter } from './rate-meter.js';
import { ScheduleMessageService } from './schedule/schedule-service.js';
import { IndexService } from './store/index-service.js';
import { GrpcEndpoint } from '../grpc/grpc-endpoint.js';
import { serveMetrics } from '../metrics/prometheus.js';
import { BrokerMetrics } from './broker-metrics.js';
import type http from 'node:http';
import { MEMBER_ENDPOINTS_EXTENSION, MemberEndpoints } from '../grpc/member-endpoints.js';
import { POP_EXTENSION, PopState } from '../grpc/pop-state.js';

export interface BrokerOptions {
  readonly config: BrokerConfig;
  readonly log?: (line: string) => void;
  /** DLedger member settings beyond the broker conf (tests: timings, port 0 for peers). */
  readonly nodeConfigOverrides?: Readonly<Record<string, unknown>>;
  /** Raft core overrides (tests). */
  readonly raft?: Partial<RaftConfig>;
  /** Last word on the DLedger member config (tests: peers on port 0, introduced with setPeerPort). */
  readonly mapNodeConfig?: (config: DLedgerNodeConfig) => DLedgerNodeConfig;
  /** Listen for clients on this port instead of listenPort (tests pass 0 for an OS-assigned one). */
  readonly listenPortOverride?: number;
  /** Serve gRPC on this port instead of grpcServerPort (tests pass 0). */
  readonly grpcPortOverride?: number;
}

/** Held pulls at most, over all connections (each holds one timer and one pending answer). */
const HELD_PULLS_MAX = 10_000;
const CLIENT_EXPIRY_SCAN_MS = 10_000;
/** How long a registration as brokerId 0 waits for the member to confirm it still leads. */
const REGISTER_CONFIRM_MASTER_MS = 1000;

export class Broker {
  readonly config: BrokerConfig;
  private readonly log: (line: string) => void;
  private readonly remoting: RemotingServer;
  private readonly client: RemotingClient;
  /** The ACL of the remoting port, when aclEnable. */
  readonly acl: AclService | null;
  private commitLogInstance: BrokerCommitLog | null = null;
  private registrar: NamesrvRegistrar | null = null;
  private schedule: ScheduleMessageService | null = null;
  private index: IndexService | null = null;
  /** Half messages and the transaction check loop (master only). */
  transactions: TransactionService | null = null;
  /** The gRPC endpoint (enableGrpcServer), for the 5.x clients. */
  grpc: GrpcEndpoint | null = null;
  /** Each member's gRPC endpoint, replicated (a state extension). */
  private readonly memberEndpoints: MemberEndpoints;
  /** POP consumption of the 5.x consumers, replicated (a state extension; every member registers it). */
  readonly popState: PopState;
  private readonly consumers: ConsumerManager;
  private readonly pullHold = new PullHoldService(HELD_PULLS_MAX);
  /** Requests refused by a bound (issue 11), per config key. */
  readonly refusals: RefusalCounter;
  private expiryTimer: NodeJS.Timeout | null = null;
  /** metricsExporterType=PROM: the dledger_* and rocketmq_* metrics and their /metrics listener. */
  readonly metrics: BrokerMetrics | null;
  private metricsServer: http.Server | null = null;
  private boundPort = 0;
  private roleKnown = false;
  private closed = false;
  private resolveStopped: (code: number) => void = () => undefined;
  /**
   * Resolves with an exit code once the broker stopped by itself: its DLedger member refused the
   * group's log start or hit a fatal store error (mqbroker exits with it, as runUntilSignal does).
   */
  readonly stoppedByItself: Promise<number> = new Promise((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly options: BrokerOptions) {
    this.config = options.config;
    const name = `broker ${this.config.brokerName}/${this.config.dLegerSelfId}`;
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} [${name}] ${line}\n`));
    this.refusals = new RefusalCounter(this.log);
    this.memberEndpoints = new MemberEndpoints(this.log);
    this.popState = new PopState(this.log);
    this.consumers = new ConsumerManager({ groupsMax: this.config.consumerGroupsMax, clientsMax: this.config.consumerClientsMax, subscriptionsMax: this.config.consumerSubscriptionsMax });
    // Loaded here, before anything listens: a bad ACL file stops the start (AclFileError).
    this.acl = this.config.aclEnable ? new AclService({ file: this.config.aclFilePath, mode: 'broker', log: this.log }) : null;
    this.remoting = new RemotingServer({ name, log: this.log, security: this.config.remotingTls.server, idleTimeoutMs: this.config.listenerLimits.idleTimeoutMs, limits: this.config.listenerLimits.limits, ...(this.acl === null ? {} : { authorize: this.acl.authorize }) });
    const credentials = this.config.aclCredentials;
    this.metrics = this.config.metrics.enabled ? new BrokerMetrics({ cluster: this.config.brokerClusterName, brokerName: this.config.brokerName, group: this.config.dLegerGroup, selfId: this.config.dLegerSelfId || 'classic' }) : null;
    this.client = new RemotingClient({ log: this.log, tls: this.config.remotingTls.client, ...(credentials === null ? {} : { beforeRequest: aclSigningHook(credentials) }) });
  }

  /** brokerIP1:port, as registered and as written into STOREHOST. */
  get brokerAddr(): string {
    return `${this.config.brokerIP1}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The DLedger group (a classic broker has none: see brokerCommitLog). */
  get commitLog(): DLedgerCommitLog {
    assert(this.commitLogInstance instanceof DLedgerCommitLog, 'broker not started, or a classic broker (enableDLegerCommitLog=false)');
    return this.commitLogInstance;
  }

  /** The commit log the processors use: the DLedger group, or the classic single-node log. */
  get brokerCommitLog(): BrokerCommitLog {
    assert(this.commitLogInstance !== null, 'broker not started');
    return this.commitLogInstance;
  }

  /** The brokerId this member registers with now, or null before its first role is known. */
  brokerId(): number | null {
    if (!this.roleKnown || this.commitLogInstance === null) return null;
    // A classic broker is a single master (brokerId 0 in its conf, checked by config.ts).
    if (!this.config.enableDLegerCommitLog) return this.commitLogInstance.role.role === 'master' ? 0 : null;
    return this.commitLogInstance.role.role === 'master' ? 0 : followerBrokerIdOf(this.config.dLegerSelfId);
  }

  async start(): Promise<void> {
    assert(this.commitLogInstance === null && !this.closed, 'start() called twice');
    this.acl?.watch();
    this.boundPort = await this.remoting.listen('0.0.0.0', this.options.listenPortOverride ?? this.config.listenPort);
    await this.serveMetrics();
    const index = new IndexService({ directoryPath: path.join(this.config.storePathRootDir, 'index'), maxHashSlotNum: this.config.maxHashSlotNum, maxIndexNum: this.config.maxIndexNum });
    this.index = index;
    const commitLog = this.openCommitLog(index);
    this.commitLogInstance = commitLog;
    commitLog.state.registerExtension(MEMBER_ENDPOINTS_EXTENSION, this.memberEndpoints);
    const producers = new ProducerManager(this.config.consumerGroupsMax, this.config.consumerClientsMax);
    const transactions = new TransactionService({ config: this.config, commitLog, producers, brokerAddr: this.brokerAddr, log: this.log });
    this.transactions = transactions;
    const groups = new SubscriptionGroups(this.log);
    const queueLocks = new QueueLocks(this.log);
    commitLog.state.registerExtension(SUBSCRIPTION_GROUPS_EXTENSION, groups);
    commitLog.state.registerExtension(QUEUE_LOCKS_EXTENSION, queueLocks);
    commitLog.state.registerExtension(POP_EXTENSION, this.popState);
    if (commitLog instanceof DLedgerCommitLog) {
      void commitLog.stoppedByItself.then(async (code) => {
        this.log(`the DLedger member stopped by itself: closing the broker (exit ${code})`);
        await this.close();
        this.resolveStopped(code);
      });
    }
    const context: BrokerContext = {
      config: this.config,
      brokerAddr: this.brokerAddr,
      commitLog,
      consumers: this.consumers,
      producers,
      transactions,
      pullHold: this.pullHold,
      offsets: new OffsetCommitter(commitLog, this.log),
      log: this.log,
      stats: { messagesPut: 0, messagesPulled: 0, putRate: new RateMeter(), pullRate: new RateMeter(), groupPullRates: new KeyedRateMeters(), startedAtMs: Date.now(), refusals: this.refusals, metrics: this.metrics },
      groups,
      queueLocks,
      transferLeadership: commitLog instanceof DLedgerCommitLog ? (to, timeoutMs) => commitLog.server.transferLeadership(to, timeoutMs) : null,
    };
    registerSendProcessors(this.remoting, context);
    registerPullProcessor(this.remoting, context);
    registerOffsetProcessors(this.remoting, context);
    registerClientProcessors(this.remoting, context);
    registerAdminProcessors(this.remoting, context);
    registerSendBackProcessor(this.remoting, context);
    registerConsumeStatsProcessor(this.remoting, context);
    registerQueryProcessors(this.remoting, context, index);
    registerEndTransactionProcessor(this.remoting, context, transactions);
    registerGroupAdminProcessors(this.remoting, context);
    registerTopicAdminProcessors(this.remoting, context);
    registerQueueLockProcessors(this.remoting, context);
    const schedule = new ScheduleMessageService({ commitLog, offsets: context.offsets, levelsMs: this.config.messageDelayLevelsMs, log: this.log });
    this.schedule = schedule;
    if (this.config.grpc.enabled) {
      this.grpc = new GrpcEndpoint({ broker: context, endpoints: this.memberEndpoints, acl: this.acl, pop: this.popState });
      await this.grpc.listen(this.options.grpcPortOverride ?? this.config.grpc.port);
      transactions.useTelemetry(this.grpc.context.telemetry);
    }
    const registrar = new NamesrvRegistrar({
      clusterName: this.config.brokerClusterName,
      brokerName: this.config.brokerName,
      brokerAddr: this.brokerAddr,
      namesrvAddrs: this.config.namesrvAddrs,
      brokerId: () => this.brokerId(),
      confirmMaster: () => commitLog.confirmMaster(REGISTER_CONFIRM_MASTER_MS),
      topicConfigs: () => commitLog.state.topicConfigs().values(),
      topicsVersion: () => commitLog.state.topicsVersion,
    }, this.client, this.config.registerNameServerPeriodMs, this.log);
    this.registrar = registrar;
    // Retention moved the commit log's start: index files wholly below it go (consume queues were trimmed).
    commitLog.onLogStartMoved((minPhysicalOffset) => index.truncateBelow(minPhysicalOffset));
    commitLog.state.addListener({
      onMessage: (topic, queueId) => this.pullHold.notifyMessage(topic, queueId),
      onStoredMessage: (message, properties) => index.buildIndex(message.topic, properties.get('KEYS'), properties.get('UNIQ_KEY'), message.physicalOffset, message.storeTimestampMs),
      onTopicsChanged: () => {
        if (this.roleKnown) void registrar.registerNow();
      },
    });
    commitLog.onBrokerRoleChange((change) => {
      this.roleKnown = true;
      schedule.setMaster(change.role === 'master');
      transactions.setMaster(change.role === 'master');
      if (change.role === 'master') this.announceGrpcEndpoint(change.term);
      this.log(`broker role ${change.role} (term ${change.term}, leader ${change.leaderId ?? 'none'}): registering as brokerId ${this.brokerId()}`);
      void registrar.registerNow();
    });
    await commitLog.start();
    registrar.start();
    this.expiryTimer = setInterval(() => this.consumers.expire(Date.now()), CLIENT_EXPIRY_SCAN_MS);
    this.expiryTimer.unref();
    const store = this.config.enableDLegerCommitLog ? `DLedger ${this.config.dLegerSelfId} of ${this.config.dLegerGroup}` : `classic commit log ${this.config.storePathCommitLog}`;
    const grpcText = this.grpc === null ? 'gRPC off' : `gRPC on ${this.grpc.context.selfEndpoint()}`;
    this.log(`listening on ${this.brokerAddr}, ${grpcText}, ${store}, name servers ${this.config.namesrvAddrs.join(';')}`);
  }

  /**
   * The Prometheus endpoint (metricsExporterType=PROM) on metricsPromExporterHost:Port, bounded as
   * the other listeners (serveMetrics' ConnectionGuard); a port in use stops the start, named.
   */
  private async serveMetrics(): Promise<void> {
    const metrics = this.metrics;
    if (metrics === null) return;
    const { host, port, maxConnections } = this.config.metrics;
    try {
      const served = await serveMetrics(metrics.registry, host, port, {
        name: `broker ${this.config.brokerName}/${this.config.dLegerSelfId} metrics`, log: this.log, maxConnections,
        onRefusal: (reason) => metrics.dledger.incConnectionRefusals('metrics', reason),
      });
      this.metricsServer = served.server;
      metrics.endpoint = { host, port: served.port };
    } catch (error) {
      await this.remoting.close();
      throw new BrokerConfigError([`metricsPromExporterPort: cannot serve /metrics on ${host}:${port}: ${(error as Error).message}`]);
    }
    this.log(`metrics on http://${host}:${metrics.endpoint.port}/metrics`);
  }

  /**
   * A new master writes its gRPC endpoint into the log (once per term, until it is there), so the
   * followers' endpoints route clients to it (src/grpc/member-endpoints.ts).
   */
  private announceGrpcEndpoint(term: number): void {
    const grpcEndpoint = this.grpc;
    const commitLog = this.commitLogInstance;
    if (grpcEndpoint === null || commitLog === null) return;
    const memberId = this.config.dLegerSelfId || 'classic';
    const endpoint = grpcEndpoint.context.selfEndpoint();
    const attempt = (): void => {
      if (this.closed || commitLog.role.role !== 'master' || commitLog.role.term !== term || this.memberEndpoints.endpointOf(memberId) === endpoint) return;
      commitLog.proposeCommand({ type: 'extension', extension: MEMBER_ENDPOINTS_EXTENSION, body: { memberId, endpoint } }).catch((error: Error) => {
        this.log(`gRPC endpoint ${endpoint} not announced yet: ${error.message}`);
        setTimeout(attempt, 1000).unref();
      });
    };
    attempt();
  }

  /**
   * The store selection: enableDLegerCommitLog=false is the classic log under storePathCommitLog;
   * true is the DLedger group, continuing the classic log when one is there (classic-upgrade.ts).
   */
  private openCommitLog(index: IndexService): BrokerCommitLog {
    const storeHost = { ip: ipv4Bytes(this.config.brokerIP1), port: this.boundPort };
    const maxMessageBytes = maxStoredMessageBytes(this.config.maxMessageSize);
    if (!this.config.enableDLegerCommitLog) {
      assertNotUpgraded(this.config.storePathRootDir);
      index.load(null); // the classic log is re-indexed from its files on every start
      return new ClassicCommitLog({
        directoryPath: this.config.storePathCommitLog, fileSizeBytes: this.config.mappedFileSizeCommitLog, maxMessageBytes,
        flushDiskType: this.config.flushDiskType, storeHost, log: this.log,
      });
    }
    const nodeConfig = (this.options.mapNodeConfig ?? ((c) => c))(toNodeConfig(this.config, this.options.nodeConfigOverrides));
    const classic = prepareClassicUpgrade({
      classicDirectoryPath: this.config.storePathCommitLog, fileSizeBytes: this.config.mappedFileSizeCommitLog, maxMessageBytes,
      dledgerNodeDir: path.join(nodeConfig.storeBaseDir, `dledger-${nodeConfig.selfId}`), log: this.log,
    });
    return new DLedgerCommitLog({
      nodeConfig, storeHost, log: this.log, retention: this.config.retention.settings,
      ...(this.metrics === null ? {} : { metrics: this.metrics.dledger }),
      consumeQueues: {
        directoryPath: path.join(this.config.storePathRootDir, 'consumequeue'), fileSizeBytes: this.config.mappedFileSizeConsumeQueue, flushIntervalMs: this.config.flushIntervalConsumeQueueMs,
        durableStateDir: this.config.storePathRootDir, index,
      },
      ...(this.options.raft === undefined ? {} : { raft: this.options.raft }),
      classicDirectoryPath: this.config.storePathCommitLog,
      ...(classic === null ? {} : { classic }),
    });
  }

  /** Unregister, answer held pulls, stop serving, close the commit log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    this.schedule?.close();
    this.transactions?.close();
    await this.registrar?.close();
    this.pullHold.close();
    await this.grpc?.close();
    await this.remoting.close();
    const metricsServer = this.metricsServer;
    if (metricsServer !== null) {
      const closed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      metricsServer.closeAllConnections();
      await closed;
    }
    await this.commitLogInstance?.close();
    this.index?.close();
    this.client.close();
    this.acl?.close();
  }
}
