// The real ali-ons client (npm, reference §6) as the quick start tests use it: typings for the
// parts we call, options with short route/heartbeat/offset intervals (so a failover is noticed in
// about a second instead of ali-ons' 30 s), and a close that also stops the hidden inner producer.
import { createRequire } from 'node:module';

export interface AliMessage {
  topic: string;
  tags: string;
  keys: string;
  body: Buffer;
  msgId: string;
  queueId: number;
  queueOffset: number;
  properties: Record<string, string>;
}
export interface AliClient {
  on(event: 'error', listener: (error: Error) => void): void;
  ready(): Promise<void>;
  close(): Promise<void>;
}
export interface AliSendResult { sendStatus: string; msgId: string; messageQueue: { brokerName: string; queueId: number }; queueOffset: number }
export interface AliProducer extends AliClient { send(message: AliMessage): Promise<AliSendResult> }
export interface AliConsumer extends AliClient { subscribe(topic: string, expression: string, handler: (message: AliMessage) => Promise<void>): void }

const require = createRequire(import.meta.url);
export const ons = require('ali-ons') as {
  Producer: (new (options: Record<string, unknown>) => AliProducer) & { defaultProducer?: AliProducer };
  Consumer: new (options: Record<string, unknown>) => AliConsumer;
  Message: new (topic: string, tags: string, body: string) => AliMessage;
};

/** ali-ons' option names (sic: "Inteval"); defaults are 30 s, 30 s, 5 s, 10 s. */
export const SHORT_INTERVALS_MS = { pollNameServerInteval: 500, heartbeatBrokerInterval: 500, persistConsumerOffsetInterval: 200, rebalanceInterval: 300 };

export function message(topic: string, tags: string, keys: string, body: string): AliMessage {
  const m = new ons.Message(topic, tags, body);
  m.keys = [keys] as unknown as string; // ali-ons joins an array of keys with spaces
  return m;
}

/** Close clients and the inner producer ali-ons creates for consumers (its timers keep a process alive). */
/** How long one ali-ons close may take in a teardown before it is given up on. */
const CLOSE_WAIT_MS = 10_000;

/**
 * Closes every client, each bounded by CLOSE_WAIT_MS: an ali-ons close can wait forever on a
 * broker that is gone, and a teardown that never ends holds the test file until tap's 600 s
 * timeout (seen once in console-pages at -j2 after all its checks had passed).
 */
export async function closeAll(clients: readonly AliClient[]): Promise<void> {
  const bounded = async (close: () => Promise<unknown>, what: string): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => { timer = setTimeout(() => { console.error(`closeAll: ${what} did not close within ${CLOSE_WAIT_MS} ms, given up`); resolve(); }, CLOSE_WAIT_MS); });
    await Promise.race([close().catch(() => undefined), gaveUp]);
    clearTimeout(timer);
  };
  const all: AliClient[] = [...clients];
  const defaultProducer = ons.Producer.defaultProducer;
  if (defaultProducer !== undefined && defaultProducer !== null) all.push(defaultProducer);
  for (const [i, client] of all.entries()) await bounded(() => client.close(), `client ${i}`);
  // ali-ons closes a client's shared MQClient (whose four scheduled tasks loop until it closes)
  // only after unregistering from every broker it knows; one of them dead (a test SIGKILLed it)
  // throws out of close() before that, and the loops keep the test process alive for ever. The
  // clients are unregistered from its tables by then, so close it here.
  for (const client of all) {
    const mqClient = (client as unknown as { _mqClient?: { _consumerTable: Map<unknown, unknown>; _producerTable: Map<unknown, unknown>; close(): Promise<void> } })._mqClient;
    if (mqClient !== undefined && mqClient._consumerTable.size === 0 && mqClient._producerTable.size === 0) await bounded(() => mqClient.close(), 'an MQClient');
  }
}

/** Errors ali-ons emits that are expected noise: the retry topic's route before it exists. */
export function unexpectedErrors(errors: readonly Error[]): string[] {
  return errors.filter((e) => !/%RETRY%/.test(e.message)).map((e) => e.message);
}

/** Sends `count` messages `${prefix}-${i}` (tags TagA/TagB, key key-<body>), `concurrency` at a time; any failure throws. */
export async function produce(producer: AliProducer, topic: string, prefix: string, count: number, concurrency = 8): Promise<Map<string, AliSendResult>> {
  const results = new Map<string, AliSendResult>();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const body = `${prefix}-${i}`;
      const result = await producer.send(message(topic, i % 2 === 0 ? 'TagA' : 'TagB', `key-${body}`, body));
      if (result.sendStatus !== 'SEND_OK') throw new Error(`send ${body}: ${JSON.stringify(result)}`);
      results.set(body, result);
    }
  }));
  return results;
}

/** A CLUSTERING consumer from the first offset, counting deliveries per body. */
export function consumeInto(options: Record<string, unknown>, topic: string, deliveries: Map<string, number>, errors: Error[]): AliConsumer {
  const consumer = new ons.Consumer({ httpclient: {}, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS, ...options });
  consumer.on('error', (error) => errors.push(error));
  consumer.subscribe(topic, '*', async (m) => {
    const body = m.body.toString();
    deliveries.set(body, (deliveries.get(body) ?? 0) + 1);
  });
  return consumer;
}

/** Waits (bounded) until every expected body was delivered; returns the missing ones on timeout. */
export async function awaitDeliveries(deliveries: ReadonlyMap<string, number>, expected: Iterable<string>, timeoutMs: number): Promise<string[]> {
  const want = [...expected];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = want.filter((body) => !deliveries.has(body));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
