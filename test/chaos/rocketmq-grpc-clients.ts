// Goal: the RocketMQ 5 client mix of the RocketMQ chaos campaign (issue 14: "the RocketMQ chaos
// campaign gets a gRPC client mix and stays clean"): rocketmq-client-nodejs 1.0.8, unchanged,
// Producers and one SimpleConsumer group against the brokers' gRPC endpoints, every operation
// recorded for the checkers (rocketmq-checker.ts for the log and the drain, rocketmq-grpc-checker.ts
// for what the SimpleConsumer group received and acked).
// Producers: `producers` Producers with `inFlight` lanes each send NORMAL messages `g{p}-{seq}` to
// the campaign's topic (next to ali-ons' `p{p}-{seq}`); one more Producer sends FIFO messages to a
// FIFO topic (message.type FIFO): `fifoGroups` message groups `grp{k}`, one lane per group, each
// send after the previous one's answer (what FIFO per group needs of a producer), bodies
// `f{k}-{seq}`. maxAttempts 1: every send() is exactly one SendMessage, so a send's attempts are
// ['stored'] (answered OK), ['refused'] (the broker answered "not the master (...)": it checks its
// role before appending) or ['maybe'] (anything else: the entry may still commit).
// Consumers: one SimpleConsumer (group CG_chaos_grpc, CONSUMER_LANES receives at once) on the NORMAL
// topic, one (group CG_chaos_grpc_fifo, consumeMessageOrderly: a FIFO group, one receive at a time,
// so its history shows the order the broker kept per message group) on the FIFO topic; both receive
// with an invisible time of INVISIBLE_MS and ack everything they receive; every receive records its invoke
// time and each message's stored position (topic, queue, offset from our receipt handle, whose format
// is `topic queueId offset attempt visibleAt`: src/grpc/pop-messages.ts), every ack its answer.
// 1.0.8 clients do not follow a failover by themselves: the Producer never leaves the endpoint of a
// dead master (its route refresh does not reach its publishing cache), the consumer's route is
// refreshed every 30 s. So, as an application would restart them, a client that has failed for
// RESTART_AFTER_MS is replaced by a new one on the next broker's endpoint (the access point; a
// follower routes to the master). Startup is bounded by STARTUP_TIMEOUT_MS.
// Shutdown hygiene (1.0.8): shutdown() stops at a NotifyClientTermination to a dead endpoint and
// then never releases its Telemetry streams, which renew every second for ever and emit 'error' with
// no listener (an uncaught exception). `guard` bounds that notification (errors swallowed), keeps
// one error listener on every Telemetry stream, and hands a closed client an inert stream should
// a renewal timer fire after its shutdown.
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { rocketmq5 } from '../grpc/client.js';
import { recordOutcome } from './op-outcome.js';
import type { AttemptResult, SendOp, SendOutcome } from './rocketmq-clients.js';

export const GRPC_GROUP = 'CG_chaos_grpc';
/** The FIFO topic's consumer group (rocketmq-grpc-part.ts creates it with consumeMessageOrderly=true). */
export const GRPC_FIFO_GROUP = 'CG_chaos_grpc_fifo';
/** The SimpleConsumer's invisible duration (the brokers run with grpcMinInvisibleTimeMs=1000). */
export const INVISIBLE_MS = 4000;
const RESTART_AFTER_MS = 3000;
const STARTUP_TIMEOUT_MS = 10_000;
const SHUTDOWN_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 3000;
/**
 * The receive's long polling. The consumer takes its two topics in turn, so once one is empty every
 * other receive waits this long for nothing: at 1000 ms a lane received at most one batch a second,
 * which held the group's catch-up after healing to ~130 receives/s (110 s of rocketmq-short.test).
 */
const AWAIT_MS = 250;
const CONSUMER_LANES = 8;
const FAILED_SEND_BACKOFF_MS = 100;
/** Receives and acks recorded at most (a 10-minute run makes ~100k). */
const RECORDS_MAX = 2_000_000;

/**
 * A SendReceipt's queue is the one the client picked; the broker, like RocketMQ's proxy, picks its own
 * (round robin, or the message group's hash), so the stored queue is found in the log (rocketmq-checker.ts).
 */
export const RECEIPT_NAMES_NO_QUEUE = -1;
const quietLogger = { info(): void {}, warn(): void {}, debug(): void {}, error(): void {}, close(): void {} };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One message of a receive: its stored position, and when the receive was asked and answered. */
export interface GrpcReceive {
  readonly body: string;
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly attempt: number;
  readonly messageGroup: string | null;
  /** performance.now() when the ReceiveMessage was invoked (the pop happened after this). */
  readonly invokeMs: number;
  readonly atMs: number;
}

export interface GrpcAck {
  readonly body: string;
  readonly topic: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly ok: boolean;
  readonly atMs: number;
}

export interface GrpcSendOp extends SendOp {
  readonly via: 'grpc';
  readonly topic: string;
  /** FIFO sends: the message group and the send's rank within it. */
  readonly messageGroup: string | null;
  readonly seq: number;
}

export interface GrpcMixOptions {
  /** Each broker's gRPC endpoint, host:port (fixed across restarts). */
  readonly endpoints: readonly string[];
  readonly normalTopic: string;
  readonly fifoTopic: string;
  readonly producers: number;
  readonly inFlight: number;
  readonly fifoGroups: number;
  readonly thinkMs: number;
  readonly maxSendsPerLane: number;
}

/** Position key of a stored message. */
export const positionOf = (topic: string, queueId: number, queueOffset: number): string => `${topic}-${queueId}@${queueOffset}`;

/** topic, queueId, offset of one of our receipt handles; null when it is not one. */
export function parseReceiptHandle(handle: string): { topic: string; queueId: number; queueOffset: number } | null {
  const parts = String(handle).split(' ');
  if (parts.length !== 5) return null;
  const queueId = Number(parts[1]);
  const queueOffset = Number(parts[2]);
  if (!Number.isInteger(queueId) || !Number.isInteger(queueOffset)) return null;
  return { topic: parts[0]!, queueId, queueOffset };
}

export function classifyGrpcAttempt(error: unknown): AttemptResult {
  const text = error instanceof Error ? error.message : String(error);
  // send-service.ts answers this before any append; anything else may have been appended.
  return /not the master \(/.test(text) ? 'refused' : 'maybe';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Client = any;

/** See the header: bounded termination notice, an error listener on every Telemetry stream, inert streams after close. */
function guard(client: Client, errors: string[]): { close(): Promise<void> } {
  let closed = false;
  const manager = client.rpcClientManager;
  const notify = manager.notifyClientTermination.bind(manager);
  manager.notifyClientTermination = (...args: unknown[]) => Promise.race([notify(...args).catch(() => undefined), sleep(SHUTDOWN_TIMEOUT_MS)]);
  const create = client.createTelemetryStream.bind(client);
  client.createTelemetryStream = (endpoints: unknown) => {
    if (closed) return new Writable({ objectMode: true, write: (_command, _encoding, done) => done() });
    const stream = create(endpoints);
    const onError = (error: Error): void => {
      if (errors.length < 100) errors.push(`telemetry: ${error.message.slice(0, 200)}`);
    };
    stream.on('error', onError);
    const removeAll = stream.removeAllListeners.bind(stream);
    stream.removeAllListeners = (...args: unknown[]) => {
      removeAll(...args);
      stream.on('error', onError);
      return stream;
    };
    return stream;
  };
  return {
    close: async () => {
      closed = true;
      await Promise.race([client.shutdown().catch(() => undefined), sleep(SHUTDOWN_TIMEOUT_MS * 2)]);
    },
  };
}

/**
 * A client replaced by a new one (on the next endpoint) after it failed for RESTART_AFTER_MS.
 * Invariant: at most one replacement runs at a time; `current` is null only while none could start.
 */
class Restarting {
  current: Client | null = null;
  private closer: { close(): Promise<void> } | null = null;
  private failingSince = 0;
  private next = 0;
  private replacing: Promise<void> | null = null;
  restarts = 0;

  constructor(private readonly make: (endpoint: string) => Client, private readonly endpoints: readonly string[], private readonly errors: string[], private readonly stopped: () => boolean) {}

  /** A started client, or null after one bounded round over the endpoints. */
  async get(): Promise<Client | null> {
    if (this.current === null) await this.replace();
    return this.current;
  }

  succeeded(): void {
    this.failingSince = 0;
  }

  async failed(): Promise<void> {
    const now = performance.now();
    if (this.failingSince === 0) this.failingSince = now;
    else if (now - this.failingSince > RESTART_AFTER_MS) await this.replace();
  }

  private replace(): Promise<void> {
    this.replacing ??= this.doReplace().finally(() => {
      this.replacing = null;
    });
    return this.replacing;
  }

  private async doReplace(): Promise<void> {
    const old = this.closer;
    this.current = null;
    this.closer = null;
    if (old !== null) {
      this.restarts++;
      void old.close();
    }
    for (let tried = 0; tried < this.endpoints.length && !this.stopped(); tried++) {
      const endpoint = this.endpoints[this.next++ % this.endpoints.length]!;
      const client = this.make(endpoint);
      const closer = guard(client, this.errors);
      let timer: NodeJS.Timeout | undefined;
      const started = await Promise.race([
        client.startup().then(() => true, (error: Error) => {
          if (this.errors.length < 100) this.errors.push(`startup on ${endpoint}: ${error.message.slice(0, 200)}`);
          return false;
        }),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), STARTUP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (started) {
        this.current = client;
        this.closer = closer;
        this.failingSince = 0;
        return;
      }
      void closer.close();
    }
  }

  async close(): Promise<void> {
    const closer = this.closer;
    this.current = null;
    this.closer = null;
    await closer?.close();
  }
}

export class GrpcClientMix {
  readonly ops: GrpcSendOp[] = [];
  readonly receives: GrpcReceive[] = [];
  readonly acks: GrpcAck[] = [];
  readonly errors: string[] = [];
  private stoppingSends = false;
  private stoppingConsumer = false;
  private sending: Promise<void> = Promise.resolve();
  private consuming: Promise<void> = Promise.resolve();
  private readonly producers: Restarting[] = [];
  private consumer: Restarting | null = null;
  private fifoConsumer: Restarting | null = null;

  constructor(private readonly options: GrpcMixOptions) {}

  get restarts(): number {
    return [...this.producers, ...(this.consumer === null ? [] : [this.consumer]), ...(this.fifoConsumer === null ? [] : [this.fifoConsumer])].reduce((n, r) => n + r.restarts, 0);
  }

  start(): void {
    const o = this.options;
    const topics = [o.normalTopic, o.fifoTopic];
    const newProducer = (endpoint: string): Client => new rocketmq5.Producer({ endpoints: endpoint, namespace: '', topics, logger: quietLogger, requestTimeout: REQUEST_TIMEOUT_MS, maxAttempts: 1 });
    const lanes: Promise<void>[] = [];
    for (let p = 0; p < o.producers; p++) {
      const held = new Restarting(newProducer, rotate(o.endpoints, p), this.errors, () => this.stoppingSends);
      this.producers.push(held);
      for (let lane = 0; lane < o.inFlight; lane++) {
        lanes.push(this.lane(held, (seq) => ({ producer: 100 + p, topic: o.normalTopic, body: `g${p}-${seq}`, messageGroup: null, seq }), lane, o.inFlight));
      }
    }
    const fifo = new Restarting(newProducer, rotate(o.endpoints, o.producers), this.errors, () => this.stoppingSends);
    this.producers.push(fifo);
    for (let k = 0; k < o.fifoGroups; k++) lanes.push(this.lane(fifo, (seq) => ({ producer: 200 + k, topic: o.fifoTopic, body: `f${k}-${seq}`, messageGroup: `grp${k}`, seq }), 0, 1));
    this.sending = Promise.all(lanes).then(() => undefined);

    const newConsumer = (group: string, topic: string) => (endpoint: string): Client => new rocketmq5.SimpleConsumer({ endpoints: endpoint, namespace: '', consumerGroup: group, subscriptions: new Map([[topic, '*']]), awaitDuration: AWAIT_MS, logger: quietLogger, requestTimeout: REQUEST_TIMEOUT_MS });
    this.consumer = new Restarting(newConsumer(GRPC_GROUP, o.normalTopic), rotate(o.endpoints, o.producers + 1), this.errors, () => this.stoppingConsumer);
    this.fifoConsumer = new Restarting(newConsumer(GRPC_FIFO_GROUP, o.fifoTopic), rotate(o.endpoints, o.producers + 2), this.errors, () => this.stoppingConsumer);
    // Several receives at once: one loop falls far behind ali-ons' producers on a loaded machine.
    this.consuming = Promise.all([...Array.from({ length: CONSUMER_LANES }, () => this.consume(this.consumer!)), this.consume(this.fifoConsumer)]).then(() => undefined);
  }

  private async lane(held: Restarting, next: (seq: number) => { producer: number; topic: string; body: string; messageGroup: string | null; seq: number }, first: number, step: number): Promise<void> {
    for (let seq = first; seq < this.options.maxSendsPerLane * step && !this.stoppingSends; seq += step) {
      const producer = await held.get();
      if (producer === null) {
        await sleep(500);
        continue;
      }
      const what = next(seq);
      const op: GrpcSendOp = { ...what, via: 'grpc', invokeMs: performance.now(), completeMs: null, outcome: null, attempts: [] };
      this.ops.push(op);
      const outcome = await recordOutcome<SendOutcome>(op, async () => {
        const receipt = await producer.send({ topic: what.topic, body: Buffer.from(what.body), ...(what.messageGroup === null ? { tag: `Tag${seq % 3}` } : { messageGroup: what.messageGroup }) });
        op.attempts.push('stored');
        return { type: 'ok', msgId: String(receipt.messageId), queueId: RECEIPT_NAMES_NO_QUEUE, queueOffset: Number(receipt.offset) };
      }, (error) => {
        op.attempts.push(classifyGrpcAttempt(error));
        const text = error instanceof Error ? error.message : String(error);
        return op.attempts[0] === 'refused' ? { type: 'fail', error: text.slice(0, 300) } : { type: 'unknown', error: text.slice(0, 300) };
      });
      if (outcome.type === 'ok') held.succeeded();
      else await held.failed();
      const pauseMs = outcome.type === 'ok' ? this.options.thinkMs : Math.max(this.options.thinkMs, FAILED_SEND_BACKOFF_MS);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  private async consume(held: Restarting): Promise<void> {
    while (!this.stoppingConsumer) {
      const consumer = await held.get();
      if (consumer === null) {
        await sleep(500);
        continue;
      }
      const invokeMs = performance.now();
      let got: Client[];
      try {
        got = await consumer.receive(32, INVISIBLE_MS);
        held.succeeded();
      } catch {
        await held.failed();
        await sleep(200);
        continue;
      }
      const atMs = performance.now();
      await Promise.all(got.map(async (m: Client) => {
        const at = parseReceiptHandle(m.receiptHandle);
        if (at === null) {
          if (this.errors.length < 100) this.errors.push(`receipt handle not ours: ${String(m.receiptHandle).slice(0, 100)}`);
          return;
        }
        if (this.receives.length < RECORDS_MAX) this.receives.push({ body: m.body.toString(), ...at, attempt: Number(m.deliveryAttempt), messageGroup: m.messageGroup || null, invokeMs, atMs });
        let ok = false;
        try {
          await consumer.ack(m);
          ok = true;
        } catch {
          ok = false;
        }
        if (this.acks.length < RECORDS_MAX) this.acks.push({ body: m.body.toString(), ...at, ok, atMs: performance.now() });
      }));
    }
  }

  /** Stop sending; waits for the sends in flight (each bounded by the request timeout). */
  async stopSending(): Promise<GrpcSendOp[]> {
    this.stoppingSends = true;
    await this.sending;
    await Promise.all(this.producers.map((p) => p.close()));
    return this.ops;
  }

  /** Stop the consumer loop and close it. */
  async close(): Promise<void> {
    this.stoppingSends = true;
    this.stoppingConsumer = true;
    await this.sending;
    await this.consuming;
    await Promise.all([...this.producers.map((p) => p.close()), this.consumer?.close(), this.fifoConsumer?.close()]);
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  return items.map((_, i) => items[(i + by) % items.length]!);
}
