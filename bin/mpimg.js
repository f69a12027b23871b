#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in lib/ (built by `npm run build`).
import { main } from '../lib/tasks/cli.js';

// `mpimg upgrade | head` closes the pipe early: the work (files written together with their record in
// .yo-rc.json) must still finish, so a closed stdout or stderr only drops the output.
for (const s of [process.stdout, process.stderr])
  s.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mpimg: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
