// One broker process of a DLedger group (BrokerController in DLedger mode): the remoting server
// on listenPort with the request processors, the DLedger commit log, and the registration with
// the name servers — brokerId 0 while master, the digits of dLegerSelfId + 1 otherwise, sent at
// once on every role change and topic change and every registerNameServerPeriod.
import { RemotingClient } from '../remoting/client.js';
import { RemotingServer } from '../remoting/server.js';
import type { DLedgerNodeConfig } from '../node/config.js';
import type { RaftConfig } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { type BrokerConfig, followerBrokerIdOf, toNodeConfig } from './config.js';
import { ConsumerManager } from './consumer-manager.js';
import type { BrokerContext } from './context.js';
import { DLedgerCommitLog } from './dledger-commit-log.js';
import { ipv4Bytes } from './message-codec.js';
import { NamesrvRegistrar } from './namesrv-registrar.js';
import { OffsetCommitter } from './offset-committer.js';
import { registerAdminProcessors } from './processors/admin.js';
import { registerClientProcessors } from './processors/client.js';
import { registerConsumeStatsProcessor } from './processors/consume-stats.js';
import { registerOffsetProcessors } from './processors/consumer-offset.js';
import { registerPullProcessor } from './processors/pull.js';
import { registerSendBackProcessor } from './processors/send-back.js';
import { registerSendProcessors } from './processors/send.js';
import { PullHoldService } from './pull-hold.js';
import { RateMeter } from './rate-meter.js';
import { ScheduleMessageService } from './schedule/schedule-service.js';

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
}

/** Held pulls at most, over all connections (each holds one timer and one pending answer). */
const HELD_PULLS_MAX = 10_000;
const CLIENT_EXPIRY_SCAN_MS = 10_000;

export class Broker {
  readonly config: BrokerConfig;
  private readonly log: (line: string) => void;
  private readonly remoting: RemotingServer;
  private readonly client: RemotingClient;
  private commitLogInstance: DLedgerCommitLog | null = null;
  private registrar: NamesrvRegistrar | null = null;
  private schedule: ScheduleMessageService | null = null;
  private readonly consumers = new ConsumerManager();
  private readonly pullHold = new PullHoldService(HELD_PULLS_MAX);
  private expiryTimer: NodeJS.Timeout | null = null;
  private boundPort = 0;
  private roleKnown = false;
  private closed = false;

  constructor(private readonly options: BrokerOptions) {
    this.config = options.config;
    const name = `broker ${this.config.brokerName}/${this.config.dLegerSelfId}`;
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} [${name}] ${line}\n`));
    this.remoting = new RemotingServer({ name, log: this.log });
    this.client = new RemotingClient({ log: this.log });
  }

  /** brokerIP1:port, as registered and as written into STOREHOST. */
  get brokerAddr(): string {
    return `${this.config.brokerIP1}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get commitLog(): DLedgerCommitLog {
    assert(this.commitLogInstance !== null, 'broker not started');
    return this.commitLogInstance;
  }

  /** The brokerId this member registers with now, or null before its first role is known. */
  brokerId(): number | null {
    if (!this.roleKnown || this.commitLogInstance === null) return null;
    return this.commitLogInstance.role.role === 'master' ? 0 : followerBrokerIdOf(this.config.dLegerSelfId);
  }

  async start(): Promise<void> {
    assert(this.commitLogInstance === null && !this.closed, 'start() called twice');
    this.boundPort = await this.remoting.listen('0.0.0.0', this.options.listenPortOverride ?? this.config.listenPort);
    const commitLog = new DLedgerCommitLog({
      nodeConfig: (this.options.mapNodeConfig ?? ((c) => c))(toNodeConfig(this.config, this.options.nodeConfigOverrides)),
      storeHost: { ip: ipv4Bytes(this.config.brokerIP1), port: this.boundPort },
      log: this.log,
      ...(this.options.raft === undefined ? {} : { raft: this.options.raft }),
    });
    this.commitLogInstance = commitLog;
    const context: BrokerContext = {
      config: this.config,
      brokerAddr: this.brokerAddr,
      commitLog,
      consumers: this.consumers,
      pullHold: this.pullHold,
      offsets: new OffsetCommitter(commitLog, this.log),
      log: this.log,
      stats: { messagesPut: 0, messagesPulled: 0, putRate: new RateMeter(), pullRate: new RateMeter(), startedAtMs: Date.now() },
    };
    registerSendProcessors(this.remoting, context);
    registerPullProcessor(this.remoting, context);
    registerOffsetProcessors(this.remoting, context);
    registerClientProcessors(this.remoting, context);
    registerAdminProcessors(this.remoting, context);
    registerSendBackProcessor(this.remoting, context);
    registerConsumeStatsProcessor(this.remoting, context);
    const schedule = new ScheduleMessageService({ commitLog, offsets: context.offsets, levelsMs: this.config.messageDelayLevelsMs, log: this.log });
    this.schedule = schedule;
    const registrar = new NamesrvRegistrar({
      clusterName: this.config.brokerClusterName,
      brokerName: this.config.brokerName,
      brokerAddr: this.brokerAddr,
      namesrvAddrs: this.config.namesrvAddrs,
      brokerId: () => this.brokerId(),
      topicConfigs: () => commitLog.state.topicConfigs().values(),
      topicsVersion: () => commitLog.state.topicsVersion,
    }, this.client, this.config.registerNameServerPeriodMs, this.log);
    this.registrar = registrar;
    commitLog.state.addListener({
      onMessage: (topic, queueId) => this.pullHold.notifyMessage(topic, queueId),
      onTopicsChanged: () => {
        if (this.roleKnown) void registrar.registerNow();
      },
    });
    commitLog.onBrokerRoleChange((change) => {
      this.roleKnown = true;
      schedule.setMaster(change.role === 'master');
      this.log(`broker role ${change.role} (term ${change.term}, leader ${change.leaderId ?? 'none'}): registering as brokerId ${this.brokerId()}`);
      void registrar.registerNow();
    });
    await commitLog.start();
    registrar.start();
    this.expiryTimer = setInterval(() => this.consumers.expire(Date.now()), CLIENT_EXPIRY_SCAN_MS);
    this.expiryTimer.unref();
    this.log(`listening on ${this.brokerAddr}, DLedger ${this.config.dLegerSelfId} of ${this.config.dLegerGroup}, name servers ${this.config.namesrvAddrs.join(';')}`);
  }

  /** Unregister, answer held pulls, stop serving, close the commit log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    this.schedule?.close();
    await this.registrar?.close();
    this.pullHold.close();
    await this.remoting.close();
    await this.commitLogInstance?.close();
    this.client.close();
  }
}
