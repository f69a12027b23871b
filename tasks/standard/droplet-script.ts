/** The cleanup and the image check over SSH: the project's customised copy, else the package's, run with bash. */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { cleanupArgs, imageCheckArgs, missingCheckFlags } from '../../runtime/script-args.js';
import { checkScriptOf, cleanupScriptOf } from '../bundle/droplet-scripts.js';
import type { Connection } from '../ssh/connection.js';
import { withRemoteTempDir } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { manifestOf, refuseOutside } from './project.js';
import { noteCheckOutput } from '../record/check-summary.js';

const cmdline = (...words: string[]): string => words.map(shellQuote).join(' ');

/** Runs the cleanup or check script with these arguments; its exit code. */
/** a, b or c */
const orList = (xs: string[]): string =>
  xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;

export async function runDropletScript(c: Connection, which: 'cleanup' | 'check', args: string[]): Promise<number> {
  const m = manifestOf(c);
  const script = which === 'cleanup' ? cleanupScriptOf(c.project, m) : checkScriptOf(c.project, m);
  if (script.custom) {
    refuseOutside(c.project, script.rel);
    c.log(`using the project's own ${script.rel}`);
  }
  const text = readFileSync(script.abs, 'utf8');
  if (which === 'check') {
    const missing = missingCheckFlags(m, text);
    if (missing.length)
      c.log(
        `${script.rel} has no ${orList(missing)} option, so what mpimg.json says there is not checked (compare: mpimg add check-script --show | diff -u ${script.rel} -)`,
      );
    args = [...imageCheckArgs(m, text), ...args];
  } else args = [...cleanupArgs(m, text), ...args];
  return withRemoteTempDir(
    c,
    async (tmp) => {
      const remote = `${tmp}/${basename(script.abs)}`;
      await c.put(script.abs, remote, { mode: 0o700 });
      const r = await c.sudo(cmdline('bash', remote, ...args), { check: false });
      if (which === 'check') noteCheckOutput(c, r.stdout); // its counts go into the build record
      return r.exitCode;
    },
    `${m.slug}-${which}`,
  );
}
