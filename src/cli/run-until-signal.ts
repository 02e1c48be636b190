// The life of a long-running CLI process (dledger server, mqbroker, mqnamesrv): start the
// service, print that it is up, wait for SIGTERM/SIGINT (or for the service to stop by itself),
// close it, and pick the exit code. Startup errors that are the operator's to fix (bad config, a
// port in use, a missing file) become one line on stderr and exit 1; anything else is a bug and
// is rethrown (the launcher prints the stack).

/** errno codes of a start-up that failed because of the environment, not a bug. */
const OPERATOR_ERRNO_CODES = new Set(['ENOENT', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES']);

export interface RunningService {
  /** Resolves with an exit code if the service stops by itself (e.g. a fatal store error). */
  readonly stoppedByItself?: Promise<number>;
  close(): Promise<void>;
}

export interface RunUntilSignalOptions {
  /** Prefix of the lines written to stderr ("mqbroker", "[g/n0]"). */
  readonly name: string;
  /** Starts the service; resolves once it serves, or with null when there is nothing to run (exit 0). */
  readonly start: () => Promise<RunningService | null>;
  /** Startup errors (besides the errno codes above) that are reported as one line, exit 1. */
  readonly isOperatorError: (error: unknown) => boolean;
  /** What the shutdown line says after the signal name (default "shutting down"). */
  readonly stoppingMessage?: string;
}

export async function runUntilSignal(options: RunUntilSignalOptions): Promise<number> {
  let service: RunningService | null;
  try {
    service = await options.start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (options.isOperatorError(error) || (typeof code === 'string' && OPERATOR_ERRNO_CODES.has(code))) {
      process.stderr.write(`${options.name}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
  if (service === null) return 0;
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const outcome = await Promise.race([
    signalled.then((signal) => ({ signal, code: 0 })),
    ...(service.stoppedByItself === undefined ? [] : [service.stoppedByItself.then((code) => ({ signal: null, code }))]),
  ]);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if (outcome.signal !== null) process.stderr.write(`${options.name}: ${outcome.signal}: ${options.stoppingMessage ?? 'shutting down'}\n`);
  await service.close();
  return outcome.code;
}
