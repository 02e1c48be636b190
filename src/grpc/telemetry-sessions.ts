// Telemetry streams (MessagingService.Telemetry, one per client and endpoint): the client sends
// its Settings, we answer with the settings it must use (RocketMQ's proxy GrpcClientSettingsManager:
// the retry/backoff policy, body size limit, batch size, long polling timeout); over the same
// stream the broker asks the client for its thread stacks (PrintThreadStackTraceCommand), to
// verify a message (VerifyMessageCommand) and to resolve an orphaned transaction
// (RecoverOrphanedTransactionCommand). Bounded: sessions at most telemetrySessionsMax, commands
// awaiting an answer at most PENDING_PER_SESSION_MAX per session, each for at most its timeout.
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { durationOf, OK, status, type PbMessage, type PbStatus } from './messaging-proto.js';

export const PENDING_PER_SESSION_MAX = 64;

export interface ClientSettings {
  readonly clientType: string;
  readonly group: string | null;
  readonly topics: readonly string[];
}

/** What the broker tells clients (as RocketMQ's proxy does by default). */
export interface SettingsPolicy {
  readonly maxBodySizeBytes: number;
  /** DLQ after this many deliveries (maxReconsumeTimes + 1). */
  readonly consumerMaxAttempts: number;
  readonly receiveBatchSize: number;
  readonly longPollingTimeoutMs: number;
  /** A FIFO consumer group (its subscription group's consumeMessageOrderly, as RocketMQ's GrpcClientSettingsManager reads it). */
  readonly isFifoGroup: (group: string) => boolean;
}

interface Pending {
  readonly resolve: (value: { status: PbStatus; text: string | null }) => void;
  readonly timer: NodeJS.Timeout;
}

export interface TelemetrySession {
  readonly clientId: string;
  readonly stream: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;
  settings: ClientSettings | null;
  readonly pending: Map<string, Pending>;
  /** The one repeat of the first settings answer (see SETTINGS_REPEAT_MS). */
  repeat?: NodeJS.Timeout;
}

/**
 * The first settings answer of a session is written once more this long after it. rocketmq-client-
 * nodejs 1.0.8's startup() sends its settings while it still queries the routes of its other topics
 * and only then starts waiting for the answer: an answer that came before is dropped and startup()
 * waits for ever (7 of 30 Producer startups with 3 topics on a follower's endpoint, at load ~15).
 * RocketMQ's proxy answers once (it would hang the same way); a repeated settings command is
 * idempotent for every 5.x client (they sync the settings again).
 */
export const SETTINGS_REPEAT_MS = 1000;

export class TelemetrySessions {
  private readonly sessions = new Map<string, TelemetrySession>();
  refused = 0;

  constructor(private readonly max: number, private readonly policy: SettingsPolicy, private readonly log: (line: string) => void) {}

  get size(): number {
    return this.sessions.size;
  }

  session(clientId: string): TelemetrySession | null {
    return this.sessions.get(clientId) ?? null;
  }

  /** Client ids with a session whose settings are those of a producer of `topic` (any producer when its settings list no topics). */
  producersOf(topic: string): string[] {
    return [...this.sessions.values()].filter((s) => s.settings?.clientType === 'PRODUCER' && (s.settings.topics.length === 0 || s.settings.topics.includes(topic))).map((s) => s.clientId);
  }

  /** A new stream; false (and the stream is ended with RESOURCE_EXHAUSTED by the caller) when over the bound. */
  open(clientId: string, stream: TelemetrySession['stream'], onSettings: (settings: ClientSettings) => void): boolean {
    const previous = this.sessions.get(clientId);
    if (previous === undefined && this.sessions.size >= this.max) {
      this.refused++;
      return false;
    }
    if (previous !== undefined) this.close(previous);
    const session: TelemetrySession = { clientId, stream, settings: null, pending: new Map() };
    this.sessions.set(clientId, session);
    stream.on('data', (command: Record<string, unknown>) => this.onCommand(session, command, onSettings));
    const end = (): void => {
      if (this.sessions.get(clientId) === session) this.sessions.delete(clientId);
      this.failPending(session);
    };
    stream.on('end', () => {
      end();
      stream.end();
    });
    stream.on('error', end);
    stream.on('cancelled', end);
    return true;
  }

  closeAll(): void {
    for (const session of this.sessions.values()) this.close(session);
    this.sessions.clear();
  }

  /** Ask a client for its thread stacks; resolves with the text, or null (no session, no answer in time). */
  async printThreadStack(clientId: string, timeoutMs: number): Promise<string | null> {
    const answer = await this.ask(clientId, (nonce) => ({ printThreadStackTraceCommand: { nonce } }), timeoutMs);
    return answer === null ? null : answer.text;
  }

  /** Ask a client to verify (consume) a message; resolves with the client's status, or null. */
  async verifyMessage(clientId: string, message: PbMessage, timeoutMs: number): Promise<PbStatus | null> {
    const answer = await this.ask(clientId, (nonce) => ({ verifyMessageCommand: { nonce, message } }), timeoutMs);
    return answer === null ? null : answer.status;
  }

  /** Send a command that has no answer (RecoverOrphanedTransactionCommand); false when the client has no session. */
  send(clientId: string, command: Record<string, unknown>): boolean {
    const session = this.sessions.get(clientId);
    if (session === undefined) return false;
    session.stream.write(command);
    return true;
  }

  private ask(clientId: string, build: (nonce: string) => Record<string, unknown>, timeoutMs: number): Promise<{ status: PbStatus; text: string | null } | null> {
    const session = this.sessions.get(clientId);
    if (session === undefined || session.pending.size >= PENDING_PER_SESSION_MAX) return Promise.resolve(null);
    const nonce = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        session.pending.delete(nonce);
        resolve(null);
      }, timeoutMs);
      session.pending.set(nonce, { resolve, timer });
      session.stream.write(build(nonce));
    });
  }

  private onCommand(session: TelemetrySession, command: Record<string, unknown>, onSettings: (settings: ClientSettings) => void): void {
    const commandStatus = (command['status'] ?? null) as PbStatus | null;
    switch (command['command']) {
      case 'settings': {
        const settings = parseClientSettings(command['settings']);
        if (settings === null) {
          session.stream.write({ status: status('BAD_REQUEST', 'settings need a client type and, for a consumer, a group') });
          return;
        }
        const first = session.settings === null;
        session.settings = settings;
        onSettings(settings);
        const answer = { status: OK, settings: this.answer(command['settings'] as Record<string, unknown>, settings) };
        session.stream.write(answer);
        if (first) {
          session.repeat = setTimeout(() => {
            if (this.sessions.get(session.clientId) === session) session.stream.write(answer);
          }, SETTINGS_REPEAT_MS);
          session.repeat.unref();
        }
        return;
      }
      case 'threadStackTrace': {
        const trace = command['threadStackTrace'] as { nonce?: string; threadStackTrace?: string | null } | undefined;
        this.settle(session, trace?.nonce, { status: commandStatus ?? OK, text: trace?.threadStackTrace ?? null });
        return;
      }
      case 'verifyMessageResult':
        this.settle(session, (command['verifyMessageResult'] as { nonce?: string } | undefined)?.nonce, { status: commandStatus ?? OK, text: null });
        return;
      case 'verifyMessageCommand':
        // rocketmq-client-nodejs 1.0.8 answers a verification with its own command echoed and NOT_IMPLEMENTED.
        this.settle(session, (command['verifyMessageCommand'] as { nonce?: string } | undefined)?.nonce, { status: commandStatus ?? OK, text: null });
        return;
      default:
        this.log(`telemetry from ${session.clientId}: command ${String(command['command'])} ignored`);
    }
  }

  private settle(session: TelemetrySession, nonce: string | undefined, value: { status: PbStatus; text: string | null }): void {
    if (nonce === undefined) return;
    const pending = session.pending.get(nonce);
    if (pending === undefined) return;
    session.pending.delete(nonce);
    clearTimeout(pending.timer);
    pending.resolve(value);
  }

  private failPending(session: TelemetrySession): void {
    clearTimeout(session.repeat);
    for (const pending of session.pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve({ status: status('INTERNAL_ERROR', 'telemetry session ended'), text: null });
    }
    session.pending.clear();
  }

  private close(session: TelemetrySession): void {
    this.failPending(session);
    try {
      session.stream.end();
    } catch {
      // already ended
    }
  }

  /** The settings the client must use, built on what it sent (access point, user agent kept). */
  private answer(sent: Record<string, unknown>, settings: ClientSettings): Record<string, unknown> {
    const common = { clientType: settings.clientType, accessPoint: sent['accessPoint'], requestTimeout: sent['requestTimeout'], userAgent: sent['userAgent'], metric: { on: false } };
    if (settings.clientType === 'PRODUCER') {
      return {
        ...common,
        backoffPolicy: { maxAttempts: 3, exponentialBackoff: { initial: durationOf(10), max: durationOf(1000), multiplier: 2 } },
        publishing: { topics: (sent['publishing'] as Record<string, unknown> | undefined)?.['topics'] ?? [], maxBodySize: this.policy.maxBodySizeBytes, validateMessageType: true },
      };
    }
    const subscription = (sent['subscription'] ?? {}) as Record<string, unknown>;
    const group = settings.group;
    return {
      ...common,
      backoffPolicy: { maxAttempts: this.policy.consumerMaxAttempts, exponentialBackoff: { initial: durationOf(1000), max: durationOf(60_000), multiplier: 2 } },
      subscription: {
        group: subscription['group'],
        subscriptions: subscription['subscriptions'] ?? [],
        fifo: group !== null && this.policy.isFifoGroup(group),
        receiveBatchSize: this.policy.receiveBatchSize,
        longPollingTimeout: durationOf(this.policy.longPollingTimeoutMs),
      },
    };
  }
}

const CLIENT_TYPES = new Set(['PRODUCER', 'PUSH_CONSUMER', 'SIMPLE_CONSUMER', 'PULL_CONSUMER']);

function parseClientSettings(value: unknown): ClientSettings | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const clientType = v['clientType'];
  if (typeof clientType !== 'string' || !CLIENT_TYPES.has(clientType)) return null;
  if (clientType === 'PRODUCER') {
    const topics = ((v['publishing'] as Record<string, unknown> | undefined)?.['topics'] ?? []) as Array<{ name?: unknown }>;
    return { clientType, group: null, topics: topics.flatMap((t) => (typeof t?.name === 'string' ? [t.name] : [])).slice(0, 1024) };
  }
  const subscription = v['subscription'] as Record<string, unknown> | undefined;
  const group = (subscription?.['group'] as { name?: unknown } | undefined)?.name;
  if (typeof group !== 'string' || group === '') return null;
  const entries = (subscription?.['subscriptions'] ?? []) as Array<{ topic?: { name?: unknown } }>;
  return { clientType, group, topics: entries.flatMap((e) => (typeof e?.topic?.name === 'string' ? [e.topic.name] : [])).slice(0, 1024) };
}
