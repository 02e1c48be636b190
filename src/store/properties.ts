// A minimal Java .properties codec (key=value lines, '#' comments) for DLedger's small metadata
// files (currterm) and our checkpoint. Values are plain text without escapes: ours never need them.

export function formatProperties(entries: Readonly<Record<string, string>>, comment?: string): Uint8Array {
  const lines = comment === undefined ? [] : [`#${comment}`];
  for (const [key, value] of Object.entries(entries)) lines.push(`${key}=${value}`);
  return new TextEncoder().encode(lines.join('\n') + '\n');
}

export function parseProperties(bytes: Uint8Array): Map<string, string> {
  const properties = new Map<string, string>();
  for (const rawLine of new TextDecoder().decode(bytes).split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line.length === 0 || line.startsWith('#') || line.startsWith('!')) continue;
    const separator = line.search(/[=:]/);
    if (separator < 0) {
      properties.set(line, '');
      continue;
    }
    properties.set(line.slice(0, separator).trim(), line.slice(separator + 1).trim());
  }
  return properties;
}
