/**
 * $.fail2ban on the dnf family: dist/<slug>-build.sh's `fail2ban` step installs EPEL's fail2ban with
 * the REAL dnf 4 and rpm of this machine, as on a droplet (no --root), in a root of its own
 * (test/helpers/host-root.ts: private /etc, /var, /root; /usr read-only). Two signed rpm repositories
 * (rpmbuild, rpmsign, createrepo_c) served on 127.0.0.1 play the distribution (its .repo and key as
 * rocky-release leaves them: epel-release, python3-systemd, firewalld) and EPEL (fail2ban-server,
 * fail2ban-firewalld), whose .repo and key only the epel-release package brings. So dnf can reach
 * EPEL only once epel-release is installed, and installs only what EPEL's key signed (gpgcheck=1).
 *
 * The packages are test packages, not EPEL's: fail2ban-server holds a copy of this machine's
 * /etc/fail2ban (Debian's configuration), and the program that reads it is this machine's real
 * fail2ban-client in the read-only /usr (a package cannot write there). What is proven is the install
 * path (order, keys, signatures, repositories, refusals, re-runs) and that the step then tests the
 * jails with the real fail2ban; not Rocky's own dnf and rpm, nor EPEL's real fail2ban (its
 * paths-fedora.conf, its firewallcmd actions against a running firewalld).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeKey, type TestKey } from '../helpers/gpg.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { buildRpm, makeRpmRepository, signRpm } from '../helpers/rpm-repo.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import { tempDir } from '../helpers/temp.js';
import { put, type Run } from '../scripts/fixture-root.js';

let distro: TestKey;
let epel: TestKey;
let other: TestKey;
let served: Served;
let top: string;
let build: string;

const shortId = (k: TestKey): string => k.fingerprint.slice(-8).toLowerCase();
const EPEL_KEY = '/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-9';

/** A signed package, as its repository's key signs it. */
function signed(key: TestKey, name: string, content?: Parameters<typeof buildRpm>[1]): string {
  const rpm = buildRpm(name, content);
  signRpm(rpm, key);
  return rpm;
}

/** epel-release: EPEL's .repo (gpgcheck=1, EPEL's key) pointing at folder `epelDir` of the server. */
const epelRelease = (epelDir: string): string =>
  signed(distro, 'epel-release', {
    files: [
      {
        path: '/etc/yum.repos.d/epel.repo',
        text: `[epel]\nname=EPEL (test)\nbaseurl=${served.url}/${epelDir}/\nenabled=1\ngpgcheck=1\ngpgkey=file://${EPEL_KEY}\n`,
      },
      { path: EPEL_KEY, text: epel.armored },
    ],
  });

/** Repository folder `dir` of the server, holding `rpms`. */
function repo(dir: string, rpms: string[]): void {
  cpSync(makeRpmRepository(rpms), join(top, dir), { recursive: true });
}

/**
 * A Rocky root whose distribution repository is folder `baseos` of the server (its key not yet in
 * the rpm database, as on a fresh droplet), with the build script.
 */
function rockyRoot(baseos: string, osRelease?: string): string {
  const root = hostRoot('rocky');
  if (osRelease) put(root, 'etc/os-release', osRelease);
  put(
    root,
    'etc/yum.repos.d/rocky.repo',
    `[baseos]\nname=Rocky Linux (test)\nbaseurl=${served.url}/${baseos}/\nenabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9\n`,
  );
  put(root, 'etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9', distro.armored);
  // what rocky-release tells dnf (the root has no rocky-release package)
  put(root, 'etc/dnf/vars/releasever', '9\n');
  mkdirSync(join(root, 'opt'));
  copyFileSync(build, join(root, 'mpimg-test/build.sh'));
  return root;
}

const step = (root: string, env?: NodeJS.ProcessEnv): Run =>
  inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban', { timeoutMs: 180_000, env });
const rpmQ = (root: string, name: string): boolean => inHostRoot(root, `rpm -q '${name}' >/dev/null`).code === 0;
function rpmKeys(root: string): string[] {
  const r = inHostRoot(root, "rpm -q gpg-pubkey --qf '%{version}\\n' 2>/dev/null || true");
  return r.stdout
    .split('\n')
    .filter((l) => /^[0-9a-f]{8}$/.test(l))
    .sort();
}
/** The key id that signed installed package `name`, as rpm reads it (EdDSA: the DSAHEADER tag). */
const signer = (root: string, name: string): string =>
  inHostRoot(root, `rpm -q '${name}' --qf '%{DSAHEADER:pgpsig}\\n'`).stdout;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests run dnf in namespaces of their own: run them as root');
  for (const tool of ['rpm', 'rpmbuild', 'rpmsign', 'createrepo_c', 'dnf', 'gpg', 'unshare', 'fail2ban-client']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { env: { PATH: '/usr/sbin:/usr/bin' } }).status !== 0)
      throw new Error(
        `${tool} is not installed: these tests run the real rpm, dnf and fail2ban (Debian: apt-get install rpm createrepo-c dnf gnupg fail2ban; .ci/run installs them)`,
      );
  }
  distro = makeKey('Rocky Test <distro@rocky.example>');
  epel = makeKey('EPEL Test <epel@epel.example>');
  other = makeKey('Someone Else <else@elsewhere.example>');
  top = tempDir('mpimg-f2b-dnf-repos-');
  served = await serveDir(top);
  const python3Systemd = signed(distro, 'python3-systemd');
  const firewalld = signed(distro, 'firewalld');
  const server = (key: TestKey) =>
    signed(key, 'fail2ban-server', {
      requires: ['python3-systemd'],
      files: [{ path: '/etc/fail2ban', from: '/etc/fail2ban' }],
    });
  const f2bFirewalld = signed(epel, 'fail2ban-firewalld', {
    requires: ['fail2ban-server', 'firewalld'],
    files: [
      {
        path: '/etc/fail2ban/jail.d/00-firewalld.conf',
        text: '[DEFAULT]\nbanaction = firewallcmd-rich-rules\nbanaction_allports = firewallcmd-rich-rules\n',
      },
    ],
  });
  // EPEL as it should be, and an EPEL mirror whose fail2ban-server another key signed
  repo('epel', [server(epel), f2bFirewalld]);
  repo('epel-foreign', [server(other), f2bFirewalld]);
  repo('baseos', [epelRelease('epel'), python3Systemd, firewalld]);
  repo('baseos-foreign', [epelRelease('epel-foreign'), python3Systemd]);
  // a distribution without epel-release (RHEL without EPEL set up)
  repo('baseos-noepel', [python3Systemd]);
  // Fedora: fail2ban in the distribution's own repository, no EPEL
  repo('fedora', [server(distro), python3Systemd]);
  const dir = makeProject({
    manifest: { distributions: ['rockylinux-9-x64'], fail2ban: { jails: ['sshd'] } } as unknown as Partial<Manifest>,
  });
  build = writeBundle(loadProject(dir)).build;
}, 240_000);

afterAll(async () => {
  await served?.close();
});

const JAIL_FILE = 'etc/fail2ban/jail.d/acme-wiki.local';

describe('the fail2ban step on the dnf family, with the real dnf, rpm and fail2ban', () => {
  it("installs epel-release first, then EPEL's fail2ban-server (EPEL's key imported, its signature checked), then tests the jails; a re-run installs nothing", () => {
    const root = rockyRoot('baseos');
    // the image's firewall is firewalld (build.packages, the firewall step): bans go through it
    const fw = inHostRoot(root, 'dnf -y install firewalld 2>&1', { timeoutMs: 180_000 });
    expect(fw.code, fw.stdout).toBe(0);
    const r = step(root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "fail2ban: installing epel-release (fail2ban is EPEL's)",
        "fail2ban: installing fail2ban-server fail2ban-firewalld python3-systemd (EPEL's fail2ban)",
        'fail2ban: jails sshd enabled in /etc/fail2ban/jail.d/acme-wiki.local (written), tested with fail2ban-client -t; fail2ban.service enabled at boot',
        '',
      ].join('\n'),
    );
    for (const p of ['epel-release', 'fail2ban-server', 'fail2ban-firewalld', 'python3-systemd'])
      expect(rpmQ(root, p), p).toBe(true);
    // EPEL's key, from epel-release's file, is in the rpm database, and it signed what came from EPEL
    expect(rpmKeys(root)).toEqual([shortId(distro), shortId(epel)].sort());
    const long = (k: TestKey) => `Key ID ${k.fingerprint.slice(-16).toLowerCase()}`;
    expect(signer(root, 'fail2ban-server')).toContain(long(epel));
    expect(signer(root, 'fail2ban-firewalld')).toContain(long(epel));
    expect(signer(root, 'python3-systemd')).toContain(long(distro));
    // dnf's own record: from the epel repository, python3-systemd from the distribution's
    const from = inHostRoot(root, "dnf -q repoquery --installed --qf '%{name} %{from_repo}' 2>&1");
    expect(from.code, from.stdout).toBe(0);
    expect(from.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'epel-release baseos',
      'fail2ban-firewalld epel',
      'fail2ban-server epel',
      'firewalld baseos',
      'python3-systemd baseos',
    ]);
    // the configuration the package installed, read by the real fail2ban with the jail file
    expect(readFileSync(join(root, JAIL_FILE), 'utf8')).toContain('\n[sshd]\nenabled = true\nbackend = systemd\n');
    expect(readFileSync(join(root, 'etc/fail2ban/jail.d/00-firewalld.conf'), 'utf8')).toContain(
      'banaction = firewallcmd-rich-rules',
    );
    const again = step(root);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('fail2ban: fail2ban-server fail2ban-firewalld python3-systemd already installed\n');
    expect(again.stdout).toContain('/etc/fail2ban/jail.d/acme-wiki.local (unchanged)');
    expect(again.stdout).not.toContain('installing');
    expect(processesIn(root)).toEqual([]);
  }, 300_000);

  it("without firewalld in the image, EPEL's fail2ban-server alone (no fail2ban-firewalld, which would bring firewalld); with firewalld later, a re-run adds it", () => {
    const root = rockyRoot('baseos');
    const r = step(root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("fail2ban: installing fail2ban-server python3-systemd (EPEL's fail2ban)\n");
    expect(rpmQ(root, 'fail2ban-server')).toBe(true);
    expect(rpmQ(root, 'fail2ban-firewalld')).toBe(false);
    expect(rpmQ(root, 'firewalld')).toBe(false);
    // firewalld added later (build.packages, the firewall step): a re-run adds fail2ban-firewalld only
    expect(inHostRoot(root, 'dnf -y install firewalld >/dev/null 2>&1', { timeoutMs: 180_000 }).code).toBe(0);
    const again = step(root);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("fail2ban: installing fail2ban-firewalld (EPEL's fail2ban)\n");
    expect(again.stdout).not.toContain('epel-release');
    expect(rpmQ(root, 'fail2ban-firewalld')).toBe(true);
  }, 300_000);

  it('refuses, explaining, when the distribution offers no epel-release: nothing installed, no jail file', () => {
    const root = rockyRoot('baseos-noepel');
    const r = step(root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No match for argument: epel-release');
    expect(r.stderr).toContain(
      "error: fail2ban: could not install epel-release: the distribution's repositories do not offer it (fail2ban on rockylinux-9-x64 is EPEL's)\n",
    );
    expect(r.stderr).toContain('https://docs.fedoraproject.org/en-US/epel/');
    expect(r.stdout).not.toContain('enabled at boot');
    expect(rpmQ(root, 'fail2ban-server')).toBe(false);
    expect(existsSync(join(root, JAIL_FILE))).toBe(false);
  }, 300_000);

  it("refuses a fail2ban-server on EPEL's mirror that EPEL's key did not sign (gpgcheck=1 of epel.repo)", () => {
    const root = rockyRoot('baseos-foreign');
    const r = step(root);
    expect(r.code).toBe(1);
    // dnf imported EPEL's key (epel-release's file), and it is not the key that signed the package
    expect(r.stderr).toContain(`From       : ${EPEL_KEY}\n`);
    expect(r.stderr).toMatch(
      /Import of key\(s\) didn't help, wrong key\(s\)\?\n[^]*Failing package is: fail2ban-server-1\.0-1\.noarch\n/,
    );
    expect(r.stderr).toContain('Error: GPG check FAILED');
    expect(r.stderr).toContain(
      "error: fail2ban: could not install fail2ban-server python3-systemd (EPEL's fail2ban)\n",
    );
    expect(rpmQ(root, 'epel-release')).toBe(true);
    expect(rpmQ(root, 'fail2ban-server')).toBe(false);
    expect(rpmQ(root, 'python3-systemd')).toBe(false);
    expect(rpmKeys(root)).not.toContain(shortId(other));
    expect(existsSync(join(root, 'etc/fail2ban'))).toBe(false);
  }, 300_000);

  it("on Fedora, fail2ban-server from Fedora's own repository: no epel-release", () => {
    const root = rockyRoot('fedora', 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\nPLATFORM_ID="platform:f40"\n');
    const r = step(root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("fail2ban: installing fail2ban-server python3-systemd (Fedora's fail2ban)\n");
    expect(r.stdout).not.toContain('epel-release');
    expect(rpmQ(root, 'epel-release')).toBe(false);
    expect(signer(root, 'fail2ban-server')).toContain(`Key ID ${distro.fingerprint.slice(-16).toLowerCase()}`);
    expect(r.stdout).toContain('enabled at boot');
  }, 300_000);

  it('installs nothing with MPIMG_SKIP_PACKAGES=1, and says what to do', () => {
    const root = rockyRoot('baseos');
    const r = step(root, { MPIMG_SKIP_PACKAGES: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: fail2ban: fail2ban-server python3-systemd is not installed, and MPIMG_SKIP_PACKAGES=1 forbids installing it',
    );
    expect(rpmQ(root, 'epel-release')).toBe(false);
    rmSync(root, { recursive: true, force: true });
  }, 120_000);
});
