// Argument parsing for the simulator CLI, kept apart from cli.ts so tests can use it and the
// reproduce command without running a simulation.
export const TESTING_BUGS = ['commitPreviousTermEntries', 'grantVoteWithoutLogCheck'] as const;
export type TestingBug = (typeof TESTING_BUGS)[number];

import { WEATHERS, type WeatherName } from './options.js';

export interface SimArgs {
  readonly firstSeed: number;
  readonly lastSeed: number;
  readonly steps: number;
  readonly bug: TestingBug | null;
  readonly weather: WeatherName | null;
  readonly traceCapacity: number;
  readonly maxFailures: number;
  readonly quiet: boolean;
}

export class SimUsageError extends Error {
  override name = 'SimUsageError';
}

const USAGE =
  'usage: npm run sim -- (--seed N | --seeds A..B) [--steps M] [--bug commitPreviousTermEntries|grantVoteWithoutLogCheck] [--weather figure8] [--trace K] [--max-failures K] [--quiet]';

export const DEFAULT_STEPS = 400;

export function parseSimArgs(argv: readonly string[]): SimArgs {
  let firstSeed: number | null = null;
  let lastSeed: number | null = null;
  let steps = DEFAULT_STEPS;
  let bug: TestingBug | null = null;
  let weather: WeatherName | null = null;
  let traceCapacity = 120;
  let maxFailures = 10;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new SimUsageError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--seed':
        firstSeed = lastSeed = parseNonNegativeInteger(flag, value());
        break;
      case '--seeds': {
        const text = value();
        const match = /^(\d+)\.\.(\d+)$/.exec(text);
        if (match === null) throw new SimUsageError(`--seeds wants A..B (inclusive), got ${JSON.stringify(text)}\n${USAGE}`);
        firstSeed = parseNonNegativeInteger(flag, match[1]!);
        lastSeed = parseNonNegativeInteger(flag, match[2]!);
        if (lastSeed < firstSeed) throw new SimUsageError(`--seeds ${text}: the range is empty`);
        break;
      }
      case '--steps':
        steps = parseNonNegativeInteger(flag, value());
        break;
      case '--bug': {
        const name = value();
        if (!(TESTING_BUGS as readonly string[]).includes(name)) {
          throw new SimUsageError(`--bug must be one of ${TESTING_BUGS.join(', ')}, got ${JSON.stringify(name)}`);
        }
        bug = name as TestingBug;
        break;
      }
      case '--weather': {
        const name = value();
        if (!Object.hasOwn(WEATHERS, name)) {
          throw new SimUsageError(`--weather must be one of ${Object.keys(WEATHERS).join(', ')}, got ${JSON.stringify(name)}`);
        }
        weather = name as WeatherName;
        break;
      }
      case '--trace':
        traceCapacity = parseNonNegativeInteger(flag, value());
        break;
      case '--max-failures':
        maxFailures = Math.max(1, parseNonNegativeInteger(flag, value()));
        break;
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new SimUsageError(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
    }
  }
  if (firstSeed === null || lastSeed === null) throw new SimUsageError(`--seed or --seeds is required\n${USAGE}`);
  return { firstSeed, lastSeed, steps, bug, weather, traceCapacity, maxFailures, quiet };
}

function parseNonNegativeInteger(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new SimUsageError(`${flag} wants a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** The exact command that replays one seed. */
export function reproduceCommand(seed: number, steps: number, bug: TestingBug | null, weather: WeatherName | null = null): string {
  return `npm run sim -- --seed ${seed} --steps ${steps}${bug === null ? '' : ` --bug ${bug}`}${weather === null ? '' : ` --weather ${weather}`}`;
}
