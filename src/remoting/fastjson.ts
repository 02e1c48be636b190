// RocketMQ bodies are fastjson output. Two quirks matter on the wire:
// 1. Bean fields come out in alphabetical order (we sort object keys the same way).
// 2. A Map<Long,String> such as BrokerData.brokerAddrs is written with bare numeric keys,
//    {0:"host:port"}, unless the server was asked for standard JSON (a client at V4_9_4 or
//    later, or acceptStandardJsonOnly=true). Older Java, Go and C++ clients parse that form.
// Here a JavaScript Map with number keys stands for such a Long-keyed map; plain objects are
// string-keyed. parseRocketMqJson reads either form.
import { ANY, readJson, RocketMqJsonError } from './json-reader.js';

export { RocketMqJsonError };

export interface FastjsonOptions {
  /** true: {0:"a"} as fastjson's default; false: {"0":"a"} (standard JSON). */
  readonly bareNumericKeys: boolean;
}

export function toFastjson(value: unknown, options: FastjsonOptions): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((item) => toFastjson(item, options)).join(',')}]`;
  if (value instanceof Map) {
    const entries = [...(value as Map<unknown, unknown>).entries()].sort(([a], [b]) => compareKeys(a, b));
    const parts = entries.map(([key, item]) => {
      const keyText = typeof key === 'number' && options.bareNumericKeys ? String(key) : JSON.stringify(String(key));
      return `${keyText}:${toFastjson(item, options)}`;
    });
    return `{${parts.join(',')}}`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    // fastjson omits null bean fields by default.
    const parts = entries.filter(([, item]) => item !== null).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${parts.map(([key, item]) => `${JSON.stringify(key)}:${toFastjson(item, options)}`).join(',')}}`;
  }
  return 'null';
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * JSON.parse that also accepts fastjson's bare integer object keys ({0:"a"} → {"0":"a"}), in
 * linear time (json-reader.ts). The version before issue 11 appended the text one character at
 * a time (`out += ch`, a million-node rope per MiB) and ran a regex on a fresh slice after every
 * `{` and `,`: 0.19–0.33 s per MiB on the loop that also runs Raft. Request handlers read bodies
 * with readJson and a shape instead, which skips what they do not use.
 */
export function parseRocketMqJson(text: string): unknown {
  return readJson(Buffer.from(text, 'utf8'), ANY);
}
