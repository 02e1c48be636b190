// The name server: a remoting server with the route handlers, a route table, and the two ways
// a broker leaves it besides unregistering — its connection closes, or it stops re-registering
// for longer than its expiry (checked every scanNotActiveBrokerIntervalMs).
import { RefusalCounter } from '../remoting/refusals.js';
import { AclService } from '../acl/acl-service.js';
import { RemotingServer } from '../remoting/server.js';
import { registerNamesrvHandlers } from './processor.js';
import { RouteInfo } from './route-info.js';
import type { NamesrvConfig } from './config.js';

export interface NameServerOptions {
  readonly config: NamesrvConfig;
  readonly log?: (line: string) => void;
  /** Injected clock for expiry tests; Date.now by default. */
  readonly nowMs?: () => number;
}

export class NameServer {
  readonly routeInfo: RouteInfo;
  /** Requests refused by a bound, per config key. */
  readonly refusals: RefusalCounter;
  private readonly server: RemotingServer;
  /** Checks REGISTER_BROKER / UNREGISTER_BROKER when aclEnable. */
  readonly acl: AclService | null;
  private readonly nowMs: () => number;
  private scanTimer: NodeJS.Timeout | null = null;
  private boundPort: number | null = null;

  constructor(private readonly options: NameServerOptions) {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.nowMs = options.nowMs ?? Date.now;
    this.routeInfo = new RouteInfo(log);
    // Loaded before anything listens: a bad ACL file stops the start (AclFileError).
    this.acl = options.config.aclEnable ? new AclService({ file: options.config.aclFilePath, mode: 'namesrv', log }) : null;
    this.server = new RemotingServer({ name: 'namesrv', log, security: options.config.security, idleTimeoutMs: options.config.listenerLimits.idleTimeoutMs, limits: options.config.listenerLimits.limits, ...(this.acl === null ? {} : { authorize: this.acl.authorize }) });
    this.refusals = new RefusalCounter((line) => log(`namesrv: ${line}`));
    registerNamesrvHandlers(this.server, {
      routeInfo: this.routeInfo, nowMs: this.nowMs, brokerExpiryMs: options.config.brokerChannelExpiredTimeMs,
      registerBrokerBodyMaxBytes: options.config.registerBrokerBodyMaxBytes, refusals: this.refusals,
    });
    this.server.onConnectionClosed((connection) => this.routeInfo.onConnectionClosed(connection.id));
  }

  /** Listen on the configured address and port (0 = any free port); resolves with the port. */
  async start(): Promise<number> {
    this.acl?.watch();
    this.boundPort = await this.server.listen(this.options.config.bindAddress, this.options.config.listenPort);
    this.scanTimer = setInterval(() => this.scanNotActiveBrokers(), this.options.config.scanNotActiveBrokerIntervalMs);
    this.scanTimer.unref();
    return this.boundPort;
  }

  get port(): number | null {
    return this.boundPort;
  }

  /** Remove expired brokers now (the timer calls this; tests with an injected clock too). */
  scanNotActiveBrokers(): string[] {
    return this.routeInfo.scanNotActive(this.nowMs());
  }

  async close(): Promise<void> {
    if (this.scanTimer !== null) clearInterval(this.scanTimer);
    this.scanTimer = null;
    await this.server.close();
    this.acl?.close();
  }
}
