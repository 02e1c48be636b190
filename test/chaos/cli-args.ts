// Goal: the argument handling both chaos command lines share (cli.ts for DLedger campaigns,
// rocketmq-cli.ts with --rocketmq): strict flag parsing (every flag known, every value flag given
// a value), the common --minutes / --seed / --faults checks and integer ranges, each error naming
// its flag, and where the JSON report goes (--out, else bench/results/ when it exists, else the
// temp dir). A bad argument goes to `usage`, which prints it with the usage line and exits 2.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Reports a bad argument; never returns. */
export type Usage = (problem: string) => never;

/** A Usage that prints the problem and `usageLine` to stderr and exits 2. */
export function exitWithUsage(usageLine: string): Usage {
  return (problem) => {
    process.stderr.write(`${problem}\n${usageLine}\n`);
    process.exit(2);
  };
}

export interface ParsedFlags {
  /** Value flags as given ("--seed" -> "7"); the last one wins. */
  readonly values: Map<string, string>;
  /** Switches present ("--keep-data"). */
  readonly switches: Set<string>;
}

export interface FlagSpec {
  readonly valueFlags: readonly string[];
  readonly switches: readonly string[];
  /** Appended to "unknown argument X" (e.g. " (with --rocketmq)"). */
  readonly unknownNote?: string;
}

export function parseFlags(argv: readonly string[], spec: FlagSpec, usage: Usage): ParsedFlags {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (spec.switches.includes(flag)) { switches.add(flag); continue; }
    if (!spec.valueFlags.includes(flag)) usage(`unknown argument ${flag}${spec.unknownNote ?? ''}`);
    const value = argv[++i];
    if (value === undefined) usage(`${flag} needs a value`);
    values.set(flag, value);
  }
  return { values, switches };
}

/** --minutes (default 1): a number in (0, 1440]. */
export function minutesArg(values: ReadonlyMap<string, string>, usage: Usage): number {
  const minutes = Number(values.get('--minutes') ?? '1');
  if (!(Number.isFinite(minutes) && minutes > 0 && minutes <= 24 * 60)) usage(`--minutes: expected a number in (0, 1440], got ${values.get('--minutes')}`);
  return minutes;
}

/** --seed (default 1): a safe integer. */
export function seedArg(values: ReadonlyMap<string, string>, usage: Usage): number {
  const seed = Number(values.get('--seed') ?? '1');
  if (!Number.isSafeInteger(seed)) usage(`--seed: expected an integer, got ${values.get('--seed')}`);
  return seed;
}

/** --faults: a comma-separated subset of `known` (default `defaults`); `knownLabel` heads the list in errors. */
export function faultsArg<const F extends string>(values: ReadonlyMap<string, string>, known: readonly F[], defaults: readonly F[], knownLabel: string, usage: Usage): F[] {
  const faults = (values.get('--faults') ?? defaults.join(',')).split(',').map((f) => f.trim());
  for (const f of faults) if (!known.includes(f as F)) usage(`--faults: unknown family ${f} (${knownLabel}: ${known.join(', ')})`);
  return faults as F[];
}

/** An integer flag in [min, max], or undefined when absent. */
export function optionalIntegerIn(values: ReadonlyMap<string, string>, flag: string, min: number, max: number, usage: Usage): number | undefined {
  const text = values.get(flag);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n >= min && n <= max)) usage(`${flag}: expected an integer in [${min}, ${max}], got ${text}`);
  return n;
}

/** An integer flag in [min, max], `fallback` when absent. */
export function integerIn(values: ReadonlyMap<string, string>, flag: string, fallback: number, min: number, max: number, usage: Usage): number {
  return optionalIntegerIn(values, flag, min, max, usage) ?? fallback;
}

/** One of `choices` (default `fallback`). */
export function choiceArg<const C extends string>(values: ReadonlyMap<string, string>, flag: string, choices: readonly C[], fallback: C, usage: Usage): C {
  const value = values.get(flag) ?? fallback;
  if (!choices.includes(value as C)) usage(`${flag}: expected ${choices.join(' or ')}, got ${value}`);
  return value as C;
}

/** Writes `report` as JSON to --out (else bench/results/ when it exists, else the temp dir) as `{stem}-{ISO time}.json`; returns the path. */
export function writeReportJson(outDir: string | undefined, stem: string, report: unknown): string {
  const benchResults = path.resolve('bench', 'results');
  const dir = outDir ?? (fs.existsSync(benchResults) ? benchResults : os.tmpdir());
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${stem}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
