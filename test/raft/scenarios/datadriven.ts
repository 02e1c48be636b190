// A small datadriven file format in the manner of etcd's testdata/ (cockroachdb/datadriven):
//
//   # comment lines and blank lines between blocks are kept as they are
//   command arg arg key=value
//   ----
//   expected output, one or more lines, never blank
//   <blank line ends the block>
//
// render() writes a file back with fresh outputs (REWRITE=1).
import { assert } from '../../../src/util/assert.js';

export interface Block {
  /** 1-based line of the command, for failure messages. */
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

/** A file is a sequence of verbatim text (comments, blank lines) and blocks. */
export type Part = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'block'; readonly block: Block };

export function parseDatadriven(source: string, fileName: string): Part[] {
  const lines = source.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const parts: Part[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.startsWith('#')) {
      parts.push({ kind: 'text', text: line });
      i++;
      continue;
    }
    const commandLine = i + 1;
    const separator = lines[i + 1];
    if (separator !== '----') {
      throw new Error(`${fileName}:${commandLine + 1}: expected '----' after command ${JSON.stringify(line)}, found ${JSON.stringify(separator)}`);
    }
    i += 2;
    const output: string[] = [];
    while (i < lines.length && (lines[i] as string).trim() !== '') {
      output.push(lines[i] as string);
      i++;
    }
    parts.push({ kind: 'block', block: { line: commandLine, command: line, expected: output.join('\n') } });
  }
  return parts;
}

export function renderDatadriven(parts: readonly Part[], outputs: ReadonlyMap<Block, string>): string {
  const out: string[] = [];
  for (const part of parts) {
    if (part.kind === 'text') {
      out.push(part.text);
      continue;
    }
    const actual = outputs.get(part.block);
    assert(actual !== undefined, `no output for block at line ${part.block.line}`);
    out.push(part.block.command, '----', actual);
  }
  return out.join('\n') + '\n';
}

/** Splits `cmd a b k=v` into the command, positional arguments and key=value options. */
export function parseCommand(command: string): { name: string; args: string[]; options: Map<string, string> } {
  const words = command.trim().split(/\s+/);
  const name = words.shift() as string;
  const args: string[] = [];
  const options = new Map<string, string>();
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq > 0) options.set(word.slice(0, eq), word.slice(eq + 1));
    else args.push(word);
  }
  return { name, args, options };
}
