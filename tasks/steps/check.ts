/**
 * check: the Marketplace image check, which decides the build's result. `testbuild` runs
 * check-report in its place: the same check, before cleanup, that only reports.
 */
import { buildSecretValues, MIN_LINE_LENGTH, secretNeedles } from '../build-secrets.js';
import type { Connection } from '../ssh/connection.js';
import { fail } from '../ssh/helpers.js';
import { shellQuote } from '../ssh/quote.js';
import { runDropletScript } from '../standard/droplet-script.js';
import { rootArgs, targetRoot } from '../standard/project.js';
import { removeRepositoryAuth } from './repositories.js';
import { standard } from '../standard/registry.js';
import { defineStep } from './define.js';
import { bundleCommand, type PackerContext, type PackerProvisioner } from './types.js';

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

/*
 * secretNeedles (../build-secrets.ts) for one value on stdin, in awk: the Packer template has the
 * values only on the droplet. A value of one line is searched for whole; of several lines, by each
 * line of MIN_LINE_LENGTH characters or more (blanks at its ends trimmed) that is no armour line.
 */
export const NEEDLES_AWK = [
  '{ l[NR] = $0 }',
  'END {',
  '  if (NR == 1) { if (l[1] != "") print l[1]; exit }',
  '  for (i = 1; i <= NR; i++) {',
  '    t = l[i]; gsub(/^[ \\t\\r\\v\\f]+|[ \\t\\r\\v\\f]+$/, "", t)',
  `    if (length(t) >= ${MIN_LINE_LENGTH} && t !~ /^-----/) print t`,
  '  }',
  '}',
].join('\n');

/**
 * The Packer template's search for the build secrets' values in the image, as scanBuildSecrets:
 * the values from the file Packer sources (deleted before the script runs), the lines to search for
 * made by NEEDLES_AWK and handed to SCAN on stdin, never on a command line; [FAIL] lines name the
 * files, and a value found stops the build.
 */
function packerSecretScan(p: PackerContext): PackerProvisioner[] {
  if (p.buildSecrets.length === 0) return [];
  const script = [
    `needles=$({ ${p.buildSecrets.map((n) => `printf '%s\\n' "$${n}" | awk ${shellQuote(NEEDLES_AWK)};`).join(' ')} } | sed '/^$/d')`,
    `unset ${p.buildSecrets.join(' ')}`,
    'r=${MPIMG_ROOT%/}',
    `files=$(printf '%s\\n' "$needles" | sh -c ${shellQuote(SCAN)} mpimg-scan "$r")`,
    'if [ -n "$files" ]; then',
    `  printf '%s\\n' "$files" | while IFS= read -r f; do printf '[FAIL] %s holds the value of a build secret ($.build.secrets)\\n' "\${f#"$r"}"; done`,
    `  echo ${shellQuote(`a build secret's value is in the image (the [FAIL] lines above): ${SECRET_FIX}`)} >&2`,
    '  exit 1',
    'fi',
    `echo '[PASS] no value of the ${p.buildSecrets.length} build secret(s) in the image'`,
  ].join('\n');
  return [
    {
      type: 'shell',
      env: ['"MPIMG_ROOT=/"', ...p.buildSecrets.map((n) => `"${n}=\${var.build_secret_${n}}"`)],
      envFile: true,
      inline: [p.hcl(script)],
    },
  ];
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
  // The build secrets' values searched for first, as in the task. The check's output is kept in
  // the work folder for the record step (its Summary line), its exit code kept as the build's.
  packer: (p) => [
    ...packerSecretScan(p),
    {
      type: 'shell',
      inline: [
        `"{ rc=0; ${bundleCommand(p, 'install.sh', 'check').slice(1, -1)} || rc=$?; echo $rc > \${local.work}/check.rc; } 2>&1 | tee \${local.work}/check.out"`,
        '"exit $(cat ${local.work}/check.rc)"',
      ],
    },
  ],
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
