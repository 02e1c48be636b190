// Registration with the name servers (BrokerController.registerBrokerAll / unregisterBrokerAll):
// REGISTER_BROKER to every configured name server with this member's brokerId and topic table,
// at once on every broker-role change and topic change, and every registerNameServerPeriod.
// A DLedger member registers nothing before its first role is known (apache/rocketmq#1464): the
// brokerId is 0 for the master and the digits of selfId + 1 otherwise.
import { crc32 } from 'node:zlib';
import { RequestCode, ResponseCode } from '../remoting/codes.js';
import { createRequest } from '../remoting/command.js';
import type { RemotingClient } from '../remoting/client.js';
import type { TopicConfig } from './state/topic-config.js';

export interface RegistrationSource {
  readonly clusterName: string;
  readonly brokerName: string;
  /** brokerIP1:listenPort */
  readonly brokerAddr: string;
  readonly namesrvAddrs: readonly string[];
  /** null until the first role is known: nothing is registered before then. */
  brokerId(): number | null;
  /** Before registering as brokerId 0: whether this member still leads (a quorum confirms it). */
  confirmMaster?(): Promise<boolean>;
  topicConfigs(): Iterable<TopicConfig>;
  /** DataVersion.counter: changes whenever the topic table does. */
  topicsVersion(): number;
}

const REGISTER_TIMEOUT_MS = 3000;
/** A master that could not confirm it leads tries again this soon (not a whole period later). */
const UNCONFIRMED_RETRY_MS = 500;

export class NamesrvRegistrar {
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private lastRegisteredId: number | null = null;
  /** Whether the last round skipped brokerId 0 for want of a confirmation (logged once per spell). */
  private masterUnconfirmed = false;
  private closed = false;
  private readonly startedAtMs = Date.now();

  constructor(
    private readonly source: RegistrationSource,
    private readonly client: RemotingClient,
    private readonly periodMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.registerNow(), this.periodMs);
    this.timer.unref();
  }

  /**
   * Register with every name server now. Calls made while one is in flight coalesce into one more
   * round after it, so the last state always gets registered.
   */
  registerNow(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.inFlight !== null) {
      this.again = true;
      return this.inFlight;
    }
    const round = async (): Promise<void> => {
      do {
        this.again = false;
        await this.registerOnce();
      } while (this.again);
    };
    this.inFlight = round().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async registerOnce(): Promise<void> {
    if (this.source.brokerId() === 0 && this.source.confirmMaster !== undefined) {
      // Chaos R3: a deposed master resumed from a pause still believes it leads, and its overdue
      // periodic registration took brokerId 0 back from the real master at the name servers
      // (which then list no master until the real one registers again: up to a period).
      const confirmed = await this.source.confirmMaster();
      if (!confirmed) {
        if (!this.masterUnconfirmed) this.log('not registering as brokerId 0: this member could not confirm it still leads');
        this.masterUnconfirmed = true;
        // A slow confirmation must not leave the real master unlisted for a whole period.
        if (this.retryTimer === null && !this.closed) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            void this.registerNow();
          }, UNCONFIRMED_RETRY_MS);
          this.retryTimer.unref();
        }
        return;
      }
      this.masterUnconfirmed = false;
    }
    // Read again: the role may have changed while confirming (that change asked for a round too).
    const brokerId = this.source.brokerId();
    if (brokerId === null) return;
    const topicConfigTable: Record<string, TopicConfig> = {};
    // Without attributes: Java 4.9's TopicConfig has none and the name server reads none; with them
    // a few large ones pushed the body past the 16 MiB frame cap (issue 11). Every other field is
    // bounded (REGISTERED_TOPIC_MAX_BYTES in config.ts), and topicsMax keeps the body in a frame.
    for (const { attributes: _attributes, ...config } of this.source.topicConfigs()) topicConfigTable[config.topicName] = config as TopicConfig;
    const body = Buffer.from(JSON.stringify({
      topicConfigSerializeWrapper: {
        topicConfigTable,
        dataVersion: { stateVersion: 0, timestamp: this.startedAtMs, counter: this.source.topicsVersion() },
      },
      filterServerList: [],
    }), 'utf8');
    await Promise.all(this.source.namesrvAddrs.map(async (addr) => {
      const request = createRequest(RequestCode.REGISTER_BROKER, {
        extFields: {
          brokerName: this.source.brokerName,
          brokerAddr: this.source.brokerAddr,
          clusterName: this.source.clusterName,
          haServerAddr: this.source.brokerAddr,
          brokerId,
          compressed: false,
          enableActingMaster: false,
          bodyCrc32: (crc32(body) & 0x7fffffff) >>> 0,
        },
        body,
      });
      try {
        const response = await this.client.invoke(addr, request, REGISTER_TIMEOUT_MS);
        if (response.code !== ResponseCode.SUCCESS) this.log(`register with name server ${addr} failed: code ${response.code} ${response.remark ?? ''}`);
        else if (this.lastRegisteredId !== brokerId) this.log(`registered with name server ${addr} as brokerId ${brokerId}`);
      } catch (error) {
        this.log(`register with name server ${addr} failed: ${(error as Error).message}`);
      }
    }));
    this.lastRegisteredId = brokerId;
  }

  /** Stop the timer and unregister (graceful shutdown), best effort. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    await this.inFlight?.catch(() => undefined);
    const brokerId = this.lastRegisteredId;
    if (brokerId === null) return;
    await Promise.all(this.source.namesrvAddrs.map(async (addr) => {
      const request = createRequest(RequestCode.UNREGISTER_BROKER, {
        extFields: { brokerName: this.source.brokerName, brokerAddr: this.source.brokerAddr, clusterName: this.source.clusterName, brokerId },
      });
      await this.client.invoke(addr, request, REGISTER_TIMEOUT_MS).catch(() => undefined);
    }));
  }
}
