/**
 * A private dnf repository's build credentials, through `mpimg run` against the real sshd into a
 * staged Rocky Linux root, read by the real dnf (--installroot) from an rpm repository made with the
 * real rpmbuild and createrepo_c, served on 127.0.0.1 behind HTTP basic auth: dnf gets in with what the
 * step wrote, the .repo is 0600 while it holds the password, the password is in no file of the root
 * after the build scripts and in no output or log; a value dnf would change (its $variables, blanks at
 * the ends) is refused before anything is written.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import runCommand from '../../tasks/commands/run.js';
import type { CommandContext } from '../../tasks/commands/types.js';
import { makeKey } from '../helpers/gpg.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { makeFixtureProject, REPO, type FixtureProject } from './fixture-project.js';
import { Capture } from './helpers.js';

// What dnf's ini reader keeps as written (checked with dnf 4.14): %, ;, #, quotes, backslash, ':'.
const PASSWORD = `Pw%41;x#y!'"\\:z@7`;
const USER = 'acme-builder-7731';
let sshd: Sshd;
let project: FixtureProject;
let server: Server;
let baseurl = '';
const seen: { url: string; auth: string | undefined; status: number }[] = [];
const temps: string[] = [];

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

function newRoot(): string {
  const r = temp('mpimg-dnfauth-root-');
  mkdirSync(join(r, 'etc'));
  writeFileSync(
    join(r, 'etc/os-release'),
    'ID="rocky"\nVERSION_ID="9.4"\nID_LIKE="rhel centos fedora"\nPLATFORM_ID="platform:el9"\n',
  );
  return r;
}

/** A noarch rpm built with the real rpmbuild, in a repository made by createrepo_c. */
function makeRpmRepository(): string {
  const top = temp('mpimg-dnfauth-rpmbuild-');
  mkdirSync(join(top, 'SPECS'));
  writeFileSync(
    join(top, 'SPECS/acme-hello.spec'),
    [
      'Name: acme-hello',
      'Version: 1.0',
      'Release: 1',
      'Summary: a package of the private repository',
      'License: MIT',
      'BuildArch: noarch',
      '%description',
      'From the private repository.',
      '%install',
      'mkdir -p %{buildroot}/usr/share/acme-hello',
      'echo hello > %{buildroot}/usr/share/acme-hello/hello.txt',
      '%files',
      '/usr/share/acme-hello/hello.txt',
      '',
    ].join('\n'),
  );
  execFileSync('rpmbuild', ['--define', `_topdir ${top}`, '-bb', join(top, 'SPECS/acme-hello.spec')], {
    stdio: 'pipe',
  });
  const repo = temp('mpimg-dnfauth-repo-');
  writeFileSync(
    join(repo, 'acme-hello-1.0-1.noarch.rpm'),
    readFileSync(join(top, 'RPMS/noarch/acme-hello-1.0-1.noarch.rpm')),
  );
  execFileSync('createrepo_c', [repo], { stdio: 'pipe' });
  return repo;
}

/** Serves `dir` under /repo/ to USER:PASSWORD only (401 otherwise), recording every request. */
async function serve(dir: string): Promise<Server> {
  const want = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const s = createServer((req, res) => {
    const url = req.url ?? '/';
    const ok = req.headers.authorization === want;
    const file = join(dir, decodeURIComponent(url.replace(/^\/repo\//, '')));
    const status = !ok ? 401 : url.startsWith('/repo/') && !url.includes('..') && existsSync(file) ? 200 : 404;
    seen.push({ url, auth: req.headers.authorization, status });
    if (status === 401) res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="acme"' }).end();
    else if (status === 404) res.writeHead(404).end();
    else res.writeHead(200).end(readFileSync(file));
  });
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return s;
}

async function runTask(name: string, root: string, password: string, user = USER) {
  const log = join(temp('mpimg-dnfauth-log-'), 'run.log');
  const ctx: CommandContext & { stdout: Capture; stderr: Capture } = {
    cwd: project.dir,
    env: process.env,
    stdout: new Capture(),
    stderr: new Capture(),
    isTTY: false,
    signal: new AbortController().signal,
  };
  const saved = { ...process.env };
  const values = { ACME_REPO_PASSWORD: password, ACME_REPO_USER: user };
  Object.assign(process.env, { MPIMG_TARGET_ROOT: root, MPIMG_SKIP_PACKAGES: '1', ...values });
  try {
    const code = await runCommand.run(
      [
        name,
        ...['--host', sshd.host, '--port', String(sshd.port), '--user', sshd.user, '--identity', sshd.identityFile],
        ...['--known-hosts', sshd.knownHostsFile, '--ssh-config', sshd.clientConfigFile, '--wait-attempts', '3'],
        ...[
          '--log',
          log,
          '--secret',
          'REPO_PASSWORD=env:ACME_REPO_PASSWORD',
          '--secret',
          'REPO_USER=env:ACME_REPO_USER',
        ],
      ],
      ctx,
    );
    const logText = existsSync(log) ? readFileSync(log, 'utf8') : '';
    return { code, out: ctx.stdout.text, err: ctx.stderr.text, all: `${ctx.stdout.text}${ctx.stderr.text}${logText}` };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/**
 * The real dnf on the staged root, with only the given repository files; asynchronous, since the
 * server answering it runs in this process.
 */
function dnf(root: string, reposdir: string, ...args: string[]): Promise<{ status: number; out: string }> {
  const argv = [`--installroot=${root}`, `--setopt=reposdir=${reposdir}`, '--setopt=skip_if_unavailable=0'];
  argv.push('--releasever=9', '-y', ...args);
  return new Promise((resolve) => {
    execFile('dnf', argv, { encoding: 'utf8', timeout: 300_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, out: `${stdout}${stderr}` }),
    );
  });
}

beforeAll(async () => {
  server = await serve(makeRpmRepository());
  baseurl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo/`;
  sshd = await startSshd();
  project = await makeFixtureProject();
  if (!project.realBundle) throw new Error('these tests need the real bundle: run `npm run build` first');
  writeFileSync(join(project.dir, 'acme-rpm.asc'), makeKey().armored);
  const m = JSON.parse(readFileSync(join(project.dir, 'mpimg.json'), 'utf8'));
  m.distributions = ['rockylinux-9-x64'];
  m.build.secrets = [{ name: 'REPO_PASSWORD' }, { name: 'REPO_USER' }];
  m.build.repositories = [
    {
      name: 'acme-rpm',
      baseurl,
      key: { file: 'acme-rpm.asc' },
      auth: { username: '{{build.secret.REPO_USER}}', password: '{{build.secret.REPO_PASSWORD}}' },
    },
  ];
  writeFileSync(join(project.dir, 'mpimg.json'), JSON.stringify(m, null, 2));
  // (the fixture's 20-second.sh wants files/ copied: not a step of these tests)
  rmSync(join(project.dir, 'scripts/20-second.sh'));
  execFileSync(process.execPath, [join(REPO, 'bin/mpimg.js'), 'bundle'], { cwd: project.dir, stdio: 'pipe' });
}, 240_000);

afterAll(async () => {
  server?.close();
  await sshd?.stop();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

/** The files of `dir` holding `value`, as paths below it. */
function filesHolding(dir: string, value: string): string[] {
  const r = spawnSync('grep', ['-rlaF', '--', value, dir], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

describe('dnf repository credentials over SSH, read by the real dnf', () => {
  it('let dnf into the private repository during the build, 0600, and leave no trace after the build scripts', async () => {
    const root = newRoot();
    const repos = await runTask('repositories', root, PASSWORD);
    expect(repos.code, repos.err).toBe(0);
    const file = join(root, 'etc/yum.repos.d/acme-rpm.repo');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(`\nusername=${USER}\npassword=${PASSWORD}\n`);
    expect(repos.all).toContain('credentials of repository acme-rpm in place for the build');

    // Without the credentials the server turns dnf away (the repository really is private) ...
    const bare = temp('mpimg-dnfauth-bare-');
    writeFileSync(join(bare, 'acme-rpm.repo'), readFileSync(file, 'utf8').replace(/^(username|password)=.*\n/gm, ''));
    const refused = await dnf(temp('mpimg-dnfauth-other-'), bare, 'makecache');
    expect(refused.status, refused.out).not.toBe(0);
    expect(
      seen.some((s) => s.status === 401),
      refused.out,
    ).toBe(true);
    seen.length = 0;
    // ... and with the file the step wrote it reads the metadata and fetches the package.
    const reposdir = join(root, 'etc/yum.repos.d');
    const cache = await dnf(root, reposdir, 'makecache');
    expect(cache.status, cache.out).toBe(0);
    const q = await dnf(root, reposdir, 'repoquery', '--available', '--qf', '%{name}-%{version}-%{release}.%{arch}');
    expect(q.out.split('\n')).toContain('acme-hello-1.0-1.noarch');
    // (the test's rpm is not signed: the key check is the build script's, tested elsewhere)
    const install = await dnf(root, reposdir, 'install', '--nogpgcheck', 'acme-hello');
    expect(install.status, install.out).toBe(0);
    expect(readFileSync(join(root, 'usr/share/acme-hello/hello.txt'), 'utf8')).toBe('hello\n');
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    expect(seen.map((s) => s.url)).toEqual(
      expect.arrayContaining(['/repo/repodata/repomd.xml', '/repo/acme-hello-1.0-1.noarch.rpm']),
    );
    expect(seen.every((s) => s.auth === basic && s.status === 200)).toBe(true);
    // dnf's own cache and rpm database hold the password nowhere either (checked after the scripts).
    expect(existsSync(join(root, 'var/cache/dnf'))).toBe(true);

    const scripts = await runTask('scripts', root, PASSWORD);
    expect(scripts.code, scripts.err).toBe(0);
    expect(scripts.all).toContain('credentials of repository acme-rpm removed');
    expect(existsSync(file)).toBe(false);
    expect(filesHolding(root, PASSWORD)).toEqual([]);
    const check = await runTask('check', root, PASSWORD);
    expect(check.all).toContain('no value of the 2 build secret(s) in the image');
    for (const r of [repos, scripts, check]) expect(r.all).not.toContain(PASSWORD);
    expect(filesHolding(join(project.dir, 'dist'), PASSWORD)).toEqual([]);
  }, 600_000);

  it.each([
    ['one of its $variables', 'pre$basearch'],
    ['one of its ${variables}', 'pre${releasever}post'],
    ['a blank at the end', 'trailing '],
  ])(
    'refuses a password dnf would change (%s) before anything is written',
    async (_, value) => {
      const root = newRoot();
      const r = await runTask('repositories', root, value);
      expect(r.code).not.toBe(0);
      expect(r.all).toMatch(/the password of repository "acme-rpm" \(build secret REPO_PASSWORD\)/);
      expect(r.all).not.toContain(value);
      expect(existsSync(join(root, 'etc/yum.repos.d'))).toBe(false);
    },
    300_000,
  );

  it('refuses a user name with ":", which basic auth would split, before anything is written', async () => {
    const root = newRoot();
    const r = await runTask('repositories', root, PASSWORD, 'acme:builder');
    expect(r.code).not.toBe(0);
    expect(r.all).toContain('the username of repository "acme-rpm" (build secret REPO_USER) holds a ":"');
    expect(r.all).not.toContain(PASSWORD);
    expect(existsSync(join(root, 'etc/yum.repos.d'))).toBe(false);
  }, 300_000);
});
