/**
 * Signed rpm repositories for tests, made with this machine's real rpmbuild, rpmsign and createrepo_c:
 * small noarch packages (each installs /opt/<name>/hello.txt, outside /usr, so they install into a
 * root whose /usr is read-only), signed with a test key (test/helpers/gpg.ts). rpm and gpg run with a
 * temp HOME and the key's own GNUPGHOME: this machine's ~/.rpmmacros and keyrings are never read.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stopAgent, type TestKey } from './gpg.js';
import { tempDir } from './temp.js';

/** A marker in every package's description (its rpm header), for tamper(). */
export const HEADER_MARK = 'MPIMG-HEADER-ORIGINAL';

const rpmEnv = (home: string): NodeJS.ProcessEnv => ({
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  HOME: home,
});

/** Builds noarch package `name`-1.0-1 with the real rpmbuild; the path of the .rpm. */
export function buildRpm(name: string): string {
  const top = tempDir('mpimg-rpmbuild-');
  mkdirSync(join(top, 'SPECS'));
  const spec = join(top, 'SPECS', `${name}.spec`);
  writeFileSync(
    spec,
    [
      `Name: ${name}`,
      'Version: 1.0',
      'Release: 1',
      'Summary: a package of a signed test repository',
      'License: MIT',
      'BuildArch: noarch',
      '%description',
      `${HEADER_MARK} ${name}`,
      '%install',
      `mkdir -p %{buildroot}/opt/${name}`,
      `echo hello from ${name} > %{buildroot}/opt/${name}/hello.txt`,
      '%files',
      `/opt/${name}/hello.txt`,
      '',
    ].join('\n'),
  );
  execFileSync('rpmbuild', ['--define', `_topdir ${top}`, '-bb', spec], { stdio: 'pipe', env: rpmEnv(top) });
  return join(top, 'RPMS/noarch', `${name}-1.0-1.noarch.rpm`);
}

/** Signs `rpm` in place with `key` (rpmsign --addsign, gpg of this machine, the key's home). */
export function signRpm(rpm: string, key: TestKey): void {
  const home = tempDir('mpimg-rpmsign-home-');
  execFileSync(
    'rpmsign',
    [
      ...['--define', `_gpg_name ${key.fingerprint}`, '--define', `_gpg_path ${key.home}`],
      ...['--define', '__gpg /usr/bin/gpg', '--addsign', rpm],
    ],
    { stdio: 'pipe', env: rpmEnv(home) },
  );
  stopAgent(key);
}

/**
 * Changes one byte of text in the signed header of `rpm` (its description): the file stays a
 * well-formed package whose signature no longer matches, as a package altered on a mirror would be.
 */
export function tamper(rpm: string): void {
  const bytes = readFileSync(rpm);
  const at = bytes.indexOf(HEADER_MARK);
  if (at < 0) throw new Error(`${rpm} has no ${HEADER_MARK} to alter`);
  bytes.write('ALTERED!', at + HEADER_MARK.length - 'ORIGINAL'.length);
  writeFileSync(rpm, bytes);
}

/** A repository folder with `rpms` in it and its metadata made by createrepo_c. */
export function makeRpmRepository(rpms: string[]): string {
  const repo = tempDir('mpimg-rpmrepo-');
  for (const f of rpms) copyFileSync(f, join(repo, basename(f)));
  execFileSync('createrepo_c', [repo], { stdio: 'pipe' });
  return repo;
}
