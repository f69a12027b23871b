/**
 * The repositories step of dist/<slug>-build.sh on the RHEL family against a SIGNED rpm repository,
 * read by the REAL rpm and dnf 4 of this machine: packages built with rpmbuild, signed with rpmsign
 * by a test key, in a repository made with createrepo_c and served on 127.0.0.1. The step runs as
 * on a droplet (no --root) inside a root of its own (test/helpers/host-root.ts: private /etc, /var,
 * /root, /opt; /usr read-only), so the .repo file, the key file and `rpm --import` are the step's
 * own, and dnf (gpgcheck=1, as the step writes it) installs only what that key signed. A new pinned
 * key (a vendor's key rotation) takes the old one out of the rpm database; a dropped repository takes
 * its key out unless another repository still uses it.
 *
 * Not proven here: Rocky's own rpm 4.16 and dnf (this is Debian's rpm 4.18 and dnf 4.14, which keep
 * the rpm database in ~/.rpmdb where Rocky uses /var/lib/rpm). repo_gpgcheck is off here (no
 * "signedMetadata"): each package's own signature is checked; signed metadata is
 * test/bundle/dnf-repository-metadata.test.ts.
 * The SSH step (`mpimg run repositories`) runs this same command of the same script.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeKey, type TestKey } from '../helpers/gpg.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { buildRpm, makeRpmRepository, signRpm, tamper } from '../helpers/rpm-repo.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import type { Run } from '../scripts/fixture-root.js';

const REPO = 'acme-rpm';
let vendor: TestKey;
let other: TestKey;
let served: Served;
let root: string;

/** dist/<slug>-build.sh of a project with these repositories, copied into the root. */
function bundleInto(repositories: unknown[]): void {
  const dir = makeProject({
    manifest: { distributions: ['rockylinux-9-x64'], build: { repositories } } as unknown as Partial<Manifest>,
  });
  // The vendor's key file holds a second key: only the pinned one may reach rpm.
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys/acme.asc'), `${vendor.armored}${other.armored}`);
  copyFileSync(writeBundle(loadProject(dir)).build, join(root, 'mpimg-test/build.sh'));
}

const step = (): Run => inHostRoot(root, 'sh /mpimg-test/build.sh repositories', { timeoutMs: 180_000 });

/** The real dnf of this machine on the root's own /etc/yum.repos.d, as `dnf -y` on a droplet. */
function dnf(...args: string[]): Run {
  // (the root has no rocky-release package to tell dnf its release)
  const words = ['dnf', '-y', '--releasever=9', ...args].map((w) => `'${w}'`).join(' ');
  return inHostRoot(root, `${words} 2>&1`, { timeoutMs: 300_000 });
}

/** The short ids of the keys in the root's rpm database (gpg-pubkey-<id>-<time>). */
function rpmKeys(): string[] {
  const r = inHostRoot(root, "rpm -q gpg-pubkey --qf '%{version}\\n' 2>/dev/null || true");
  return r.stdout
    .split('\n')
    .filter((l) => /^[0-9a-f]{8}$/.test(l))
    .sort();
}

const shortId = (k: TestKey): string => k.fingerprint.slice(-8).toLowerCase();
const installed = (name: string): boolean => inHostRoot(root, `rpm -q '${name}' >/dev/null`).code === 0;

beforeAll(async () => {
  for (const tool of ['rpm', 'rpmbuild', 'rpmsign', 'createrepo_c', 'dnf', 'gpg', 'unshare']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { env: { PATH: '/usr/sbin:/usr/bin' } }).status !== 0)
      throw new Error(
        `${tool} is not installed: these tests run the real rpm and dnf (Debian: apt-get install rpm createrepo-c dnf gnupg; .ci/run installs them)`,
      );
  }
  vendor = makeKey('Acme Packages <packages@acme.example>');
  other = makeKey('Someone Else <else@elsewhere.example>');
  const good = buildRpm('acme-hello');
  signRpm(good, vendor);
  const foreign = buildRpm('acme-foreign');
  signRpm(foreign, other);
  const altered = buildRpm('acme-altered');
  signRpm(altered, vendor);
  tamper(altered);
  const unsigned = buildRpm('acme-unsigned');
  // The repository's metadata lists all four with their real checksums: whoever controls the
  // mirror controls the metadata too, and only the package signatures stand in the way.
  served = await serveDir(makeRpmRepository([good, foreign, altered, unsigned]));
  root = hostRoot('rocky');
  mkdirSync(join(root, 'opt'));
  bundleInto([
    { name: REPO, baseurl: `${served.url}/`, key: { file: 'keys/acme.asc', fingerprint: vendor.fingerprint } },
  ]);
}, 240_000);

afterAll(async () => {
  await served?.close();
});

describe('a signed dnf repository, with the real rpm and dnf', () => {
  it('writes the .repo with gpgcheck=1 and the pinned key, and imports only that key into the rpm database', () => {
    const r = step();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`repositories: repository ${REPO}: key ${vendor.fingerprint} checked\n`);
    const repo = readFileSync(join(root, `etc/yum.repos.d/${REPO}.repo`), 'utf8');
    expect(repo).toContain(`\n[${REPO}]\n`);
    expect(repo).toContain(`\nbaseurl=${served.url}/\nenabled=1\ngpgcheck=1\n`);
    expect(repo).toContain(`\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-${REPO}\n`);
    expect(readFileSync(join(root, `etc/pki/rpm-gpg/RPM-GPG-KEY-${REPO}`), 'utf8')).toMatch(
      /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/,
    );
    expect(rpmKeys()).toEqual([shortId(vendor)]);
  }, 240_000);

  it('dnf installs the package the pinned key signed', () => {
    const r = dnf('install', 'acme-hello');
    expect(r.code, r.stdout).toBe(0);
    expect(readFileSync(join(root, 'opt/acme-hello/hello.txt'), 'utf8')).toBe('hello from acme-hello\n');
    expect(installed('acme-hello')).toBe(true);
    // signed by a key rpm knows, not installed unchecked
    // (an EdDSA signature is rpm's DSAHEADER tag, as `rpm -qi` shows it)
    expect(inHostRoot(root, "rpm -q acme-hello --qf '%{DSAHEADER:pgpsig}\\n'").stdout).toContain(
      `Key ID ${vendor.fingerprint.slice(-16).toLowerCase()}`,
    );
  }, 300_000);

  it.each([
    [
      'signed with the other key of the key file (not pinned)',
      'acme-foreign',
      /are already installed but they are not correct for this package\.[^]*Failing package is: acme-foreign-1\.0-1\.noarch\n/,
    ],
    // (its header no longer matches its signature: rpm will not even open it)
    ['altered after it was signed', 'acme-altered', /\nProblem opening package acme-altered-1\.0-1\.noarch\.rpm\n/],
    ['not signed at all', 'acme-unsigned', /\nPackage acme-unsigned-1\.0-1\.noarch\.rpm is not signed\n/],
  ])(
    'dnf refuses a package %s',
    (_, name, why) => {
      const r = dnf('install', name);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.stdout).toMatch(why);
      expect(r.stdout).toContain('Error: GPG check FAILED');
      expect(installed(name)).toBe(false);
      expect(existsSync(join(root, 'opt', name))).toBe(false);
      // dnf did not take the other key in either (from the repository's gpgkey)
      expect(rpmKeys()).toEqual([shortId(vendor)]);
    },
    300_000,
  );

  it('the refusal is the signature check: without it the same foreign package installs', () => {
    const r = dnf('install', '--nogpgcheck', 'acme-foreign');
    expect(r.code, r.stdout).toBe(0);
    expect(readFileSync(join(root, 'opt/acme-foreign/hello.txt'), 'utf8')).toBe('hello from acme-foreign\n');
    expect(inHostRoot(root, 'rpm -e acme-foreign').code).toBe(0);
  }, 300_000);

  it("a new pinned key (the vendor's key rotation) replaces the old one in the rpm database: rpm stops trusting it", () => {
    const pin = (k: TestKey) =>
      bundleInto([
        { name: REPO, baseurl: `${served.url}/`, key: { file: 'keys/acme.asc', fingerprint: k.fingerprint } },
      ]);
    pin(other);
    const rotated = step();
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain(`repository ${REPO}: key ${other.fingerprint} checked\n`);
    expect(rpmKeys()).toEqual([shortId(other)]);
    // a package signed with the old key no longer installs (dnf reinstall fetches and checks it again) ...
    const stale = dnf('reinstall', 'acme-hello');
    expect(stale.code, stale.stdout).not.toBe(0);
    expect(stale.stdout).toMatch(/not correct for this package\.[^]*Failing package is: acme-hello-1\.0-1\.noarch\n/);
    // ... and one signed with the new key does
    const fresh = dnf('install', 'acme-foreign');
    expect(fresh.code, fresh.stdout).toBe(0);
    expect(inHostRoot(root, 'rpm -e acme-foreign').code).toBe(0);
    pin(vendor);
    const back = step();
    expect(back.code, back.stderr).toBe(0);
    expect(rpmKeys()).toEqual([shortId(vendor)]);
  }, 300_000);

  it('a re-run changes nothing; once mpimg.json drops the repository its list, key file and rpm key go (not a key another repository still uses)', () => {
    step();
    const again = step();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(
      new RegExp(`repository ${REPO}: /etc/yum.repos.d/${REPO}.repo unchanged .*unchanged\\n`),
    );
    expect(rpmKeys()).toEqual([shortId(vendor)]);
    // a second repository signed with the same key: dropping it leaves the key to the first
    const repo = (name: string) => ({
      name,
      baseurl: `${served.url}/`,
      key: { file: 'keys/acme.asc', fingerprint: vendor.fingerprint },
    });
    bundleInto([repo(REPO), repo('acme-rpm-extra')]);
    expect(step().code).toBe(0);
    bundleInto([repo(REPO)]);
    const one = step();
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('repository acme-rpm-extra: removed (no longer in mpimg.json)');
    expect(one.stdout).not.toContain('removed from the rpm database');
    expect(rpmKeys()).toEqual([shortId(vendor)]);
    bundleInto([]);
    const gone = step();
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`repository ${REPO}: key gpg-pubkey-${shortId(vendor)}-`);
    expect(gone.stdout).toContain(`repository ${REPO}: removed (no longer in mpimg.json)`);
    expect(existsSync(join(root, `etc/yum.repos.d/${REPO}.repo`))).toBe(false);
    expect(existsSync(join(root, `etc/pki/rpm-gpg/RPM-GPG-KEY-${REPO}`))).toBe(false);
    expect(rpmKeys()).toEqual([]);
    // the package it brought stays
    expect(installed('acme-hello')).toBe(true);
    expect(processesIn(root)).toEqual([]);
  }, 300_000);
});
