// One reader for config key tables. A table row is one Java-properties key: its name, default
// text, doc, and its type, which reads the (trimmed) text or refuses it with a reason. Every
// refusal reads the same, whichever table the key is in:
//   <key, with file:line when known>: "<text>" <reason>
// and leaves a fallback value, so the rest of the config is still read and all its problems are
// reported at once; a config with any problem is refused as a whole by its caller (the broker:
// src/broker/config.ts, which spreads in the tables of retention-config.ts, metrics-config.ts,
// transaction/transaction-config.ts and src/grpc/grpc-config.ts).

/** A key's value, or why its text is refused (and what the rest of the config reads meanwhile). */
export type Parsed<T> = { readonly value: T } | { readonly refusal: string; readonly fallback: T };

/** Reads a key's trimmed text. */
export type KeyType<T> = (text: string) => Parsed<T>;

export interface KeyRow<T> {
  /** The properties key (RocketMQ's name where it has one). */
  readonly key: string;
  /** The text an absent key reads as; null: none (it reads as '', or the caller's derived value). */
  readonly defaultValue: string | null;
  readonly doc: string;
  readonly type: KeyType<T>;
}

/** Field of the parsed config -> its key. */
export type KeyTable = Readonly<Record<string, KeyRow<unknown>>>;

export type ValuesOf<T extends KeyTable> = { readonly [F in keyof T]: T[F] extends KeyRow<infer V> ? V : never };

/** Where a table's keys are read from. */
export interface KeySource {
  /** The key's configured text, trimmed, else its default text ('' when it has none). */
  readonly text: (key: string) => string;
  /** The key for messages, with its file:line when known. */
  readonly where: (key: string) => string;
  readonly problems: string[];
}

/** One key through its type; a refusal is pushed to the source's problems. */
export function readKey<T>(source: KeySource, key: string, type: KeyType<T>): T {
  const text = source.text(key);
  const parsed = type(text);
  if ('refusal' in parsed) {
    source.problems.push(`${source.where(key)}: "${text}" ${parsed.refusal}`);
    return parsed.fallback;
  }
  return parsed.value;
}

/**
 * Every key of a table, in the table's order. `derived`: a field's value when its key reads as ''
 * (a default computed from other keys, e.g. brokerIP1); it is the program's value, used as is.
 */
export function readKeyTable<T extends KeyTable>(table: T, source: KeySource, derived: { readonly [F in keyof T]?: ValuesOf<T>[F] } = {}): ValuesOf<T> {
  const values: Record<string, unknown> = {};
  for (const [field, row] of Object.entries(table)) {
    const derivedValue = Object.hasOwn(derived, field) ? (derived as Record<string, unknown>)[field] : undefined;
    values[field] = derivedValue !== undefined && source.text(row.key) === '' ? derivedValue : readKey(source, row.key, row.type);
  }
  return values as ValuesOf<T>;
}

/** key -> default and doc, for a process's table of every key it accepts. */
export function keySpecs(table: KeyTable): Record<string, { readonly defaultValue: string | null; readonly doc: string }> {
  return Object.fromEntries(Object.values(table).map((row) => [row.key, { defaultValue: row.defaultValue, doc: row.doc }]));
}

/** Digits only (no sign, exponent, hex or blanks), within [min, max]. */
export function integerIn(min: number, max: number): KeyType<number> {
  return (text) => {
    const n = Number(text);
    return /^[0-9]+$/.test(text) && n >= min && n <= max ? { value: n } : { refusal: `is not an integer in [${min}, ${max}]`, fallback: min };
  };
}

export const trueOrFalse: KeyType<boolean> = (text) =>
  text === 'true' || text === 'false' ? { value: text === 'true' } : { refusal: 'must be true or false', fallback: false };

/** A decimal number ("72", "0.5") in [min, max], or (min, max] when minExclusive. */
export function decimalIn(min: number, max: number, minExclusive = false): KeyType<number> {
  return (text) => {
    const value = Number(text);
    const ok = /^[0-9]+(\.[0-9]+)?$/.test(text) && (minExclusive ? value > min : value >= min) && value <= max;
    return ok ? { value } : { refusal: `is not a number in ${minExclusive ? '(' : '['}${min}, ${max}]`, fallback: max };
  };
}

/** Dotted-quad IPv4 (an address, not a name: a typo must not resolve to somewhere else). */
export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255);
}

export function ipv4Address(refusal: string): KeyType<string> {
  return (text) => (isIPv4(text) ? { value: text } : { refusal, fallback: text });
}
