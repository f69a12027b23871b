/**
 * A local signed apt repository of one suite holding several packages (some with dependencies), as
 * a folder an apt source reads with a file: URI (`deb [signed-by=KEY] file:DIR SUITE main`), and
 * loose .deb files of other versions to install with dpkg -i. For tests that need a distribution's
 * security suite (<codename>-security) with newer versions of installed packages. apt-repo.ts is
 * the one-package repository served over HTTP.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKey, stopAgent } from './gpg.js';
import { tempDir } from './temp.js';

export interface DebSpec {
  name: string;
  version: string;
  depends?: string;
}

export interface AptSuite {
  /** The repository folder (dists/, pool/): copy it where the source's file: URI points. */
  dir: string;
  suite: string;
  /** The signing key, armored (apt reads it from a .asc file named in signed-by). */
  keyArmored: string;
}

function run(cmd: string, args: string[], cwd?: string): Buffer {
  try {
    return execFileSync(cmd, args, {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, LC_ALL: 'C' },
    });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new Error(`${cmd} is not installed (Debian: apt-get install apt-utils dpkg-dev gnupg)`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.toString() ?? e}`);
  }
}

/** Builds NAME_VERSION_all.deb into `outDir` (one small file, no maintainer scripts); returns its path. */
export function buildDeb(spec: DebSpec, outDir: string): string {
  const src = tempDir('mpimg-deb-');
  mkdirSync(join(src, 'DEBIAN'));
  writeFileSync(
    join(src, 'DEBIAN/control'),
    [
      `Package: ${spec.name}`,
      `Version: ${spec.version}`,
      'Architecture: all',
      ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
      'Maintainer: generator-mpimg tests <tests@mpimg.invalid>',
      'Section: misc',
      'Priority: optional',
      `Description: test package of generator-mpimg`,
      '',
    ].join('\n'),
  );
  mkdirSync(join(src, `usr/share/${spec.name}`), { recursive: true });
  writeFileSync(join(src, `usr/share/${spec.name}/version`), `${spec.version}\n`);
  mkdirSync(outDir, { recursive: true });
  const deb = join(outDir, `${spec.name}_${spec.version}_all.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', src, deb]);
  return deb;
}

/** A signed repository of `suite` (component main) with `packages`. */
export function makeAptSuite(suite: string, packages: DebSpec[], label = 'mpimg-test'): AptSuite {
  const dir = tempDir('mpimg-apt-suite-');
  chmodSync(dir, 0o755);
  for (const p of packages) buildDeb(p, join(dir, 'pool/main'));
  const index = run('apt-ftparchive', ['packages', 'pool'], dir);
  for (const arch of ['amd64', 'all']) {
    const at = join(dir, `dists/${suite}/main/binary-${arch}`);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, 'Packages'), index);
  }
  const release = run(
    'apt-ftparchive',
    [
      ...['-o', `APT::FTPArchive::Release::Origin=${label}`, '-o', `APT::FTPArchive::Release::Label=${label}`],
      ...['-o', `APT::FTPArchive::Release::Suite=${suite}`, '-o', `APT::FTPArchive::Release::Codename=${suite}`],
      ...['-o', 'APT::FTPArchive::Release::Architectures=amd64 all', '-o', 'APT::FTPArchive::Release::Components=main'],
      'release',
      '.',
    ],
    join(dir, `dists/${suite}`),
  );
  writeFileSync(join(dir, `dists/${suite}/Release`), release);
  const key = makeKey(`generator-mpimg ${suite} <repo@mpimg.invalid>`);
  try {
    writeFileSync(
      join(dir, `dists/${suite}/InRelease`),
      key.gpg(['--digest-algo', 'SHA256', '--clearsign', '--local-user', key.fingerprint], release),
    );
  } finally {
    stopAgent(key);
  }
  return { dir, suite, keyArmored: key.armored };
}
