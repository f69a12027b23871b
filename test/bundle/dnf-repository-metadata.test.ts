/**
 * The repositories step of dist/<slug>-build.sh on the RHEL family: a repository's metadata, read by
 * the REAL dnf 4 of this machine when the step writes it. With "signedMetadata": true the .repo gets
 * repo_gpgcheck=1: dnf then checks repodata/repomd.xml's detached signature (repomd.xml.asc, made
 * with gpg) against the pinned key, and the build fails when it is missing or another key's. Every
 * repository of mpimg.json gets skip_if_unavailable=False (dnf's default since 4.2, not before, and
 * a distribution's dnf.conf may set it): one dnf cannot read fails the build instead of installing
 * nothing. Run as on a droplet (no --root) in a root of its own (test/helpers/host-root.ts), the
 * repositories made with rpmbuild, rpmsign and createrepo_c, served on 127.0.0.1.
 *
 * Not proven here: Rocky's own dnf (4.14 here; Rocky 9 has 4.14 too, Rocky 8 4.7) and dnf 5.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { validateManifest } from '../../runtime/manifest.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { makeKey, stopAgent, type TestKey } from '../helpers/gpg.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { makeProject } from '../helpers/project-fixture.js';
import { buildRpm, makeRpmRepository, signRpm } from '../helpers/rpm-repo.js';
import { serveDir, type Served } from '../helpers/static-server.js';
import { tempDir } from '../helpers/temp.js';
import type { Run } from '../scripts/fixture-root.js';

const REPO = 'acme-rpm';
let vendor: TestKey;
let other: TestKey;
let served: Served;
let top: string;

/** Folder `dir` of the server: a repository of acme-hello (signed by the vendor), repomd.xml signed by `signer`. */
function repo(dir: string, rpm: string, signer?: TestKey): void {
  const d = join(top, dir);
  cpSync(makeRpmRepository([rpm]), d, { recursive: true });
  if (signer) signRepomd(dir, signer);
}

/** repodata/repomd.xml.asc of folder `dir`, made by `signer` (gpg --detach-sign). */
function signRepomd(dir: string, signer: TestKey): void {
  const d = join(top, dir);
  const repomd = join(d, 'repodata/repomd.xml');
  rmSync(`${repomd}.asc`, { force: true });
  signer.gpg(['--local-user', signer.fingerprint, '--armor', '--detach-sign', '--output', `${repomd}.asc`, repomd]);
  stopAgent(signer);
}

/** dist/<slug>-build.sh of a project with this one repository (pinned to `pin`), into `root`. */
function bundleInto(
  root: string,
  dir: string,
  extra: Record<string, unknown> = {},
  pin: TestKey = vendor,
  listed = true,
): void {
  const project = makeProject({
    manifest: {
      distributions: ['rockylinux-9-x64'],
      build: {
        repositories: listed
          ? [
              {
                name: REPO,
                baseurl: `${served.url}/${dir}/`,
                key: { file: 'keys/acme.asc', fingerprint: pin.fingerprint },
                ...extra,
              },
            ]
          : [],
      },
    } as unknown as Partial<Manifest>,
  });
  mkdirSync(join(project, 'keys'));
  // both keys in the vendor's file: only the pinned one may reach rpm and dnf
  writeFileSync(join(project, 'keys/acme.asc'), `${vendor.armored}${other.armored}`);
  copyFileSync(writeBundle(loadProject(project)).build, join(root, 'mpimg-test/build.sh'));
}

/** A Rocky root with the build script of bundleInto. */
function rootWith(dir: string, extra: Record<string, unknown> = {}): string {
  const root = hostRoot('rocky');
  mkdirSync(join(root, 'opt'));
  bundleInto(root, dir, extra);
  return root;
}

const step = (root: string): Run => inHostRoot(root, 'sh /mpimg-test/build.sh repositories', { timeoutMs: 180_000 });
const dnf = (root: string, ...args: string[]): Run =>
  inHostRoot(root, `${['dnf', '-y', ...args].map((w) => `'${w}'`).join(' ')} 2>&1`, { timeoutMs: 180_000 });
const repoFile = (root: string): string => readFileSync(join(root, `etc/yum.repos.d/${REPO}.repo`), 'utf8');

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests run dnf in namespaces of their own: run them as root');
  for (const tool of ['rpm', 'rpmbuild', 'rpmsign', 'createrepo_c', 'dnf', 'gpg', 'unshare']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { env: { PATH: '/usr/sbin:/usr/bin' } }).status !== 0)
      throw new Error(
        `${tool} is not installed: these tests run the real rpm and dnf (Debian: apt-get install rpm createrepo-c dnf gnupg; .ci/run installs them)`,
      );
  }
  vendor = makeKey('Acme Packages <packages@acme.example>');
  other = makeKey('Someone Else <else@elsewhere.example>');
  top = tempDir('mpimg-dnf-metadata-');
  served = await serveDir(top);
  const hello = buildRpm('acme-hello');
  signRpm(hello, vendor);
  repo('signed', hello, vendor);
  repo('unsigned', hello);
  repo('foreign', hello, other);
  repo('rotating', hello, vendor);
}, 240_000);

afterAll(async () => {
  await served?.close();
});

describe('"signedMetadata" at validate time', () => {
  it('is for dnf repositories only', () => {
    const problems = (r: Record<string, unknown>) =>
      validateManifest({ ...MINIMAL_MANIFEST, build: { repositories: [r] } }).problems.map(
        (p) => `${p.path}: ${p.message}`,
      );
    const key = { file: 'keys/acme.asc' };
    expect(problems({ name: 'acme', baseurl: 'https://rpm.acme.example/el9/', key, signedMetadata: true })).toEqual([]);
    expect(
      problems({ name: 'acme', uris: 'https://apt.acme.example', suites: ['stable'], key, signedMetadata: true }),
    ).toEqual(['$.build.repositories[0].signedMetadata: only a dnf repository ("baseurl") takes "signedMetadata"']);
    expect(problems({ name: 'acme', baseurl: 'https://rpm.acme.example/', key, signedMetadata: 'yes' })[0]).toMatch(
      /^\$\.build\.repositories\[0\]\.signedMetadata: /,
    );
  });
});

describe("a dnf repository's metadata, read by the real dnf when the repositories step writes it", () => {
  it('signedMetadata: repo_gpgcheck=1; metadata the pinned key signed is read, and its package installs', () => {
    const root = rootWith('signed', { signedMetadata: true });
    const r = step(root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `repositories: repository ${REPO}: metadata read, its signature checked (dnf makecache, repo_gpgcheck=1)\n`,
    );
    expect(repoFile(root)).toContain('\ngpgcheck=1\nrepo_gpgcheck=1\nskip_if_unavailable=False\ngpgkey=');
    const i = dnf(root, 'install', 'acme-hello');
    expect(i.code, i.stdout).toBe(0);
    expect(readFileSync(join(root, 'opt/acme-hello/hello.txt'), 'utf8')).toBe('hello from acme-hello\n');
    // a re-run reads it again (fresh), changes nothing
    const again = step(root);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`/etc/yum.repos.d/${REPO}.repo unchanged`);
    expect(again.stdout).toContain('metadata read, its signature checked');
    expect(processesIn(root)).toEqual([]);
  }, 300_000);

  it.each([
    [
      'not signed (no repomd.xml.asc)',
      'unsigned',
      `Failed to download metadata for repo '${REPO}': GPG verification is enabled, but GPG signature is not available.`,
    ],
    [
      'signed by another key',
      'foreign',
      `Failed to download metadata for repo '${REPO}': repomd.xml GPG signature verification error: Bad GPG signature`,
    ],
  ])(
    'signedMetadata: metadata %s fails the build, naming the repository; dnf installs nothing from it',
    (_, dir, why) => {
      const root = rootWith(dir, { signedMetadata: true });
      const r = step(root);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(why);
      expect(r.stderr).toContain(
        `error: repositories: repository ${REPO}: dnf cannot read its metadata (dnf makecache, its output above)\n`,
      );
      expect(r.stderr).toContain('"signedMetadata": true');
      expect(r.stdout).not.toContain('metadata read');
      const i = dnf(root, 'install', 'acme-hello');
      expect(i.code, i.stdout).not.toBe(0);
      expect(existsSync(join(root, 'opt/acme-hello'))).toBe(false);
    },
    300_000,
  );

  it("a new pinned key (the vendor's rotation): metadata still signed by the old one is refused, though dnf had taken the old key in for it", () => {
    const root = rootWith('rotating', { signedMetadata: true });
    expect(step(root).code).toBe(0);
    bundleInto(root, 'rotating', { signedMetadata: true }, other);
    const r = step(root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('repomd.xml GPG signature verification error: Bad GPG signature');
    expect(r.stderr).toContain(`error: repositories: repository ${REPO}: dnf cannot read its metadata`);
    // the vendor signs with the new key: read again
    signRepomd('rotating', other);
    const ok = step(root);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('metadata read, its signature checked');
    // once mpimg.json drops it, its cache folder (and the key dnf kept there) goes; not another's
    const cache = join(root, 'var/cache/dnf');
    const ours = readdirSync(cache).filter((f) => new RegExp(`^${REPO}-[0-9a-f]{16}$`).test(f));
    expect(ours).toHaveLength(1);
    mkdirSync(join(cache, `${REPO}-extra-0123456789abcdef`));
    bundleInto(root, 'rotating', {}, vendor, false);
    const gone = step(root);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toContain(`repository ${REPO}: removed (no longer in mpimg.json)`);
    expect(existsSync(join(cache, ours[0]))).toBe(false);
    expect(existsSync(join(cache, `${REPO}-extra-0123456789abcdef`))).toBe(true);
  }, 300_000);

  it('without signedMetadata no repo_gpgcheck: the same unsigned metadata is read (the refusal above is that check)', () => {
    const root = rootWith('unsigned');
    const r = step(root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`repository ${REPO}: metadata read (dnf makecache)\n`);
    expect(repoFile(root)).not.toContain('repo_gpgcheck');
    expect(repoFile(root)).toContain('\ngpgcheck=1\nskip_if_unavailable=False\n');
  }, 300_000);

  it('a repository dnf cannot reach fails the build (skip_if_unavailable=False); with True dnf would go on without it', () => {
    const root = rootWith('no-such-folder');
    const r = step(root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Failed to download metadata for repo '${REPO}'`);
    expect(r.stderr).toContain(`error: repositories: repository ${REPO}: dnf cannot read its metadata`);
    // what a dnf.conf with skip_if_unavailable=True (or an older dnf's default) would do with this list
    const lax = dnf(root, `--setopt=${REPO}.skip_if_unavailable=True`, '--refresh', 'makecache');
    expect(lax.code, lax.stdout).toBe(0);
    expect(lax.stdout).toContain(`Ignoring repositories: ${REPO}`);
  }, 300_000);
});
