// Goal: pin down the Raft core's behaviour in the scenarios the issue names (election, pre-vote,
// check-quorum, log conflict with fast backup, the §5.4.2 commit rule, leadership transfer,
// preferred leader, ReadIndex, chunked snapshot install with resume) as readable transcripts.
// Method: each test/raft/testdata/*.txt file is a script of commands with the expected output
// (datadriven, as etcd's testdata/); every command runs in a fresh ScenarioEnv per file, the core's
// invariants are checked after every input, and the transcript is compared block by block.
// REWRITE=1 regenerates the expected outputs (then review the diff: they are the specification).
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDatadriven, renderDatadriven, type Block } from './scenarios/datadriven.js';
import { ScenarioEnv } from './scenarios/env.js';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled copies run from dist/test/raft/; the scripts live only in the source tree.
const testdataDir = here.includes(`${sep}dist${sep}`)
  ? resolve(here, '../../../test/raft/testdata')
  : join(here, 'testdata');
const rewrite = process.env['REWRITE'] === '1';

const files = readdirSync(testdataDir).filter((name) => name.endsWith('.txt')).sort();
t.ok(files.length >= 9, `found ${files.length} scenario files`);

for (const name of files) {
  t.test(name, async (t) => {
    const path = join(testdataDir, name);
    const parts = parseDatadriven(readFileSync(path, 'utf8'), name);
    const env = new ScenarioEnv();
    const outputs = new Map<Block, string>();
    for (const part of parts) {
      if (part.kind !== 'block') continue;
      let actual: string;
      try {
        actual = env.run(part.block.command);
      } catch (error) {
        // Part of the transcript: a scenario may show a deliberate bug tripping an assertion.
        // An unexpected one fails the comparison like any other difference.
        actual = `error: ${String(error)}`;
      }
      outputs.set(part.block, actual);
      if (!rewrite) t.equal(actual, part.block.expected, `${name}:${part.block.line}: ${part.block.command}`);
    }
    if (rewrite) {
      writeFileSync(path, renderDatadriven(parts, outputs));
      t.pass(`rewrote ${name}`);
    }
  });
}
