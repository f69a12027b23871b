// The image check's counting of pending updates (--pending-updates, what `mpimg outdated` runs and
// its security-updates line uses) with the real dnf and rpm: installed 1.0 of two packages (an rpm
// database of the test's own), a repository made with createrepo_c holding 1.1 of both, and an
// updateinfo.xml (added with modifyrepo_c) naming one as a security update. Runs in a private mount
// namespace where dnf's config, cache and state folders are temp dirs and apt-get is hidden, so
// this machine's dnf, rpm and apt state are never read or written.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_SCRIPT } from './fixture-root.js';

let work: string;
let repo: string;

function rpm(top: string, name: string, version: string): string {
  const spec = join(top, `SPECS/${name}-${version}.spec`);
  mkdirSync(join(top, 'SPECS'), { recursive: true });
  writeFileSync(
    spec,
    [
      `Name: ${name}`,
      `Version: ${version}`,
      'Release: 1',
      'Summary: a test package',
      'License: MIT',
      'BuildArch: noarch',
      '%description',
      'A test package of generator-mpimg.',
      '%files',
      '',
    ].join('\n'),
  );
  execFileSync('rpmbuild', ['--define', `_topdir ${top}`, '-bb', spec], { stdio: 'pipe' });
  return join(top, `RPMS/noarch/${name}-${version}-1.noarch.rpm`);
}

const UPDATEINFO = `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="tests@mpimg.invalid" status="stable" type="security" version="1">
    <id>MPIMG-2026:0001</id>
    <title>acme-sec security update</title>
    <issued date="2026-01-02 00:00:00"/>
    <severity>Important</severity>
    <description>A fix.</description>
    <pkglist>
      <collection short="mpimg">
        <name>mpimg</name>
        <package name="acme-sec" version="1.1" release="1" epoch="0" arch="noarch">
          <filename>acme-sec-1.1-1.noarch.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
`;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('this test mounts in a private namespace and must run as root');
  work = mkdtempSync(join(tmpdir(), 'mpimg-pending-dnf-'));
  const top = join(work, 'rpmbuild');
  repo = join(work, 'repo');
  mkdirSync(repo);
  const home = join(work, 'home');
  mkdirSync(home);
  // Installed: 1.0 of both, in the rpm database under this HOME (rpm's %_dbpath here is ~/.rpmdb).
  for (const name of ['acme-sec', 'acme-plain']) {
    execFileSync('rpm', ['-i', '--justdb', '--nodeps', '--dbpath', join(home, '.rpmdb'), rpm(top, name, '1.0')], {
      stdio: 'pipe',
    });
    const newer = rpm(top, name, '1.1');
    writeFileSync(join(repo, `${name}-1.1-1.noarch.rpm`), readFileSync(newer));
  }
  execFileSync('createrepo_c', [repo], { stdio: 'pipe' });
  writeFileSync(join(work, 'updateinfo.xml'), UPDATEINFO);
  execFileSync('modifyrepo_c', ['--mdtype', 'updateinfo', join(work, 'updateinfo.xml'), join(repo, 'repodata')], {
    stdio: 'pipe',
  });
  for (const d of ['etc-dnf', 'repos', 'cache', 'state']) mkdirSync(join(work, d));
  writeFileSync(
    join(work, 'etc-dnf/dnf.conf'),
    `[main]\nreposdir=${work}/repos\ncachedir=${work}/cache\npersistdir=${work}/state\nlogdir=${work}/state\ngpgcheck=0\n`,
  );
  writeFileSync(join(work, 'repos/test.repo'), `[mpimg-test]\nname=test\nbaseurl=file://${repo}\ngpgcheck=0\n`);
  writeFileSync(join(work, 'os-release'), 'ID="rocky"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n');
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The check, live, in a private mount namespace that shows dnf only the test's files. */
function pending(args: string[]) {
  const binds = [
    `mount --bind ${work}/etc-dnf /etc/dnf`,
    `mount --bind ${work}/cache /var/cache/dnf`,
    `mount --bind ${work}/state /var/lib/dnf`,
    `mount --bind ${work}/os-release /etc/os-release`,
    // A Debian machine: its apt-get would be asked first.
    'for a in /usr/bin/apt-get /bin/apt-get; do [ -e "$a" ] && mount --bind /dev/null "$a"; done; true',
  ].join(' && ');
  return spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', `${binds} && exec bash "$0" "$@"`, CHECK_SCRIPT, ...args],
    { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: join(work, 'home'), LANG: 'C.UTF-8' } },
  );
}

describe('pending updates with the real dnf (check-update, updateinfo list --security, rpm -qa)', () => {
  it('lists both updates and names the one updateinfo calls a security update', () => {
    const r = pending(['--pending-updates', '--refresh']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'distribution\trocky 9.4',
      'manager\tdnf',
      'update\tacme-plain\t1.0-1\t1.1-1\t0\tmpimg-test',
      'update\tacme-sec\t1.0-1\t1.1-1\t1\tmpimg-test',
      '',
    ]);
  });
});
