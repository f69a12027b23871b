/**
 * A local, signed apt repository for tests of build.repositories: one tiny package made with
 * dpkg-deb, Packages and Release made with apt-ftparchive, the Release signed (InRelease and
 * Release.gpg) with a key made for it in a throwaway GNUPGHOME, all served over HTTP on 127.0.0.1
 * (a free port) by a child-process server, so it answers while the test waits in spawnSync.
 *
 * In mpimg.json (what the e2e bed puts there):
 *   { "name": "mpimg-test", "uris": repo.url, "suites": [repo.suite], "components": [repo.component],
 *     "key": { "url": repo.keyUrl, "fingerprint": repo.fingerprint } }
 * and build.packages: [repo.package]; the package installs repo.installedFile.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeKey, stopAgent } from './gpg.js';
import { serveDir } from './static-server.js';
import { tempDir } from './temp.js';

export interface AptRepo {
  /** http://127.0.0.1:PORT: the repository's URI (deb822 URIs:). */
  url: string;
  suite: string;
  component: string;
  /** The signing key's fingerprint (40 hex digits, upper case). */
  fingerprint: string;
  /** The public key, armored, on disk (key.file) and served (key.url). */
  keyFile: string;
  keyUrl: string;
  /** The one package of the repository, its version, and the file it installs. */
  package: string;
  version: string;
  installedFile: string;
  /** The folder served (dists/, pool/, key.asc). */
  dir: string;
  close(): Promise<void>;
}

export interface AptRepoOptions {
  suite?: string;
  component?: string;
  package?: string;
  version?: string;
  /** Sign with this key's uid (a new key each time). */
  uid?: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): Buffer {
  try {
    return execFileSync(cmd, args, {
      cwd: opts.cwd,
      input: opts.input,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, LC_ALL: 'C' },
    });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new Error(
        `${cmd} is not installed: the local apt repository needs it (Debian: apt-get install apt-utils dpkg-dev gnupg; .ci/run installs them)`,
      );
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.toString() ?? e}`);
  }
}

export async function makeAptRepo(opts: AptRepoOptions = {}): Promise<AptRepo> {
  const suite = opts.suite ?? 'mpimg-test';
  const component = opts.component ?? 'main';
  const pkg = opts.package ?? 'mpimg-test-hello';
  const version = opts.version ?? '1.0.0';
  const installedFile = `/usr/share/${pkg}/hello.txt`;
  const dir = tempDir('mpimg-apt-repo-');
  chmodSync(dir, 0o755);

  // The package: one file, no maintainer scripts.
  const src = tempDir('mpimg-apt-pkg-');
  mkdirSync(join(src, 'DEBIAN'));
  writeFileSync(
    join(src, 'DEBIAN/control'),
    [
      `Package: ${pkg}`,
      `Version: ${version}`,
      'Architecture: all',
      'Maintainer: generator-mpimg tests <tests@mpimg.invalid>',
      'Section: misc',
      'Priority: optional',
      `Description: test package of generator-mpimg's local apt repository`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(src, `usr/share/${pkg}`), { recursive: true });
  writeFileSync(join(src, installedFile.slice(1)), `hello from ${pkg} ${version}\n`);
  const poolRel = `pool/${component}/${pkg[0]}/${pkg}`;
  mkdirSync(join(dir, poolRel), { recursive: true });
  const deb = `${poolRel}/${pkg}_${version}_all.deb`;
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', src, join(dir, deb)]);

  // Packages for amd64 and "all" (apt reads either), then the Release that lists their hashes.
  const packages = run('apt-ftparchive', ['packages', 'pool'], { cwd: dir });
  for (const arch of ['amd64', 'all']) {
    const at = join(dir, `dists/${suite}/${component}/binary-${arch}`);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, 'Packages'), packages);
    writeFileSync(join(at, 'Packages.gz'), gzipSync(packages));
  }
  const release = run(
    'apt-ftparchive',
    [
      '-o',
      `APT::FTPArchive::Release::Origin=generator-mpimg-tests`,
      '-o',
      `APT::FTPArchive::Release::Label=mpimg-test`,
      '-o',
      `APT::FTPArchive::Release::Suite=${suite}`,
      '-o',
      `APT::FTPArchive::Release::Codename=${suite}`,
      '-o',
      'APT::FTPArchive::Release::Architectures=amd64 all',
      '-o',
      `APT::FTPArchive::Release::Components=${component}`,
      'release',
      '.',
    ],
    { cwd: join(dir, `dists/${suite}`) },
  );
  writeFileSync(join(dir, `dists/${suite}/Release`), release);

  const key = makeKey(opts.uid ?? 'generator-mpimg test repository <repo@mpimg.invalid>');
  try {
    writeFileSync(
      join(dir, `dists/${suite}/InRelease`),
      key.gpg(['--digest-algo', 'SHA256', '--clearsign', '--local-user', key.fingerprint], release),
    );
    writeFileSync(
      join(dir, `dists/${suite}/Release.gpg`),
      key.gpg(['--digest-algo', 'SHA256', '--armor', '--detach-sign', '--local-user', key.fingerprint], release),
    );
  } finally {
    stopAgent(key);
  }
  const keyFile = join(dir, 'key.asc');
  writeFileSync(keyFile, key.armored);

  const server = await serveDir(dir);
  return {
    url: server.url,
    suite,
    component,
    fingerprint: key.fingerprint,
    keyFile,
    keyUrl: `${server.url}/key.asc`,
    package: pkg,
    version,
    installedFile,
    dir,
    close: () => server.close(),
  };
}

/** The SHA256 lines of a Release file: path → [hash, size]. */
export function releaseHashes(release: string): Map<string, { sha256: string; size: number }> {
  const out = new Map<string, { sha256: string; size: number }>();
  const at = release.indexOf('\nSHA256:\n');
  if (at < 0) return out;
  for (const line of release.slice(at + 9).split('\n')) {
    const m = /^ ([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(line);
    if (!m) break;
    out.set(m[3], { sha256: m[1], size: Number(m[2]) });
  }
  return out;
}

export const fileSha256 = (file: string): string => sha256(readFileSync(file));
