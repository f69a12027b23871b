/**
 * $.regenerate: a secret a package made at build time is removed by the cleanup and made anew at
 * first boot. Real make-ssl-cert (Debian's ssl-cert package) and real sh over a staged root in a
 * private mount namespace (its /etc/ssl bound over this machine's), the real cleanup and image check.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { check, checkJson, cleanRoot, cleanup, put } from '../scripts/fixture-root.js';
import { validateManifest, type Manifest } from '../../runtime/manifest.js';
import { PACKAGE_SECRETS, PACKAGE_SECRET_NAMES } from '../../runtime/sections/regenerate.js';
import { imageCheckArgs, cleanupArgs } from '../../runtime/script-args.js';

const PER_INSTANCE = '/var/lib/cloud/scripts/per-instance';
const RUN_PARTS = `for f in ${PER_INSTANCE}/*; do "$f" || echo "FAILED $f"; done`;
const KEY = 'etc/ssl/private/ssl-cert-snakeoil.key';
const PEM = 'etc/ssl/certs/ssl-cert-snakeoil.pem';
const CUSTOM = '/var/lib/acme-wiki/app.key';
const CHECK = path.resolve('templates/droplet/99-img-check.sh');
const CLEANUP = path.resolve('templates/droplet/90-cleanup.sh');
const manifest: Partial<Manifest> = {
  loginHold: false,
  regenerate: [
    'ssl-cert-snakeoil',
    'erlang-cookie',
    {
      path: CUSTOM,
      command: `mkdir -p /var/lib/acme-wiki && od -An -N16 -tx1 /dev/urandom | tr -d ' \\n' > ${CUSTOM}`,
      owner: 'root',
      group: 'root',
      mode: '0600',
    },
  ],
};

const PROJECT = { ...manifest, slug: 'acme-wiki', vendor: 'acme' } as Manifest;

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture({ manifest, firstLogin: false });
});

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const ownerMode = (f: string) => {
  const st = fs.statSync(f);
  const group = spawnSync('getent', ['group', String(st.gid)], { encoding: 'utf8' }).stdout.split(':')[0];
  return `${st.uid}:${group} ${(st.mode & 0o777).toString(8)}`;
};
const hashLinks = (root: string) =>
  fs.readdirSync(path.join(root, 'etc/ssl/certs')).filter((f) => /^[0-9a-f]{8}\.\d+$/.test(f));

/** A staged root with the bundle installed and the ssl-cert package's folders as Debian makes them. */
function installed(): string {
  const root = stagedRoot();
  fs.mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true, mode: 0o755 });
  fs.mkdirSync(path.join(root, 'etc/ssl/private'), { mode: 0o710 });
  spawnSync('chgrp', ['ssl-cert', path.join(root, 'etc/ssl/private')]);
  // make-ssl-cert reads debconf's database (under /var, which the sandbox binds from the root)
  fs.mkdirSync(path.join(root, 'var/cache/debconf'), { recursive: true });
  for (const f of ['config.dat', 'templates.dat'])
    fs.copyFileSync(`/var/cache/debconf/${f}`, path.join(root, 'var/cache/debconf', f));
  fs.writeFileSync(path.join(root, 'var/cache/debconf/passwords.dat'), '', { mode: 0o600 });
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return root;
}
const sandbox = (root: string, script: string) => runInSandbox(root, script, { mounts: ['/etc/ssl'] });

describe('$.regenerate', () => {
  it('the image check knows the same package secrets as the schema', () => {
    const text = fs.readFileSync(CHECK, 'utf8');
    const table = [...text.matchAll(/^ {2}'([a-z-]+)\|([a-z0-9.+-]+)\|([^|']+)\|([^']*)'$/gm)].map((m) => [
      m[1],
      m[2],
      [m[3], ...(m[4] ? [m[4]] : [])],
    ]);
    expect(table).toEqual(
      PACKAGE_SECRET_NAMES.map((n) => [n, PACKAGE_SECRETS[n].package, PACKAGE_SECRETS[n].files.map((f) => f.path)]),
    );
  });

  it('refuses system paths, a known file written as custom, a duplicate and an unknown name', () => {
    const base = { name: 'Acme', slug: 'acme-app', vendor: 'acme', version: '1.0.0', distributions: ['debian-12-x64'] };
    const problems = (regenerate: unknown[]) =>
      validateManifest({ ...base, regenerate }).problems.map((p) => `${p.path}: ${p.message}`);
    expect(problems([{ path: '/etc/ssh/sshd_config', command: 'true' }])).toEqual([
      '$.regenerate[0].path: /etc/ssh/sshd_config is in /etc/ssh, where root runs code from: the build never removes it, and first boot never makes it',
    ]);
    expect(problems([{ path: '/usr/bin/app', command: 'true' }])).toHaveLength(1);
    expect(problems([{ path: '/etc', command: 'true' }])).toHaveLength(1);
    expect(problems([{ path: '/etc/ssl/private/ssl-cert-snakeoil.key', command: 'true' }])).toEqual([
      '$.regenerate[0].path: /etc/ssl/private/ssl-cert-snakeoil.key is a file of the known "ssl-cert-snakeoil"',
    ]);
    expect(problems(['erlang-cookie', 'erlang-cookie'])).toEqual([
      '$.regenerate[1]: erlang-cookie is listed twice (also $.regenerate[0])',
    ]);
    expect(problems(['snakeoil']).join('\n')).toMatch(/^\$\.regenerate\[0\]/);
    expect(problems([{ path: '/etc/app/*.key', command: 'true' }])).toEqual([
      '$.regenerate[0].path: "/etc/app/*.key" has a wildcard',
    ]);
    expect(problems([{ path: '/etc/app/app.key', command: 'a\nb' }])).toEqual([
      '$.regenerate[0].command: holds a control or line-separator character (U+000A)',
    ]);
    expect(problems(['ssl-cert-snakeoil', { path: '/etc/app/app.key', command: 'app-keygen', mode: '0600' }])).toEqual(
      [],
    );
  });

  // Regression: a command with $VAR, $(...) or `...` (single-quoted for sh -c, on purpose) made the
  // installed prepare step fail shellcheck (SC2016).
  it('the prepare step stays shellcheck-clean with a command holding $, $(...), backquotes and quotes', () => {
    const command = `umask 077; app-keygen --host "$(hostname)" --home "$HOME" \`id -u\` > '/etc/app/app.key' && echo 100%`;
    const hostile = bundledFixture({
      manifest: { loginHold: false, regenerate: [{ path: '/etc/app/app.key', command }] },
      firstLogin: false,
    });
    const root = stagedRoot();
    const r = spawnSync(process.execPath, [hostile.cjs, 'install', '--root', root], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const prepare = path.join(root, 'opt/acme/acme-wiki/prepare');
    expect(fs.readFileSync(prepare, 'utf8')).toContain(`'umask 077; app-keygen --host "$(hostname)"`);
    expect(spawnSync('sh', ['-n', prepare]).status).toBe(0);
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-e', 'SC1091', prepare], { encoding: 'utf8' });
    expect(sc.stdout).toBe('');
  });

  it('the built snakeoil key is removed by the cleanup, made anew at first boot with its owner and mode, and kept on a second first boot', () => {
    const root = installed();
    // the prepare step as installed: POSIX sh, shellcheck-clean
    const prepare = path.join(root, 'opt/acme/acme-wiki/prepare');
    expect(spawnSync('sh', ['-n', prepare]).status).toBe(0);
    const sc = spawnSync('shellcheck', ['-s', 'sh', '-e', 'SC1091', prepare], { encoding: 'utf8' });
    expect(sc.stdout).toBe('');
    // the build: the ssl-cert package makes its key (real make-ssl-cert) and a hash link to its cert
    const built = sandbox(root, 'make-ssl-cert generate-default-snakeoil --force-overwrite');
    expect(built.status, built.stderr).toBe(0);
    const builtKey = sha(path.join(root, KEY));
    expect(hashLinks(root)).toHaveLength(1);

    // the image check of the built image FAILs, naming the file, the package and the fix
    const failing = check(root);
    expect(failing.stdout).toMatch(/^\[FAIL\] package-secrets: /m);
    const declared = imageCheckArgs(PROJECT, fs.readFileSync(CHECK, 'utf8'));
    expect(declared).toContain('--regenerate');
    // declared but not cleaned up: still a FAIL, whose fix is the cleanup
    expect(check(root, declared).stdout).toContain(
      '/etc/ssl/private/ssl-cert-snakeoil.key (package ssl-cert): declared in $.regenerate, but still here: run the cleanup',
    );

    const c = cleanup(root, cleanupArgs(PROJECT, fs.readFileSync(CLEANUP, 'utf8')));
    expect(c.stdout).toContain('secrets packages made (first boot makes them per droplet)');
    expect(fs.existsSync(path.join(root, KEY))).toBe(false);
    expect(fs.existsSync(path.join(root, PEM))).toBe(false);
    expect(hashLinks(root)).toEqual([]);
    expect(check(root, declared).stdout).toMatch(/^\[PASS\] package-secrets: /m);

    // first boot: a key of this droplet's own, root:ssl-cert 0640, its cert 0644 with its hash link
    const boot = sandbox(root, RUN_PARTS);
    expect(boot.stdout).not.toContain('FAILED');
    const log = () => fs.readFileSync(path.join(root, 'var/log/mpimg/acme-wiki/prepare.log'), 'utf8');
    expect(log()).toContain('regenerate ssl-cert-snakeoil: made anew for this droplet');
    expect(log()).toContain('regenerate erlang-cookie: rabbitmq-server is not installed: nothing to make');
    expect(log()).toContain(`regenerate ${CUSTOM}: made anew for this droplet`);
    const mine = sha(path.join(root, KEY));
    expect(mine).not.toBe(builtKey);
    expect(ownerMode(path.join(root, KEY))).toBe('0:ssl-cert 640');
    expect(ownerMode(path.join(root, PEM))).toBe('0:root 644');
    expect(ownerMode(path.join(root, CUSTOM.slice(1)))).toBe('0:root 600');
    expect(hashLinks(root)).toHaveLength(1);
    // the key never reaches the log
    const keyText = fs.readFileSync(path.join(root, KEY), 'utf8').split('\n')[1];
    expect(log()).not.toContain(keyText);
    const custom = sha(path.join(root, CUSTOM.slice(1)));

    // first boot again: the droplet keeps its own
    const again = sandbox(root, RUN_PARTS);
    expect(again.stdout).not.toContain('FAILED');
    expect(sha(path.join(root, KEY))).toBe(mine);
    expect(sha(path.join(root, CUSTOM.slice(1)))).toBe(custom);
    expect(log()).toContain('regenerate ssl-cert-snakeoil: kept (made on this droplet)');
  });

  it('an image that kept its built key (no cleanup ran) gets a new one at first boot', () => {
    const root = installed();
    expect(sandbox(root, 'make-ssl-cert generate-default-snakeoil --force-overwrite').status).toBe(0);
    const builtKey = sha(path.join(root, KEY));
    const boot = sandbox(root, RUN_PARTS);
    expect(boot.stdout).not.toContain('FAILED');
    expect(sha(path.join(root, KEY))).not.toBe(builtKey);
    expect(ownerMode(path.join(root, KEY))).toBe('0:ssl-cert 640');
  });

  it('the check names an Erlang cookie left as built, and passes it on a booted droplet', () => {
    const root = cleanRoot();
    put(root, 'var/lib/rabbitmq/.erlang.cookie', 'ABCDEFGHIJKLMNOPQRST', 0o400);
    const { report } = checkJson(root);
    const entry = report.checks.find((e) => e.id === 'package-secrets')!;
    expect(entry.status).toBe('fail');
    expect(entry.evidence).toEqual([
      '/var/lib/rabbitmq/.erlang.cookie (package rabbitmq-server): declare "erlang-cookie" in $.regenerate of mpimg.json (first boot then makes each droplet its own)',
    ]);
    expect(JSON.stringify(report)).not.toContain('ABCDEFGHIJKLMNOPQRST');
    expect(check(root, ['--booted']).stdout).toMatch(
      /^\[PASS\] package-secrets: secrets packages make are this droplet's own, made at first boot \(1 found\)$/m,
    );
  });
});

// Found: a run killed while it wrote the Erlang cookie left its temporary file, with the secret, in
// the state folder for good (the EXIT trap cannot run after SIGKILL).
describe('a prepare step killed while it writes a secret of $.regenerate', () => {
  it('leaves its temporary file root-only in the state folder; the next run removes it', () => {
    const k = bundledFixture({ manifest: { loginHold: false, regenerate: ['erlang-cookie'] }, firstLogin: false });
    const root = stagedRoot();
    const r = spawnSync(process.execPath, [k.cjs, 'install', '--root', root], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const bin = fs.mkdtempSync(path.join(root, 'bin-'));
    // rabbitmq-server is there (the secret is made); chown of the temporary file: killed there
    fs.writeFileSync(path.join(bin, 'rabbitmq-server'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'chown'), '#!/bin/sh\nkill -9 $PPID\nexit 1\n', { mode: 0o755 });
    const state = path.join(root, 'var/lib/mpimg/acme-wiki');
    runInSandbox(root, '/opt/acme/acme-wiki/prepare', { env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    const left = fs.readdirSync(state).filter((f) => f.startsWith('.regenerate.'));
    expect(left).toHaveLength(1);
    expect(fs.statSync(path.join(state, left[0])).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(state, left[0]), 'utf8')).toMatch(/^[A-Z]{20}$/);
    // the next run (rabbitmq-server gone: nothing to make) still removes it
    const again = runInSandbox(root, '/opt/acme/acme-wiki/prepare; echo "rc=$?"');
    expect(again.stdout).toContain('rc=0');
    expect(fs.readdirSync(state).filter((f) => f.startsWith('.regenerate.'))).toEqual([]);
  });
});
