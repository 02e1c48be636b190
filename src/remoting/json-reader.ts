// A linear-time JSON reader for request bodies (issue 11): one pass over the bytes, no regex, no
// string building per character, nesting bounded. What it builds is chosen by a shape, so a body
// is read for the fields a handler uses and everything else is checked and skipped without being
// materialized. That matters because V8's own JSON.parse costs up to ~100 ms per MiB on shapes an
// attacker picks (objects with distinct keys each get a new hidden class; deep nesting), on the
// event loop that also runs Raft; skipping costs a few ms per MiB whatever the shape
// (bench: `npm run bench -- json`).
//
// Accepts standard JSON plus fastjson's one quirk on input, bare integer object keys
// ({0:"a"}, as a Map<Long,String> is written). Anything else malformed is a RocketMqJsonError
// naming what was expected and the byte offset.

export class RocketMqJsonError extends Error {
  override name = 'RocketMqJsonError';
}

/**
 * What to build from a value:
 * - any: the value as JSON.parse builds it;
 * - scalar: a string, number, boolean or null as is; an object or array is checked and skipped
 *   and stands as SKIPPED_OBJECT / SKIPPED_ARRAY, so a handler's type check reports it;
 * - object: an object with only the listed fields (others are skipped); a scalar is returned as
 *   is, an array is SKIPPED_ARRAY;
 * - map: an object whose keys are data (topic names...), as a Map (no hidden class per key);
 * - array: each item read with `items`; a scalar returned as is, an object is SKIPPED_OBJECT.
 */
export type JsonShape =
  | { readonly kind: 'any' }
  | { readonly kind: 'scalar' }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, JsonShape>> }
  | { readonly kind: 'map'; readonly values: JsonShape; /** More entries is an error (a Map of a million keys takes ~1 s to build). */ readonly maxEntries?: number }
  | { readonly kind: 'array'; readonly items: JsonShape };

/** Stands for a container a shape did not want there (checked, skipped, not built). */
export class SkippedContainer {
  constructor(readonly kind: 'object' | 'array') {}
  toJSON(): string {
    return `<${this.kind}>`;
  }
}
export const SKIPPED_OBJECT = Object.freeze(new SkippedContainer('object'));
export const SKIPPED_ARRAY = Object.freeze(new SkippedContainer('array'));

export const ANY: JsonShape = { kind: 'any' };
export const SCALAR: JsonShape = { kind: 'scalar' };

/** RocketMQ bodies nest 6 deep at most (heartbeat: consumerDataSet[].subscriptionDataSet[].tagsSet[]). */
export const JSON_DEPTH_MAX = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const LOWER_U = 0x75;
const SKIPPED = Symbol('skipped');

interface CompiledField {
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly shape: JsonShape;
}

const compiledFields = new WeakMap<object, CompiledField[]>();

function fieldsOf(shape: { readonly fields: Readonly<Record<string, JsonShape>> }): CompiledField[] {
  let fields = compiledFields.get(shape);
  if (fields === undefined) {
    fields = Object.entries(shape.fields).map(([name, fieldShape]) => ({ name, nameBytes: Buffer.from(name, 'utf8'), shape: fieldShape }));
    compiledFields.set(shape, fields);
  }
  return fields;
}

/** Read one JSON document from `bytes` (UTF-8) with `shape`. */
export function readJson(bytes: Uint8Array, shape: JsonShape = ANY): unknown {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new Reader(buffer);
  reader.skipSpace();
  const value = reader.value(shape, 0);
  reader.skipSpace();
  if (reader.at < buffer.length) reader.fail('the end of the body after the value');
  return value === SKIPPED ? undefined : value;
}

class Reader {
  // Invariant: at is the offset of the next unread byte, 0 <= at <= bytes.length.
  at = 0;
  /** The last key read (key()): its bytes [keyStart, keyEnd), escapes, all ASCII. */
  private keyStart = 0;
  private keyEnd = 0;
  private keyEscaped = false;
  private keyAscii = true;
  /** Set by skipString: the string had no byte >= 0x80. */
  private stringAscii = true;
  private readonly skipStack = new Uint8Array(JSON_DEPTH_MAX + 1);

  constructor(private readonly bytes: Buffer) {}

  fail(expected: string): never {
    const found = this.at >= this.bytes.length ? 'the end of the body' : `'${String.fromCharCode(this.bytes[this.at] as number)}'`;
    throw new RocketMqJsonError(`malformed JSON body: expected ${expected} at byte ${this.at}, found ${found}`);
  }

  skipSpace(): void {
    const bytes = this.bytes;
    let at = this.at;
    for (;;) {
      const b = bytes[at];
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) at++;
      else break;
    }
    this.at = at;
  }

  /** The value at `at`, built as `shape` says, or SKIPPED. */
  value(shape: JsonShape, depth: number): unknown {
    if (shape === SKIP_SHAPE) {
      this.skip(depth);
      return SKIPPED;
    }
    const b = this.bytes[this.at];
    if (b === OPEN_BRACE) {
      if (depth >= JSON_DEPTH_MAX) throw new RocketMqJsonError(`malformed JSON body: nested deeper than ${JSON_DEPTH_MAX} at byte ${this.at}`);
      if (shape.kind === 'any') return this.object(shape, depth + 1, 'any');
      if (shape.kind === 'object') return this.object(shape, depth + 1, 'object');
      if (shape.kind === 'map') return this.object(shape, depth + 1, 'map');
      this.skip(depth);
      return SKIPPED_OBJECT;
    }
    if (b === OPEN_BRACKET) {
      if (depth >= JSON_DEPTH_MAX) throw new RocketMqJsonError(`malformed JSON body: nested deeper than ${JSON_DEPTH_MAX} at byte ${this.at}`);
      if (shape.kind === 'any') return this.array(ANY, depth + 1);
      if (shape.kind === 'array') return this.array(shape.items, depth + 1);
      this.skip(depth);
      return SKIPPED_ARRAY;
    }
    return this.scalar(true);
  }

  private object(shape: JsonShape, depth: number, build: 'any' | 'object' | 'map'): unknown {
    this.at++; // '{'
    const fields = build === 'object' ? fieldsOf(shape as { fields: Record<string, JsonShape> }) : null;
    // Object shapes' keys are field names from the code, so plain objects get few hidden classes.
    const target: Record<string, unknown> | null = build === 'map' ? null : {};
    const map = build === 'map' ? new Map<string, unknown>() : null;
    this.skipSpace();
    if (this.bytes[this.at] === CLOSE_BRACE) {
      this.at++;
      return target ?? map;
    }
    for (;;) {
      this.key();
      this.skipSpace();
      if (this.bytes[this.at] !== COLON) this.fail("':' after an object key");
      this.at++;
      this.skipSpace();
      let valueShape: JsonShape | null;
      let fieldName: string | null = null;
      // The key's text is taken now: reading the value reads nested keys over it.
      if (build === 'any') {
        valueShape = ANY;
        fieldName = this.keyText();
      } else if (build === 'map') {
        const mapShape = shape as { values: JsonShape; maxEntries?: number };
        valueShape = mapShape.values;
        fieldName = this.keyText();
        if (mapShape.maxEntries !== undefined && (map as Map<string, unknown>).size >= mapShape.maxEntries && !(map as Map<string, unknown>).has(fieldName)) {
          throw new RocketMqJsonError(`malformed JSON body: more than ${mapShape.maxEntries} keys in an object at byte ${this.at}`);
        }
      }
      else if (fields !== null) {
        const field = this.matchField(fields);
        valueShape = field === null ? null : field.shape;
        fieldName = field === null ? null : field.name;
      } else valueShape = null;
      if (valueShape === null) {
        this.skip(depth);
        this.skipSpace();
        const next = this.bytes[this.at];
        if (next === COMMA) {
          this.at++;
          this.skipSpace();
          continue;
        }
        if (next === CLOSE_BRACE) {
          this.at++;
          return target ?? map;
        }
        this.fail("',' or '}' in an object");
      }
      const value = this.value(valueShape, depth);
      if (value !== SKIPPED) {
        const name = fieldName as string;
        if (target !== null) {
          if (name === '__proto__') Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
          else target[name] = value;
        } else if (map !== null) map.set(name, value);
      }
      this.skipSpace();
      const next = this.bytes[this.at];
      if (next === COMMA) {
        this.at++;
        this.skipSpace();
        continue;
      }
      if (next === CLOSE_BRACE) {
        this.at++;
        return target ?? map;
      }
      this.fail("',' or '}' in an object");
    }
  }

  private array(items: JsonShape, depth: number): unknown[] {
    this.at++; // '['
    const out: unknown[] = [];
    this.skipSpace();
    if (this.bytes[this.at] === CLOSE_BRACKET) {
      this.at++;
      return out;
    }
    for (;;) {
      const value = this.value(items, depth);
      out.push(value === SKIPPED ? undefined : value);
      this.skipSpace();
      const next = this.bytes[this.at];
      if (next === COMMA) {
        this.at++;
        this.skipSpace();
        continue;
      }
      if (next === CLOSE_BRACKET) {
        this.at++;
        return out;
      }
      this.fail("',' or ']' in an array");
    }
  }

  /**
   * An object key: a string, or fastjson's bare integer. Returns its byte range (end exclusive)
   * and whether it has escapes, packed as a KeyRange; decoded only when needed.
   */
  private key(): void {
    const bytes = this.bytes;
    const b = bytes[this.at];
    if (b === QUOTE) {
      this.keyStart = this.at + 1;
      this.keyEscaped = this.skipString();
      this.keyAscii = this.stringAscii;
      this.keyEnd = this.at - 1;
      return;
    }
    if (b === MINUS || (b !== undefined && b >= DIGIT_0 && b <= DIGIT_9)) {
      this.keyStart = this.at;
      if (b === MINUS) this.at++;
      if (!this.digits()) this.fail('a digit in a bare integer key');
      this.keyEnd = this.at;
      this.keyEscaped = false;
      this.keyAscii = true;
      return;
    }
    this.fail('a string or integer object key');
  }

  private keyText(): string {
    return this.text(this.keyStart, this.keyEnd, this.keyEscaped, this.keyAscii);
  }

  private text(start: number, end: number, escaped: boolean, ascii: boolean): string {
    if (ascii && !escaped) return (this.bytes as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
    const raw = this.bytes.toString('utf8', start, end);
    return escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
  }

  private matchField(fields: readonly CompiledField[]): CompiledField | null {
    if (this.keyEscaped) {
      const text = this.keyText();
      return fields.find((field) => field.name === text) ?? null;
    }
    const start = this.keyStart;
    const length = this.keyEnd - start;
    const bytes = this.bytes;
    for (const field of fields) {
      const name = field.nameBytes;
      if (name.length !== length) continue;
      let i = 0;
      while (i < length && name[i] === bytes[start + i]) i++;
      if (i === length) return field;
    }
    return null;
  }

  /**
   * Checks and skips the value at `at` without building anything: iterative, one small stack of
   * container kinds, no allocation.
   */
  private skip(depth: number): void {
    const bytes = this.bytes;
    const stack = this.skipStack;
    let top = 0;
    for (;;) {
      // A value starts here.
      const b = bytes[this.at];
      if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (depth + top >= JSON_DEPTH_MAX) throw new RocketMqJsonError(`malformed JSON body: nested deeper than ${JSON_DEPTH_MAX} at byte ${this.at}`);
        this.at++;
        this.skipSpace();
        const close = b === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
        if (bytes[this.at] !== close) {
          stack[top++] = b;
          if (b === OPEN_BRACE) this.skipKeyAndColon();
          continue;
        }
        this.at++;
      } else this.scalar(false);
      // After a value: close containers, or go on to the next item.
      for (;;) {
        if (top === 0) return;
        this.skipSpace();
        const next = bytes[this.at];
        const open = stack[top - 1];
        if (next === COMMA) {
          this.at++;
          this.skipSpace();
          if (open === OPEN_BRACE) this.skipKeyAndColon();
          break;
        }
        if ((open === OPEN_BRACE && next === CLOSE_BRACE) || (open === OPEN_BRACKET && next === CLOSE_BRACKET)) {
          this.at++;
          top--;
          continue;
        }
        this.fail(open === OPEN_BRACE ? "',' or '}' in an object" : "',' or ']' in an array");
      }
    }
  }

  private skipKeyAndColon(): void {
    this.key();
    this.skipSpace();
    if (this.bytes[this.at] !== COLON) this.fail("':' after an object key");
    this.at++;
    this.skipSpace();
  }

  /** Moves past a string whose opening quote is at `at`; true if it holds escapes. */
  private skipString(): boolean {
    const bytes = this.bytes;
    const length = bytes.length;
    let at = this.at + 1;
    let escaped = false;
    let ascii = true;
    for (;;) {
      if (at >= length) {
        this.at = at;
        this.fail("'\"' closing a string");
      }
      const b = bytes[at] as number;
      if (b === QUOTE) break;
      if (b === BACKSLASH) {
        escaped = true;
        const e = bytes[at + 1];
        if (e === LOWER_U) {
          for (let k = 2; k < 6; k++) {
            const h = bytes[at + k];
            if (h === undefined || !isHex(h)) {
              this.at = at + k;
              this.fail('4 hex digits after \\u');
            }
          }
          at += 6;
          continue;
        }
        if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          at += 2;
          continue;
        }
        this.at = at + 1;
        this.fail('an escape (one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)');
      }
      if (b < 0x20) {
        this.at = at;
        this.fail('no control character inside a string');
      }
      if (b >= 0x80) ascii = false;
      at++;
    }
    this.at = at + 1;
    this.stringAscii = ascii;
    return escaped;
  }

  private scalar(build: boolean): unknown {
    const bytes = this.bytes;
    const b = bytes[this.at];
    if (b === QUOTE) {
      const start = this.at + 1;
      const escaped = this.skipString();
      return build ? this.text(start, this.at - 1, escaped, this.stringAscii) : SKIPPED;
    }
    if (b === MINUS || (b !== undefined && b >= DIGIT_0 && b <= DIGIT_9)) return this.number(build);
    if (b === 0x74) return this.literal('true', true, build);
    if (b === 0x66) return this.literal('false', false, build);
    if (b === 0x6e) return this.literal('null', null, build);
    return this.fail('a value');
  }

  private literal(word: string, value: unknown, build: boolean): unknown {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.at + i] !== word.charCodeAt(i)) {
        this.at += i;
        this.fail(`'${word}'`);
      }
    }
    this.at += word.length;
    return build ? value : SKIPPED;
  }

  /** JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
  private number(build: boolean): unknown {
    const bytes = this.bytes;
    const start = this.at;
    const negative = bytes[this.at] === MINUS;
    if (negative) this.at++;
    const intStart = this.at;
    if (bytes[this.at] === DIGIT_0) this.at++;
    else if (!this.digits()) this.fail('a digit');
    const next = bytes[this.at];
    if (next !== DOT && next !== LOWER_E && next !== UPPER_E && this.at - intStart <= 15) {
      // An integer of at most 15 digits is exact in a double: no string, no Number().
      if (!build) return SKIPPED;
      let n = 0;
      for (let i = intStart; i < this.at; i++) n = n * 10 + ((bytes[i] as number) - DIGIT_0);
      return negative ? -n : n;
    }
    if (bytes[this.at] === DOT) {
      this.at++;
      if (!this.digits()) this.fail('a digit after the decimal point');
    }
    const e = bytes[this.at];
    if (e === LOWER_E || e === UPPER_E) {
      this.at++;
      const sign = bytes[this.at];
      if (sign === PLUS || sign === MINUS) this.at++;
      if (!this.digits()) this.fail('a digit in the exponent');
    }
    return build ? Number(bytes.toString('latin1', start, this.at)) : SKIPPED;
  }

  private digits(): boolean {
    const bytes = this.bytes;
    const start = this.at;
    while (this.at < bytes.length && (bytes[this.at] as number) >= DIGIT_0 && (bytes[this.at] as number) <= DIGIT_9) this.at++;
    return this.at > start;
  }
}

/** Checked and skipped, never built. */
const SKIP_SHAPE = { kind: 'skip' } as unknown as JsonShape;

function isHex(b: number): boolean {
  return (b >= DIGIT_0 && b <= DIGIT_9) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}
