/**
 * build.remove on a real staged root: dist/<slug>-build.sh's `remove` (run in a chroot of a fixture
 * root with --root, as in build-script.test.ts) removes what a package installed, as links resolve
 * inside the root, refuses what the policy forbids before it removes anything, and runs again
 * cleanly; the Packer template runs the same command right after the packages.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildOrder } from '../../tasks/steps/index.js';
import { buildRoot, installScript, runBuild, stagedIn } from '../helpers/build-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { tempDir } from '../helpers/temp.js';
import { cleanupFixtures, dir, put } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests chroot into fixture roots: they must run as root (CI does)');
});

const bundled = (remove: unknown) =>
  writeBundle(loadProject(makeProject({ manifest: { build: { packages: ['nginx'], remove } } as Partial<Manifest> })));

const gone = (p: string) =>
  !existsSync(p) &&
  !(() => {
    try {
      return lstatSync(p);
    } catch {
      return false;
    }
  })();

/** A staged root as Debian's nginx package leaves it, with links a careless or hostile image may hold. */
function nginxRoot(): { root: string; staged: string } {
  const root = buildRoot();
  const staged = stagedIn(root, 'staged');
  put(root, 'staged/etc/nginx/sites-available/default', 'server { listen 80 default_server; }\n');
  dir(root, 'staged/etc/nginx/sites-enabled');
  symlinkSync('../sites-available/default', join(staged, 'etc/nginx/sites-enabled/default'));
  put(root, 'staged/etc/nginx/sites-enabled/app', 'server { listen 80; }\n');
  put(root, 'staged/etc/nginx/conf.d/a.conf', '# a\n');
  put(root, 'staged/etc/nginx/conf.d/b.conf', '# b\n');
  put(root, 'staged/etc/nginx/conf.d/keep.txt', 'kept\n');
  put(root, 'staged/var/www/html/index.nginx-debian.html', '<h1>Welcome to nginx!</h1>\n');
  put(root, 'staged/var/www/html/keep.html', 'ours\n');
  put(root, "staged/var/www/html/it's $(touch PWNED).html", 'odd name\n');
  put(root, 'staged/srv/sample/site/index.html', 'sample\n');
  put(root, 'staged/etc/hostname', 'staged\n');
  // outside the staged root, in the build root: what no entry may reach
  put(root, 'mpimg-test/marker', 'the build root\n');
  // a folder that is a link to /etc (absolute, so inside the root it is the staged /etc), and one
  // that climbs out with "..": both lead into the staged root, never out of it
  symlinkSync('/etc', join(staged, 'var/www/etc-link'));
  symlinkSync('../../../../../..', join(staged, 'var/www/up'));
  symlinkSync('/mpimg-test', join(staged, 'var/www/abs'));
  return { root, staged };
}

const REMOVE = [
  '/etc/nginx/sites-enabled/default',
  '/var/www/html/index.nginx-debian.html',
  "/var/www/html/it's $(touch PWNED).html",
  '/etc/nginx/conf.d/*.conf',
  '/srv/sample',
  '/var/www/etc-link',
  '/var/www/up/mpimg-test/marker',
  '/var/www/abs/marker',
  '/var/www/not-there',
];

describe('build.remove, run by the build script on a staged root', () => {
  it('removes files, links as links, folders and glob matches; what links lead to stays; runs again cleanly', () => {
    const { root, staged } = nginxRoot();
    installScript(root, bundled(REMOVE).build);
    const r = runBuild(root, ['--root', '/staged', 'remove']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'remove: /etc/nginx/sites-enabled/default: removed (a link; what it points to stays)',
      'remove: /var/www/html/index.nginx-debian.html: removed (a file)',
      "remove: /var/www/html/it's $(touch PWNED).html: removed (a file)",
      "remove: /etc/nginx/conf.d/*.conf (that is /etc/nginx/conf.d/a.conf, its folders' links followed): removed (a file)",
      "remove: /etc/nginx/conf.d/*.conf (that is /etc/nginx/conf.d/b.conf, its folders' links followed): removed (a file)",
      'remove: /srv/sample: removed (a folder, with what was in it)',
      'remove: /var/www/etc-link: removed (a link; what it points to stays)',
      "remove: /var/www/up/mpimg-test/marker (that is /mpimg-test/marker, its folders' links followed): not there (already removed)",
      "remove: /var/www/abs/marker (that is /mpimg-test/marker, its folders' links followed): not there (already removed)",
      'remove: /var/www/not-there: not there (already removed)',
    ]);
    for (const p of [
      'etc/nginx/sites-enabled/default',
      'var/www/html/index.nginx-debian.html',
      "var/www/html/it's $(touch PWNED).html",
      'etc/nginx/conf.d/a.conf',
      'etc/nginx/conf.d/b.conf',
      'srv/sample',
      'var/www/etc-link',
    ])
      expect(gone(join(staged, p)), p).toBe(true);
    // what the links led to, the app's own files and everything outside the staged root stay
    expect(readFileSync(join(staged, 'etc/nginx/sites-available/default'), 'utf8')).toContain('default_server');
    expect(readFileSync(join(staged, 'etc/hostname'), 'utf8')).toBe('staged\n');
    expect(readdirSync(join(staged, 'etc/nginx/conf.d'))).toEqual(['keep.txt']);
    expect(readdirSync(join(staged, 'var/www/html'))).toEqual(['keep.html']);
    expect(readFileSync(join(root, 'mpimg-test/marker'), 'utf8')).toBe('the build root\n');
    expect(readlinkSync(join(staged, 'var/www/up'))).toBe('../../../../../..');
    // a name is data, never code
    for (const d of [root, staged, join(staged, 'var/www/html')]) expect(readdirSync(d)).not.toContain('PWNED');

    const again = runBuild(root, ['--root', '/staged', 'remove']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('remove: /etc/nginx/sites-enabled/default: not there (already removed)\n');
    expect(again.stdout).toContain('remove: /etc/nginx/conf.d/*.conf: nothing there (already removed)\n');
  });

  it('past the schema: "/", "/etc", "..", a link to /etc, root-run and tool folders are refused before anything goes', () => {
    const { root, staged } = nginxRoot();
    const script = bundled(['/var/www/html/index.nginx-debian.html', '/var/www/placeholder']).build;
    const cases: Array<[string, string]> = [
      ['/', 'error: remove: build.remove: / is a system folder'],
      ['/etc', 'error: remove: build.remove: /etc is a system folder'],
      [
        '/var/www/..',
        "error: remove: build.remove: /var/www/.. (that is /var, its folders' links followed) is a system folder",
      ],
      [
        '/var/www/etc-link/.',
        "error: remove: build.remove: /var/www/etc-link/. (that is /etc, its folders' links followed) is a system folder",
      ],
      [
        '/var/www/etc-link/passwd',
        "error: remove: build.remove: /var/www/etc-link/passwd (that is /etc/passwd, its folders' links followed) is where root runs code from (or a folder above it)",
      ],
      [
        '/var/www/up/etc/systemd',
        "error: remove: build.remove: /var/www/up/etc/systemd (that is /etc/systemd, its folders' links followed) is a system folder",
      ],
      [
        '/var/www/etc-link/*',
        "error: remove: build.remove: /var/www/etc-link/* would remove what is in /etc, a system folder, one where root runs code from or generator-mpimg's own",
      ],
      [
        '/var/lib/mpimg/acme-wiki',
        "error: remove: build.remove: /var/lib/mpimg/acme-wiki is in generator-mpimg's own folder",
      ],
      ['/opt/acme', 'error: remove: build.remove: /opt/acme is where root runs code from (or a folder above it)'],
      ['/srv/*/x', 'error: remove: build.remove: /srv/*/x has a wildcard in a folder'],
      ['var/www', 'error: remove: build.remove: var/www is not an absolute path'],
    ];
    const text = readFileSync(script, 'utf8');
    for (const [entry, error] of cases) {
      const sq = `'${entry.replace(/'/g, `'\\''`)}'`;
      writeFileSync(script, text.replace("mpimg_remove '/var/www/placeholder'", `mpimg_remove ${sq}`));
      installScript(root, script);
      const r = runBuild(root, ['--root', '/staged', 'remove']);
      expect(r.code, entry).toBe(1);
      expect(r.stderr.split('\n')[0], entry).toBe(error);
      expect(r.stdout, entry).toBe('');
      // the entry before it was checked and kept: nothing is removed while any entry is refused
      expect(existsSync(join(staged, 'var/www/html/index.nginx-debian.html')), entry).toBe(true);
    }
    expect(readdirSync(join(staged, 'etc'))).toContain('passwd');
  });

  it('past the schema: a name with a newline, quotes and $() is one path, removed as written', () => {
    const { root, staged } = nginxRoot();
    put(root, 'staged/var/www/a', 'a\n');
    put(root, 'staged/var/www/b', 'b\n');
    put(root, "staged/var/www/a\nb'$(touch PWNED)", 'odd\n');
    const script = bundled(['/var/www/placeholder']).build;
    writeFileSync(
      script,
      readFileSync(script, 'utf8').replace(
        "mpimg_remove '/var/www/placeholder'",
        "mpimg_remove '/var/www/a\nb'\\''$(touch PWNED)'",
      ),
    );
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'remove']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(join(staged, 'var/www')).sort()).toEqual(['a', 'abs', 'b', 'etc-link', 'html', 'up']);
    for (const d of [root, staged, join(staged, 'var/www')]) expect(readdirSync(d)).not.toContain('PWNED');
  });
});

describe('build.remove in the Packer template', () => {
  it('runs `build.sh remove` right after the packages, and packer validates the template', () => {
    const b = bundled({ apt: ['/etc/nginx/sites-enabled/default'] });
    const text = readFileSync(b.packer, 'utf8');
    expect(buildOrder().indexOf('remove')).toBe(buildOrder().indexOf('packages') + 1);
    const steps = [...text.matchAll(/^ {2}# step ([a-z0-9-]+):/gm)].map((m) => m[1]);
    expect(steps.slice(steps.indexOf('packages'), steps.indexOf('packages') + 2)).toEqual(['packages', 'remove']);
    expect(text).toMatch(
      /# step remove: .*\n  provisioner "shell" \{\n    inline = \[\n      "sh \$\{local\.work\}\/acme-wiki-build\.sh remove",\n/,
    );
    // As test/bundle/packer-template.test.ts: without what Packer 1.6.6 cannot parse.
    const home = tempDir('mpimg-packer-remove-');
    const dir = join(b.packer, '../..');
    writeFileSync(
      join(dir, 'dist/check.pkr.hcl'),
      text.replace(/^packer \{\n[\s\S]*?\n\}\n/m, '').replace(/^ {2}droplet_agent += false\n/m, ''),
    );
    const v = spawnSync('packer', ['validate', 'dist/check.pkr.hcl'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        CHECKPOINT_DISABLE: '1',
        DIGITALOCEAN_TOKEN: 'dop_v1_not-a-real-token',
      },
    });
    expect(v.error, 'packer must be installed').toBeUndefined();
    expect(v.stdout + v.stderr, 'packer validate').not.toMatch(/Error/);
    expect(v.status).toBe(0);
  });
});
