#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (npm ci builds it).
import('../dist/src/cli/dledger.js')
  .then(({ main }) => main(process.argv.slice(2)))
  .then((code) => process.exit(code), (error) => { console.error(error); process.exit(1); });
