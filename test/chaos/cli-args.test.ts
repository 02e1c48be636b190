// Goal: the chaos command lines' shared argument handling refuses every bad argument with a
// message naming its flag, and applies defaults. Method: a usage that throws instead of exiting.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { choiceArg, faultsArg, integerIn, minutesArg, optionalIntegerIn, parseFlags, seedArg, writeReportJson, type Usage } from './cli-args.js';

const usage: Usage = (problem) => {
  throw new Error(problem);
};
const spec = { valueFlags: ['--minutes', '--seed', '--faults', '--n'], switches: ['--keep-data'], unknownNote: ' (here)' };

t.test('flags: values, switches, unknown and missing values', async (t) => {
  const { values, switches } = parseFlags(['--seed', '7', '--keep-data', '--minutes', '0.5'], spec, usage);
  t.same([...values], [['--seed', '7'], ['--minutes', '0.5']]);
  t.same([...switches], ['--keep-data']);
  t.throws(() => parseFlags(['--bogus'], spec, usage), /^unknown argument --bogus \(here\)$/);
  t.throws(() => parseFlags(['--seed'], spec, usage), /^--seed needs a value$/);
});

t.test('common values and their defaults', async (t) => {
  const get = (...argv: string[]): Map<string, string> => parseFlags(argv, spec, usage).values;
  t.equal(minutesArg(get(), usage), 1);
  t.equal(minutesArg(get('--minutes', '0.25'), usage), 0.25);
  for (const bad of ['0', '-1', '1441', 'x']) t.throws(() => minutesArg(get('--minutes', bad), usage), new RegExp(`^--minutes: expected a number in \\(0, 1440\\], got ${bad}$`));
  t.equal(seedArg(get(), usage), 1);
  t.throws(() => seedArg(get('--seed', '1.5'), usage), /^--seed: expected an integer, got 1.5$/);
  const known = ['kill', 'pause', 'power'] as const;
  t.same(faultsArg(get(), known, ['kill'], 'known', usage), ['kill']);
  t.same(faultsArg(get('--faults', 'pause, power'), known, ['kill'], 'known', usage), ['pause', 'power']);
  t.throws(() => faultsArg(get('--faults', 'kill,nope'), known, ['kill'], 'known', usage), /^--faults: unknown family nope \(known: kill, pause, power\)$/);
  t.equal(integerIn(get(), '--n', 3, 1, 5, usage), 3);
  t.equal(integerIn(get('--n', '5'), '--n', 3, 1, 5, usage), 5);
  t.throws(() => integerIn(get('--n', '6'), '--n', 3, 1, 5, usage), /^--n: expected an integer in \[1, 5\], got 6$/);
  t.equal(optionalIntegerIn(get(), '--n', 1, 5, usage), undefined);
  t.equal(choiceArg(get(), '--n', ['a', 'b'], 'a', usage), 'a');
  t.throws(() => choiceArg(get('--n', 'c'), '--n', ['a', 'b'], 'a', usage), /^--n: expected a or b, got c$/);
});

t.test('the report goes to --out as {stem}-{time}.json', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-args-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = writeReportJson(path.join(dir, 'sub'), 'chaos-seed7', { violations: [] });
  t.match(path.basename(file), /^chaos-seed7-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/);
  t.equal(path.dirname(file), path.join(dir, 'sub'));
  t.same(JSON.parse(fs.readFileSync(file, 'utf8')), { violations: [] });
});
