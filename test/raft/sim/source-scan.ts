// Text-level checks of TypeScript sources for the purity test: strip comments (and blank the
// contents of string literals) so that prose and error messages cannot trigger or hide a
// finding, then list import specifiers and uses of forbidden ambient globals.
//
// The tokenizer understands line and block comments, '...' and "..." strings, and template
// literals including nested ${ ... } expressions, which stay code (a `${Date.now()}` inside a
// template is a real call). Regular-expression literals are not recognised: a quote inside one
// would desynchronise the scan, and an unterminated-string error is then thrown (never a silent
// pass), so a core that starts using them makes the purity test fail loudly, not wrongly.

export interface StrippedSource {
  /** Comments removed; string contents kept (for import specifiers). */
  readonly withStrings: string;
  /** Comments removed and string/template text replaced by spaces (for identifier scans). */
  readonly codeOnly: string;
}

export function stripForScan(source: string): StrippedSource {
  let withStrings = '';
  let codeOnly = '';
  // Stack of open template literals: each entry counts the braces open inside its ${ }.
  const templateBraceDepth: number[] = [];
  let inTemplateText = false;
  let i = 0;
  const emit = (text: string, isCode: boolean): void => {
    withStrings += text;
    codeOnly += isCode ? text : text.replace(/[^\n]/g, ' ');
  };
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (inTemplateText) {
      if (c === '\\') {
        emit(source.slice(i, i + 2), false);
        i += 2;
      } else if (c === '`') {
        inTemplateText = false;
        templateBraceDepth.pop();
        emit(c, true);
        i++;
      } else if (c === '$' && next === '{') {
        inTemplateText = false;
        emit('${', true);
        i += 2;
      } else {
        emit(c, false);
        i++;
      }
      continue;
    }
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      i = end === -1 ? source.length : end;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      if (end === -1) throw new Error('unterminated block comment');
      emit(' ', true);
      i = end + 2;
    } else if (c === "'" || c === '"') {
      const end = endOfQuoted(source, i, c);
      emit(c, true);
      emit(source.slice(i + 1, end), false);
      emit(c, true);
      i = end + 1;
    } else if (c === '`') {
      templateBraceDepth.push(0);
      inTemplateText = true;
      emit(c, true);
      i++;
    } else if (c === '{' && templateBraceDepth.length > 0) {
      templateBraceDepth[templateBraceDepth.length - 1]!++;
      emit(c, true);
      i++;
    } else if (c === '}' && templateBraceDepth.length > 0) {
      const depth = templateBraceDepth[templateBraceDepth.length - 1]!;
      if (depth === 0) {
        inTemplateText = true; // back in the template's text after its ${ } expression
      } else {
        templateBraceDepth[templateBraceDepth.length - 1] = depth - 1;
      }
      emit(c, true);
      i++;
    } else {
      emit(c, true);
      i++;
    }
  }
  return { withStrings, codeOnly };
}

function endOfQuoted(source: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) return i;
    if (c === '\n') throw new Error(`unterminated string starting at offset ${start}`);
    i++;
  }
  throw new Error(`unterminated string starting at offset ${start}`);
}

/** Module specifiers of static imports, re-exports, dynamic imports and require calls. */
export function importSpecifiers(withStrings: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s*(['"])([^'"]+)\1/g,
    /\bimport\s*(['"])([^'"]+)\1/g,
    /\bimport\s*\(\s*(['"])([^'"]+)\1/g,
    /\brequire\s*\(\s*(['"])([^'"]+)\1/g,
  ];
  for (const pattern of patterns) {
    for (const match of withStrings.matchAll(pattern)) found.push(match[2]!);
  }
  return found;
}

/** Any dynamic import or require at all (even with a computed name) is a finding in the core. */
export function hasDynamicLoading(codeOnly: string): boolean {
  return /\bimport\s*\(/.test(codeOnly) || /(?<![.\w$])require\s*\(/.test(codeOnly);
}

/** Ambient names the core must not touch: clocks, timers, the process, I/O and entropy. */
export const FORBIDDEN_GLOBALS = [
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'Date',
  'performance',
  'process',
  'require',
  'Buffer',
  'fetch',
  'crypto',
  'globalThis',
  'global',
  'eval',
  'Function',
] as const;

export interface GlobalUse {
  readonly name: string;
  readonly line: number;
}

/** Uses of forbidden names as free identifiers (not as `.property` or `property:` keys). */
export function forbiddenGlobalUses(codeOnly: string): GlobalUse[] {
  const uses: GlobalUse[] = [];
  const names = [...FORBIDDEN_GLOBALS].join('|');
  const pattern = new RegExp(`(?<![.\\w$])(${names})(?![\\w$])(?!\\s*\\??:(?!:))`, 'g');
  for (const match of codeOnly.matchAll(pattern)) {
    uses.push({ name: match[1]!, line: lineOf(codeOnly, match.index) });
  }
  for (const match of codeOnly.matchAll(/(?<![.\w$])Math\s*\.\s*random\b/g)) {
    uses.push({ name: 'Math.random', line: lineOf(codeOnly, match.index) });
  }
  return uses;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
