/**
 * build.debconf on a real debconf: dist/<slug>-build.sh's `debconf` run in a chroot of a fixture
 * root with --root, its answers set by the real debconf-set-selections inside the staged root and
 * read back with the real debconf-show; values with quotes, $(), backslashes and blanks arrive as
 * written; a dnf machine preseeds nothing; the step comes before the packages over SSH and in the
 * Packer template; the schema's errors at their $.path.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import type { DebconfEntry } from '../../runtime/sections/debconf.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { buildRoot, installScript, runBuild, stagedIn, type Os } from '../helpers/build-root.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { cleanupFixtures, copyBinary, dir, inChroot } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests chroot into fixture roots: they must run as root (CI does)');
});

const PERL_BASE = '/usr/lib/x86_64-linux-gnu/perl-base';

/** This machine's real debconf (perl, its base modules, Debconf::*) copied into `staged`, with an empty database. */
function withDebconf(staged: string): void {
  copyBinary(staged, '/usr/bin/dash', 'bin/sh');
  copyBinary(staged, '/usr/bin/perl', 'usr/bin/perl');
  for (const p of [PERL_BASE, '/usr/share/perl5/Debconf', '/etc/debconf.conf'])
    cpSync(p, join(staged, p), { recursive: true });
  for (const t of ['debconf-set-selections', 'debconf-show']) cpSync(`/usr/bin/${t}`, join(staged, 'usr/bin', t));
  dir(staged, 'var/cache/debconf');
  dir(staged, 'dev');
  const mk = spawnSync('mknod', ['-m', '666', join(staged, 'dev/null'), 'c', '1', '3'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`mknod ${staged}/dev/null: ${mk.stderr}`);
}

function bundled(debconf: DebconfEntry[], extra: Partial<Manifest> = {}, overrides?: Record<string, string>) {
  const manifest = {
    distributions: ['debian-12-x64', 'rockylinux-9-x64'],
    build: { debconf },
    ...extra,
  } as Partial<Manifest>;
  return writeBundle(loadProject(makeProject({ manifest }), { overrides }));
}

function debconfRoot(os: Os = 'debian'): string {
  const root = buildRoot(os);
  withDebconf(stagedIn(root, 'staged', os));
  return root;
}

/** `debconf-show PACKAGE` of the staged root, run inside it. */
const show = (root: string, pkg: string) =>
  inChroot(root, ['chroot', '/staged', 'debconf-show', pkg]).stdout.split('\n').filter(Boolean).sort();

const HOSTILE = `it's "quoted" $(touch /staged/pwned) \`id\` back\\slash & <> ;|  two  blanks`;

const ANSWERS: DebconfEntry[] = [
  { package: 'postfix', question: 'postfix/main_mailer_type', type: 'select', value: 'Internet Site' },
  { package: 'postfix', question: 'postfix/mailname', type: 'string', value: '{{MAIL_NAME}}' },
  { package: 'acme-app', question: 'acme-app/motto', type: 'string', value: HOSTILE },
  { package: 'acme-app', question: 'acme-app/empty', type: 'string', value: '' },
  { package: 'acme-app', question: 'acme-app/enable', type: 'boolean', value: 'true' },
  { package: 'acme-app', question: 'acme-app/features', type: 'multiselect', value: 'a, b' },
  { package: 'mariadb-server', question: 'mysql-server/root_password', type: 'password', value: '' },
];

const POSTFIX = ['* postfix/mailname: mail.example.com', '* postfix/main_mailer_type: Internet Site'];

describe('build.debconf on a real debconf database', () => {
  it('sets every answer exactly as written (variables filled in), a password as none', () => {
    const root = debconfRoot();
    const b = bundled(ANSWERS, { variables: { MAIL_NAME: 'mail.example.com' } });
    installScript(root, b.build);
    const r = runBuild(root, ['--root', '/staged', 'debconf']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('debconf: postfix/main_mailer_type (select): Internet Site');
    expect(r.stdout).toContain('debconf: mysql-server/root_password (password): set (not shown)');
    expect(r.stdout).toContain('debconf: 7 answer(s) preseeded before the packages install');
    expect(show(root, 'postfix')).toEqual(POSTFIX);
    expect(show(root, 'acme-app')).toEqual([
      '* acme-app/empty:',
      '* acme-app/enable: true',
      '* acme-app/features: a, b',
      `* acme-app/motto: ${HOSTILE}`,
    ]);
    expect(existsSync(join(root, 'staged/pwned'))).toBe(false);
    // the (empty) password is in debconf's root-only password store, not in its world-readable one
    const staged = join(root, 'staged/var/cache/debconf');
    expect(readFileSync(join(staged, 'passwords.dat'), 'utf8')).toContain('Name: mysql-server/root_password');
    expect(readFileSync(join(staged, 'config.dat'), 'utf8')).not.toContain('Name: mysql-server/root_password');
    // a second run sets the same again
    const again = runBuild(root, ['--root', '/staged', 'debconf']);
    expect(again.code, again.stderr).toBe(0);
    expect(show(root, 'postfix')).toEqual(POSTFIX);
  });

  it('a dnf machine preseeds nothing; a manifest without answers says so', () => {
    const rocky = buildRoot('rocky');
    stagedIn(rocky, 'staged', 'rocky');
    installScript(rocky, bundled(ANSWERS.slice(0, 1)).build);
    const r = runBuild(rocky, ['--root', '/staged', 'debconf']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('build.debconf is for apt distributions: nothing to preseed on rockylinux-9-x64');

    const root = debconfRoot();
    installScript(root, bundled([]).build);
    const none = runBuild(root, ['--root', '/staged', 'debconf']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain('mpimg.json has no build.debconf answers for debian-12-x64');
  });

  it('a machine without debconf stops the step naming it, changing nothing', () => {
    const root = buildRoot();
    withDebconf(stagedIn(root, 'staged'));
    rmSync(join(root, 'staged/usr/bin/debconf-set-selections'));
    installScript(root, bundled(ANSWERS.slice(0, 1)).build);
    const r = runBuild(root, ['--root', '/staged', 'debconf']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: debconf: debconf-set-selections is not on this system');
  });
});

describe('the debconf step comes before the packages', () => {
  it('in the build pipeline and in the Packer template (which runs the same build.sh command)', () => {
    const order = buildOrder();
    expect(order.indexOf('debconf')).toBe(order.indexOf('packages') - 1);
    const b = bundled(ANSWERS.slice(0, 1), { build: { debconf: ANSWERS.slice(0, 1), packages: ['postfix'] } });
    const text = readFileSync(b.packer, 'utf8');
    const steps = [...text.matchAll(/^ {2}# step ([a-z0-9-]+):/gm)].map((m) => m[1]);
    expect(steps.indexOf('debconf')).toBe(steps.indexOf('packages') - 1);
    expect(text).toMatch(
      /# step debconf: .*\n  provisioner "shell" \{\n    inline = \[\n      "sh \$\{local\.work\}\/acme-wiki-build\.sh debconf",\n/,
    );
    // valid to real packer once what this machine's Packer 1.6.6 cannot parse is taken out (the
    // packer {} block, droplet_agent; see packer-template.test.ts)
    const old = text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, '');
    const check = join(dirname(b.packer), 'check.pkr.hcl');
    writeFileSync(check, old);
    const valid = spawnSync('packer', ['validate', check], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: tempDir('mpimg-packer-home-'),
        CHECKPOINT_DISABLE: '1',
        DIGITALOCEAN_TOKEN: 'dop_v1_not-a-real-token',
      },
    });
    expect(valid.stdout + valid.stderr, 'packer validate').not.toMatch(/Error/);
    expect(valid.status).toBe(0);
    // no answers: the same command, which says there is nothing to do (tested above)
    expect(readFileSync(bundled([]).packer, 'utf8')).toContain('acme-wiki-build.sh debconf"');
  });

  it('the generated script passes shellcheck', () => {
    const b = bundled(ANSWERS, { variables: { MAIL_NAME: 'm' } });
    const r = spawnSync('shellcheck', ['-s', 'sh', b.build], { encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
  });
});

describe('$.build.debconf at validate time', () => {
  const problems = (entry: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    validateManifest({
      ...MINIMAL_MANIFEST,
      ...extra,
      build: { debconf: [{ package: 'postfix', question: 'postfix/mailname', type: 'string', value: 'x', ...entry }] },
    }).problems;

  it('takes what debconf-set-selections reads', () => {
    for (const ok of [
      {},
      { type: 'select', value: 'Internet Site' },
      { type: 'boolean', value: 'false' },
      { type: 'seen', value: 'true' },
      { type: 'password', value: '' },
      { value: `quotes ' " $(x) \\ back` },
    ])
      expect(problems(ok), JSON.stringify(ok)).toEqual([]);
  });

  it('refuses a value a second selection could hide in, at its $.path', () => {
    for (const value of ['a\nb', 'a\rb', 'a\tb', 'a\u2028b', 'a\u0000b', 'ends in \\', 'x'.repeat(4001)]) {
      const p = problems({ value });
      expect(p.length, JSON.stringify(value)).toBeGreaterThan(0);
      expect(p[0].path, JSON.stringify(value)).toMatch(/^\$\.build\.debconf\[0\]\.value$/);
    }
  });

  it('refuses bad names and types, a boolean that is not true/false, an unknown variable', () => {
    const at = (entry: Record<string, unknown>) => problems(entry).map((p) => `${p.path}: ${p.message}`);
    expect(at({ package: 'Post fix' })).toEqual(['$.build.debconf[0].package: bad package name "Post fix"']);
    expect(at({ question: 'mailname $(id)' })[0]).toBe(
      '$.build.debconf[0].question: bad debconf question "mailname $(id)"',
    );
    expect(at({ type: 'error' })[0]).toMatch(/^\$\.build\.debconf\[0\]\.type: /);
    expect(at({ type: 'boolean', value: 'yes' })).toEqual([
      '$.build.debconf[0].value: a boolean value is "true" or "false", not "yes"',
    ]);
    expect(at({ value: 'v{{NOPE}}' })).toEqual([
      '$.build.debconf[0].value: {{NOPE}} in the debconf value is not a variable of $.variables',
    ]);
  });

  it('refuses a password written into mpimg.json, saying what to do', () => {
    const p = problems({ type: 'password', value: 'hunter2' });
    expect(p.map((x) => x.path)).toEqual(['$.build.debconf[0].value']);
    expect(p[0].message).toContain('a password is written into mpimg.json');
    expect(p[0].hint).toContain('$.secrets');
  });

  // Regression: "{{PW}}" with the value given at bundle time was taken, and the password went into
  // the image's helper library (its variables), dist/ and the build record, the same on every droplet.
  it('refuses a password from a variable, even one given only at bundle time', () => {
    for (const variables of [{ PW: '' }, { PW: 'hunter2' }, { PW: { default: '' } }]) {
      const p = problems({ type: 'password', value: '{{PW}}' }, { variables });
      expect(
        p.map((x) => `${x.path}: ${x.message}`),
        JSON.stringify(variables),
      ).toEqual([
        "$.build.debconf[0].value: a password from a variable ({{PW}}) would be in the image (the helper library's variables, debconf's passwords.dat), the bundle and the build record, the same on every droplet",
      ]);
    }
  });

  it('a variable whose value (given at bundle time) would break the line stops the bundle, naming the question', () => {
    const entry = { package: 'postfix', question: 'postfix/mailname', type: 'string' as const, value: '{{MAIL_HOST}}' };
    const vars = { variables: { MAIL_HOST: 'ok' } };
    // a trailing backslash joins the next selection to this one
    expect(() => bundled([entry], vars, { MAIL_HOST: 'mail\\' })).toThrow(
      /build\.debconf postfix\/mailname: its value \(with the variables filled in\) has a trailing backslash/,
    );
    // a line break would start a second selection
    expect(() => bundled([entry], vars, { MAIL_HOST: 'a\npostfix postfix/main_mailer_type select No' })).toThrow(
      /postfix\/mailname: its value \(with the variables filled in\) has a line break/,
    );
    expect(() => bundled([{ ...entry, type: 'boolean' }], vars)).toThrow(
      /a boolean value is "true" or "false", not "ok"/,
    );
  });

  it('is refused when no distribution uses apt, naming $.build.debconf and why', () => {
    const p = problems({}, { distributions: ['rockylinux-9-x64', 'almalinux-9-x64'] });
    expect(p.map((x) => x.path)).toEqual(['$.build.debconf']);
    expect(p[0].message).toContain('only apt distributions have');
    expect(problems({}, { distributions: ['rockylinux-9-x64', 'ubuntu-24-04-x64'] })).toEqual([]);
  });
});
