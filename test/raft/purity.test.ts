// Goal: prove the Raft core is pure: src/raft/** (and everything it imports) loads nothing from
// Node's built-ins or packages, and touches no clock, timer, process or entropy source.
// Method: (1) a text scan of every module the core reaches through relative imports, with
// comments and string contents stripped, listing import specifiers and forbidden free
// identifiers; the scanner itself is first shown to flag planted violations and to ignore the
// same words in comments and strings. (2) The compiled core (dist/) is loaded as ES modules in a
// fresh vm context whose Date, Math.random and timers throw, with a linker that refuses any
// module outside dist/src/raft and dist/src/util, and a three-node election is run to completion
// there (child process: vm modules need --experimental-vm-modules).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forbiddenGlobalUses, hasDynamicLoading, importSpecifiers, stripForScan } from './sim/source-scan.js';

const here = dirname(fileURLToPath(import.meta.url));
// Under tap the test runs from test/raft/ (TypeScript); compiled, from dist/test/raft/.
const repoRoot = here.includes(`${sep}dist${sep}`) ? resolve(here, '../../..') : resolve(here, '../..');
const raftDir = join(repoRoot, 'src', 'raft');
const allowedDirs = [raftDir, join(repoRoot, 'src', 'util')];

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out.sort();
}

interface Finding {
  readonly file: string;
  readonly problem: string;
}

/** Scans the import closure of src/raft; returns the files scanned and everything wrong. */
function scanCoreClosure(): { scanned: string[]; findings: Finding[] } {
  const queue = listTs(raftDir);
  const seen = new Set<string>(queue);
  const findings: Finding[] = [];
  for (let k = 0; k < queue.length; k++) {
    const file = queue[k]!;
    const name = relative(repoRoot, file);
    const { withStrings, codeOnly } = stripForScan(readFileSync(file, 'utf8'));
    if (hasDynamicLoading(codeOnly)) findings.push({ file: name, problem: 'dynamic import() or require()' });
    for (const use of forbiddenGlobalUses(codeOnly)) {
      findings.push({ file: name, problem: `uses ${use.name} (line ${use.line})` });
    }
    for (const specifier of importSpecifiers(withStrings)) {
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
        findings.push({ file: name, problem: `imports ${JSON.stringify(specifier)}: only relative imports of the core and src/util are allowed` });
        continue;
      }
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (!allowedDirs.some((dir) => target.startsWith(dir + sep))) {
        findings.push({ file: name, problem: `imports ${specifier}, outside src/raft and src/util` });
        continue;
      }
      if (!existsSync(target)) {
        findings.push({ file: name, problem: `imports ${specifier}, which does not exist as ${relative(repoRoot, target)}` });
        continue;
      }
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return { scanned: queue.map((f) => relative(repoRoot, f)), findings };
}

t.test('the scanner flags planted violations and ignores comments and strings', async (t) => {
  const planted = [
    "import { readFileSync } from 'node:fs';",
    "import net from 'net';",
    "export * from 'worker_threads';",
    'const a = Date.now();',
    'const b = Math.random();',
    'setTimeout(() => {}, 1);',
    'const c = `${performance.now()}`;',
    'const d = process.env;',
    "const e = await import('./x.js');",
  ].join('\n');
  const stripped = stripForScan(planted);
  t.same(importSpecifiers(stripped.withStrings).sort(), ['./x.js', 'net', 'node:fs', 'worker_threads']);
  t.same(
    forbiddenGlobalUses(stripped.codeOnly).map((u) => u.name).sort(),
    ['Date', 'Math.random', 'performance', 'process', 'setTimeout'],
  );
  t.ok(hasDynamicLoading(stripped.codeOnly));
  const innocent = [
    '// Date.now() and setTimeout are banned, says this comment',
    '/* Math.random() process performance */',
    "const msg = 'no Date, no setTimeout, no process';",
    'const tmpl = `Date ${1 + 1} process`;',
    'const o = { process: 1, Date: 2 };',
    'o.process = o.Date;',
  ].join('\n');
  const clean = stripForScan(innocent);
  t.same(forbiddenGlobalUses(clean.codeOnly), []);
  t.same(importSpecifiers(clean.withStrings), []);
  t.notOk(hasDynamicLoading(clean.codeOnly));
});

t.test('src/raft and its imports are free of I/O, timers, clocks and entropy', async (t) => {
  const { scanned, findings } = scanCoreClosure();
  t.ok(scanned.some((f) => f.startsWith(`src${sep}raft${sep}`)), 'the core has source files');
  t.ok(scanned.length >= 2, `scanned ${scanned.length} files: ${scanned.join(', ')}`);
  t.same(findings, [], findings.map((f) => `${f.file}: ${f.problem}`).join('\n') || 'no findings');
});

t.test('the compiled core runs an election in a vm context without clocks, timers or Node', async (t) => {
  const child = join(repoRoot, 'dist', 'test', 'raft', 'sim', 'purity-vm.js');
  if (!existsSync(child)) {
    t.fail(`${relative(repoRoot, child)} is missing: run \`npx tsc -p tsconfig.json\` before this test`);
    return;
  }
  const result = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', child, join(repoRoot, 'dist')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(result.status, 0, `child exited ${result.status}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as {
    leaderId?: string;
    term?: number;
    modulesLoaded?: string[];
    ticks?: number;
  };
  t.type(report.leaderId, 'string', 'a leader was elected inside the vm');
  t.ok((report.term ?? 0) >= 1, `term ${report.term}`);
  t.ok(
    (report.modulesLoaded ?? []).every((m) => m.startsWith('src/raft/') || m.startsWith('src/util/')),
    `modules loaded: ${(report.modulesLoaded ?? []).join(', ')}`,
  );
  t.ok((report.modulesLoaded ?? []).includes('src/raft/core.js'), 'the core itself was loaded');

  // The same realm with a driver that reads the clock must fail: the traps are live.
  const trapped = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings', child, join(repoRoot, 'dist'), '--touch-clock'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  t.not(trapped.status, 0, 'a clock read inside the realm fails the run');
  t.match(trapped.stderr, /Date\.now used inside the pure core/);
});
