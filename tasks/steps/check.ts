/**
 * check: the Marketplace image check, which decides the build's result. `testbuild` runs
 * check-report in its place: the same check, before cleanup, that only reports.
 */
import { buildSecretValues, secretNeedles } from '../build-secrets.js';
import type { Connection } from '../ssh/connection.js';
import { fail } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { runDropletScript } from '../standard/droplet-script.js';
import { rootArgs, targetRoot } from '../standard/project.js';
import { removeRepositoryAuth } from './repositories.js';
import { standard } from '../standard/registry.js';
import { defineStep } from './define.js';
import { bundleCommand } from './types.js';

/*
 * grep over the image's files (not /proc, /sys, /dev, /run: the running machine, not the snapshot),
 * the values read from stdin: they are never on a command line. Prints the files that hold one.
 */
const SCAN = [
  'r=$1; set --',
  'for d in "$r"/* "$r"/.[!.]*; do',
  '  [ -e "$d" ] || [ -L "$d" ] || continue',
  '  case ${d#"$r"} in /proc|/sys|/dev|/run) continue ;; esac',
  '  set -- "$@" "$d"',
  'done',
  '[ $# -gt 0 ] || exit 0',
  'grep -rlaF -D skip -s -f - -- "$@" || true',
].join('\n');

/**
 * [FAIL]s for the files of the image that hold a value of a build secret (named, never shown): the
 * values came for the build only. Repository credentials are taken off first.
 */
export async function scanBuildSecrets(c: Connection): Promise<string[]> {
  await removeRepositoryAuth(c);
  const values = buildSecretValues();
  // grep -f takes an empty line as a pattern that every file matches
  const needles = secretNeedles(values.values()).filter((n) => n !== '' && !n.includes('\n'));
  if (needles.length === 0) return [];
  const root = targetRoot() === '/' ? '' : targetRoot();
  const r = await c.sudo(`sh -c ${shellQuote(SCAN)} mpimg-scan ${shellQuote(root)}`, {
    // grep takes one pattern a line: a value of several lines is searched for by its long lines.
    input: `${needles.join('\n')}\n`,
    quiet: true,
    echo: false,
  });
  const files = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => (root && f.startsWith(root) ? f.slice(root.length) : f));
  const fails = files.map((f) => `[FAIL] ${f} holds the value of a build secret ($.build.secrets)`);
  for (const line of fails) c.log(line);
  if (files.length === 0) c.log(`[PASS] no value of the ${values.size} build secret(s) in the image`);
  return fails;
}

const SECRET_FIX =
  'find what wrote it there (a build script saving its environment, a config written with the key) and have the build remove it before the cleanup, or give the software the value at first boot instead';

export default defineStep({
  name: 'check',
  summary: 'run the Marketplace image check and fail on [FAIL] lines',
  sections: ['$.check'],
  testbuild: 'check-report',
  run: async (c) => {
    const leaked = await scanBuildSecrets(c);
    const code = await runDropletScript(c, 'check', rootArgs());
    if (leaked.length)
      fail(`a build secret's value is in the image (${leaked.length} file(s), the [FAIL] lines above)`, SECRET_FIX);
    if (code === 1)
      fail(
        'the image check found failures (the [FAIL] lines above)',
        'fix them (often: run `make cleanup HOST=...`) and run the check again',
      );
    if (code !== 0) fail(`the image check could not run (exit code ${code})`, 'see its message above');
  },
  packer: (p) => [{ type: 'shell', inline: [bundleCommand(p, 'install.sh', 'check')] }],
});

export const checkReport = standard('check-report', 'run the image check and only report (never fails)', async (c) => {
  await scanBuildSecrets(c);
  const code = await runDropletScript(c, 'check', rootArgs());
  c.log(
    code === 0
      ? 'image check: no failures'
      : `image check exit code ${code}: expected before cleanup; \`make build\` cleans and checks again`,
  );
});
