/**
 * The SSH step `mpimg run repositories` on the RHEL family against a SIGNED rpm repository (the
 * fixture of test/bundle/dnf-repository-signed.test.ts: rpmbuild, rpmsign, createrepo_c, served on
 * 127.0.0.1), through the real sshd into a staged Rocky root that holds this machine's real rpm
 * (test/helpers/rpm-repo.ts stageRpm): the step imports the pinned key with `chroot ROOT rpm
 * --import` (no MPIMG_SKIP_PACKAGES), and the real dnf (--installroot, the .repo file the step wrote)
 * installs what that key signed and refuses a package signed by the other key of the key file.
 *
 * Not proven here: Rocky's own rpm and dnf (Debian's rpm 4.18 and dnf 4.14 are used).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import runCommand from '../../tasks/commands/run.js';
import type { CommandContext } from '../../tasks/commands/types.js';
import { makeKey, type TestKey } from '../helpers/gpg.js';
import { buildRpm, makeRpmRepository, signRpm, stageRpm } from '../helpers/rpm-repo.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import { tempDir } from '../helpers/temp.js';
import { makeFixtureProject, REPO as SOURCE, type FixtureProject } from './fixture-project.js';
import { Capture } from './helpers.js';

const REPO = 'acme-rpm';
let sshd: Sshd;
let project: FixtureProject;
let served: Served;
let vendor: TestKey;
let other: TestKey;
let root: string;

async function runTask(name: string) {
  const ctx: CommandContext & { stdout: Capture; stderr: Capture } = {
    cwd: project.dir,
    env: process.env,
    stdout: new Capture(),
    stderr: new Capture(),
    isTTY: false,
    signal: new AbortController().signal,
  };
  const saved = { ...process.env };
  Object.assign(process.env, { MPIMG_TARGET_ROOT: root });
  delete process.env.MPIMG_SKIP_PACKAGES;
  try {
    const code = await runCommand.run(
      [
        name,
        ...['--host', sshd.host, '--port', String(sshd.port), '--user', sshd.user, '--identity', sshd.identityFile],
        ...['--known-hosts', sshd.knownHostsFile, '--ssh-config', sshd.clientConfigFile, '--wait-attempts', '3'],
        ...['--log', join(tempDir('mpimg-dnfsig-log-'), 'run.log')],
      ],
      ctx,
    );
    return { code, out: ctx.stdout.text, err: ctx.stderr.text };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/**
 * The real dnf on the staged root and the .repo file the step wrote there (asynchronous: sshd and the
 * server answer in this process). dnf --installroot reads a gpgkey file:// path on this machine, not
 * in the root: it is pointed at the key file the step wrote in the root, where a droplet's dnf reads it.
 */
function dnf(...args: string[]): Promise<{ status: number; out: string }> {
  const argv = [`--installroot=${root}`, `--setopt=reposdir=${root}/etc/yum.repos.d`, '--releasever=9', '-y'];
  argv.push(`--setopt=${REPO}.gpgkey=file://${root}/etc/pki/rpm-gpg/RPM-GPG-KEY-${REPO}`, ...args);
  return new Promise((resolve) => {
    execFile('dnf', argv, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, HOME: '/root' } }, (err, o, e) =>
      resolve({ status: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, out: `${o}${e}` }),
    );
  });
}

/** Short ids of the keys in the staged root's rpm database. */
function rpmKeys(): string[] {
  const r = spawnSync('rpm', ['--root', root, '-q', 'gpg-pubkey', '--qf', '%{version}\\n'], {
    encoding: 'utf8',
    env: { ...process.env, HOME: '/root' },
  });
  return r.stdout
    .split('\n')
    .filter((l) => /^[0-9a-f]{8}$/.test(l))
    .sort();
}
const shortId = (k: TestKey): string => k.fingerprint.slice(-8).toLowerCase();

beforeAll(async () => {
  vendor = makeKey('Acme Packages <packages@acme.example>');
  other = makeKey('Someone Else <else@elsewhere.example>');
  const good = buildRpm('acme-hello');
  signRpm(good, vendor);
  const foreign = buildRpm('acme-foreign');
  signRpm(foreign, other);
  served = await serveDir(makeRpmRepository([good, foreign]));
  root = tempDir('mpimg-dnfsig-root-');
  mkdirSync(join(root, 'etc'));
  writeFileSync(
    join(root, 'etc/os-release'),
    'ID="rocky"\nVERSION_ID="9.4"\nID_LIKE="rhel centos fedora"\nPLATFORM_ID="platform:el9"\n',
  );
  stageRpm(root);
  sshd = await startSshd();
  project = await makeFixtureProject();
  if (!project.realBundle) throw new Error('these tests need the real bundle: run `npm run build` first');
  writeFileSync(join(project.dir, 'acme-rpm.asc'), `${vendor.armored}${other.armored}`);
  const m = JSON.parse(readFileSync(join(project.dir, 'mpimg.json'), 'utf8'));
  m.distributions = ['rockylinux-9-x64'];
  m.build.repositories = [
    { name: REPO, baseurl: `${served.url}/`, key: { file: 'acme-rpm.asc', fingerprint: vendor.fingerprint } },
  ];
  writeFileSync(join(project.dir, 'mpimg.json'), JSON.stringify(m, null, 2));
  // (the fixture's 20-second.sh wants files/ copied: not a step of these tests)
  rmSync(join(project.dir, 'scripts/20-second.sh'));
  execFileSync(process.execPath, [join(SOURCE, 'bin/mpimg.js'), 'bundle'], { cwd: project.dir, stdio: 'pipe' });
}, 240_000);

afterAll(async () => {
  await served?.close();
  await sshd?.stop();
  if (project) rmSync(project.dir, { recursive: true, force: true });
});

describe('the repositories step over SSH, a signed dnf repository, the real rpm and dnf', () => {
  it("imports only the pinned key into the root's rpm database; dnf installs what it signed, refuses the other key", async () => {
    const r = await runTask('repositories');
    expect(r.code, r.err).toBe(0);
    expect(r.out + r.err).toContain(`repository ${REPO}: key ${vendor.fingerprint} checked`);
    expect(r.out + r.err).not.toContain('MPIMG_SKIP_PACKAGES');
    expect(readFileSync(join(root, `etc/yum.repos.d/${REPO}.repo`), 'utf8')).toContain('\ngpgcheck=1\n');
    expect(rpmKeys()).toEqual([shortId(vendor)]);

    const good = await dnf('install', 'acme-hello');
    expect(good.status, good.out).toBe(0);
    expect(readFileSync(join(root, 'opt/acme-hello/hello.txt'), 'utf8')).toBe('hello from acme-hello\n');
    const foreign = await dnf('install', 'acme-foreign');
    expect(foreign.status, foreign.out).not.toBe(0);
    expect(foreign.out).toMatch(
      /are already installed but they are not correct for this package\.[^]*Failing package is: acme-foreign-1\.0-1\.noarch\n/,
    );
    expect(foreign.out).toContain('Error: GPG check FAILED');
    expect(existsSync(join(root, 'opt/acme-foreign'))).toBe(false);
    expect(rpmKeys()).toEqual([shortId(vendor)]);

    // again over SSH: nothing changes, the key is not imported twice
    const again = await runTask('repositories');
    expect(again.code, again.err).toBe(0);
    expect(rpmKeys()).toEqual([shortId(vendor)]);
  }, 600_000);
});
