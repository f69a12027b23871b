/**
 * A small image project for the mpimgfile tests, in a temp dir: mpimg.json, the real mpimgfile.mjs
 * rendered from templates/project/mpimgfile.mjs.ejs, files/, build scripts that only write under
 * $MPIMG_ROOT, recording cleanup/check scripts (customised copies: they win over the package's), and
 * node_modules/generator-mpimg built from this repository's tasks/ sources (esbuild), so
 * `import 'generator-mpimg/tasks/standard'` resolves as in a real project.
 *
 * The bundle: when the compiled CLI exists (lib/tasks/cli.js, made by `npm run build`), the real
 * `mpimg bundle` writes dist/; otherwise dist/ gets two small stand-ins that only record their
 * arguments, and `realBundle` is false so tests can tell which one they exercised.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import { build } from 'esbuild';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const SLUG = 'acme-test';
export const VENDOR = 'acmeco';

function write(file: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

/**
 * node_modules/generator-mpimg in `dir`, bundled from this repository's tasks/ sources: a separate
 * copy of the library from the one the CLI (tasks/commands) uses, as in a real project.
 */
export async function installTasksPackage(dir: string): Promise<void> {
  const pkg = join(dir, 'node_modules/generator-mpimg');
  write(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'generator-mpimg',
      version: '0.0.0-fixture',
      type: 'module',
      exports: { './tasks': './tasks.js', './tasks/standard': './standard.js' },
    }),
  );
  // Both entries share one copy of the library (a chunk), as the published package does.
  await build({
    absWorkingDir: REPO,
    entryPoints: { tasks: 'tasks/library.ts', standard: 'tasks/standard/index.ts' },
    outdir: pkg,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

/** A bare project in a temp dir: the given mpimgfile.mjs and the library package, nothing else. */
export async function makeTaskProject(mpimgfile: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mpimg-tasks-mini-'));
  write(join(dir, 'mpimgfile.mjs'), mpimgfile);
  await installTasksPackage(dir);
  return dir;
}

export interface FixtureProject {
  dir: string;
  realBundle: boolean;
}

export async function makeFixtureProject(opts: { manifest?: Record<string, unknown> } = {}): Promise<FixtureProject> {
  const dir = mkdtempSync(join(tmpdir(), 'mpimg-tasks-proj-'));
  const manifest = {
    name: 'Acme Test',
    slug: SLUG,
    vendor: VENDOR,
    version: '1.2.3',
    distributions: ['debian-12-x64'],
    build: { packages: ['acme-not-a-real-package'] },
    cleanup: { lockRootPassword: true, zeroFill: true },
    ...opts.manifest,
  };
  write(join(dir, 'mpimg.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const template = readFileSync(join(REPO, 'templates/project/mpimgfile.mjs.ejs'), 'utf8');
  write(join(dir, 'mpimgfile.mjs'), ejs.render(template, { slug: SLUG, vendor: VENDOR, name: manifest.name }));

  write(join(dir, 'files/etc/acme-test/app.conf'), 'listen=127.0.0.1\n', 0o640);
  write(join(dir, 'files/usr/local/bin/acme-hello'), '#!/bin/sh\necho hello\n', 0o755);
  write(join(dir, 'files/.gitkeep'), '');

  // Build scripts: only ever write below $MPIMG_ROOT (the test's temp root).
  const step = (n: string) => `#!/bin/sh
set -eu
mkdir -p "$MPIMG_ROOT/var/lib/acme-build"
echo ${n} >> "$MPIMG_ROOT/var/lib/acme-build/order"
`;
  write(join(dir, 'scripts/10-first.sh'), step('10'), 0o755);
  write(
    join(dir, 'scripts/20-second.sh'),
    `${step('20')}env | sort > "$MPIMG_ROOT/var/lib/acme-build/env"
test -f "$MPIMG_ROOT/etc/acme-test/app.conf"   # files/ is copied before the build scripts run
`,
    0o755,
  );
  write(join(dir, 'scripts/.gitkeep'), '');
  write(
    join(dir, 'scripts/90-cleanup.sh'),
    `#!/usr/bin/env bash
# fixture cleanup: records its arguments under --root, changes nothing else
set -eu
args="$*"
root=/
while [ $# -gt 0 ]; do case $1 in --root) root=$2; shift ;; esac; shift; done
[ "$root" != / ] || { echo "fixture cleanup refuses to run on /" >&2; exit 3; }
echo "$args" > "$root/cleanup-args"
echo "[cleanup] done"
`,
    0o755,
  );
  write(
    join(dir, 'scripts/99-img-check.sh'),
    `#!/usr/bin/env bash
# fixture check: the real contract ([PASS]/[FAIL], exit 1 on failures), decided by a marker file
set -eu
root=/
while [ $# -gt 0 ]; do case $1 in --root) root=$2; shift ;; esac; shift; done
[ "$root" != / ] || { echo "fixture check refuses to run on /" >&2; exit 2; }
echo "[PASS] checked root $root"
if [ -e "$root/fail-marker" ]; then echo "[FAIL] fail-marker present"; echo "1 failure"; exit 1; fi
echo "0 failures"
`,
    0o755,
  );
  write(join(dir, 'first-boot/10-setup.sh'), '#!/bin/sh\nset -eu\necho first boot\n', 0o755);
  write(join(dir, 'motd.txt'), 'Welcome to {{name}} {{version}} on {{ip}}\n');

  await installTasksPackage(dir);

  const cli = join(REPO, 'lib/tasks/cli.js');
  // MPIMG_FIXTURE_STAND_IN=1 forces the stand-ins (to check that path while lib/ exists).
  const realBundle = existsSync(cli) && process.env.MPIMG_FIXTURE_STAND_IN !== '1';
  if (realBundle) {
    execFileSync(process.execPath, [join(REPO, 'bin/mpimg.js'), 'bundle'], { cwd: dir, stdio: 'pipe' });
  } else {
    // Stand-ins: record argv under --root and remove themselves like the real ones.
    write(
      join(dir, `dist/${SLUG}.cjs`),
      `#!/usr/bin/env node
const fs = require('node:fs');
const a = process.argv.slice(2);
const root = a.includes('--root') ? a[a.indexOf('--root') + 1] : '/';
if (root === '/') { console.error('stand-in refuses /'); process.exit(3); }
fs.writeFileSync(root + '/stand-in-node-args', a.join(' ') + '\\n');
if (a.includes('--remove-self')) fs.unlinkSync(__filename);
console.log('stand-in ' + a[0] + ' done');
`,
      0o755,
    );
    write(
      join(dir, `dist/${SLUG}-install.sh`),
      `#!/bin/sh
set -eu
args="$*"
root=/
while [ $# -gt 0 ]; do case $1 in --root) root=$2; shift ;; esac; shift; done
[ "$root" != / ] || { echo "stand-in refuses /" >&2; exit 3; }
echo "$args" > "$root/stand-in-sh-args"
case " $args " in *" --remove-self "*) rm -f -- "$0" ;; esac
echo "stand-in sh done"
`,
      0o755,
    );
  }
  return { dir, realBundle };
}
