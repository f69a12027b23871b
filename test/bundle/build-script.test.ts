/**
 * dist/<slug>-build.sh, the catalog build steps rendered by `mpimg bundle`: checked with sh -n and
 * shellcheck, and RUN for real (dash, useradd, systemctl, gpg, curl of this machine) inside chroots
 * of fixture roots (test/helpers/build-root.ts): staged roots live inside those, so nothing the
 * script does, even with a broken --root, can reach this machine's own files.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { BUILD_SCRIPT_HELP, catalogWarnings } from '../../tasks/bundle/build-script.js';
import { BUILD_SCRIPT_COMMANDS } from '../../tasks/steps/index.js';
import { LIMIT_FILE, LIMIT_UNIT, limitRuleset, limitUnit } from '../../tasks/bundle/firewall-limit.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { buildRoot, calls, installScript, runBuild, stagedIn, standIn } from '../helpers/build-root.js';
import { fingerprintsOf, makeKey, stopAgent, type TestKey } from '../helpers/gpg.js';
import { makeAptRepo } from '../helpers/apt-repo.js';
import { makeProject } from '../helpers/project-fixture.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import { tempDir } from '../helpers/temp.js';
import { cleanupFixtures, copyBinary, put } from '../scripts/fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error(
      'these tests chroot into fixture roots and run useradd --root there: they must run as root (CI does)',
    );
});

/** A project with this manifest (over the fixture's), bundled: the build script's path. */
function bundled(manifest: Record<string, unknown>, extra: (dir: string) => void = () => {}): string {
  const dir = makeProject({ manifest: manifest as Partial<Manifest> });
  extra(dir);
  return writeBundle(loadProject(dir)).build;
}

const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
const owner = (p: string) => {
  const s = lstatSync(p);
  return `${s.uid}:${s.gid}`;
};
const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n');

const EVERYTHING: Record<string, unknown> = {
  distributions: ['debian-12-x64', 'ubuntu-24-04-x64', 'rockylinux-9-x64'],
  variables: { APP_VERSION: '2.4.1', EDITION: { default: "it's $HOME `x`", description: 'quoting' } },
  users: [
    { name: 'acme', home: '/var/lib/acme', groups: ['acme-data'] },
    { name: 'ops', system: false, shell: '/bin/bash', comment: 'Ops team' },
  ],
  directories: [{ path: '/var/lib/acme/data', owner: 'acme', group: 'acme', mode: '0750' }],
  files: { dir: 'files', owners: [{ path: '/etc/acme-wiki/**', owner: 'acme', group: 'acme' }] },
  services: {
    all: [{ name: 'acme-wiki.service', check: `acme-wiki --check "/etc/acme-wiki/it's.conf" && test -s $HOME/x` }],
    dnf: ['crond.service'],
  },
  firewall: { limit: ['22/tcp'], allow: ['80/tcp', '6000:6010/udp', '53'] },
  fail2ban: { jails: ['sshd', 'nginx-http-auth'] },
  securityUpdates: { automatic: true, reboot: '04:30' },
  caddy: { reverseProxy: '127.0.0.1:3000', root: '/var/www/html', email: 'ops@example.com' },
  build: {
    packages: ['jq'],
    remove: {
      all: ['/var/www/html/index.nginx-debian.html'],
      apt: ["/etc/nginx/sites-enabled/it's $(x)", '/a/*.conf'],
    },
    repositories: {
      apt: [
        {
          name: 'nodesource',
          uris: 'https://deb.nodesource.com/node_20.x',
          suites: ['nodistro'],
          components: ['main'],
          key: {
            url: 'https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key',
            fingerprint: '6F71F525282841EEDAF851B42F59B5F99B1BE0B4',
          },
        },
      ],
      'ubuntu-24-04-x64': [{ name: 'php', ppa: 'ondrej/php' }],
      dnf: [
        { name: 'acme', baseurl: 'https://rpm.acme.example/$releasever/$basearch', key: { file: 'keys/acme.asc' } },
      ],
    },
  },
};
const withKeyFile = (dir: string) => {
  mkdirSync(join(dir, 'keys'));
  writeFileSync(
    join(dir, 'keys/acme.asc'),
    '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0123\n-----END PGP PUBLIC KEY BLOCK-----\n',
  );
};

describe('the rendered build script', () => {
  for (const [what, manifest] of [
    ['every section', EVERYTHING],
    ['no catalog section at all', {}],
  ] as const) {
    it(`passes sh -n, bash -n and shellcheck (${what}); LF only`, () => {
      const script = bundled(manifest as Record<string, unknown>, withKeyFile);
      for (const sh of ['sh', 'bash'])
        expect(spawnSync(sh, ['-n', script], { encoding: 'utf8' }).status, `${sh} -n`).toBe(0);
      const r = spawnSync('shellcheck', ['-s', 'sh', '-S', 'style', script], { encoding: 'utf8' });
      expect(r.error, 'shellcheck must be installed').toBeUndefined();
      expect(r.stdout).toBe('');
      expect(r.status).toBe(0);
      expect(readFileSync(script).includes(13)).toBe(false);
      expect(mode(script)).toBe('755');
    });
  }

  it('says what it is, lists its commands, and refuses unknown ones', () => {
    const script = bundled({});
    const help = spawnSync('sh', [script, 'help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: sh acme-wiki-build.sh [--root DIR] COMMAND...');
    // the commands are the steps of tasks/steps/ that have one, in build order, then its own
    const commands = `Commands: ${BUILD_SCRIPT_HELP.map((c) => c.name).join(' ')} help`;
    expect(BUILD_SCRIPT_HELP.map((c) => c.name)).toEqual([...BUILD_SCRIPT_COMMANDS, 'variables']);
    expect(help.stdout).toContain(commands);
    const header = readFileSync(script, 'utf8')
      .split('\n')
      .filter((l) => /^# {3}[a-z]/.test(l));
    expect(header).toEqual(BUILD_SCRIPT_HELP.map((c) => `#   ${c.name.padEnd(12)}  ${c.help}`));
    // each is dispatched (it may fail later for want of a root, never as unknown)
    const empty = tempDir('mpimg-build-dispatch-');
    for (const c of BUILD_SCRIPT_COMMANDS)
      expect(spawnSync('sh', [script, '--root', empty, c], { encoding: 'utf8' }).stderr, c).not.toContain(
        'unknown command',
      );
    const bad = spawnSync('sh', [script, 'deploy'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(`error: usage: unknown command or option "deploy"\nfix: ${commands}\n`);
    expect(spawnSync('sh', [script], { encoding: 'utf8' }).status).toBe(2);
    expect(spawnSync('sh', [script, 'variables'], { encoding: 'utf8' })).toMatchObject({
      status: 0,
      stdout: '',
      stderr: '',
    });
    const rel = spawnSync('sh', [script, '--root', 'relative/dir', 'variables'], { encoding: 'utf8' });
    expect(rel.status).toBe(1);
    expect(rel.stderr).toMatch(/^error: build: --root relative\/dir is not an absolute path\nfix: /);
  });

  it("embeds every distribution's lists and picks the machine's from its os-release (slug, else family)", () => {
    const text = readFileSync(bundled(EVERYTHING, withKeyFile), 'utf8');
    expect(text).toContain("KNOWN=' debian-12-x64 ubuntu-24-04-x64 rockylinux-9-x64 '");
    // Ubuntu has its own repositories list (all + its slug); Debian falls to the "apt" one
    expect(text).toMatch(/ubuntu-24-04-x64\)\n\s+mpimg_repo 'php' 'ppa' 'ondrej\/php'/);
    expect(text).toMatch(/debian-12-x64\)\n\s+mpimg_repo 'nodesource' 'apt'/);
    // the dnf list carries the shipped key, as a base64 here-document, and rocky has crond
    expect(text).toContain(
      "mpimg_repo 'acme' 'dnf' 'https://rpm.acme.example/$releasever/$basearch' '' '' 'file' 'mpimg_keyfile_1' 'keys/acme.asc' ''",
    );
    expect(text).toContain(
      `# keys/acme.asc\nmpimg_keyfile_1() {\n  cat <<'MPIMG_B64'\n${Buffer.from('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ0123\n-----END PGP PUBLIC KEY BLOCK-----\n').toString('base64').slice(0, 76)}`,
    );
    expect(text).toMatch(
      /rockylinux-9-x64\)\n\s+mpimg_service 'acme-wiki\.service'\n\s+mpimg_service 'crond\.service'/,
    );
  });
});

describe('users: system users, their groups and the directories (useradd --root on a staged root)', () => {
  const manifest = { users: EVERYTHING.users, directories: EVERYTHING.directories };

  it('makes them once, owned, with their groups; a second run changes nothing', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(root, bundled(manifest));
    const r = runBuild(root, ['--root', '/staged', 'users']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'users: group acme: made (gid 999)',
      'users: group acme-data: made (gid 998)',
      'users: user acme: made (system user, uid 999, shell /usr/sbin/nologin, groups acme-data)',
      'users: user acme: home /var/lib/acme owned by acme',
      'users: group ops: made (gid 1000)',
      'users: user ops: made (user, uid 1000, shell /bin/bash)',
      'users: directory /var/lib/acme/data: made, owner acme, group acme, mode 0750',
    ]);
    const passwd = lines(join(staged, 'etc/passwd'));
    expect(passwd).toContain('acme:x:999:999::/var/lib/acme:/usr/sbin/nologin');
    expect(passwd).toContain('ops:x:1000:1000:Ops team:/home/ops:/bin/bash');
    expect(lines(join(staged, 'etc/group'))).toContain('acme-data:x:998:acme');
    // no password: locked in shadow
    expect(lines(join(staged, 'etc/shadow')).find((l) => l.startsWith('acme:'))).toMatch(/^acme:!\*?:/);
    expect(owner(join(staged, 'var/lib/acme'))).toBe('999:999');
    expect(mode(join(staged, 'var/lib/acme'))).toBe('750');
    expect(owner(join(staged, 'var/lib/acme/data'))).toBe('999:999');
    expect(mode(join(staged, 'var/lib/acme/data'))).toBe('750');
    // a user with a login gets /etc/skel; the system user does not
    expect(existsSync(join(staged, 'home/ops/.profile'))).toBe(true);
    expect(existsSync(join(staged, 'var/lib/acme/.profile'))).toBe(false);
    // nothing of it reached the chroot's own accounts; no scratch folder left
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).not.toContain('acme');
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);

    const before = readFileSync(join(staged, 'etc/passwd'), 'utf8') + readFileSync(join(staged, 'etc/group'), 'utf8');
    const again = runBuild(root, ['--root', '/staged', 'users']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('users: user acme: exists (uid 999)');
    expect(again.stdout).toContain('users: directory /var/lib/acme/data: exists, owner acme, group acme, mode 0750');
    expect(again.stdout).not.toContain('made');
    expect(readFileSync(join(staged, 'etc/passwd'), 'utf8') + readFileSync(join(staged, 'etc/group'), 'utf8')).toBe(
      before,
    );
  });

  it('an edited manifest converges: a new shell, a new extra group (made), a mode', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(root, bundled(manifest));
    expect(runBuild(root, ['--root', '/staged', 'users']).code).toBe(0);
    installScript(
      root,
      bundled({
        users: [
          { name: 'acme', home: '/var/lib/acme', shell: '/bin/sh', groups: ['acme-data', 'www-data', 'acme-logs'] },
        ],
        directories: [{ path: '/var/lib/acme/data', mode: '2770' }],
      }),
    );
    const r = runBuild(root, ['--root', '/staged', 'users']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('users: group acme-logs: made');
    expect(r.stdout).toContain('users: user acme: shell /bin/sh');
    expect(r.stdout).toContain('users: user acme: added to group www-data');
    expect(lines(join(staged, 'etc/passwd'))).toContain('acme:x:999:999::/var/lib/acme:/bin/sh');
    expect(lines(join(staged, 'etc/group'))).toContain('www-data:x:33:acme');
    expect(mode(join(staged, 'var/lib/acme/data'))).toBe('2770');
  });

  it('an owner that does not exist stops with what and how to fix; a path that is a file too', () => {
    const root = buildRoot();
    stagedIn(root, 'staged');
    installScript(root, bundled({ directories: [{ path: '/srv/app', owner: 'nobody-here' }] }));
    const r = runBuild(root, ['--root', '/staged', 'users']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: users: directory /srv/app: no user "nobody-here" on this system\nfix: add it to users in mpimg.json, or install the package that makes it first\n',
    );
    put(root, 'staged/srv/file', 'x');
    installScript(root, bundled({ directories: [{ path: '/srv/file' }] }));
    const f = runBuild(root, ['--root', '/staged', 'users']);
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/^error: users: directory \/srv\/file exists and is not a folder\nfix: /);
  });

  it("follows the staged root's own links inside it, never out to this machine (an absolute /var/run -> /run)", () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    mkdirSync(join(staged, 'run'));
    mkdirSync(join(staged, 'var'), { recursive: true });
    symlinkSync('/run', join(staged, 'var/run'));
    installScript(root, bundled({ directories: [{ path: '/var/run/acme-test-dir', mode: '0700' }] }));
    const r = runBuild(root, ['--root', '/staged', 'users']);
    expect(r.code, r.stderr).toBe(0);
    expect(mode(join(staged, 'run/acme-test-dir'))).toBe('700');
    expect(existsSync(join(root, 'run/acme-test-dir'))).toBe(false);
  });
});

describe('owners: files/ paths by glob, links never followed', () => {
  it('chowns what files/ laid down (numeric ids of the staged root), the link itself and not its target', () => {
    const script = bundled(
      {
        files: {
          dir: 'files',
          owners: [
            { path: '/etc/acme-wiki/*.conf', owner: 'www-data', group: 'www-data' },
            { path: '/etc/acme-wiki/current', owner: 'daemon' },
          ],
        },
      },
      (dir) => {
        symlinkSync('wiki.conf', join(dir, 'files/etc/acme-wiki/current'));
      },
    );
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    // as the files step leaves them
    put(root, 'staged/etc/acme-wiki/wiki.conf', 'port = 8080\n');
    put(root, 'staged/etc/acme-wiki/secret.conf', 'token = none\n', 0o600);
    put(root, 'staged/usr/local/bin/acme-wiki-hello', '#!/bin/sh\n', 0o755);
    symlinkSync('wiki.conf', join(staged, 'etc/acme-wiki/current'));
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'owners']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'owners: /etc/acme-wiki/secret.conf: www-data:www-data',
      'owners: /etc/acme-wiki/wiki.conf: www-data:www-data',
      'owners: /etc/acme-wiki/current: daemon',
    ]);
    expect(owner(join(staged, 'etc/acme-wiki/wiki.conf'))).toBe('33:33');
    expect(owner(join(staged, 'etc/acme-wiki/secret.conf'))).toBe('33:33');
    expect(owner(join(staged, 'etc/acme-wiki/current'))).toBe('1:0');
    expect(readlinkSync(join(staged, 'etc/acme-wiki/current'))).toBe('wiki.conf');
    expect(owner(join(staged, 'usr/local/bin/acme-wiki-hello'))).toBe('0:0');
    expect(mode(join(staged, 'etc/acme-wiki/secret.conf'))).toBe('600');
  });

  it('refuses at bundle time a glob that matches nothing in files/; on the droplet a path files/ did not lay down', () => {
    expect(() => bundled({ files: { dir: 'files', owners: [{ path: '/etc/acme-wikki/**', owner: 'acme' }] } })).toThrow(
      /\$\.files\.owners\[0\]\.path "\/etc\/acme-wikki\/\*\*" matches nothing in files\//,
    );
    const root = buildRoot();
    stagedIn(root, 'staged');
    installScript(
      root,
      bundled({ files: { dir: 'files', owners: [{ path: '/etc/acme-wiki/wiki.conf', owner: 'www-data' }] } }),
    );
    const r = runBuild(root, ['--root', '/staged', 'owners']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: owners: /etc/acme-wiki/wiki.conf (from files/) is not on this system\nfix: lay down files/ first (the files step), then run owners\n',
    );
  });
});

describe('services: enabled with systemctl --root, for this distribution', () => {
  const unit = (wanted: boolean) =>
    `[Unit]\nDescription=test\n[Service]\nExecStart=/bin/true\n${wanted ? '[Install]\nWantedBy=multi-user.target\n' : ''}`;

  it('enables the units of "all" plus the family\'s (once, again safely); static ones are said to be', () => {
    const script = bundled({
      distributions: ['debian-12-x64', 'rockylinux-9-x64'],
      services: {
        all: ['acme-wiki.service', { name: 'acme-worker@main.service', firstBoot: 'start' }, 'acme-helper.service'],
        dnf: ['crond.service'],
      },
    });
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    put(root, 'staged/usr/lib/systemd/system/acme-wiki.service', unit(true));
    put(root, 'staged/usr/lib/systemd/system/acme-worker@.service', unit(true));
    put(root, 'staged/etc/systemd/system/acme-helper.service', unit(false));
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'services']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'services: service acme-wiki.service: enabled',
      'services: service acme-worker@main.service: enabled',
      'services: service acme-helper.service: static (no [Install] section): nothing to enable, it starts when a unit that needs it does',
    ]);
    const wants = join(staged, 'etc/systemd/system/multi-user.target.wants');
    expect(readdirSync(wants).sort()).toEqual(['acme-wiki.service', 'acme-worker@main.service']);
    expect(readlinkSync(join(wants, 'acme-wiki.service'))).toBe('/usr/lib/systemd/system/acme-wiki.service');
    const again = runBuild(root, ['--root', '/staged', 'services']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('service acme-wiki.service: enabled (already)');
    // nothing enabled in the chroot's own /etc
    expect(existsSync(join(root, 'etc/systemd/system/multi-user.target.wants'))).toBe(false);
  });

  it('a unit that does not exist is a clear error; the dnf family gets its own list', () => {
    const script = bundled({
      distributions: ['debian-12-x64', 'rockylinux-9-x64'],
      services: {
        all: [{ name: 'acme-wiki.service', check: `acme-wiki --check "/etc/acme-wiki/it's.conf" && test -s $HOME/x` }],
        dnf: ['crond.service'],
      },
    });
    const root = buildRoot();
    stagedIn(root, 'staged', 'rocky');
    put(root, 'staged/usr/lib/systemd/system/acme-wiki.service', unit(true));
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'services']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('service acme-wiki.service: enabled');
    expect(r.stderr).toBe(
      'error: services: service crond.service: there is no unit crond.service on this system\nfix: bring it with files/ (e.g. files/etc/systemd/system/crond.service) or a package of build.packages, or take it out of services in mpimg.json\n',
    );
  });
});

describe('repositories: signing keys checked with gpg before anything is written', () => {
  let key: TestKey;
  let other: TestKey;
  let server: Served;
  let base: string;
  let www: string;
  const serve = (name: string, body: string | Buffer) => writeFileSync(join(www, name), body);

  beforeAll(async () => {
    key = makeKey('Acme Repository <repo@acme.example>');
    other = makeKey('Mallory <keys@mallory.example>');
    www = tempDir('mpimg-keys-www-');
    serve('acme.asc', key.armored);
    serve('both.asc', `${other.armored}${key.armored}`);
    // the build script's curl runs while this process waits (spawnSync): the server is a child process
    server = await serveDir(www);
    base = server.url;
  });
  afterAll(async () => {
    stopAgent(key);
    stopAgent(other);
    await server?.close();
  });

  const apt = (over: Record<string, unknown> = {}) => ({
    name: 'acme',
    uris: 'https://apt.acme.example/debian',
    suites: ['{codename}', '{codename}-updates'],
    components: ['main', 'contrib'],
    ...over,
  });

  it('apt: a fetched key with the right fingerprint (and a shipped one) become deb822 sources with Signed-By keyrings', () => {
    const script = bundled(
      {
        build: {
          repositories: [
            apt({ key: { url: `${base}/acme.asc`, fingerprint: key.fingerprint.toLowerCase() } }),
            apt({ name: 'acme-extra', suites: ['stable/'], components: undefined, key: { file: 'keys/acme.gpg' } }),
          ],
        },
      },
      (dir) => {
        mkdirSync(join(dir, 'keys'));
        writeFileSync(join(dir, 'keys/acme.gpg'), key.binary);
      },
    );
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      `repositories: repository acme: fetching its key from ${base}/acme.asc`,
      `repositories: repository acme: key ${key.fingerprint} checked`,
      `repositories: repository acme-extra: key ${key.fingerprint} from keys/acme.gpg`,
      'repositories: repository acme: /etc/apt/sources.list.d/acme.sources written (https://apt.acme.example/debian bookworm bookworm-updates main contrib), key /etc/apt/keyrings/acme.gpg written',
      'repositories: repository acme-extra: /etc/apt/sources.list.d/acme-extra.sources written (https://apt.acme.example/debian stable/), key /etc/apt/keyrings/acme-extra.gpg written',
      'repositories: MPIMG_SKIP_PACKAGES=1: package lists not refreshed',
    ]);
    expect(readFileSync(join(staged, 'etc/apt/sources.list.d/acme.sources'), 'utf8')).toBe(
      [
        '# mpimg:acme-wiki repository acme: written by acme-wiki-build.sh from mpimg.json (edit mpimg.json, not this file)',
        'Types: deb',
        'URIs: https://apt.acme.example/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main contrib',
        'Signed-By: /etc/apt/keyrings/acme.gpg',
        '',
      ].join('\n'),
    );
    expect(readFileSync(join(staged, 'etc/apt/sources.list.d/acme-extra.sources'), 'utf8')).not.toContain(
      'Components:',
    );
    // the keyring: binary (armored keys are dearmored), the key itself, 0644
    const ring = join(staged, 'etc/apt/keyrings/acme.gpg');
    expect(readFileSync(ring).subarray(0, 5).toString('latin1')).not.toBe('-----');
    expect(fingerprintsOf(ring)).toEqual([key.fingerprint]);
    expect(mode(ring)).toBe('644');
    // again: nothing changes
    const again = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('acme.sources unchanged');
    expect(again.stdout).toContain('key /etc/apt/keyrings/acme.gpg unchanged');
    // no scratch folder left behind
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('a wrong fingerprint stops the build naming the repository, the expected and the found one; nothing is written', () => {
    const script = bundled({
      build: {
        repositories: [
          apt({ name: 'good', key: { url: `${base}/acme.asc`, fingerprint: key.fingerprint } }),
          apt({ key: { url: `${base}/acme.asc`, fingerprint: other.fingerprint } }),
        ],
      },
    });
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: repositories: repository acme: the key at ${base}/acme.asc has the fingerprint ${key.fingerprint}, not the expected ${other.fingerprint}\n` +
        'fix: nothing was written. If the vendor really changed its key, check the new fingerprint where the vendor publishes it, put it in key.fingerprint of mpimg.json and bundle again\n',
    );
    // not even the good repository that came first
    expect(existsSync(join(staged, 'etc/apt'))).toBe(false);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('a key file holding more keys: only the pinned one is trusted; not a key at all, or unreachable: clear errors', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(
      root,
      bundled({ build: { repositories: [apt({ key: { url: `${base}/both.asc`, fingerprint: key.fingerprint } })] } }),
    );
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(fingerprintsOf(join(staged, 'etc/apt/keyrings/acme.gpg'))).toEqual([key.fingerprint]);

    serve('page.html', '<html>moved</html>');
    installScript(
      root,
      bundled({
        build: {
          repositories: [apt({ name: 'page', key: { url: `${base}/page.html`, fingerprint: key.fingerprint } })],
        },
      }),
    );
    const html = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(html.code).toBe(1);
    expect(html.stderr).toMatch(
      new RegExp(
        `^error: repositories: repository page: the key at ${base}/page\\.html is not an OpenPGP public key\nfix: `,
      ),
    );
    installScript(
      root,
      bundled({
        build: {
          repositories: [apt({ name: 'gone', key: { url: `${base}/missing.asc`, fingerprint: key.fingerprint } })],
        },
      }),
    );
    const gone = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(
      `error: repositories: repository gone: could not fetch its signing key from ${base}/missing.asc\nfix: check key.url in mpimg.json`,
    );
  });

  it('a repository taken out of mpimg.json is removed on the next run (only files this script wrote)', () => {
    const root = buildRoot();
    const staged = stagedIn(root, 'staged');
    installScript(
      root,
      bundled({
        build: {
          repositories: [
            apt({ key: { url: `${base}/acme.asc`, fingerprint: key.fingerprint } }),
            apt({ name: 'old', key: { url: `${base}/acme.asc`, fingerprint: key.fingerprint } }),
          ],
        },
      }),
    );
    expect(runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' }).code).toBe(0);
    put(
      root,
      'staged/etc/apt/sources.list.d/debian.sources',
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n',
    );
    installScript(
      root,
      bundled({ build: { repositories: [apt({ key: { url: `${base}/acme.asc`, fingerprint: key.fingerprint } })] } }),
    );
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('repository old: removed (no longer in mpimg.json)');
    expect(readdirSync(join(staged, 'etc/apt/sources.list.d')).sort()).toEqual(['acme.sources', 'debian.sources']);
    expect(readdirSync(join(staged, 'etc/apt/keyrings'))).toEqual(['acme.gpg']);
  });

  it('the local signed apt repository (test/helpers/apt-repo.ts): its key by url + fingerprint verifies its InRelease as apt would', async () => {
    const repo = await makeAptRepo({ suite: 'bookworm' });
    try {
      const root = buildRoot();
      const staged = stagedIn(root, 'staged');
      installScript(
        root,
        bundled({
          build: {
            repositories: [
              {
                name: 'mpimg-test',
                uris: repo.url,
                suites: ['{codename}'],
                components: [repo.component],
                key: { url: repo.keyUrl, fingerprint: repo.fingerprint },
              },
            ],
          },
        }),
      );
      const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(staged, 'etc/apt/sources.list.d/mpimg-test.sources'), 'utf8')).toContain(
        `URIs: ${repo.url}\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/mpimg-test.gpg\n`,
      );
      // apt checks InRelease with gpgv against the Signed-By keyring: the one the script wrote
      const v = spawnSync(
        'gpgv',
        ['--keyring', join(staged, 'etc/apt/keyrings/mpimg-test.gpg'), join(repo.dir, 'dists/bookworm/InRelease')],
        { encoding: 'utf8' },
      );
      expect(v.status, v.stderr).toBe(0);
      expect(v.stderr).toContain('Good signature');
    } finally {
      await repo.close();
    }
  });

  it('then apt-get update in the staged root (unless MPIMG_SKIP_PACKAGES=1)', () => {
    const root = buildRoot();
    stagedIn(root, 'staged');
    // a staged root the script can chroot into: its own sh (and libraries), a stand-in apt-get
    copyBinary(join(root, 'staged'), '/usr/bin/dash', 'bin/sh');
    copyBinary(join(root, 'staged'), '/usr/bin/cat', 'usr/bin/cat');
    standIn(root, 'staged/usr/bin/apt-get', 'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> /calls.log');
    installScript(
      root,
      bundled({ build: { repositories: [apt({ key: { url: `${base}/acme.asc`, fingerprint: key.fingerprint } })] } }),
    );
    const r = runBuild(root, ['--root', '/staged', 'repositories']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('repositories: package lists refreshed (apt-get update)');
    expect(calls(join(root, 'staged'))).toEqual([
      'apt-get -y -q -o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold update',
      'DEBIAN_FRONTEND=noninteractive',
    ]);
  });

  it('dnf: a .repo with gpgcheck and the armored key file; PPAs and apt repositories refused there with a clear error', () => {
    const script = bundled(
      {
        distributions: ['rockylinux-9-x64', 'ubuntu-24-04-x64'],
        build: {
          repositories: {
            dnf: [
              {
                name: 'acme',
                baseurl: 'https://rpm.acme.example/el$releasever/$basearch',
                key: { file: 'keys/acme.asc', fingerprint: key.fingerprint },
              },
            ],
            'ubuntu-24-04-x64': [{ name: 'php', ppa: 'ondrej/php' }],
            apt: [{ name: 'php', ppa: 'ondrej/php' }],
          },
        },
      },
      (dir) => {
        mkdirSync(join(dir, 'keys'));
        writeFileSync(join(dir, 'keys/acme.asc'), key.armored);
      },
    );
    const root = buildRoot();
    const staged = stagedIn(root, 'staged', 'rocky');
    installScript(root, script);
    const r = runBuild(root, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(staged, 'etc/yum.repos.d/acme.repo'), 'utf8')).toBe(
      [
        '# mpimg:acme-wiki repository acme: written by acme-wiki-build.sh from mpimg.json (edit mpimg.json, not this file)',
        '[acme]',
        'name=acme',
        'baseurl=https://rpm.acme.example/el$releasever/$basearch',
        'enabled=1',
        'gpgcheck=1',
        'skip_if_unavailable=False',
        'gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-acme',
        '',
      ].join('\n'),
    );
    const k = join(staged, 'etc/pki/rpm-gpg/RPM-GPG-KEY-acme');
    expect(readFileSync(k, 'utf8')).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(fingerprintsOf(k)).toEqual([key.fingerprint]);
    expect(r.stdout).toContain('repository acme: MPIMG_SKIP_PACKAGES=1: not importing the key into rpm');

    // the "apt" list (a PPA) on Debian: PPAs are Ubuntu's
    const deb = buildRoot();
    stagedIn(deb, 'staged', 'debian');
    installScript(deb, script);
    const ppa = runBuild(deb, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(ppa.code).toBe(1);
    expect(ppa.stdout).toContain(
      'note: debian-12-x64 is not among mpimg.json\'s distributions: using its "all" and "apt" lists',
    );
    expect(ppa.stderr).toMatch(
      /^error: repositories: repository php: ppa:ondrej\/php is a Launchpad PPA, for Ubuntu only, and this is debian-12-x64\nfix: list it for Ubuntu only/,
    );
    // on Ubuntu it is taken (add-apt-repository is skipped with MPIMG_SKIP_PACKAGES=1)
    const ubu = buildRoot();
    stagedIn(ubu, 'staged', 'ubuntu');
    installScript(ubu, script);
    const ok = runBuild(ubu, ['--root', '/staged', 'repositories'], { MPIMG_SKIP_PACKAGES: '1' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('repository php: MPIMG_SKIP_PACKAGES=1: not adding ppa:ondrej/php');
  });
});

describe('firewall: configured for the first boot, never switched on for the build', () => {
  /**
   * A stand-in ufw that keeps its rules in a file and answers `show added` as ufw 0.36 does
   * ("ufw allow 22/tcp", app names with spaces quoted), writes them into /etc/ufw/user.rules and
   * user6.rules as "### tuple ###" lines as ufw does, and records every call. With
   * /etc/ufw-stand-in-no-ipv6-limit it does what real ufw does where it cannot probe ip6tables
   * (test/bundle/firewall-ufw.test.ts runs that real one): prints "Skipping unsupported IPv6
   * 'limit' rule", exits 0 and writes no IPv6 half of a limit rule.
   */
  const UFW = `state=/var/lib/ufw-stand-in/rules
mkdir -p /var/lib/ufw-stand-in; touch "$state"
[ "$1" = --force ] && shift
q() { for a in "$@"; do case $a in *' '*) printf "'%s' " "$a" ;; *) printf '%s ' "$a" ;; esac; done | sed 's/ $//'; }
tuples() {
  : > /etc/ufw/user.rules; : > /etc/ufw/user6.rules
  while read -r a spec; do
    case $spec in *"'"*) continue ;; esac
    port=\${spec%/*}; proto=any; case $spec in */*) proto=\${spec#*/} ;; esac
    echo "### tuple ### $a $proto $port 0.0.0.0/0 any 0.0.0.0/0 in" >> /etc/ufw/user.rules
    if [ "$a" = limit ] && [ -e /etc/ufw-stand-in-no-ipv6-limit ]; then continue; fi
    echo "### tuple ### $a $proto $port ::/0 any ::/0 in" >> /etc/ufw/user6.rules
  done < "$state"
}
case $1 in
  status) echo "Status: inactive" ;;
  show) echo "Added user rules (see 'ufw status' for running firewall):"; if [ -s "$state" ]; then sed 's/^/ufw /' "$state"; else echo "(None)"; fi ;;
  allow|limit|deny) line=$(q "$@"); grep -qxF "$line" "$state" || echo "$line" >> "$state"; tuples; echo "Rules updated"
    if [ "$1" = limit ] && [ -e /etc/ufw-stand-in-no-ipv6-limit ]; then echo "Skipping unsupported IPv6 'limit' rule"; else echo "Rules updated (v6)"; fi ;;
  delete) shift; line=$(q "$@"); grep -qxF "$line" "$state" || { echo "Could not delete non-existent rule" >&2; exit 1; }; grep -vxF "$line" "$state" > "$state.new" || true; mv "$state.new" "$state"; tuples; echo "Rule deleted" ;;
  default) echo "Default $3 policy changed to '$2'" ;;
  *) echo "stand-in ufw: unexpected $*" >&2; exit 9 ;;
esac`;

  function ufwRoot(): string {
    const root = buildRoot('debian');
    standIn(root, 'usr/sbin/ufw', UFW);
    put(root, 'etc/ufw/ufw.conf', '# /etc/ufw/ufw.conf\nENABLED=no\nLOGLEVEL=low\n');
    put(root, 'etc/default/ufw', '# /etc/default/ufw\nIPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\n');
    put(
      root,
      'usr/lib/systemd/system/ufw.service',
      '[Unit]\nDescription=Uncomplicated firewall\n[Service]\nType=oneshot\nExecStart=/lib/ufw/ufw-init start\n[Install]\nWantedBy=multi-user.target\n',
    );
    // what the image had before (another tool's rules): removed, since mpimg.json does not list them
    put(root, 'var/lib/ufw-stand-in/rules', "allow 8080/tcp\nallow 'Nginx Full'\nallow 80/tcp\n");
    for (const [file, any] of [
      ['user.rules', '0.0.0.0/0'],
      ['user6.rules', '::/0'],
    ]) {
      put(
        root,
        `etc/ufw/${file}`,
        [
          `allow tcp 8080 ${any} any ${any} in`,
          `allow tcp 80,443 ${any} any ${any} Nginx%20Full - in`,
          `allow tcp 80 ${any} any ${any} in`,
        ]
          .map((t) => `### tuple ### ${t}\n`)
          .join(''),
      );
    }
    return root;
  }
  const ufwCalls = (root: string) =>
    calls(root).filter((c) => c.startsWith('ufw ') && c !== 'ufw status' && c !== 'ufw show added');

  it("ufw: exactly the manifest's rules (limit for limit rules), default deny incoming, on from the first boot", () => {
    const root = ufwRoot();
    installScript(
      root,
      bundled({ firewall: { limit: ['22/tcp'], allow: ['80/tcp', '443/tcp', '6000:6010/udp', '53'] } }),
    );
    const r = runBuild(root, ['firewall']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(ufwCalls(root)).toEqual([
      'ufw limit 22/tcp',
      'ufw allow 443/tcp',
      'ufw allow 6000:6010/udp',
      'ufw allow 53',
      'ufw --force delete allow 8080/tcp',
      'ufw --force delete allow Nginx Full',
      'ufw default deny incoming',
      'ufw default allow outgoing',
    ]);
    // never switched on here: no `ufw enable`, no start; on at boot through ufw.conf and the unit
    expect(calls(root).some((c) => /\benable\b/.test(c))).toBe(false);
    expect(lines(join(root, 'var/lib/ufw-stand-in/rules')).sort()).toEqual([
      'allow 443/tcp',
      'allow 53',
      'allow 6000:6010/udp',
      'allow 80/tcp',
      'limit 22/tcp',
    ]);
    expect(readFileSync(join(root, 'etc/ufw/ufw.conf'), 'utf8')).toBe(
      '# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n',
    );
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/ufw.service'))).toBe(
      '/usr/lib/systemd/system/ufw.service',
    );
    expect(r.stdout).toContain('firewall: ufw allow 80/tcp (already)');
    expect(r.stdout).toContain('firewall: ufw rule removed (not in mpimg.json): allow 8080/tcp');
    expect(r.stdout).toContain(
      'firewall: ufw on from the first boot (ENABLED=yes, ufw.service enabled); not switched on here',
    );

    // again: nothing to add or delete
    const before = calls(root).length;
    expect(runBuild(root, ['firewall']).code).toBe(0);
    expect(
      calls(root)
        .slice(before)
        .filter((c) => /^ufw (--force delete|allow|limit) /.test(c)),
    ).toEqual([]);

    // an edit of mpimg.json converges: 443 dropped, 8443 added
    installScript(
      root,
      bundled({ firewall: { limit: ['22/tcp'], allow: ['80/tcp', '8443/tcp', '6000:6010/udp', '53'] } }),
    );
    const after = calls(root).length;
    expect(runBuild(root, ['firewall']).code).toBe(0);
    expect(
      calls(root)
        .slice(after)
        .filter((c) => /^ufw (--force delete|allow|limit) /.test(c)),
    ).toEqual(['ufw allow 8443/tcp', 'ufw --force delete allow 443/tcp']);
    expect(lines(join(root, 'var/lib/ufw-stand-in/rules')).sort()).toEqual([
      'allow 53',
      'allow 6000:6010/udp',
      'allow 80/tcp',
      'allow 8443/tcp',
      'limit 22/tcp',
    ]);
  });

  it('ufw that leaves out the IPv6 half of a limit rule (as where it cannot probe ip6tables): the step fails on the spot, naming it', () => {
    const root = ufwRoot();
    put(root, 'etc/ufw-stand-in-no-ipv6-limit', '');
    installScript(root, bundled({ firewall: { limit: ['22/tcp'], allow: ['80/tcp'] } }));
    const r = runBuild(root, ['firewall']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('firewall: ufw limit 22/tcp\n');
    expect(r.stdout).not.toContain('ufw on from the first boot');
    expect(r.stderr).toBe(
      [
        '  missing: limit 22/tcp (IPv6)',
        "  ufw said: Skipping unsupported IPv6 'limit' rule",
        'error: firewall: ufw did not write every rule of mpimg.json: limit 22/tcp (IPv6) is missing from /etc/ufw/user6.rules (all listed above)',
        "fix: ufw leaves out IPv6 'limit' rules where it cannot use ip6tables (a container or chroot without netfilter): run the build on the droplet itself, or set IPV6=no in /etc/default/ufw if the image must not filter IPv6",
        '',
      ].join('\n'),
    );
    // run again: ufw has the rule (IPv4), so it is not added again, and the missing half still fails
    const again = runBuild(root, ['firewall']);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('firewall: ufw limit 22/tcp (already)');
    expect(again.stderr).toContain('  missing: limit 22/tcp (IPv6)\n');
    // where ufw filters IPv4 only (IPV6=no), the IPv4 rules are all there is to compare
    put(root, 'etc/default/ufw', 'IPV6=no\n');
    expect(runBuild(root, ['firewall']).code).toBe(0);
  });

  it('ufw missing: a clear error that says to add it to build.packages, nothing changed', () => {
    const root = buildRoot('debian');
    put(root, 'etc/ufw/ufw.conf', 'ENABLED=no\n');
    installScript(root, bundled({ firewall: { limit: ['22/tcp'] } }));
    const r = runBuild(root, ['firewall']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: firewall: ufw is not installed, so the image\'s firewall cannot be set up\nfix: add "ufw" to build.packages in mpimg.json (e.g. "packages": {"apt": ["ufw"]}): this step does not install packages\n',
    );
    expect(readFileSync(join(root, 'etc/ufw/ufw.conf'), 'utf8')).toBe('ENABLED=no\n');
  });

  /**
   * A stand-in firewall-offline-cmd with the permanent config of the public zone in files; DROP lists ports it drops
   * silently.
   */
  function firewalldRoot(): string {
    const root = buildRoot('rocky');
    standIn(
      root,
      'usr/bin/firewall-offline-cmd',
      `d=/var/lib/fwo; mkdir -p $d; touch $d/ports $d/rich $d/services $d/drop
zone=; for a in "$@"; do case $a in --zone=*) zone=\${a#--zone=} ;; esac; done
for a in "$@"; do case $a in
  --get-default-zone) echo public ;;
  --list-ports) tr '\\n' ' ' < $d/ports | sed 's/ $//'; echo ;;
  --list-services) tr '\\n' ' ' < $d/services | sed 's/ $//'; echo ;;
  --list-rich-rules) cat $d/rich ;;
  --add-port=*) grep -qxF "\${a#--add-port=}" $d/drop || echo "\${a#--add-port=}" >> $d/ports ;;
  --remove-port=*) grep -vxF "\${a#--remove-port=}" $d/ports > $d/x || true; mv $d/x $d/ports ;;
  --remove-rich-rule=*) grep -vxF "\${a#--remove-rich-rule=}" $d/rich > $d/x || true; mv $d/x $d/rich ;;
  --remove-service-from-zone=*) grep -vxF "\${a#--remove-service-from-zone=}" $d/services > $d/x || true; mv $d/x $d/services ;;
  --remove-service=*) echo "Can't use lokkit options with other options." >&2; exit 2 ;;
  --zone=*) [ "$zone" = public ] || exit 9 ;;
  *) echo "unexpected $a" >&2; exit 9 ;;
esac; done`,
    );
    // nft -c -f FILE: the real one parses it in test/bundle/firewall-firewalld.test.ts
    standIn(root, 'usr/sbin/nft', '[ "$1 $2" = "-c -f" ] && [ -f "$3" ] || exit 9');
    put(root, 'var/lib/fwo/services', 'ssh\ncockpit\ndhcpv6-client\n');
    put(root, 'var/lib/fwo/ports', '9090/tcp\n');
    // what an earlier build of this tool wrote: firewalld's global limit, one rate for all sources
    put(root, 'var/lib/fwo/rich', 'rule port port="22" protocol="tcp" accept limit value="10/m"\n');
    put(
      root,
      'usr/lib/systemd/system/firewalld.service',
      '[Unit]\nDescription=firewalld\n[Service]\nExecStart=/usr/sbin/firewalld --nofork\n[Install]\nWantedBy=multi-user.target\n',
    );
    return root;
  }

  it('firewalld (dnf): the ports of every rule (ranges LOW-HIGH), limit rules limited per source by a table of their own, other services, ports and rich rules removed, enabled', () => {
    const root = firewalldRoot();
    const firewall = { limit: ['22/tcp'], allow: ['80/tcp', '6000:6010/udp', '53'] };
    installScript(root, bundled({ distributions: ['rockylinux-9-x64'], firewall }));
    const r = runBuild(root, ['firewall']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(calls(root).filter((c) => /--(add|remove)-/.test(c))).toEqual([
      'firewall-offline-cmd --zone=public --add-port=22/tcp',
      'firewall-offline-cmd --zone=public --add-port=80/tcp',
      'firewall-offline-cmd --zone=public --add-port=6000-6010/udp',
      'firewall-offline-cmd --zone=public --add-port=53/tcp',
      'firewall-offline-cmd --zone=public --add-port=53/udp',
      'firewall-offline-cmd --zone=public --remove-port=9090/tcp',
      'firewall-offline-cmd --zone=public --remove-rich-rule=rule port port="22" protocol="tcp" accept limit value="10/m"',
      'firewall-offline-cmd --zone=public --remove-service-from-zone=ssh',
      'firewall-offline-cmd --zone=public --remove-service-from-zone=cockpit',
      'firewall-offline-cmd --zone=public --remove-service-from-zone=dhcpv6-client',
    ]);
    expect(lines(join(root, 'var/lib/fwo/ports'))).toEqual(['22/tcp', '80/tcp', '6000-6010/udp', '53/tcp', '53/udp']);
    expect(readFileSync(join(root, 'var/lib/fwo/rich'), 'utf8')).toBe('');
    expect(readFileSync(join(root, 'var/lib/fwo/services'), 'utf8')).toBe('');
    // the per-source limit: the file the unit loads at boot (checked by nft), the unit enabled
    expect(readFileSync(join(root, LIMIT_FILE), 'utf8')).toBe(limitRuleset(firewall));
    expect(mode(join(root, LIMIT_FILE))).toBe('644');
    expect(readFileSync(join(root, 'etc/systemd/system', LIMIT_UNIT), 'utf8')).toBe(limitUnit());
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants', LIMIT_UNIT))).toBe(
      `/etc/systemd/system/${LIMIT_UNIT}`,
    );
    expect(calls(root)).toContain(`nft -c -f ${LIMIT_FILE}`);
    expect(r.stdout).toContain(
      `firewall: per-source limit of 22/tcp: a source's new connections beyond 5, then 10/minute, are dropped; ${LIMIT_FILE}, ${LIMIT_UNIT} enabled\n`,
    );
    expect(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/firewalld.service'))).toBe(
      '/usr/lib/systemd/system/firewalld.service',
    );
    const before = calls(root).length;
    const again = runBuild(root, ['firewall']);
    expect(again.code).toBe(0);
    expect(
      calls(root)
        .slice(before)
        .filter((c) => /--(add|remove)-/.test(c)),
    ).toEqual([]);
    expect(again.stdout).toContain(`${LIMIT_UNIT} enabled (already)\n`);

    // limit rules taken out of mpimg.json: the per-source limit goes with them (and the port stays open as allow)
    installScript(root, bundled({ distributions: ['rockylinux-9-x64'], firewall: { allow: ['22/tcp', '80/tcp'] } }));
    const none = runBuild(root, ['firewall']);
    expect(none.stderr).toBe('');
    expect(none.code).toBe(0);
    expect(existsSync(join(root, LIMIT_FILE))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system', LIMIT_UNIT))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/multi-user.target.wants', LIMIT_UNIT))).toBe(false);
    expect(lines(join(root, 'var/lib/fwo/ports'))).toEqual(['22/tcp', '80/tcp']);
  });

  it('firewalld: a file mpimg did not write where the per-source limit goes is never overwritten', () => {
    const root = firewalldRoot();
    put(root, LIMIT_FILE.slice(1), 'table inet mine {}\n');
    installScript(root, bundled({ distributions: ['rockylinux-9-x64'], firewall: { limit: ['22/tcp'] } }));
    const r = runBuild(root, ['firewall']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: firewall: ${LIMIT_FILE} is in the way: mpimg did not write it\nfix: move it away (the firewall step writes its per-source limit there) and run the step again\n`,
    );
    expect(readFileSync(join(root, LIMIT_FILE), 'utf8')).toBe('table inet mine {}\n');
  });

  it('firewalld that does not keep a port: the step reads the zone back and fails on the spot, naming it', () => {
    const root = firewalldRoot();
    put(root, 'var/lib/fwo/drop', '6000-6010/udp\n');
    installScript(
      root,
      bundled({
        distributions: ['rockylinux-9-x64'],
        firewall: { limit: ['22/tcp'], allow: ['80/tcp', '6000:6010/udp'] },
      }),
    );
    const r = runBuild(root, ['firewall']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        '  missing: port 6000-6010/udp in zone public',
        'error: firewall: the firewall is not what mpimg.json says after writing it: missing: port 6000-6010/udp in zone public (all listed above)',
        'fix: check /etc/firewalld (firewall-offline-cmd --list-all) and run the step again',
        '',
      ].join('\n'),
    );
    expect(r.stdout).not.toContain('firewalld on from the first boot');
  });
});

describe('bundle-time warnings', () => {
  it('the firewall needs ufw (apt) or firewalld (dnf) from build.packages, except on Ubuntu whose images have ufw', () => {
    const base = { name: 'A', slug: 'acme-wiki', vendor: 'acme', version: '1', firewall: { limit: ['22/tcp'] } };
    expect(
      catalogWarnings({
        ...base,
        distributions: ['debian-12-x64', 'ubuntu-24-04-x64', 'rockylinux-9-x64'],
        build: { packages: { all: ['jq'] } },
      }),
    ).toEqual([
      'debian-12-x64: the firewall step needs ufw, which build.packages does not install for it: add "ufw" (e.g. "packages": {"apt": ["ufw"]}) unless the base image has it',
      'rockylinux-9-x64: the firewall step needs firewalld, which build.packages does not install for it: add "firewalld" (e.g. "packages": {"dnf": ["firewalld"]}) unless the base image has it',
    ]);
    expect(
      catalogWarnings({
        ...base,
        distributions: ['debian-12-x64', 'rockylinux-9-x64'],
        build: { packages: { apt: ['ufw'], dnf: ['firewalld'] } },
      }),
    ).toEqual([]);
    expect(catalogWarnings({ ...base, firewall: undefined, distributions: ['debian-12-x64'] })).toEqual([]);
  });
});

describe('variables', () => {
  it("prints the bundle's values as shell assignments a shell reads back exactly", () => {
    const script = bundled({ variables: EVERYTHING.variables });
    const r = spawnSync(
      'sh',
      ['-c', 'eval "$(sh "$1" variables)"; printf "%s|%s" "$APP_VERSION" "$EDITION"', 'sh', script],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("2.4.1|it's $HOME `x`");
  });
});
