/**
 * The policy (runtime/policy.ts) where only the machine knows the answer: dist/<slug>-build.sh run
 * for real in chroots of fixture roots (as in build-script.test.ts) refuses what mpimg.json cannot
 * see (an account with uid 0, a folder that is a link to a system folder, a list or key of the same
 * name it did not write) before it changes anything, and writes manifest data verbatim.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildRoot, installScript, runBuild, stagedIn } from '../helpers/build-root.js';
import { makeKey, stopAgent, type TestKey } from '../helpers/gpg.js';
import { makeProject } from '../helpers/project-fixture.js';
import { cleanupFixtures, copyBinary, put } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error(
      'these tests chroot into fixture roots and run useradd --root there: they must run as root (CI does)',
    );
});

function bundled(manifest: Record<string, unknown>, extra: (dir: string) => void = () => {}): string {
  const dir = makeProject({ manifest: manifest as Partial<Manifest> });
  extra(dir);
  return writeBundle(loadProject(dir)).build;
}

/** Every path under `p` (links not followed) with owner, mode and size: what a run must not change. */
function snapshot(p: string, rel = ''): string {
  const out: string[] = [];
  for (const name of readdirSync(join(p, rel)).sort()) {
    const f = rel ? `${rel}/${name}` : name;
    const s = lstatSync(join(p, f));
    out.push(`${f} ${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8)}${s.isFile() ? ` ${s.size}` : ''}`);
    if (s.isDirectory()) out.push(snapshot(p, f));
  }
  return out.filter(Boolean).join('\n');
}

let key: TestKey;
beforeAll(() => {
  key = makeKey('Acme Repository <repo@acme.example>');
});
afterAll(() => stopAgent(key));
const withKey = (dir: string) => {
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys/acme.asc'), key.armored);
};

describe('users and directories: what only the machine knows is refused before anything is made', () => {
  it('an account that has uid 0 here (another name for root), or a group with gid 0: nothing is made', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    put(
      root,
      'staged/etc/passwd',
      `${readFileSync(join(staged, 'etc/passwd'), 'utf8')}boss:x:0:0:second root:/root:/bin/bash\n`,
    );
    put(root, 'staged/etc/group', `${readFileSync(join(staged, 'etc/group'), 'utf8')}wheel2:x:0:\n`);
    const before = snapshot(staged);
    installScript(
      root,
      bundled({
        users: [{ name: 'acme' }, { name: 'boss', shell: '/usr/sbin/nologin' }],
        directories: [{ path: '/srv/acme' }],
      }),
    );
    const r = runBuild(root, ['--root', '/staged', 'users']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: users: user boss has uid 0 on this system: it is root, and mpimg.json never changes root's account\nfix: take boss out of users in mpimg.json\n",
    );
    expect(r.stdout).toBe('');
    expect(snapshot(staged)).toBe(before);

    installScript(root, bundled({ users: [{ name: 'acme', groups: ['wheel2'] }] }));
    const g = runBuild(root, ['--root', '/staged', 'users']);
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/^error: users: user acme: group wheel2 has gid 0 on this system \(root's group\)\n/);
    expect(snapshot(staged)).toBe(before);
  });

  it('past the schema, a user named like a group that hands root (its own group) or such an extra group: nothing is made', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    put(root, 'staged/etc/group', `${readFileSync(join(staged, 'etc/group'), 'utf8')}shadow:x:42:\ndocker:x:998:\n`);
    const before = snapshot(staged);
    const script = bundled({ users: [{ name: 'acme' }] });
    for (const [line, error] of [
      [
        "mpimg_user 'shadow' '1' '' '' '' ''",
        'error: users: user shadow: its own group would be the group shadow, which hands root (or its secrets) to its members',
      ],
      [
        "mpimg_user 'acme' '1' '' '' 'docker' ''",
        'error: users: user acme: group docker hands root (or its secrets) to its members',
      ],
    ]) {
      writeFileSync(script, readFileSync(script, 'utf8').replace(/^ {2}mpimg_user .*$/m, `  ${line}`));
      installScript(root, script);
      const r = runBuild(root, ['--root', '/staged', 'users']);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(error);
      expect(snapshot(staged)).toBe(before);
    }
  });

  it('a folder that is a link to a system folder, or leads above the runtime home: refused with the path it really is', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    mkdirSync(join(staged, 'tmp'));
    chmodSync(join(staged, 'tmp'), 0o1777);
    mkdirSync(join(staged, 'srv'));
    symlinkSync('/tmp', join(staged, 'srv/scratch'));
    symlinkSync('../..', join(staged, 'srv/top'));
    mkdirSync(join(staged, 'opt/acme/acme-wiki'), { recursive: true });
    symlinkSync('/opt', join(staged, 'data'));
    const before = snapshot(staged);
    const cases: Array<[Record<string, unknown>, string]> = [
      [
        { directories: [{ path: '/srv/scratch', mode: '0755' }] },
        'error: users: directory /srv/scratch: /srv/scratch (that is /tmp, its links followed) is a system folder: mpimg.json does not make, own or chmod it\n',
      ],
      [
        { users: [{ name: 'acme', home: '/srv/top' }] },
        'error: users: user acme: home: /srv/top (that is /, its links followed) is a system folder: mpimg.json does not make, own or chmod it\n',
      ],
      [
        { users: [{ name: 'acme' }], directories: [{ path: '/data/acme', owner: 'acme' }] },
        'error: users: directory /data/acme: /data/acme (that is /opt/acme, its links followed) is where root runs code from (or above it): owned by "acme" it could change what root runs\n',
      ],
      [
        { directories: [{ path: '/data/acme/acme-wiki/lib', mode: '0777' }] },
        'error: users: directory /data/acme/acme-wiki/lib: /data/acme/acme-wiki/lib (that is /opt/acme/acme-wiki/lib, its links followed) is where root runs code from (or above it): mode 0777 lets a group or others write there\n',
      ],
    ];
    for (const [manifest, error] of cases) {
      expect(
        validateManifest({
          name: 'x',
          slug: 'acme-wiki',
          vendor: 'acme',
          version: '1',
          distributions: ['debian-12-x64'],
          ...manifest,
        }).problems,
        'the schema cannot know',
      ).toEqual([]);
      installScript(root, bundled(manifest));
      const r = runBuild(root, ['--root', '/staged', 'users']);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(error.trimEnd());
      expect(r.stdout).toBe('');
      expect(snapshot(staged)).toBe(before);
    }
    expect((statSync(join(staged, 'tmp')).mode & 0o7777).toString(8)).toBe('1777');
  });

  it('owners: a files/ path that a link puts where root runs code from is not handed to the app user', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    mkdirSync(join(staged, 'etc/profile.d'), { recursive: true });
    symlinkSync('/etc/profile.d', join(staged, 'etc/acme-wiki'));
    put(root, 'staged/etc/profile.d/wiki.conf', 'port = 8080\n');
    const before = snapshot(staged);
    installScript(
      root,
      bundled({ files: { dir: 'files', owners: [{ path: '/etc/acme-wiki/wiki.conf', owner: 'www-data' }] } }),
    );
    const r = runBuild(root, ['--root', '/staged', 'owners']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: owners: /etc/acme-wiki/wiki.conf (that is /etc/profile.d/wiki.conf, its folders\' links followed) is where root runs code from: owned by "www-data" it could change what root runs\n' +
        "fix: leave it to root in files.owners of mpimg.json, or move it to a folder of the app's own\n",
    );
    expect(snapshot(staged)).toBe(before);
  });

  it('owners: a template that holds a secret is not there at build: left to first boot, the other files owned', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    put(root, 'staged/etc/acme-wiki/wiki.conf', 'port = 8080\n');
    const manifest = {
      secrets: [{ name: 'WIKI_KEY' }],
      files: {
        dir: 'files',
        templates: ['/etc/acme-wiki/key.conf'],
        owners: [
          { path: '/etc/acme-wiki/wiki.conf', group: 'daemon' },
          { path: '/etc/acme-wiki/key.conf', group: 'daemon' },
        ],
      },
    };
    const build = bundled(manifest, (dir) =>
      writeFileSync(join(dir, 'files/etc/acme-wiki/key.conf'), 'key = {{secret.WIKI_KEY}}\n', { mode: 0o640 }),
    );
    installScript(root, build);
    const r = runBuild(root, ['--root', '/staged', 'owners']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/etc/acme-wiki/wiki.conf: (owner unchanged):daemon');
    expect(r.stdout).not.toContain('key.conf');
    expect(existsSync(join(staged, 'etc/acme-wiki/key.conf'))).toBe(false);
  });

  it('at bundle time, a files.owners glob that matches a file where root runs code from is refused', () => {
    // (a glob whose fixed part is already there, e.g. "/usr/local/**", the schema refuses by itself)
    expect(() =>
      bundled({ files: { dir: 'files', owners: [{ path: '/**/acme-wiki-hello', owner: 'www-data' }] } }),
    ).toThrow(
      '$.files.owners[0] makes "www-data" the owner of /usr/local/bin/acme-wiki-hello, in /usr, where root runs code from',
    );
    expect(() =>
      bundled({ files: { dir: 'files', owners: [{ path: '/**/acme-wiki-hello', group: 'www-data' }] } }, (dir) => {
        chmodSync(join(dir, 'files/usr/local/bin/acme-wiki-hello'), 0o775);
      }),
    ).toThrow(
      '$.files.owners[0] gives group "www-data" write access to /usr/local/bin/acme-wiki-hello, in /usr, where root runs code from',
    );
  });
});

describe('repositories: never over or instead of a file this project did not write', () => {
  const apt = (name: string) => ({
    name,
    uris: 'https://apt.acme.example/debian',
    suites: ['{codename}'],
    components: ['main'],
    key: { file: 'keys/acme.asc' },
  });

  it('a list or a key of the same name that is not ours stops the step before anything is written', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    put(
      root,
      'staged/etc/apt/sources.list.d/vendor.sources',
      'Types: deb\nURIs: https://vendor.example/apt\nSuites: stable\n',
    );
    put(root, 'staged/etc/apt/keyrings/tool.gpg', 'a key of another tool');
    // another project's list of the same name carries another mark
    put(
      root,
      'staged/etc/apt/sources.list.d/shared.sources',
      '# mpimg:other-app repository shared: written by other-app-build.sh\nTypes: deb\n',
    );
    const before = snapshot(staged);
    for (const [name, what] of [
      ['vendor', '/etc/apt/sources.list.d/vendor.sources'],
      ['tool', '/etc/apt/keyrings/tool.gpg'],
      ['shared', '/etc/apt/sources.list.d/shared.sources'],
    ]) {
      installScript(root, bundled({ build: { repositories: [apt('acme'), apt(name)] } }, withKey));
      const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
      expect(r.code, name).toBe(1);
      expect(r.stderr).toBe(
        `error: repositories: repository ${name}: ${what} is already there and was not written by acme-wiki-build.sh\n` +
          `fix: give the repository another name in mpimg.json (e.g. "acme-wiki-${name}"): that ${what.endsWith('.gpg') ? 'key' : 'file'} is the distribution's or another tool's, and is never written over\n`,
      );
      expect(snapshot(staged), name).toBe(before);
    }
  });

  it('a link planted at the name a file is written under first (<file>.mpimg-new) is replaced, never written through', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    // absolute: in a staged root it would lead out of it, to the build machine's own file
    put(root, 'victim', "the build machine's own file\n");
    mkdirSync(join(staged, 'etc/apt/sources.list.d'), { recursive: true });
    mkdirSync(join(staged, 'etc/apt/keyrings'), { recursive: true });
    symlinkSync('/victim', join(staged, 'etc/apt/sources.list.d/acme.sources.mpimg-new'));
    symlinkSync('/victim', join(staged, 'etc/apt/keyrings/acme.gpg.mpimg-new'));
    installScript(root, bundled({ build: { repositories: [apt('acme')] } }, withKey));
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(root, 'victim'), 'utf8')).toBe("the build machine's own file\n");
    expect(readFileSync(join(staged, 'etc/apt/sources.list.d/acme.sources'), 'utf8')).toContain(
      '\nURIs: https://apt.acme.example/debian\n',
    );
    expect(lstatSync(join(staged, 'etc/apt/keyrings/acme.gpg')).isFile()).toBe(true);
    expect(readdirSync(join(staged, 'etc/apt/sources.list.d'))).toEqual(['acme.sources']);
    expect(readdirSync(join(staged, 'etc/apt/keyrings'))).toEqual(['acme.gpg']);
  });

  it('a stale list of ours goes; its key only when the list names it; other files stay', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(root, bundled({ build: { repositories: [apt('acme'), apt('old')] } }, withKey));
    expect(runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' }).code).toBe(0);
    // a marked list whose key line was changed by hand no longer vouches for the key file
    const list = join(staged, 'etc/apt/sources.list.d/acme.sources');
    writeFileSync(
      list,
      readFileSync(list, 'utf8').replace(
        'Signed-By: /etc/apt/keyrings/acme.gpg',
        'Signed-By: /usr/share/keyrings/acme.gpg',
      ),
    );
    installScript(root, bundled({ build: { repositories: [] } }));
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('repositories: mpimg.json lists no repositories for debian-12-x64');
    expect(r.stdout).toContain('repository acme: removed (no longer in mpimg.json)');
    expect(r.stdout).toContain('repository old: removed (no longer in mpimg.json)');
    expect(readdirSync(join(staged, 'etc/apt/sources.list.d'))).toEqual([]);
    expect(readdirSync(join(staged, 'etc/apt/keyrings'))).toEqual(['acme.gpg']);
  });

  it("dnf: a removed repository's key leaves the rpm database too (the real rpm, in the staged root)", () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged', 'rocky');
    // a staged root rpm runs in (chroot): rpm, its libraries and macros, sh; the database where RHEL keeps it
    const s = join(root, 'staged');
    for (const [bin, at] of [
      ['/usr/bin/rpm', 'usr/bin/rpm'],
      ['/usr/bin/rpmkeys', 'usr/bin/rpmkeys'],
      ['/usr/bin/dash', 'bin/sh'],
    ] as const)
      copyBinary(s, bin, at);
    cpSync('/usr/lib/rpm', join(s, 'usr/lib/rpm'), { recursive: true });
    put(root, 'staged/etc/rpm/macros', '%_dbpath /var/lib/rpm\n');
    mkdirSync(join(s, 'var/lib/rpm'), { recursive: true });
    mkdirSync(join(s, 'tmp'), { recursive: true });
    mkdirSync(join(s, 'dev'));
    expect(spawnSync('mknod', ['-m', '666', join(s, 'dev/null'), 'c', '1', '3']).status).toBe(0);
    const dnf = {
      name: 'acme',
      baseurl: 'https://rpm.acme.example/el$releasever/$basearch',
      key: { file: 'keys/acme.asc' },
    };
    const script = bundled({ distributions: ['rockylinux-9-x64'], build: { repositories: [dnf] } }, withKey);
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'repositories']);
    expect(r.code, r.stderr).toBe(0);
    const q = () => spawnSync('chroot', [s, '/usr/bin/rpm', '-q', 'gpg-pubkey'], { encoding: 'utf8' }).stdout.trim();
    const colons = key.gpg(['--with-colons', '--list-keys', key.fingerprint]).toString();
    const [, id, created] = /^pub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):(\d+):/m.exec(colons)!;
    const name = `gpg-pubkey-${id.slice(8).toLowerCase()}-${Number(created).toString(16).padStart(8, '0')}`;
    expect(q()).toBe(name);

    installScript(root, bundled({ distributions: ['rockylinux-9-x64'] }));
    const gone = runBuild(root, ['--root', '/staged', 'repositories']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`repository acme: key ${name} removed from the rpm database`);
    expect(gone.stdout).toContain('repository acme: removed (no longer in mpimg.json)');
    expect(q()).toBe('package gpg-pubkey is not installed');
    expect(existsSync(join(staged, 'etc/pki/rpm-gpg/RPM-GPG-KEY-acme'))).toBe(false);
    expect(readdirSync(join(staged, 'etc/yum.repos.d'))).toEqual([]);
  });
});

describe('manifest data lands verbatim (printf, never echo)', () => {
  const HOSTILE = '\\n \\t \\c \\\\ %s';

  it('the schema refuses a backslash in every URL the script writes (dash\'s echo made "\\n" a new line of the list)', () => {
    const base = { name: 'x', slug: 'acme-wiki', vendor: 'acme', version: '1', distributions: ['debian-12-x64'] };
    for (const r of [
      { name: 'acme', uris: 'https://x.example/apt\\nTrusted:\\tyes', suites: ['a'], key: { file: 'k' } },
      { name: 'acme', baseurl: 'https://x.example/rpm\\n[evil]\\ngpgcheck=0', key: { file: 'k' } },
      {
        name: 'acme',
        uris: 'https://x.example/apt',
        suites: ['a'],
        key: { url: 'https://x.example/k\\n', fingerprint: key.fingerprint },
      },
    ]) {
      const problems = validateManifest({ ...base, build: { repositories: [r] } }).problems;
      expect(problems.map((p) => p.message)).toEqual([
        expect.stringMatching(/^bad URL "https:\/\/x\.example\/.*\\\\n/),
      ]);
    }
  });

  it(`"${HOSTILE}" (and %s where a backslash is refused) in every string the script writes, found verbatim`, () => {
    const dir = '/srv/a %s b \'q\' "$(id)" `id`';
    const uri = 'https://apt.acme.example/%s/%d/$(id)';
    const manifest = {
      distributions: ['debian-12-x64', 'rockylinux-9-x64'],
      variables: { EDITION: HOSTILE, OTHER: { default: `'${HOSTILE}'`, description: HOSTILE } },
      users: [{ name: 'acme', system: false, home: `/home/acme ${'%s'} $(id)`, shell: '/bin/sh', comment: HOSTILE }],
      directories: [{ path: dir, mode: '0750' }],
      build: {
        repositories: {
          apt: [
            { name: 'acme', uris: uri, suites: ['{codename}'], components: ['main'], key: { file: 'keys/acme.asc' } },
          ],
          dnf: [{ name: 'acme', baseurl: `${uri}/$basearch`, key: { file: 'keys/acme.asc' } }],
        },
      },
    };
    expect(
      validateManifest({ name: 'x', slug: 'acme-wiki', vendor: 'acme', version: '1', ...manifest }).problems,
    ).toEqual([]);
    const script = bundled(manifest, withKey);
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'users', 'repositories', 'variables'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(staged, 'etc/passwd'), 'utf8')).toContain(
      `acme:x:1000:1000:${HOSTILE}:/home/acme %s $(id):/bin/sh\n`,
    );
    expect(statSync(join(staged, 'home/acme %s $(id)')).isDirectory()).toBe(true);
    expect(statSync(join(staged, dir)).isDirectory()).toBe(true);
    expect(readFileSync(join(staged, 'etc/apt/sources.list.d/acme.sources'), 'utf8')).toContain(
      `\nURIs: ${uri}\nSuites: bookworm\n`,
    );
    // the variables, as a shell reads them back
    const vars = r.stdout.slice(r.stdout.indexOf('EDITION='));
    const back = spawnSync('sh', ['-c', `${vars}\nprintf '%s\\n' "$EDITION" "$OTHER"`], { encoding: 'utf8' });
    expect(back.stdout).toBe(`${HOSTILE}\n'${HOSTILE}'\n`);

    const rocky = buildRoot('rocky');
    const rs = stagedIn(rocky, 'staged', 'rocky');
    installScript(rocky, script);
    const d = runBuild(rocky, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(d.code, d.stderr).toBe(0);
    expect(readFileSync(join(rs, 'etc/yum.repos.d/acme.repo'), 'utf8')).toContain(
      `\nbaseurl=${uri}/$basearch\nenabled=1\n`,
    );
  });
});
