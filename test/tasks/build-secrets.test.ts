/**
 * Build secrets through `mpimg run` against the real sshd (the "droplet" is this machine as root,
 * every effect under a temp root): the value reaches a build script's environment, is on no command
 * line and in no output or log; a repository's credentials file is there for the build and gone
 * after the build scripts; a value left in the image fails the check, naming the file only.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../core/errors.js';
import { makeKey } from '../helpers/gpg.js';
import { runTaskInRoot, sshdPerFile } from '../helpers/sshd-run.js';
import { makeFixtureProject, REPO, type FixtureProject } from './fixture-project.js';

const LICENSE = 'LIC-7d41c0ffee-2026-acme';
const TOKEN = 'tok_5b9e01d2aa77f3';
const sshd = sshdPerFile();
let project: FixtureProject;
const temps: string[] = [];

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

function newRoot(): string {
  const r = temp('mpimg-bsecret-root-');
  mkdirSync(join(r, 'etc'));
  writeFileSync(join(r, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
  return r;
}

async function runTask(name: string, root: string, extra: string[]) {
  const log = join(temp('mpimg-bsecret-log-'), 'run.log');
  const r = await runTaskInRoot(sshd, name, root, {
    cwd: project.dir,
    env: { ACME_TOKEN: TOKEN },
    args: ['--log', log, ...extra],
  });
  const logText = existsSync(log) ? readFileSync(log, 'utf8') : '';
  return { code: r.code, out: r.out, err: r.err, all: `${r.out}${r.err}${logText}` };
}

const SECRETS = () => ['--secret', 'LICENSE_KEY=@license.txt', '--secret', 'REPO_TOKEN=env:ACME_TOKEN'];

beforeAll(async () => {
  project = await makeFixtureProject();
  if (!project.realBundle) throw new Error('these tests need the real bundle: run `npm run build` first');
  const key = makeKey();
  writeFileSync(join(project.dir, 'acme-repo.gpg'), key.binary);
  const m = JSON.parse(readFileSync(join(project.dir, 'mpimg.json'), 'utf8'));
  m.build.secrets = [{ name: 'LICENSE_KEY', description: 'from the Acme portal' }, { name: 'REPO_TOKEN' }];
  m.build.repositories = [
    {
      name: 'acme-private',
      uris: 'http://127.0.0.1:9/apt',
      suites: ['stable'],
      components: ['main'],
      key: { file: 'acme-repo.gpg' },
      auth: { username: 'builder', password: '{{build.secret.REPO_TOKEN}}' },
    },
  ];
  writeFileSync(join(project.dir, 'mpimg.json'), JSON.stringify(m, null, 2));
  // (the fixture's 20-second.sh wants files/ copied: not a step of these tests)
  rmSync(join(project.dir, 'scripts/20-second.sh'));
  writeFileSync(join(project.dir, 'license.txt'), `${LICENSE}\n`, { mode: 0o600 });
  // A build script as a vendor writes one: uses the key, prints it (carelessly), records what it saw
  // (a hash of the value, every process's command line, the credentials file while it runs).
  writeFileSync(
    join(project.dir, 'scripts/30-licence.sh'),
    `#!/bin/sh
set -eu
d="$MPIMG_ROOT/var/lib/acme-build"
mkdir -p "$d"
printf '%s' "$LICENSE_KEY" | sha256sum | cut -d' ' -f1 > "$d/licence.sha256"
echo "activating with licence $LICENSE_KEY"
for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null || true; echo; done > "$d/cmdlines"
if [ -f "$MPIMG_ROOT/etc/apt/auth.conf.d/acme-private.conf" ]; then echo present; else echo absent; fi > "$d/auth-during"
`,
    { mode: 0o755 },
  );
  execFileSync(process.execPath, [join(REPO, 'bin/mpimg.js'), 'bundle'], { cwd: project.dir, stdio: 'pipe' });
});

afterAll(async () => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('build secrets over SSH', () => {
  it('reach the build script and the repository for the build, on no command line, in no output, log or dist/', async () => {
    const root = newRoot();
    const repos = await runTask('repositories', root, SECRETS());
    expect(repos.code, repos.err).toBe(0);
    const auth = join(root, 'etc/apt/auth.conf.d/acme-private.conf');
    expect(statSync(auth).mode & 0o777).toBe(0o600);
    expect(existsSync(join(root, 'etc/apt/sources.list.d/acme-private.sources'))).toBe(true);
    expect(readFileSync(auth, 'utf8')).toContain(`machine http://127.0.0.1:9/apt login builder password ${TOKEN}\n`);
    expect(repos.all).toContain('credentials of repository acme-private in place for the build');

    const scripts = await runTask('scripts', root, SECRETS());
    expect(scripts.code, scripts.err).toBe(0);
    const built = join(root, 'var/lib/acme-build');
    expect(readFileSync(join(built, 'licence.sha256'), 'utf8').trim()).toBe(
      createHash('sha256').update(LICENSE).digest('hex'),
    );
    expect(readFileSync(join(built, 'cmdlines'), 'utf8')).toContain('30-licence.sh');
    expect(readFileSync(join(built, 'cmdlines'), 'utf8')).not.toContain(LICENSE);
    // the script's own echo, masked
    expect(scripts.out).toContain('[scripts] activating with licence ***');
    // the credentials served the build scripts too, and left with them
    expect(readFileSync(join(built, 'auth-during'), 'utf8')).toBe('present\n');
    expect(existsSync(auth)).toBe(false);
    // a build-only repository: its list leaves too (no apt-get update of the image fails on it)
    expect(existsSync(join(root, 'etc/apt/sources.list.d/acme-private.sources'))).toBe(false);
    expect(scripts.all).toContain('credentials of repository acme-private removed');
    for (const r of [repos, scripts]) {
      expect(r.all).not.toContain(LICENSE);
      expect(r.all).not.toContain(TOKEN);
    }
    const dist = spawnSync('grep', ['-rlaF', '-e', LICENSE, '-e', TOKEN, join(project.dir, 'dist')], {
      encoding: 'utf8',
    });
    expect([dist.status, dist.stdout]).toEqual([1, '']);
  });

  it('the check fails when a value is left in the image, naming the file, never the value', async () => {
    const root = newRoot();
    const clean = await runTask('check', root, SECRETS());
    expect(clean.code, clean.err).toBe(0);
    expect(clean.all).toContain('[PASS] no value of the 2 build secret(s) in the image');
    mkdirSync(join(root, 'opt/acme'), { recursive: true });
    writeFileSync(join(root, 'opt/acme/app.env'), `LICENSE=${LICENSE}\n`);
    writeFileSync(join(root, 'etc/acme.list'), `deb http://builder:${TOKEN}@repo/ stable main\n`);
    const leaked = await runTask('check', root, SECRETS());
    expect(leaked.code).toBe(1);
    expect(leaked.all).toContain('[FAIL] /opt/acme/app.env holds the value of a build secret ($.build.secrets)');
    expect(leaked.all).toContain('[FAIL] /etc/acme.list holds the value of a build secret');
    expect(leaked.all).toMatch(/a build secret's value is in the image \(2 file\(s\)/);
    expect(leaked.all).not.toContain(LICENSE);
    expect(leaked.all).not.toContain(TOKEN);
  });

  it('a value on the command line, or a declared secret without one, stops the run before it connects', async () => {
    const root = newRoot();
    const before = sshd.acceptedConnections();
    const inline = await runTask('scripts', root, ['--secret', `LICENSE_KEY=${LICENSE}`]).catch((e: UsageError) => e);
    expect(inline).toBeInstanceOf(UsageError);
    const shown = (inline as UsageError).format();
    expect(shown).toMatch(/--secret LICENSE_KEY=<value> is refused/);
    expect(shown).toMatch(/--secret LICENSE_KEY=@FILE/);
    expect(shown).not.toContain(LICENSE);
    const missing = await runTask('build', root, ['--secret', 'LICENSE_KEY=@license.txt']).catch((e: UsageError) => e);
    expect(missing).toBeInstanceOf(UsageError);
    expect((missing as UsageError).message).toBe(
      'the build secret REPO_TOKEN of mpimg.json ($.build.secrets) has no value: nothing was run',
    );
    expect(sshd.acceptedConnections()).toBe(before);
    expect(existsSync(join(root, 'var'))).toBe(false);
  });
});
