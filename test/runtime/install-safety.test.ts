// What install and uninstall must never do, for both executors (node runtime and sh twin): follow a
// link out of --root, break a usr-merged tree, leave what a failed install made behind, destroy a
// file that was there before, or delete what the customer changed.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { treeDigest } from '../helpers/tree.js';

let b: ReturnType<typeof bundledFixture>;
let linked: ReturnType<typeof bundledFixture>;
beforeAll(() => {
  b = bundledFixture();
  // files/ into usr-merged folders, and a link inside files/ that points within the image
  const project = makeProject();
  const files = path.join(project, 'files');
  for (const [rel, text, mode] of [
    ['lib/systemd/system/acme-wiki.service', '[Service]\nExecStart=/usr/local/bin/acme-wiki-hello\n', 0o644],
    ['bin/acme-tool', '#!/bin/sh\necho tool\n', 0o755],
    ['sbin/acme-daemon', '#!/bin/sh\necho daemon\n', 0o755],
    ['etc/nginx/sites-available/wiki', 'server {}\n', 0o644],
  ] as const) {
    fs.mkdirSync(path.dirname(path.join(files, rel)), { recursive: true });
    fs.writeFileSync(path.join(files, rel), text, { mode });
  }
  fs.mkdirSync(path.join(files, 'etc/nginx/sites-enabled'));
  fs.symlinkSync('../sites-available/wiki', path.join(files, 'etc/nginx/sites-enabled/wiki'));
  const out = tempDir('mpimg-dist-');
  fs.chmodSync(out, 0o755);
  linked = { ...writeBundle(loadProject(project), out), project };
});

type Runner = (args: string[]) => SpawnSyncReturns<string>;
const nodeOf =
  (cjs: () => string): Runner =>
  (args) =>
    spawnSync(process.execPath, [cjs(), ...args], { encoding: 'utf8', cwd: os.tmpdir() });
const shOf =
  (sh: () => string): Runner =>
  (args) =>
    spawnSync('sh', [sh(), ...args], { encoding: 'utf8', cwd: os.tmpdir() });
const EXECUTORS: Array<[string, (x: () => ReturnType<typeof bundledFixture>) => Runner]> = [
  ['node', (x) => nodeOf(() => x().cjs)],
  ['sh', (x) => shOf(() => x().sh)],
];

/** A usr-merged root, as every current Debian and Ubuntu has it. */
function usrMerged(): string {
  const root = stagedRoot();
  for (const d of ['usr/lib/systemd/system', 'usr/bin', 'usr/sbin'])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/lib/systemd/system/ssh.service'), '[Unit]\n');
  fs.writeFileSync(path.join(root, 'usr/bin/ls'), 'ls\n', { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'usr/sbin/sshd'), 'sshd\n', { mode: 0o755 });
  for (const d of ['lib', 'bin', 'sbin']) fs.symlinkSync(`usr/${d}`, path.join(root, d));
  return root;
}

describe.each(EXECUTORS)('%s executor', (_name, runnerFor) => {
  const run = runnerFor(() => b);
  const runLinked = runnerFor(() => linked);

  it('keeps usr-merge links (/lib -> usr/lib, /bin, /sbin) and puts files/ into their targets', () => {
    const root = usrMerged();
    const r = runLinked(['install', '--root', root]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const d of ['lib', 'bin', 'sbin']) {
      expect(fs.lstatSync(path.join(root, d)).isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(path.join(root, d))).toBe(`usr/${d}`);
    }
    expect(fs.readFileSync(path.join(root, 'usr/lib/systemd/system/acme-wiki.service'), 'utf8')).toContain(
      'ExecStart=',
    );
    expect(fs.readFileSync(path.join(root, 'usr/lib/systemd/system/ssh.service'), 'utf8')).toBe('[Unit]\n');
    expect(fs.statSync(path.join(root, 'usr/bin/acme-tool')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(root, 'usr/bin/ls'), 'utf8')).toBe('ls\n');
    expect(fs.existsSync(path.join(root, 'usr/sbin/acme-daemon'))).toBe(true);
    // a link inside files/ is laid down as a link
    expect(fs.readlinkSync(path.join(root, 'etc/nginx/sites-enabled/wiki'))).toBe('../sites-available/wiki');
    expect(runLinked(['status', '--root', root]).status).toBe(0);
    const un = runLinked(['uninstall', '--root', root]);
    expect(un.status).toBe(0);
    expect(fs.readlinkSync(path.join(root, 'lib'))).toBe('usr/lib');
    expect(fs.existsSync(path.join(root, 'usr/bin/acme-tool'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'etc/nginx'))).toBe(false);
  });

  it('refuses an empty --root (an unset variable) instead of acting on /', () => {
    // status only: should the refusal ever break, the test reads / and changes nothing.
    for (const args of [
      ['status', '--root', ''],
      ['status', '--root='],
    ]) {
      const r = run(args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        'error: --root is empty\n  fix: pass --root DIR (an unset shell variable gives an empty one), or leave --root out to act on /\n',
      );
    }
  });

  it('never follows a link out of --root: absolute links are re-rooted, `..` stops at the root', () => {
    const host = tempDir('mpimg-host-');
    for (const d of ['host_opt', 'hostroot', 'hostvar', 'hostmotd']) fs.mkdirSync(path.join(host, d));
    fs.writeFileSync(path.join(host, 'hostroot/.bashrc'), "# the host root's bashrc\n");
    fs.writeFileSync(path.join(host, 'hostvar/keep'), 'keep\n');
    const root = stagedRoot();
    fs.rmSync(path.join(root, 'root'), { recursive: true });
    fs.symlinkSync(path.join(host, 'host_opt'), path.join(root, 'opt'));
    fs.symlinkSync(path.join(host, 'hostroot'), path.join(root, 'root'));
    fs.symlinkSync(path.join(host, 'hostvar'), path.join(root, 'var'));
    // a relative link that climbs far above the root: on the droplet `..` at / stays at /
    fs.mkdirSync(path.join(root, 'etc/update-motd.d'.split('/')[0]), { recursive: true });
    fs.symlinkSync(`${'../'.repeat(12)}${path.join(host, 'hostmotd').slice(1)}`, path.join(root, 'etc/update-motd.d'));
    const before = treeDigest(host);
    expect(run(['install', '--root', root]).status).toBe(0);
    expect(treeDigest(host)).toEqual(before);
    // what install laid down is inside the root, at the re-rooted places
    expect(fs.existsSync(path.join(root, host, 'host_opt/acme/acme-wiki/lib.sh'))).toBe(true);
    expect(fs.readFileSync(path.join(root, host, 'hostroot/.bashrc'), 'utf8')).toContain('mpimg:acme-wiki first-login');
    expect(fs.existsSync(path.join(root, host, 'hostvar/lib/cloud/scripts/per-instance/zz-acme-wiki-finish'))).toBe(
      true,
    );
    expect(fs.existsSync(path.join(root, host, 'hostmotd/99-acme-wiki'))).toBe(true);
    expect(run(['status', '--root', root]).status).toBe(0);
    expect(run(['uninstall', '--root', root]).status).toBe(0);
    expect(treeDigest(host)).toEqual(before);
  });

  it('a failed install says where in one line, and uninstall then removes exactly what it made', () => {
    const root = stagedRoot();
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/update-motd.d'), 'a file where a folder belongs\n');
    const pristine = treeDigest(root);
    const r = run(['install', '--root', root]);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^error: install stopped at \/etc\/update-motd\.d: .*not a directory/);
    expect(lines[1]).toContain('`uninstall --root');
    expect(lines).toHaveLength(2);
    const journal = fs.readFileSync(path.join(root, 'opt/acme/acme-wiki/.journal'), 'utf8');
    expect(journal.split('\n').slice(0, 3)).toEqual(['dir /opt', 'dir /opt/acme', 'dir /opt/acme/acme-wiki']);
    const un = run(['uninstall', '--root', root]);
    expect(un.status).toBe(0);
    expect(treeDigest(root)).toEqual(pristine);
  });

  it('a failure before the image has a home changes nothing', () => {
    const root = stagedRoot();
    fs.writeFileSync(path.join(root, 'opt'), 'not a folder\n');
    const pristine = treeDigest(root);
    const r = run(['install', '--root', root]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: install stopped at \/opt: /);
    expect(treeDigest(root)).toEqual(pristine);
  });

  it('a file that was there is backed up (mode and owner kept) and restored byte-exact by uninstall', () => {
    const root = stagedRoot();
    const conf = path.join(root, 'etc/acme-wiki/wiki.conf');
    fs.mkdirSync(path.dirname(conf), { recursive: true });
    fs.writeFileSync(conf, "the distribution's own config\n", { mode: 0o640 });
    fs.chownSync(conf, 1234, 2345);
    // identical to what files/ has: install leaves it, uninstall keeps it
    fs.mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr/local/bin/acme-wiki-hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
    const pristine = treeDigest(root);
    const r = run(['install', '--root', root]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      'updated  /etc/acme-wiki/wiki.conf (the file that was there is kept in /opt/acme/acme-wiki/backup)',
    );
    const kept = path.join(root, 'opt/acme/acme-wiki/backup/etc/acme-wiki/wiki.conf');
    expect(fs.readFileSync(kept, 'utf8')).toBe("the distribution's own config\n");
    expect(fs.statSync(kept).mode & 0o7777).toBe(0o640);
    expect([fs.statSync(kept).uid, fs.statSync(kept).gid]).toEqual([1234, 2345]);
    expect(fs.readFileSync(conf, 'utf8')).toBe('port = 8080\n');
    // a second install does not back up its own file over the original
    run(['install', '--root', root]);
    expect(fs.readFileSync(kept, 'utf8')).toBe("the distribution's own config\n");
    const un = run(['uninstall', '--root', root]);
    expect(un.status).toBe(0);
    expect(un.stdout).toContain('restored /etc/acme-wiki/wiki.conf');
    expect(un.stdout).toContain('kept     /usr/local/bin/acme-wiki-hello (it was there before install)');
    expect(treeDigest(root)).toEqual(pristine);
    expect([fs.statSync(conf).uid, fs.statSync(conf).gid]).toEqual([1234, 2345]);
  });

  it('uninstall keeps a file changed since install (an edited MOTD) unless --force', () => {
    const root = stagedRoot();
    const pristine = treeDigest(root);
    run(['install', '--root', root]);
    const motd = path.join(root, 'etc/update-motd.d/99-acme-wiki');
    fs.writeFileSync(motd, '#!/bin/sh\necho "the customer\'s own greeting"\n', { mode: 0o755 });
    const un = run(['uninstall', '--root', root]);
    expect(un.status).toBe(0);
    expect(un.stdout).toContain(
      'kept     /etc/update-motd.d/99-acme-wiki (changed since install; `uninstall --force` removes it)',
    );
    expect(un.stdout).toContain('uninstall: kept 1 file(s) changed since install');
    expect(fs.readFileSync(motd, 'utf8')).toContain("the customer's own greeting");
    expect(fs.existsSync(path.join(root, 'opt/acme/acme-wiki/lib.sh'))).toBe(false);
    const forced = run(['uninstall', '--root', root, '--force']);
    expect(forced.status).toBe(0);
    expect(treeDigest(root)).toEqual(pristine);
  });
});

describe('node and sh agree', () => {
  it('byte-identical trees (journal and backups included) after a failed install, an install over old files and an uninstall', () => {
    const node = nodeOf(() => b.cjs);
    const sh = shOf(() => b.sh);
    const make = () => {
      const root = stagedRoot();
      fs.mkdirSync(path.join(root, 'etc/acme-wiki'), { recursive: true });
      fs.writeFileSync(path.join(root, 'etc/acme-wiki/wiki.conf'), 'old\n', { mode: 0o600 });
      fs.writeFileSync(path.join(root, 'etc/update-motd.d'), 'in the way\n');
      return root;
    };
    const a = make();
    const c = make();
    expect(node(['install', '--root', a]).status).toBe(1);
    expect(sh(['install', '--root', c]).status).toBe(1);
    expect(treeDigest(c)).toEqual(treeDigest(a));
    for (const r of [a, c]) fs.rmSync(path.join(r, 'etc/update-motd.d'));
    expect(node(['install', '--root', a]).status).toBe(0);
    expect(sh(['install', '--root', c]).status).toBe(0);
    expect(treeDigest(c)).toEqual(treeDigest(a));
    expect(fs.readFileSync(path.join(a, 'opt/acme/acme-wiki/.journal'), 'utf8')).toContain(
      'backup /etc/acme-wiki/wiki.conf\n',
    );
    node(['uninstall', '--root', a]);
    sh(['uninstall', '--root', c]);
    expect(treeDigest(c)).toEqual(treeDigest(a));
  });

  it('an install from before the journal existed is still uninstalled: its files are recognised by installed.json', () => {
    for (const run of [nodeOf(() => b.cjs), shOf(() => b.sh)]) {
      const root = stagedRoot();
      const pristine = treeDigest(root);
      expect(run(['install', '--root', root]).status).toBe(0);
      // what an older release left: no journal, the created folders in .created
      const home = path.join(root, 'opt/acme/acme-wiki');
      const dirs = fs
        .readFileSync(path.join(home, '.journal'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('dir '))
        .map((l) => l.slice(4));
      fs.rmSync(path.join(home, '.journal'));
      fs.writeFileSync(path.join(home, '.created'), `${dirs.join('\n')}\n`);
      expect(run(['install', '--root', root]).stdout).toBe('install: nothing to change\n');
      expect(fs.existsSync(path.join(home, 'backup'))).toBe(false);
      expect(run(['uninstall', '--root', root]).status).toBe(0);
      expect(treeDigest(root)).toEqual(pristine);
    }
  });
});
