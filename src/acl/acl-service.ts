// The ACL of one listener (broker or name server): the rules of the ACL file, re-read when the
// file changes (stat polling, like RocketMQ's AclFileWatchService), and the authorize hook the
// remoting server calls before dispatching a request. A new file that does not load keeps the
// rules in force and logs why; the first load must succeed (the process refuses to start).
import fs from 'node:fs';
import { ResponseCode } from '../remoting/codes.js';
import type { RemotingCommand } from '../remoting/command.js';
import type { RemotingConnection } from '../remoting/connection.js';
import type { Rejection } from '../remoting/server.js';
import { AclFileError, loadAclFile, type AclRules } from './acl-file.js';
import { hostOf } from './remote-address.js';
import { checkRequest, type AclMode, type AclRefusal } from './validator.js';

export interface AclServiceOptions {
  readonly file: string;
  readonly mode: AclMode;
  readonly log: (line: string) => void;
  /** How often the file's stat is polled for a change (RocketMQ: 5 s). */
  readonly pollIntervalMs?: number;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;
/** Refusals of one kind are logged at most this often; the rest are counted into the next line. */
const REFUSAL_LOG_INTERVAL_MS = 1000;

export class AclService {
  // Invariant: always a file that loaded completely; a bad reload never replaces it.
  private rulesInForce: AclRules;
  /** Refusals since start, by kind (the remoting listeners have no metrics registry). */
  readonly refusals = new Map<AclRefusal['kind'], number>();
  private readonly lastLogged = new Map<AclRefusal['kind'], { atMs: number; suppressed: number }>();
  private pollTimer: NodeJS.Timeout | null = null;
  // Invariant: the stat of the file as it was when last read (loaded or refused), so a change made
  // between the load and the first poll is still seen (fs.watchFile's own baseline would miss it).
  private statAtLastRead: string;
  reloads = 0;

  /** Loads the file now; throws AclFileError when it does not load. */
  constructor(private readonly options: AclServiceOptions) {
    this.statAtLastRead = statKey(options.file);
    this.rulesInForce = loadAclFile(options.file);
    options.log(`ACL (${options.mode}) on: ${this.describe()}`);
  }

  get rules(): AclRules {
    return this.rulesInForce;
  }

  /** Start re-reading the file whenever its stat changes. */
  watch(): void {
    if (this.pollTimer !== null) return;
    this.pollTimer = setInterval(() => {
      const now = statKey(this.options.file);
      if (now === this.statAtLastRead) return;
      this.reload();
    }, this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
    this.pollTimer.unref();
  }

  /** Re-read the file; on failure keep the rules in force. Returns whether the new file is in force. */
  reload(): boolean {
    this.statAtLastRead = statKey(this.options.file);
    try {
      this.rulesInForce = loadAclFile(this.options.file);
    } catch (error) {
      if (!(error instanceof AclFileError)) throw error;
      this.options.log(`ACL file changed but does not load; keeping the rules in force: ${error.message}`);
      return false;
    }
    this.reloads++;
    this.options.log(`ACL file re-read: ${this.describe()}`);
    return true;
  }

  /** The remoting server's pre-dispatch hook. */
  readonly authorize = (request: RemotingCommand, connection: RemotingConnection): Rejection | null => {
    const refusal = checkRequest(this.rulesInForce, this.options.mode, request, hostOf(connection.remoteAddress));
    if (refusal === null) return null;
    this.refusals.set(refusal.kind, (this.refusals.get(refusal.kind) ?? 0) + 1);
    this.logRefusal(refusal);
    return { code: ResponseCode.NO_PERMISSION, remark: refusal.remark };
  };

  close(): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private describe(): string {
    const admins = [...this.rulesInForce.accounts.values()].filter((a) => a.admin).length;
    return `${this.options.file}: ${this.rulesInForce.accounts.size} accounts (${admins} admin), ${this.rulesInForce.globalWhiteRemoteAddresses.length} global white addresses`;
  }

  private logRefusal(refusal: AclRefusal): void {
    const now = Date.now();
    const last = this.lastLogged.get(refusal.kind);
    if (last !== undefined && now - last.atMs < REFUSAL_LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    const more = last !== undefined && last.suppressed > 0 ? ` (+${last.suppressed} more ${refusal.kind} refusals since the last line)` : '';
    this.lastLogged.set(refusal.kind, { atMs: now, suppressed: 0 });
    this.options.log(`ACL refused: ${refusal.remark}${more}`);
  }
}

/** What identifies one version of the file: a missing file is a version too (it reloads and fails). */
function statKey(file: string): string {
  try {
    const stat = fs.statSync(file);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}
