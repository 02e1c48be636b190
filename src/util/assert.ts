// Always-on assertions for programmer errors. Operating errors (disk full, a dead peer, bad input)
// are typed results or named errors, never assertions.

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message?: string): asserts condition {
  if (!condition) throw new AssertionError(message ?? 'assertion failed');
}

export function unreachable(value: never, message?: string): never {
  throw new AssertionError(message ?? `unreachable: ${JSON.stringify(value)}`);
}
