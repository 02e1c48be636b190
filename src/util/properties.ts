// Java .properties files (RocketMQ broker confs, DLedger's currterm): key=value or key: value or
// key value, '#'/'!' comments, backslash line continuations and escapes (\t \n \r \f \uXXXX and
// escaped separators). Malformed input is an error that names the source and the line; a key
// given twice is an error too (Java keeps the last one silently, which hides typos in configs).

export class PropertiesError extends Error {
  override name = 'PropertiesError';
}

export function parseProperties(text: string, sourceName: string): Record<string, string> {
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  const physical = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < physical.length; i++) {
    const lineNumber = i + 1;
    let line = (physical[i] as string).replace(/^[ \t\f]+/, '');
    if (line.length === 0 || line.startsWith('#') || line.startsWith('!')) continue;
    // An odd number of trailing backslashes continues the logical line on the next one.
    while (/(^|[^\\])(\\\\)*\\$/.test(line)) {
      line = line.slice(0, -1);
      i++;
      if (i >= physical.length) throw new PropertiesError(`${sourceName}:${lineNumber}: line continuation at the end of the file`);
      line += (physical[i] as string).replace(/^[ \t\f]+/, '');
    }
    let keyEnd = 0;
    while (keyEnd < line.length) {
      const ch = line[keyEnd];
      if (ch === '\\') keyEnd += 2;
      else if (ch === '=' || ch === ':' || ch === ' ' || ch === '\t' || ch === '\f') break;
      else keyEnd++;
    }
    const key = unescape(line.slice(0, keyEnd), sourceName, lineNumber);
    let rest = line.slice(keyEnd).replace(/^[ \t\f]+/, '');
    if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1).replace(/^[ \t\f]+/, '');
    if (key.length === 0) throw new PropertiesError(`${sourceName}:${lineNumber}: a value without a key`);
    if (key in result) throw new PropertiesError(`${sourceName}:${lineNumber}: key "${key}" is set twice`);
    result[key] = unescape(rest, sourceName, lineNumber);
  }
  return result;
}

function unescape(text: string, sourceName: string, lineNumber: number): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = text[++i];
    switch (next) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        const hex = text.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PropertiesError(`${sourceName}:${lineNumber}: malformed \\u escape "\\u${hex}"`);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      case undefined: break;
      default: out += next;
    }
  }
  return out;
}

export function formatProperties(entries: Readonly<Record<string, string>>, comment?: string): string {
  const escape = (s: string, isKey: boolean): string =>
    s.replace(/[\\\n\r\t\f=:#!]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\f': '\\f' })[c] ?? `\\${c}`).replace(isKey ? / /g : /^ /, '\\ ');
  const lines = comment === undefined ? [] : [`#${comment}`];
  for (const [key, value] of Object.entries(entries)) lines.push(`${escape(key, true)}=${escape(value, false)}`);
  return lines.join('\n') + '\n';
}
