import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { runtimeBundlePath, templatesDir } from '../../core/paths.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { treeDigest } from '../helpers/tree.js';

let b: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
});

const node = (args: string[], opts: { cwd?: string } = {}) =>
  spawnSync(process.execPath, [b.cjs, ...args], { encoding: 'utf8', cwd: opts.cwd ?? os.tmpdir() });
const sh = (args: string[]) => spawnSync('sh', [b.sh, ...args], { encoding: 'utf8', cwd: os.tmpdir() });

describe('the runtime bundle', () => {
  it('runs from an empty folder with plain node and no node_modules', () => {
    const empty = tempDir('mpimg-empty-');
    const copy = path.join(empty, 'acme-wiki.cjs');
    fs.copyFileSync(b.cjs, copy);
    const r = spawnSync(process.execPath, [copy, 'plan'], {
      encoding: 'utf8',
      cwd: empty,
      env: { PATH: process.env.PATH },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('/var/lib/cloud/scripts/per-instance/10-acme-wiki-password');
    expect(fs.readdirSync(empty)).toEqual(['acme-wiki.cjs']);
  });

  it('requires Node built-ins only', () => {
    const src = fs.readFileSync(runtimeBundlePath(), 'utf8');
    const required = [...src.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    for (const r of required) expect(builtinModules).toContain(r.replace(/^node:/, ''));
    expect(src.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(src).toContain('mpimg-runtime');
  });

  it('has --version and --help, and refuses an unknown command', () => {
    // the image and the tool that made the bundle, from both executors
    expect(node(['--version']).stdout).toMatch(/^Acme Wiki 1\.2\.3 \(acme-wiki\), generator-mpimg \d+\.\d+\.\d+\n$/);
    expect(sh(['--version']).stdout).toBe(node(['--version']).stdout);
    expect(node(['--help']).stdout).toContain('uninstall');
    const r = node(['frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });

  it('every command answers --help (and help <command>) with its own options, also the bare runtime', () => {
    const bare = (args: string[]) => spawnSync(process.execPath, [runtimeBundlePath(), ...args], { encoding: 'utf8' });
    const optionsOf = (text: string) => [...text.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]);
    for (const run of [node, bare]) {
      const install = run(['install', '--help']);
      expect(install.status).toBe(0);
      expect(install.stderr).toBe('');
      expect(optionsOf(install.stdout)).toEqual(['--root', '--json', '--remove-self', '--only', '--force']);
      expect(run(['install', '-h']).stdout).toBe(install.stdout);
      expect(run(['help', 'install']).stdout).toBe(install.stdout);
      expect(optionsOf(run(['status', '--help']).stdout)).toEqual(['--root', '--json']);
      expect(optionsOf(run(['uninstall', '--help']).stdout)).toEqual(['--root', '--json', '--force']);
      expect(optionsOf(run(['plan', '--help']).stdout)).toEqual(['--root', '--json']);
      // The overview lists every command of the table.
      const overview = run(['--help']).stdout;
      for (const cmd of ['install', 'status', 'uninstall', 'plan', 'cleanup', 'check'])
        expect(overview).toMatch(new RegExp(`^ {2}${cmd} `, 'm'));
    }
    // --help changes nothing, whatever else is on the line.
    const root = stagedRoot();
    const before = treeDigest(root);
    expect(node(['install', '--root', root, '--help']).status).toBe(0);
    expect(treeDigest(root)).toEqual(before);
  });

  it('refuses an option the command does not take, in its own words, naming the ones it takes', () => {
    const r = node(['status', '--force']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^error: status does not take the option --force\n {2}fix: status takes --root DIR, --json /,
    );
    expect(r.stderr).not.toMatch(/Unknown option|ERR_PARSE_ARGS/);
    const missing = node(['install', '--root']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('error: --root needs a value');
    const stray = node(['plan', 'extra']);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toContain('error: plan takes no argument "extra"');
    const only = node(['install', '--only', 'all']);
    expect(only.status).toBe(2);
    expect(only.stderr).toContain('error: --only all is not known here');
  });

  it('the bare runtime explains that it has no payload', () => {
    const r = spawnSync(process.execPath, [runtimeBundlePath(), 'install', '--root', os.tmpdir()], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('without an image payload');
  });

  it('refuses an embedded manifest that fails the schema', () => {
    const bad = path.join(tempDir('mpimg-bad-'), 'bad.cjs');
    fs.writeFileSync(
      bad,
      fs.readFileSync(b.cjs, 'utf8').replace('\\"slug\\":\\"acme-wiki\\"', '\\"slug\\":\\"Acme Wiki\\"'),
    );
    const root = stagedRoot();
    const r = spawnSync(process.execPath, [bad, 'install', '--root', root], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('$.slug: bad slug "Acme Wiki"');
    expect(fs.existsSync(path.join(root, 'opt'))).toBe(false);
  });

  it('refuses a --root that does not exist, changing nothing', () => {
    const r = node(['install', '--root', '/nonexistent/mpimg-root']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--root /nonexistent/mpimg-root does not exist');
  });
});

describe('install, status, uninstall under --root', () => {
  it('lays down the planned tree with the right modes', () => {
    const root = stagedRoot();
    const r = node(['install', '--root', root]);
    expect(r.status).toBe(0);
    const tree = treeDigest(root).map((l) => l.split(' ').slice(0, 3).join(' '));
    expect(tree).toEqual(
      expect.arrayContaining([
        '0755 f var/lib/cloud/scripts/per-instance/10-acme-wiki-password',
        '0755 f var/lib/cloud/scripts/per-instance/20-acme-wiki-ip',
        '0755 f var/lib/cloud/scripts/per-instance/zz-acme-wiki-finish',
        '0644 f opt/acme/acme-wiki/lib.sh',
        '0755 f opt/acme/acme-wiki/first-login.sh',
        '0755 f opt/acme/acme-wiki/first-login-run',
        '0644 f opt/acme/acme-wiki/installed.json',
        '0755 f etc/update-motd.d/99-acme-wiki',
        '0600 f etc/acme-wiki/secret.conf',
        '0755 f usr/local/bin/acme-wiki-hello',
      ]),
    );
    const bashrc = fs.readFileSync(path.join(root, 'root/.bashrc'), 'utf8');
    expect(bashrc.match(/# >>> mpimg:acme-wiki first-login >>>/g)).toHaveLength(1);
    expect(bashrc.endsWith('export EDITOR=vi\n')).toBe(true);
    // The hold is armed at a new droplet's boot, never at install: sshd_config is left alone.
    expect(fs.readFileSync(path.join(root, 'etc/ssh/sshd_config'), 'utf8')).toBe(
      'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n',
    );
    expect(tree).toEqual(
      expect.arrayContaining([
        '0755 f opt/acme/acme-wiki/login-hold',
        '0644 f etc/cloud/cloud.cfg.d/99-acme-wiki-login-hold.cfg',
        '0644 f etc/systemd/system/acme-wiki-login-hold.service',
        '0777 l etc/systemd/system/multi-user.target.wants/acme-wiki-login-hold.service',
      ]),
    );
    expect(fs.readdirSync(root).filter((n) => n.includes('mpimg-tmp'))).toEqual([]);
  });

  it('is idempotent: a second install changes nothing and says so', () => {
    const root = stagedRoot();
    node(['install', '--root', root]);
    const before = treeDigest(root);
    const r = node(['install', '--root', root]);
    expect(r.stdout).toBe('install: nothing to change\n');
    expect(treeDigest(root)).toEqual(before);
  });

  it('replaces files by rename, never by rewriting them in place (node and sh)', () => {
    for (const run of [node, sh]) {
      const root = stagedRoot();
      run(['install', '--root', root]);
      const lib = path.join(root, 'opt/acme/acme-wiki/lib.sh');
      fs.writeFileSync(lib, 'stale\n');
      const before = fs.statSync(lib).ino;
      expect(run(['install', '--root', root]).stdout).toContain('updated  /opt/acme/acme-wiki/lib.sh');
      // a new inode: readers of the old file never see a half-written one
      expect(fs.statSync(lib).ino).not.toBe(before);
      expect(fs.readdirSync(path.dirname(lib)).filter((n) => n.includes('mpimg-tmp'))).toEqual([]);
    }
  });

  it('status reports each kind of drift and exits non-zero', () => {
    const root = stagedRoot();
    expect(node(['status', '--root', root]).status).toBe(1);
    node(['install', '--root', root]);
    expect(node(['status', '--root', root]).status).toBe(0);
    fs.rmSync(path.join(root, 'var/lib/cloud/scripts/per-instance/20-acme-wiki-ip'));
    fs.chmodSync(path.join(root, 'etc/update-motd.d/99-acme-wiki'), 0o644);
    fs.appendFileSync(path.join(root, 'opt/acme/acme-wiki/lib.sh'), '# edited\n');
    fs.writeFileSync(path.join(root, 'root/.bashrc'), 'alias ll="ls -l"\n');
    const r = node(['status', '--root', root, '--json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.drift).toEqual(
      expect.arrayContaining([
        { path: '/var/lib/cloud/scripts/per-instance/20-acme-wiki-ip', problem: 'missing' },
        { path: '/etc/update-motd.d/99-acme-wiki', problem: 'wrong mode', detail: '644 instead of 755' },
        { path: '/opt/acme/acme-wiki/lib.sh', problem: 'changed content' },
        { path: '/root/.bashrc', problem: 'hook missing', detail: 'mpimg:acme-wiki first-login' },
      ]),
    );
    // install repairs the drift
    node(['install', '--root', root]);
    expect(node(['status', '--root', root]).status).toBe(0);
  });

  it('uninstall removes exactly what install added; .bashrc comes back byte-identical', () => {
    const root = stagedRoot('# no trailing newline\nalias x=y');
    fs.mkdirSync(path.join(root, 'etc/update-motd.d'));
    fs.writeFileSync(path.join(root, 'etc/update-motd.d/10-uname'), '#!/bin/sh\nuname\n', { mode: 0o755 });
    const before = treeDigest(root);
    node(['install', '--root', root]);
    const r = node(['uninstall', '--root', root]);
    expect(r.status).toBe(0);
    expect(treeDigest(root)).toEqual(before);
    expect(node(['uninstall', '--root', root]).stdout).toBe('uninstall: nothing to change\n');
  });

  it('uninstall deletes a .bashrc that install created for the hook alone', () => {
    const root = tempDir('mpimg-bare-');
    node(['install', '--root', root]);
    expect(fs.existsSync(path.join(root, 'root/.bashrc'))).toBe(true);
    node(['uninstall', '--root', root]);
    expect(fs.readdirSync(root)).toEqual([]);
    sh(['install', '--root', root]);
    sh(['uninstall', '--root', root]);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('--remove-self deletes the bundle after a successful install', () => {
    const dir = tempDir('mpimg-self-');
    const copy = path.join(dir, 'x.cjs');
    fs.copyFileSync(b.cjs, copy);
    const root = stagedRoot();
    const r = spawnSync(process.execPath, [copy, 'install', '--root', root, '--remove-self'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(fs.existsSync(copy)).toBe(false);
    const shCopy = path.join(dir, 'x-install.sh');
    fs.copyFileSync(b.sh, shCopy);
    expect(spawnSync('sh', [shCopy, 'install', '--root', stagedRoot(), '--remove-self']).status).toBe(0);
    expect(fs.existsSync(shCopy)).toBe(false);
  });

  it('plan prints every operation, also as JSON without file contents', () => {
    const text = node(['plan']).stdout;
    expect(text).toContain('block      /root/.bashrc [mpimg:acme-wiki first-login] (start)');
    const ops = JSON.parse(node(['plan', '--json']).stdout);
    expect(ops.every((o: { content?: string }) => o.content === undefined)).toBe(true);
    expect(sh(['plan']).stdout.trim()).toBe(text.trim());
  });

  it('cleanup and check run the embedded scripts with their arguments and exit codes', () => {
    const r = node(['cleanup', '--dry-run', '--root', '/x']);
    expect(r.stdout).toBe('cleanup args: --dry-run --root /x\n');
    expect(node(['check', '--json']).stdout).toBe('check args: --json\n');
  });

  it('runs the real image check and cleanup of a project, leaving no copy of them behind', () => {
    const real = bundledFixture();
    for (const s of ['90-cleanup.sh', '99-img-check.sh']) {
      fs.copyFileSync(path.join(templatesDir(), 'droplet', s), path.join(real.project, 'scripts', s));
    }
    const fresh = writeBundle(loadProject(real.project), tempDir('mpimg-dist-'));
    const root = stagedRoot();
    const run = (args: string[]) => spawnSync(process.execPath, [fresh.cjs, ...args], { encoding: 'utf8' });
    const dry = run(['cleanup', '--dry-run', '--root', root]);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(/Summary: .*dry run/i);
    const check = run(['check', '--json', '--root', root]);
    const report = JSON.parse(check.stdout);
    expect(report.tool).toBe('mpimg-img-check');
    expect(check.status).toBe(report.summary.fail > 0 ? 1 : 0);
  });
});

describe('node executor and sh installer are twins', () => {
  const cases: Array<[string, string]> = [
    ['a usual .bashrc', '# user\nalias ll="ls -l"\n'],
    ['a .bashrc without final newline', 'export A=1'],
    ['an empty .bashrc', ''],
  ];
  it.each(cases)('byte-identical trees and modes with %s, after install, reinstall and uninstall', (_n, bashrc) => {
    const a = stagedRoot(bashrc);
    const c = stagedRoot(bashrc);
    const pristine = treeDigest(a);
    expect(node(['install', '--root', a]).status).toBe(0);
    const r = sh(['install', '--root', c]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(treeDigest(c)).toEqual(treeDigest(a));
    expect(sh(['install', '--root', c]).stdout).toBe('install: nothing to change\n');
    expect(sh(['status', '--root', a]).status).toBe(0);
    expect(node(['status', '--root', c]).status).toBe(0);
    expect(treeDigest(c)).toEqual(treeDigest(a));
    node(['uninstall', '--root', a]);
    sh(['uninstall', '--root', c]);
    expect(treeDigest(a)).toEqual(pristine);
    expect(treeDigest(c)).toEqual(pristine);
  });

  it('sh status finds the same drift', () => {
    const root = stagedRoot();
    sh(['install', '--root', root]);
    fs.chmodSync(path.join(root, 'etc/update-motd.d/99-acme-wiki'), 0o600);
    fs.writeFileSync(path.join(root, 'root/.bashrc'), '');
    const r = sh(['status', '--root', root]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('wrong mode: /etc/update-motd.d/99-acme-wiki');
    expect(r.stdout).toContain('hook missing: /root/.bashrc');
  });
});
