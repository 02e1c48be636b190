// Builds the console's single-page UI into dist/console-ui/ with esbuild (npm run build:console;
// npm ci runs it from the prepare script): console-ui/src/main.tsx (Preact, JSX) bundled and
// minified into app.js, style.css into app.css, index.html copied. No network, a few hundred ms.
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

const here = import.meta.dirname;
const out = path.join(here, '..', 'dist', 'console-ui');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const started = Date.now();
await esbuild.build({
  entryPoints: { app: path.join(here, 'src', 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  logLevel: 'warning',
  legalComments: 'none',
});
await esbuild.build({ entryPoints: { app: path.join(here, 'src', 'style.css') }, bundle: true, minify: true, outdir: out, logLevel: 'warning' });
fs.copyFileSync(path.join(here, 'index.html'), path.join(out, 'index.html'));
const size = fs.readdirSync(out).map((f) => `${f} ${fs.statSync(path.join(out, f)).size} B`).join(', ');
console.log(`console UI built in ${Date.now() - started} ms: ${size}`);
