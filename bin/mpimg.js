#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in lib/ (built by `npm run build`).
import { main } from '../lib/tasks/cli.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`mpimg: ${err?.stack ?? err}\n`); process.exitCode = 1; },
);
