/**
 * Signed rpm repositories for tests, made with this machine's real rpmbuild, rpmsign and createrepo_c:
 * small noarch packages (each installs /opt/<name>/hello.txt, outside /usr, so they install into a
 * root whose /usr is read-only), signed with a test key (test/helpers/gpg.ts). rpm and gpg run with a
 * temp HOME and the key's own GNUPGHOME: this machine's ~/.rpmmacros and keyrings are never read.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stopAgent, type TestKey } from './gpg.js';
import { tempDir } from './temp.js';

/** A marker in every package's description (its rpm header), for tamper(). */
export const HEADER_MARK = 'MPIMG-HEADER-ORIGINAL';

const rpmEnv = (home: string): NodeJS.ProcessEnv => ({
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  HOME: home,
});

/** What a test package holds besides its name: its dependencies, and files (text, or a copy of a folder). */
export interface RpmContent {
  requires?: string[];
  files?: { path: string; text?: string; from?: string }[];
}

/**
 * Builds noarch package `name`-1.0-1 with the real rpmbuild; the path of the .rpm. Without `files`
 * it installs /opt/<name>/hello.txt.
 */
export function buildRpm(name: string, content: RpmContent = {}): string {
  const top = tempDir('mpimg-rpmbuild-');
  mkdirSync(join(top, 'SPECS'));
  const spec = join(top, 'SPECS', `${name}.spec`);
  const files = content.files ?? [{ path: `/opt/${name}/hello.txt`, text: `hello from ${name}\n` }];
  const install: string[] = [];
  files.forEach((f, i) => {
    install.push(`mkdir -p %{buildroot}${dirname(f.path)}`);
    if (f.from !== undefined) install.push(`cp -a '${f.from}' '%{buildroot}${f.path}'`);
    else {
      // the text, kept byte for byte in a source file of its own
      writeFileSync(join(top, `file${i}`), f.text ?? '');
      install.push(`cp '${join(top, `file${i}`)}' '%{buildroot}${f.path}'`);
    }
  });
  writeFileSync(
    spec,
    [
      `Name: ${name}`,
      'Version: 1.0',
      'Release: 1',
      'Summary: a package of a signed test repository',
      'License: MIT',
      'BuildArch: noarch',
      // only the dependencies given (a copied script's #! would add one on this machine's paths)
      'AutoReqProv: no',
      ...(content.requires ?? []).map((r) => `Requires: ${r}`),
      '%description',
      `${HEADER_MARK} ${name}`,
      '%install',
      ...install,
      '%files',
      ...files.map((f) => f.path),
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

/**
 * Puts this machine's rpm into staged root `root` (a plain folder, as a Rocky root holds its own rpm):
 * rpm and rpmkeys (which `rpm --import` runs), the libraries they link, rpm's macros and the bash
 * its %_dbpath asks, so `chroot ROOT rpm` (what the build script runs with --root) works. Its
 * database is then ROOT/root/.rpmdb (Debian's rpm keeps it in ~/.rpmdb), which `rpm --root ROOT`
 * and `dnf --installroot ROOT` read too.
 */
export function stageRpm(root: string): void {
  for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'root', 'tmp', 'dev'])
    mkdirSync(join(root, d), { recursive: true });
  for (const d of ['bin', 'lib', 'lib64']) if (!existsSync(join(root, d))) symlinkSync(`usr/${d}`, join(root, d));
  const libs = new Set<string>();
  for (const bin of ['/usr/bin/rpm', '/usr/bin/rpmkeys', '/usr/bin/bash', '/usr/bin/dash']) {
    for (const line of execFileSync('ldd', [bin], { encoding: 'utf8' }).split('\n')) {
      const m = /(\/\S+) \(0x/.exec(line);
      if (m) libs.add(m[1]);
    }
    copyFileSync(bin, join(root, bin));
    chmodSync(join(root, bin), 0o755);
  }
  for (const lib of libs) {
    const real = realpathSync(lib);
    mkdirSync(dirname(join(root, real)), { recursive: true });
    copyFileSync(real, join(root, real));
    if (real !== lib && !existsSync(join(root, lib))) {
      mkdirSync(dirname(join(root, lib)), { recursive: true });
      symlinkSync(real, join(root, lib));
    }
  }
  symlinkSync('dash', join(root, 'usr/bin/sh'));
  cpSync('/usr/lib/rpm', join(root, 'usr/lib/rpm'), { recursive: true });
  execFileSync('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
}
