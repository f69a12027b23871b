/**
 * build.remove on the droplet: `status` of both executors reports a listed path that is there again
 * (a package reinstalled it, a script put it back) as drift, picks the list of the root's own
 * distribution as the build does, follows folder links inside the root only, and globs the last part
 * as sh does (dot files only by a dot). The two executors print the same drift.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { distroFromOsRelease } from '../../runtime/distro.js';
import type { Manifest } from '../../runtime/manifest.js';
import { nameGlob } from '../../runtime/removed.js';
import { readDroplet } from '../../tasks/bundle/render.js';
import { bundledFixture, stagedRoot } from '../helpers/bundled.js';

const REMOVE = {
  all: ['/var/www/html/index.nginx-debian.html', '/etc/nginx/sites-enabled/*'],
  'debian-12-x64': ['/srv/sample'],
  dnf: ['/etc/httpd/conf.d/welcome.conf'],
};
const OS = {
  debian: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
  ubuntu: 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
  rocky: 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
};

let b: ReturnType<typeof bundledFixture>;
/** Staged roots with the image installed (status only reads them: shared by both executors). */
const roots = { clean: '', dirty: '', ubuntu: '', rocky: '' };

const put = (root: string, rel: string, text = 'x\n') => {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
};

/** A staged root with the image installed (node executor) and os-release `osText`. */
function installed(osText: string): string {
  const root = stagedRoot();
  put(root, 'usr/lib/os-release', osText);
  // as Debian has it: /etc/os-release is a link, here an absolute one (resolved inside the root)
  fs.symlinkSync('/usr/lib/os-release', path.join(root, 'etc/os-release'));
  const r = spawnSync(process.execPath, [b.cjs, 'install', '--root', root], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return root;
}

beforeAll(() => {
  b = bundledFixture({ manifest: { build: { packages: ['nginx'], remove: REMOVE } } as Partial<Manifest> });
  roots.clean = installed(OS.debian);

  // what a reinstalled package or a script put back, next to what is not drift
  const dirty = (roots.dirty = installed(OS.debian));
  put(dirty, 'var/www/html/index.nginx-debian.html', '<h1>Welcome to nginx!</h1>\n');
  put(dirty, 'etc/nginx/sites-available/default');
  fs.mkdirSync(path.join(dirty, 'etc/nginx/sites-enabled'));
  fs.symlinkSync('../sites-available/default', path.join(dirty, 'etc/nginx/sites-enabled/default'));
  fs.symlinkSync('/nowhere', path.join(dirty, 'etc/nginx/sites-enabled/dangling'));
  put(dirty, "etc/nginx/sites-enabled/it's $(touch PWNED) & <b>");
  put(dirty, 'etc/nginx/sites-enabled/.hidden'); // `*` skips dot files, as sh does
  fs.mkdirSync(path.join(dirty, 'srv/sample/site'), { recursive: true });
  put(dirty, 'etc/httpd/conf.d/welcome.conf'); // the dnf list: not on Debian

  roots.ubuntu = installed(OS.ubuntu);
  fs.mkdirSync(path.join(roots.ubuntu, 'srv/sample'), { recursive: true }); // debian-12-x64's list only

  const rocky = (roots.rocky = installed(OS.rocky));
  put(rocky, 'elsewhere/conf.d/welcome.conf');
  fs.mkdirSync(path.join(rocky, 'etc/httpd'), { recursive: true });
  // an absolute folder link: /elsewhere of the root, never this machine's /elsewhere
  fs.symlinkSync('/elsewhere/conf.d', path.join(rocky, 'etc/httpd/conf.d'));
  // a link that climbs out with "..": it stops at the root, whose /tmp does not exist (this
  // machine's /tmp, full of files, is never looked at)
  fs.mkdirSync(path.join(rocky, 'etc/nginx'), { recursive: true });
  fs.symlinkSync('../../../../../../../../tmp', path.join(rocky, 'etc/nginx/sites-enabled'));
});

type Exec = 'node' | 'sh';
const run = (exec: Exec, root: string, json: boolean) =>
  spawnSync(
    exec === 'node' ? process.execPath : 'sh',
    [exec === 'node' ? b.cjs : b.sh, 'status', '--root', root, ...(json ? ['--json'] : [])],
    {
      encoding: 'utf8',
      cwd: os.tmpdir(),
    },
  );
const status = (exec: Exec, root: string) => {
  const r = run(exec, root, true);
  expect(r.stderr).toBe('');
  return { code: r.status, json: JSON.parse(r.stdout) as { drift: unknown[]; checked: number; ok: boolean } };
};

const notRemoved = (paths: string[]) =>
  paths.map((p) => ({
    path: p,
    problem: 'not removed',
    detail: 'build.remove of mpimg.json lists it; the build removes it',
  }));

describe.each(['node', 'sh'] as const)('%s executor', (exec) => {
  it('a clean image: every entry of its distribution counted, no drift', () => {
    const s = status(exec, roots.clean);
    expect(s.code).toBe(0);
    expect(s.json.ok).toBe(true);
    // debian-12-x64 has 3 entries ("all" and its own), Ubuntu only the 2 of "all"
    expect(s.json.checked).toBe(status(exec, roots.ubuntu).json.checked + 1);
  });

  it('what came back is drift; other distributions’ lists and dot files are not; names stay data', () => {
    const s = status(exec, roots.dirty);
    expect(s.code).toBe(1);
    expect(s.json.drift).toEqual(
      notRemoved([
        '/var/www/html/index.nginx-debian.html',
        '/etc/nginx/sites-enabled/dangling',
        '/etc/nginx/sites-enabled/default',
        "/etc/nginx/sites-enabled/it's $(touch PWNED) & <b>",
        '/srv/sample',
      ]),
    );
    expect(fs.existsSync(path.join(os.tmpdir(), 'PWNED'))).toBe(false);
    expect(fs.existsSync(path.join(roots.dirty, 'PWNED'))).toBe(false);
    const text = run(exec, roots.dirty, false);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(
      'not removed: /srv/sample (build.remove of mpimg.json lists it; the build removes it)',
    );
  });

  it('the root\'s own list: Ubuntu has only "all", Rocky its family\'s; folder links stay inside the root', () => {
    expect(status(exec, roots.ubuntu).code).toBe(0);
    expect(fs.readdirSync(os.tmpdir()).length).toBeGreaterThan(0);
    expect(status(exec, roots.rocky).json.drift).toEqual(notRemoved(['/etc/httpd/conf.d/welcome.conf']));
  });
});

it('the sh and node slug rules agree (build.sh and the installer share mpimg_slug)', () => {
  const samples = [
    OS.debian,
    OS.ubuntu,
    OS.rocky,
    'ID=almalinux\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\n',
    'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n',
    'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="21.3"\n',
  ];
  for (const text of samples) {
    const id = /^ID="?([^"\n]*)/m.exec(text)![1];
    const ver = /^VERSION_ID="?([^"\n]*)/m.exec(text)![1];
    const r = spawnSync('sh', ['-c', `${readDroplet('distro-slug.sh')}\nmpimg_slug "$1" "$2"`, 'sh', id, ver], {
      encoding: 'utf8',
    });
    expect(r.stdout.trim(), text).toBe(distroFromOsRelease(text)!.slug);
  }
});

it('nameGlob globs one name as sh does', () => {
  const m = (p: string, n: string) => nameGlob(p).test(n);
  expect(m('*', 'default')).toBe(true);
  expect(m('*', '.hidden')).toBe(false);
  expect(m('.*', '.hidden')).toBe(true);
  expect(m('*.conf', 'a.conf')).toBe(true);
  expect(m('*.conf', 'a.conf.bak')).toBe(false);
  expect(m('?.conf', 'ab.conf')).toBe(false);
  expect(m('[ab].conf', 'b.conf')).toBe(true);
  expect(m('[!ab].conf', 'b.conf')).toBe(false);
  expect(m('[!ab].conf', 'c.conf')).toBe(true);
  expect(m('a+(b).*', 'a+(b).x')).toBe(true);
  expect(m('[', '[')).toBe(true);
});
