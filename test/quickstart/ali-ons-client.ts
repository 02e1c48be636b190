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
export async function closeAll(clients: readonly AliClient[]): Promise<void> {
  for (const client of clients) await client.close().catch(() => undefined);
  await ons.Producer.defaultProducer?.close().catch(() => undefined);
}

/** Errors ali-ons emits that are expected noise: the retry topic's route before it exists. */
export function unexpectedErrors(errors: readonly Error[]): string[] {
  return errors.filter((e) => !/%RETRY%/.test(e.message)).map((e) => e.message);
}
