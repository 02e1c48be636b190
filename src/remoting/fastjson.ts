// RocketMQ bodies are fastjson output. Two quirks matter on the wire:
// 1. Bean fields come out in alphabetical order (we sort object keys the same way).
// 2. A Map<Long,String> such as BrokerData.brokerAddrs is written with bare numeric keys,
//    {0:"host:port"}, unless the server was asked for standard JSON (a client at V4_9_4 or
//    later, or acceptStandardJsonOnly=true). Older Java, Go and C++ clients parse that form.
// Here a JavaScript Map with number keys stands for such a Long-keyed map; plain objects are
// string-keyed. parseRocketMqJson reads either form.

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

export class RocketMqJsonError extends Error {
  override name = 'RocketMqJsonError';
}

/** JSON.parse that also accepts fastjson's bare integer object keys ({0:"a"} → {"0":"a"}). */
export function parseRocketMqJson(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    out += ch;
    if (inString) {
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === ',') {
      const bare = /^(\s*)(-?[0-9]+)(\s*):/.exec(text.slice(i + 1, i + 64));
      if (bare !== null) {
        out += `${bare[1]}"${bare[2]}"${bare[3]}:`;
        i += bare[0].length;
      }
    }
  }
  try {
    return JSON.parse(out);
  } catch (error) {
    throw new RocketMqJsonError(`malformed JSON body: ${(error as Error).message}`);
  }
}
