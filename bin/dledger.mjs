#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (npm ci builds it).
// Exit only once stdout and stderr are flushed: writes to a pipe are asynchronous, and
// process.exit() right after a large output (read-file, bench --json) cut it short.
const exitFlushed = (code) => {
  let pending = 2;
  const done = () => { if (--pending === 0) process.exit(code); };
  process.stdout.write('', done);
  process.stderr.write('', done);
};
import('../dist/src/cli/dledger.js')
  .then(({ main }) => main(process.argv.slice(2)))
  .then((code) => exitFlushed(code), (error) => { console.error(error); exitFlushed(1); });
