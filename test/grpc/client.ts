// rocketmq-client-nodejs 1.0.8 (CommonJS) for the tests, with the parts we call typed loosely and
// a logger that keeps its chatter out of the TAP output (errors still go to stderr).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const rocketmq5 = require('rocketmq-client-nodejs') as any;

export const silentLogger = {
  info: (): void => undefined,
  warn: (): void => undefined,
  debug: (): void => undefined,
  error: (...args: unknown[]): void => {
    if (process.env['GRPC_TEST_VERBOSE'] === '1') console.error(...args);
  },
};

/**
 * PushConsumer.shutdown(), then close the logger its StandardConsumeService made for itself: 1.0.8
 * ignores the consumer's logger there and opens egg-logger's default (~/logs/rocketmq/...), whose
 * 1 s flush interval would keep the test process alive.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function shutdownPushConsumer(push: any): Promise<void> {
  const service = push.getConsumeService?.();
  await push.shutdown();
  service?.logger?.close?.();
}
