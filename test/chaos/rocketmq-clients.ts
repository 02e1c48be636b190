// Goal: what ali-ons producers asked of the brokers and what they were told, per message, and what
// ali-ons consumers received — the history the RocketMQ checker judges the brokers by.
// Producers: each of `producers` ali-ons Producers keeps `inFlight` sends going, each of a unique
// body `p{producer}-{seq}`, and records invoke / ok {msgId, queueId, queueOffset} / fail / unknown.
// ali-ons retries a send by itself (MQProducer.send: up to 1 + retryTimesWhenSendFailed attempts
// within sendMsgTimeout + 1 s) after a timeout, a lost connection or the codes SERVICE_NOT_AVAILABLE,
// SYSTEM_ERROR, TOPIC_NOT_EXIST, NO_PERMISSION — possibly to another queue. So one send() can
// store a message more than once. To account for that honestly we wrap the producer's own
// sendKernelImpl (the one-attempt path, still the real code) and record every attempt's result:
//   refused   — the broker answered SERVICE_NOT_AVAILABLE / TOPIC_NOT_EXIST / NO_PERMISSION: it
//               stored nothing (our send path refuses before appending);
//   stored    — SEND_OK;
//   maybe     — anything else (timeout, connection lost, SYSTEM_ERROR such as "in-sync replicas
//               not enough", a non-OK send status): the entry may still commit later.
// A send's outcome: ok if send() resolved with SEND_OK; fail if every attempt was refused (or none
// reached a broker); unknown otherwise. A message may then be stored at most
// (stored attempts + maybe attempts) times; the checker allows exactly that many copies.
// Consumers: record every delivery (body, queueId, queueOffset, time) — the handler never throws,
// so ali-ons never sends a message back for redelivery.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { format } from 'node:util';
import { ResponseCode } from '../../src/remoting/codes.js';
import { recordOutcome, type Outcome, type TimedOp } from './op-outcome.js';
import { message, ons, SHORT_INTERVALS_MS, type AliConsumer, type AliMessage, type AliProducer, type AliSendResult } from '../quickstart/ali-ons-client.js';

/** ali-ons' default logger warns on every route refresh; a campaign prints its own summary instead. */
const QUIET_LOGGER = { info(): void {}, warn(): void {}, error(): void {}, debug(): void {} };

/**
 * With ROCKETMQ_CHAOS_CONSUMER_LOG=FILE, consumers log ali-ons' info/warn/error lines there
 * (rebalances, offsets read from brokers, illegal-offset corrections), for reading a run (R3).
 */
function consumerLogger(group: string): typeof QUIET_LOGGER {
  const file = process.env['ROCKETMQ_CHAOS_CONSUMER_LOG'];
  if (file === undefined || file === '') return QUIET_LOGGER;
  const stream = fs.createWriteStream(file, { flags: 'a' });
  const write = (level: string) => (...args: unknown[]): void => {
    stream.write(`${performance.now().toFixed(0)} ${group} ${level} ${format(...args)}\n`);
  };
  return { info: write('info'), warn: write('warn'), error: write('error'), debug(): void {} };
}

export type AttemptResult = 'stored' | 'refused' | 'maybe';

export type SendOutcome = Outcome<{ msgId: string; queueId: number; queueOffset: number }>;

export interface SendOp extends TimedOp<SendOutcome> {
  readonly producer: number;
  readonly body: string;
  readonly attempts: AttemptResult[];
}

export interface Delivery {
  readonly body: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly msgId: string;
  readonly atMs: number;
}

/** ali-ons error codes after which the broker stored nothing (see send.ts: refused before any append). */
// SYSTEM_ERROR is not one: our broker answers it for a put that timed out waiting for the quorum.
const REFUSALS: ReadonlySet<number> = new Set([ResponseCode.SERVICE_NOT_AVAILABLE, ResponseCode.TOPIC_NOT_EXIST, ResponseCode.NO_PERMISSION]);

export function classifyAttempt(error: unknown): AttemptResult {
  const e = error as { name?: string; code?: number; message?: string };
  if (e?.name === 'MQClientException' && typeof e.code === 'number' && REFUSALS.has(e.code)) return 'refused';
  // "The broker[X] not exist": no address to send to, nothing sent.
  if (e?.name === 'MQClientException' && e.code === undefined && /not exist/.test(e.message ?? '')) return 'refused';
  return 'maybe';
}

interface KernelHooked {
  sendKernelImpl(msg: AliMessage, messageQueue: unknown): Promise<AliSendResult>;
}

const FAILED_SEND_BACKOFF_MS = 50;

export interface ProducerLoopsOptions {
  readonly namesrvAddr: string;
  readonly topic: string;
  readonly producers: number;
  /** Concurrent sends per producer. */
  readonly inFlight: number;
  /** Pause between one lane's sends (keeps the 2 shared cores usable). */
  readonly thinkMs: number;
  readonly maxSendsPerProducer: number;
}

export class ProducerLoops {
  readonly ops: SendOp[] = [];
  readonly errors: Error[] = [];
  readonly clients: AliProducer[] = [];
  private stopping = false;
  private done: Promise<void> = Promise.resolve();

  constructor(private readonly options: ProducerLoopsOptions) {}

  async start(): Promise<void> {
    const { options } = this;
    for (let p = 0; p < options.producers; p++) {
      const producer = new ons.Producer({ nameSrv: options.namesrvAddr, httpclient: {}, producerGroup: `PG_chaos_${p}`, logger: QUIET_LOGGER, ...SHORT_INTERVALS_MS });
      producer.on('error', (error) => this.errors.push(error));
      const opOf = new WeakMap<AliMessage, SendOp>();
      const hooked = producer as unknown as KernelHooked;
      const kernel = hooked.sendKernelImpl.bind(producer);
      hooked.sendKernelImpl = async (msg, messageQueue) => {
        const op = opOf.get(msg);
        try {
          const result = await kernel(msg, messageQueue);
          op?.attempts.push(result.sendStatus === 'SEND_OK' ? 'stored' : 'maybe');
          return result;
        } catch (error) {
          op?.attempts.push(classifyAttempt(error));
          throw error;
        }
      };
      await producer.ready();
      this.clients.push(producer);
      const lanes = Array.from({ length: options.inFlight }, async (_, lane) => {
        for (let seq = lane; seq < options.maxSendsPerProducer && !this.stopping; seq += options.inFlight) {
          const body = `p${p}-${seq}`;
          const op: SendOp = { producer: p, body, invokeMs: performance.now(), completeMs: null, outcome: null, attempts: [] };
          this.ops.push(op);
          const msg = message(options.topic, `Tag${seq % 3}`, `key-${body}`, body);
          opOf.set(msg, op);
          const outcome = await recordOutcome<SendOutcome>(op, async () => {
            const result = await producer.send(msg);
            return result.sendStatus === 'SEND_OK'
              ? { type: 'ok', msgId: result.msgId, queueId: Number(result.messageQueue.queueId), queueOffset: Number(result.queueOffset) }
              : { type: 'unknown', error: `sendStatus ${result.sendStatus}` };
          }, (error) => {
            const text = error instanceof Error ? error.message : String(error);
            return op.attempts.every((a) => a === 'refused') ? { type: 'fail', error: text } : { type: 'unknown', error: text };
          });
          // Without a master in the route ali-ons fails in ~0 ms; back off as an application would.
          const pauseMs = outcome.type === 'ok' ? options.thinkMs : Math.max(options.thinkMs, FAILED_SEND_BACKOFF_MS);
          if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      });
      this.done = Promise.all([this.done, ...lanes]).then(() => undefined);
    }
  }

  /** Stop sending and wait for the sends in flight (each bounded by ali-ons' sendMsgTimeout + 1 s). */
  async stop(): Promise<SendOp[]> {
    this.stopping = true;
    await this.done;
    return this.ops;
  }
}

/** A CLUSTERING consumer from the first offset that records every delivery. */
export function recordingConsumer(namesrvAddr: string, group: string, topic: string, deliveries: Delivery[], errors: Error[]): AliConsumer {
  const consumer = new ons.Consumer({ nameSrv: namesrvAddr, httpclient: {}, consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', logger: consumerLogger(group), ...SHORT_INTERVALS_MS });
  consumer.on('error', (error) => errors.push(error));
  consumer.subscribe(topic, '*', async (m) => {
    deliveries.push({ body: m.body.toString(), queueId: Number(m.queueId), queueOffset: Number(m.queueOffset), msgId: m.msgId, atMs: performance.now() });
  });
  return consumer;
}
