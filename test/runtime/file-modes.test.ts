/**
 * $.files.owners[].mode: git keeps no mode but 0644 and 0755, so a file of files/ that holds a secret
 * gets its real mode from the manifest. Checked where a droplet shows it: the schema's refusals, the
 * modes both installers lay down in a staged root (and status agreeing with them), and first boot's
 * held-back template, whose temporary file is never readable by others while the secret is in it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateManifest, type Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import type { MpimgError } from '../../core/errors.js';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { makeProject } from '../helpers/project-fixture.js';
import { runInSandbox } from '../helpers/sandbox.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

const good = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['debian-12-x64'],
};
const problems = (owners: unknown[]) =>
  validateManifest({ ...good, files: { dir: 'files', owners } }).problems.map((p) => `${p.path}: ${p.message}`);
const modeOf = (root: string, p: string) => fs.statSync(path.join(root, p)).mode & 0o7777;
const ADM_GID = Number(spawnSync('getent', ['group', 'adm'], { encoding: 'utf8' }).stdout.split(':')[2]);

describe('$.files.owners[].mode in the schema', () => {
  it('takes an octal mode for files', () => {
    expect(problems([{ path: '/etc/app/app.env', group: 'adm', mode: '0640' }])).toEqual([]);
    expect(problems([{ path: '/etc/app/**', mode: '600' }])).toEqual([]);
  });

  it.each([
    ['not octal', '0648', '$.files.owners[0].mode: bad mode "0648"'],
    ['too short', '64', '$.files.owners[0].mode: bad mode "64"'],
    [
      'setuid',
      '4755',
      "$.files.owners[0].mode: mode 4755 sets the setuid, setgid or sticky bit: the files would run with their owner's or group's rights",
    ],
    [
      'setgid',
      '2750',
      "$.files.owners[0].mode: mode 2750 sets the setuid, setgid or sticky bit: the files would run with their owner's or group's rights",
    ],
    ['world-writable', '0666', '$.files.owners[0].mode: mode 0666 lets every user change the files'],
  ])('refuses a mode that is %s, at its $.path', (_, mode, expected) => {
    expect(problems([{ path: '/etc/app/app.env', mode }])).toEqual([expected]);
  });

  it('refuses group write where root runs code from, with a hint that names a mode to use', () => {
    const r = validateManifest({
      ...good,
      files: { dir: 'files', owners: [{ path: '/opt/acme/acme-wiki/hooks/*', group: 'adm', mode: '0664' }] },
    }).problems;
    expect(r.map((p) => `${p.path}: ${p.message}`)).toEqual([
      '$.files.owners[0].mode: /opt/acme/acme-wiki/hooks/* is in /opt/acme/acme-wiki, where root runs code from: mode 0664 lets a group write there',
    ]);
    expect(r[0].hint).toContain('"0640"');
    // elsewhere a group may write its own files
    expect(problems([{ path: '/srv/app/*', group: 'adm', mode: '0664' }])).toEqual([]);
  });
});

describe('a template that holds a secret, 0644 as git checks it out', () => {
  const load = (owners: NonNullable<Manifest['files']>['owners']) => {
    const dir = tempDir('mpimg-proj-');
    fs.mkdirSync(path.join(dir, 'files/etc/app'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'files/etc/app/app.env'), 'P={{secret.DB_PASSWORD}}\n', { mode: 0o644 });
    makeProject({
      dir,
      manifest: {
        secrets: [{ name: 'DB_PASSWORD' }],
        files: { dir: 'files', templates: ['/etc/app/app.env'], owners },
      },
    });
    try {
      return { project: loadProject(dir), problems: [] };
    } catch (e) {
      return { project: undefined, problems: [...((e as MpimgError).problems ?? [])] };
    }
  };

  it('is accepted with a declared mode without other read, and refused with one that lets others read', () => {
    const ok = load([{ path: '/etc/app/app.env', group: 'adm', mode: '0640' }]);
    expect(ok.problems).toEqual([]);
    expect(ok.project!.files.find((f) => f.target === '/etc/app/app.env')!.mode).toBe(0o640);
    // a later entry overrides an earlier one
    const later = load([
      { path: '/etc/app/*', mode: '0640' },
      { path: '/etc/app/app.env', mode: '0604' },
    ]);
    expect(later.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'files/etc/app/app.env:1: {{secret.DB_PASSWORD}} would be readable by every user: the file is mode 0604',
    ]);
  });

  it('is refused without one, with a hint that names "mode" in $.files.owners first', () => {
    const { problems } = load([{ path: '/etc/app/app.env', group: 'adm' }]);
    expect(problems.map((p) => p.message)).toEqual([
      '{{secret.DB_PASSWORD}} would be readable by every user: the file is mode 0644',
    ]);
    expect(problems[0].hint).toMatch(
      /^give it a mode without other read in \$\.files\.owners, e\.g\. .*"mode": "0640"/,
    );
    expect(problems[0].hint).toContain('$.directories');
  });
});

describe('files laid down with the declared mode', () => {
  // wiki.conf is 0644 in the fixture's files/, acme-wiki-hello 0755, secret.conf 0600
  const manifest: Partial<Manifest> = {
    files: {
      dir: 'files',
      managed: ['/etc/acme-wiki/**', '/usr/local/bin/*'],
      owners: [
        { path: '/etc/acme-wiki/wiki.conf', group: 'adm', mode: '0640' },
        { path: '/usr/local/bin/acme-wiki-hello', mode: '0750' },
      ],
    },
  };

  it('by both executors, the same tree; status clean; a mode changed since reported; reinstall puts it back', () => {
    const b = bundledFixture({ manifest });
    const roots = { node: stagedRoot(), sh: stagedRoot() };
    const cmd = (x: 'node' | 'sh', args: string[]) =>
      x === 'node'
        ? spawnSync(process.execPath, [b.cjs, ...args, '--root', roots[x]], { encoding: 'utf8' })
        : spawnSync('sh', [b.sh, ...args, '--root', roots[x]], { encoding: 'utf8' });
    for (const x of ['node', 'sh'] as const) {
      const r = cmd(x, ['install']);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(modeOf(roots[x], 'etc/acme-wiki/wiki.conf')).toBe(0o640);
      expect(modeOf(roots[x], 'usr/local/bin/acme-wiki-hello')).toBe(0o750);
      expect(modeOf(roots[x], 'etc/acme-wiki/secret.conf')).toBe(0o600);
      const st = cmd(x, ['status']);
      expect(st.status, st.stdout + st.stderr).toBe(0);
    }
    expect(treeDigest(roots.sh)).toEqual(treeDigest(roots.node));
    for (const x of ['node', 'sh'] as const) {
      // the mode git would have given it: status says so, install puts the declared one back
      fs.chmodSync(path.join(roots[x], 'etc/acme-wiki/wiki.conf'), 0o644);
      const st = cmd(x, ['status']);
      expect(st.status, `${x}: ${st.stdout}`).not.toBe(0);
      expect(st.stdout + st.stderr).toContain('/etc/acme-wiki/wiki.conf');
      expect(cmd(x, ['install']).status).toBe(0);
      expect(modeOf(roots[x], 'etc/acme-wiki/wiki.conf')).toBe(0o640);
      expect(cmd(x, ['status']).status).toBe(0);
      const u = cmd(x, ['uninstall']);
      expect(u.status, u.stdout + u.stderr).toBe(0);
      expect(fs.existsSync(path.join(roots[x], 'etc/acme-wiki/wiki.conf'))).toBe(false);
    }
  });

  it('the owners step sets owner and group only (a mode-only entry is no chown)', () => {
    const b = bundledFixture({ manifest });
    const script = fs.readFileSync(b.build, 'utf8');
    expect(script).toContain("mpimg_owner '/etc/acme-wiki/wiki.conf' '' 'adm'");
    expect(script).not.toContain("mpimg_owner '/usr/local/bin/acme-wiki-hello'");
  });
});

describe('a held-back template at first boot', () => {
  it('is written through a temporary file made 0600 and given the declared mode before the rename; status clean', () => {
    const dir = tempDir('mpimg-proj-');
    fs.mkdirSync(path.join(dir, 'files/opt/app'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'files/opt/app/app.env'), 'P={{secret.DB_PASSWORD}}\n', { mode: 0o644 });
    const b = bundledFixture({
      dir,
      manifest: {
        secrets: [{ name: 'DB_PASSWORD' }],
        files: {
          dir: 'files',
          templates: ['/opt/app/app.env'],
          owners: [{ path: '/opt/app/app.env', group: 'adm', mode: '0640' }],
        },
      },
    });
    // mktemp and mv stand-ins that record the mode of the file they made or move, then do it
    const stubs = tempDir('mpimg-stubs-');
    fs.chmodSync(stubs, 0o755);
    const log = path.join(stubs, 'modes.log');
    const real = (n: string) => spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(
      path.join(stubs, 'mktemp'),
      `#!/bin/sh\nf=$('${real('mktemp')}' "$@") || exit 1\necho "mktemp $(stat -c '%a %s' "$f") $f" >> '${log}'\necho "$f"\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(stubs, 'mv'),
      `#!/bin/sh\nfor a; do case $a in -*) ;; *) echo "mv $(stat -c '%a %g %s' "$a") $a" >> '${log}'; break ;; esac; done\nexec '${real('mv')}' "$@"\n`,
      { mode: 0o755 },
    );
    for (const x of ['node', 'sh'] as const) {
      const root = stagedRoot();
      fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
      const cmd = (args: string[]) =>
        x === 'node'
          ? spawnSync(process.execPath, [b.cjs, ...args, '--root', root], { encoding: 'utf8' })
          : spawnSync('sh', [b.sh, ...args, '--root', root], { encoding: 'utf8' });
      expect(cmd(['install']).status).toBe(0);
      expect(fs.existsSync(path.join(root, 'opt/app/app.env'))).toBe(false);
      fs.rmSync(log, { force: true });
      const r = runInSandbox(root, '/var/lib/cloud/scripts/per-instance/0-acme-wiki-prepare', {
        env: { PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin` },
      });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const lines = fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.includes('.mpimg-render.'));
      // made empty and 0600, then moved once filled in: 0640, group adm, never readable by others
      expect(lines.map((l) => l.split(' ').slice(0, 3))).toEqual([
        ['mktemp', '600', '0'],
        ['mv', '640', String(ADM_GID)],
      ]);
      const st = fs.statSync(path.join(root, 'opt/app/app.env'));
      expect([st.mode & 0o7777, st.gid]).toEqual([0o640, ADM_GID]);
      expect(fs.readFileSync(path.join(root, 'opt/app/app.env'), 'utf8')).toMatch(/^P=[A-Za-z0-9]{16,}\n$/);
      const s = cmd(['status']);
      expect(s.status, s.stdout + s.stderr).toBe(0);
    }
  });
});
