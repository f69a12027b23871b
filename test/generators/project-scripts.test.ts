/**
 * The generated project's own machinery, run for real: Makefile targets, shellcheck on every
 * script, the first-login script with real input, the first-boot example with a stand-in of the
 * helper library. Paths under / are redirected into a temp dir by rewriting the copy under test.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, runIn, tempDir } from './support.js';

let dir: string;
let scratch: string;
beforeAll(async () => {
  dir = tempDir();
  scratch = tempDir('mpimg-scratch-');
  await runIn('app', dir).withOptions({
    yes: true,
    name: "Acme's Wiki",
    slug: 'acme-wiki',
    vendor: 'acme',
    'first-login': true,
  });
});
afterAll(() => {
  removeDir(dir);
  removeDir(scratch);
});

const make = (args: string[]) =>
  spawnSync('make', ['-s', '--no-print-directory', ...args], { cwd: dir, encoding: 'utf8' });

describe('generated Makefile', () => {
  it('help lists every target with one line each', () => {
    const r = make(['help']);
    expect(r.status).toBe(0);
    const targets = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(targets).toEqual([
      'help',
      'bundle',
      'upgrade',
      'validate',
      'build',
      'testbuild',
      'cleanup',
      'check',
      'status',
      'snapshot',
      'image',
      'verify',
      'outdated',
      'release',
    ]);
    // `make` with no target is `make help`
    expect(make([]).stdout).toBe(r.stdout);
  });

  for (const target of ['build', 'testbuild', 'cleanup', 'check', 'status']) {
    it(`${target} without HOST prints a usage line and exits 2; with HOST it calls mpimg run ${target}`, () => {
      const bad = make([target]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain(`usage: make ${target} HOST=<droplet-ip> [SSH_USER=root] [SSH_PORT=22]`);
      const ok = make([target, 'HOST=203.0.113.7', 'MPIMG=echo mpimg']);
      expect(ok.stdout.trim()).toBe(`mpimg run ${target} --host 203.0.113.7 --user root --port 22`);
      const all = make([target, 'HOST=h', 'SSH_USER=ops', 'SSH_PORT=2222', 'SSH_KEY=/k/id', 'MPIMG=echo mpimg']);
      expect(all.stdout.trim()).toBe(`mpimg run ${target} --host h --user ops --port 2222 --identity /k/id`);
    });
  }

  it('outdated takes HOST (with the SSH settings) or IMAGE, not both, JSON=1 for --json; mpimg exits 3 or 4 as make\'s "Error N"', () => {
    const usage = 'usage: make outdated HOST=<droplet-ip> [SSH_USER=root] [SSH_PORT=22]';
    for (const args of [[], ['HOST=h', 'IMAGE=42']]) {
      const bad = make(['outdated', 'MPIMG=echo mpimg', ...args]);
      expect(bad.status, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain(usage);
      expect(bad.stderr).toContain('or make outdated IMAGE=<snapshot-id> [JSON=1]');
      expect(bad.stdout).toBe('');
    }
    const call = (args: string[]) => make(['outdated', 'MPIMG=echo mpimg', ...args]).stdout.trim();
    expect(call(['HOST=203.0.113.7'])).toBe('mpimg outdated --host 203.0.113.7 --user root --port 22');
    expect(call(['HOST=h', 'SSH_USER=ops', 'SSH_PORT=2222', 'SSH_KEY=/k/id', 'JSON=1'])).toBe(
      'mpimg outdated --host h --user ops --port 2222 --identity /k/id --json',
    );
    expect(call(['IMAGE=42'])).toBe('mpimg outdated --image 42');
    expect(call(['IMAGE=42', 'JSON=1'])).toBe('mpimg outdated --image 42 --json');
    // the status is mpimg outdated's; make reports it and exits 2 (scripts call mpimg itself, as the README says)
    for (const code of [3, 4]) {
      const r = make(['outdated', 'IMAGE=42', `MPIMG=sh -c 'exit ${code}' mpimg`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`outdated\\] Error ${code}`));
    }
    expect(make(['outdated', 'IMAGE=42', `MPIMG=sh -c 'exit 0' mpimg`]).status).toBe(0);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('`make outdated HOST=...`, or `make outdated IMAGE=<snapshot-id>`');
    expect(readme).toContain('calls `./node_modules/.bin/mpimg outdated` itself');
  });

  it('bundle passes each VAR="NAME=value ..." as one --var word (a quote, $ or ; in a value stays in it)', () => {
    const args = (extra: string[]) =>
      make(['bundle', `MPIMG=${process.execPath} -e "console.log(JSON.stringify(process.argv.slice(1)))"`, ...extra]);
    expect(JSON.parse(args([]).stdout)).toEqual(['bundle']);
    expect(JSON.parse(args(['VAR=APP_VERSION=2.5.0 EDITION=pro']).stdout)).toEqual([
      'bundle',
      '--var',
      'APP_VERSION=2.5.0',
      '--var',
      'EDITION=pro',
    ]);
    // ($$ is make's own way to write a $)
    expect(JSON.parse(args(["VAR=A=it's B=x;false C=`id` D=$$(id)"]).stdout)).toEqual([
      'bundle',
      '--var',
      "A=it's",
      '--var',
      'B=x;false',
      '--var',
      'C=`id`',
      '--var',
      'D=$(id)',
    ]);
  });

  it("snapshot needs DROPLET; every target calls the project's own mpimg, never npx", () => {
    const bad = make(['snapshot']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage: make snapshot DROPLET=<droplet-id>');
    expect(make(['snapshot', 'DROPLET=42', 'MPIMG=echo mpimg']).stdout.trim()).toBe('mpimg snapshot --droplet 42');
    expect(make(['snapshot', 'DROPLET=42', 'YES=1', 'MPIMG=echo mpimg']).stdout.trim()).toBe(
      'mpimg snapshot --droplet 42 --yes',
    );
    expect(readFileSync(join(dir, 'Makefile'), 'utf8')).not.toMatch(/^[^#]*npx/m);
    // node_modules/.bin/mpimg when the project has it (npm install), else mpimg on PATH, else a clear error
    const bin = join(dir, 'node_modules/.bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'mpimg'), '#!/bin/sh\necho "local mpimg $*"\n', { mode: 0o755 });
    expect(make(['bundle']).stdout.trim()).toBe('local mpimg bundle');
    removeDir(join(dir, 'node_modules'));
    const missing = spawnSync('make', ['-s', 'bundle'], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('mpimg is not installed in this project: run npm install');
  });
});

describe('generated shell scripts', () => {
  it('are shellcheck-clean', () => {
    const scripts = ['first-boot/10-setup.sh', 'first-login/first-login.sh', 'scripts/10-configure.sh'];
    const r = spawnSync('shellcheck', ['-s', 'sh', ...scripts], { cwd: dir, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  function redirected(rel: string, replacements: Array<[string, string]>): string {
    let text = readFileSync(join(dir, rel), 'utf8');
    for (const [from, to] of replacements) {
      expect(text).toContain(from);
      text = text.split(from).join(to);
    }
    const out = join(scratch, rel.replace(/\//g, '_'));
    writeFileSync(out, text);
    chmodSync(out, 0o755);
    return out;
  }

  it('first-login asks for a domain, re-asks on a bad one, writes it and exits 0', () => {
    const etc = join(scratch, 'etc-login');
    const script = redirected('first-login/first-login.sh', [['/etc/acme-wiki', etc]]);
    const r = spawnSync(script, [], { input: 'not a domain\nwiki.example.com\n', encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Welcome to Acme's Wiki.");
    expect(r.stderr).toContain('"not a domain" is not a domain name');
    expect(readFileSync(join(etc, 'domain'), 'utf8')).toBe('wiki.example.com\n');
  });

  it('first-login exits non-zero without an answer, and after three bad ones, writing nothing', () => {
    const etc = join(scratch, 'etc-fail');
    const script = redirected('first-login/first-login.sh', [['/etc/acme-wiki', etc]]);
    const eof = spawnSync(script, [], { input: '', encoding: 'utf8' });
    expect(eof.status).toBe(1);
    expect(eof.stderr).toContain('starts again at your next login');
    const bad = spawnSync(script, [], { input: 'a\nb\nc\nok.example.com\n', encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(existsSync(join(etc, 'domain'))).toBe(false);
  });

  it('the first-boot example saves a password, writes the IP into the config (0600) and prints no secret', () => {
    const etc = join(scratch, 'etc-boot');
    const saved = join(scratch, 'credentials');
    const lib = join(scratch, 'lib.sh');
    // Stand-in for the helper library: same functions, fixed values, a file instead of /root.
    writeFileSync(
      lib,
      [
        'mpimg_random_password() { printf "%s" "S3cretPassw0rdValue12345" | head -c "${1:-24}"; }',
        `mpimg_save_credential() { printf '%s=%s\\n' "$1" "$2" >> '${saved}'; }`,
        'mpimg_public_ipv4() { echo 203.0.113.9; }',
        'mpimg_dbaas() { return 1; }',
        '',
      ].join('\n'),
    );
    const script = redirected('first-boot/10-setup.sh', [
      ['/opt/acme/acme-wiki/lib.sh', lib],
      ['/etc/acme-wiki', etc],
    ]);
    const r = spawnSync(script, [], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(saved, 'utf8')).toBe(
      'ADMIN_PASSWORD=S3cretPassw0rdValue12345\nDB_PASSWORD=S3cretPassw0rdValue12345\n',
    );
    const conf = readFileSync(join(etc, 'acme-wiki.conf'), 'utf8');
    expect(conf).toContain('public_ip=203.0.113.9\n');
    expect(conf).toContain('public_url=http://203.0.113.9/\n');
    expect(statSync(join(etc, 'acme-wiki.conf')).mode & 0o777).toBe(0o600);
    expect(r.stdout).not.toContain('S3cret');
  });

  it('the build step example records the build in /etc/<slug>/build-info, from the values the build passes', () => {
    const root = join(scratch, 'root-build');
    mkdirSync(root, { recursive: true });
    // No manifest value is written into the script: it follows mpimg.json through the environment.
    const text = readFileSync(join(dir, 'scripts/10-configure.sh'), 'utf8');
    expect(text).not.toMatch(/acme-wiki|1\.0\.0|ubuntu-24/);
    const r = spawnSync(join(dir, 'scripts/10-configure.sh'), [], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        MPIMG_ROOT: root,
        MPIMG_NAME: "Acme's Wiki",
        MPIMG_SLUG: 'acme-wiki',
        MPIMG_VERSION: '1.0.0',
        MPIMG_DISTRO: 'ubuntu-24-04-x64',
      },
    });
    const etc = join(root, 'etc/acme-wiki');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const info = readFileSync(join(etc, 'build-info'), 'utf8');
    expect(info).toMatch(/^name=Acme's Wiki\nversion=1\.0\.0\nbase=ubuntu-24-04-x64\nbuilt=\d{4}-\d\d-\d\dT/);
  });
});
