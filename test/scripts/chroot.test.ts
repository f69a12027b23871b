// Both scripts on a root that is a full root filesystem: package-manager and
// cloud-init commands run inside it with chroot (which needs root).
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHECK_SCRIPT,
  CLEANUP_SCRIPT,
  type CheckReport,
  checkJson,
  cleanup,
  cleanupFixtures,
  dirty,
  fullRoot,
  leaks,
  readCalls,
} from './fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests chroot into fixture roots and must run as root (CI does)');
});

// Recorded from `apt-get -s upgrade` on Debian 12: two security fixes, one
// stable update, each package on an Inst and a Conf line.
const APT_PENDING = `NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  libssl3 openssl tzdata
3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable-updates [all])
Conf libssl3 (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Conf openssl (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Conf tzdata (2025b-0+deb12u1 Debian:12.11/stable-updates [all])
`;
const APT_NONE = `Reading package lists...
Calculating upgrade...
The following packages will be upgraded:
  tzdata
1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable-updates [all])
Conf tzdata (2025b-0+deb12u1 Debian:12.11/stable-updates [all])
`;
// Ubuntu lists the security pocket after the updates pocket on one line.
const APT_UBUNTU = `Inst libc6 [2.39-0ubuntu8] (2.39-0ubuntu8.3 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
Conf libc6 (2.39-0ubuntu8.3 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
`;
// Recorded shape of `dnf updateinfo list --security`: one package in two advisories.
const DNF_PENDING = `RLSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-25.el9_3.x86_64
RLSA-2024:1234 Important/Sec. openssl-1:3.0.7-25.el9_3.x86_64
RLSA-2024:2000 Moderate/Sec.  openssl-libs-1:3.0.7-27.el9.x86_64
`;

function security(root: string, args: string[] = []) {
  const { run, report } = checkJson(root, args);
  expect(leaks(run.stdout + run.stderr)).toEqual([]);
  return { run, report, entry: report.checks.find((c) => c.id === 'security-updates') };
}

describe('check on a full root filesystem (chroot)', () => {
  it('counts pending security updates by package, not by line: FAIL, exit 1', () => {
    const root = fullRoot('apt', APT_PENDING);
    const { run, report, entry } = security(root);
    expect(report.mode).toBe('chroot');
    expect(entry?.status).toBe('fail');
    expect(entry?.message).toMatch(/^2 package\(s\) have pending security updates/);
    expect(entry?.evidence).toEqual(['libssl3', 'openssl']);
    expect(run.code).toBe(1);
    // Simulation only, without touching the indexes unless --refresh.
    expect(readCalls(root)).toEqual([
      'apt-get DEBIAN_FRONTEND= -s -o Debug::NoLocking=1 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= upgrade',
    ]);
  });

  it('passes when only non-security updates are pending', () => {
    const root = fullRoot('apt', APT_NONE);
    const { run, entry, report } = security(root);
    expect(entry?.status).toBe('pass');
    expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(run.code).toBe(0);
  });

  it('counts the Ubuntu security pocket', () => {
    const { entry } = security(fullRoot('apt', APT_UBUNTU));
    expect(entry?.status).toBe('fail');
    expect(entry?.evidence).toEqual(['libc6']);
  });

  it('refreshes the package index only with --refresh', () => {
    const root = fullRoot('apt', APT_NONE);
    security(root, ['--refresh']);
    expect(readCalls(root)[0]).toBe('apt-get DEBIAN_FRONTEND= -qq update');
  });

  it('asks dnf for security advisories and counts packages', () => {
    const root = fullRoot('dnf', DNF_PENDING);
    const { entry } = security(root);
    expect(entry?.status).toBe('fail');
    expect(entry?.evidence).toEqual(['openssl', 'openssl-libs']);
    expect(readCalls(root)).toEqual(['dnf DEBIAN_FRONTEND= -q -C updateinfo list --security']);
  });

  it('understands the dnf 5 column layout too', () => {
    const dnf5 =
      'Name                  Type        Severity                 Package              Issued\n' +
      'RLSA-2025:0001 security    Important  curl-8.12.1-1.el10.x86_64 2025-01-02 00:00:00\n' +
      'RLSA-2025:0002 bugfix      None       tzdata-2025a-1.el10.noarch 2025-01-03 00:00:00\n';
    const { entry } = security(fullRoot('dnf', dnf5));
    expect(entry?.evidence).toEqual(['curl']);
  });

  it('reads the cloud-init version from the command inside the root', () => {
    const { report } = security(fullRoot('apt', APT_NONE));
    expect(report.checks.find((c) => c.id === 'cloud-init')?.evidence).toEqual([
      'version 23.1.1 (from cloud-init --version)',
    ]);
  });
});

describe('cleanup on a full root filesystem (chroot)', () => {
  it('upgrades non-interactively keeping config files, without deprecated flags, then autoremoves and cleans', () => {
    const root = dirty(fullRoot('apt', APT_NONE));
    const r = cleanup(root);
    expect(r.code, r.stderr).toBe(0);
    const lock = '-o DPkg::Lock::Timeout=600';
    expect(readCalls(root)).toEqual([
      `apt-get DEBIAN_FRONTEND= -q ${lock} update`,
      `apt-get DEBIAN_FRONTEND=noninteractive -q -y ${lock} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade --with-new-pkgs`,
      `apt-get DEBIAN_FRONTEND=noninteractive -q -y ${lock} autoremove --purge`,
      `apt-get DEBIAN_FRONTEND= -q ${lock} clean`,
    ]);
    expect(readCalls(root).join('\n')).not.toMatch(/--force-yes/);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    const { run, report } = checkJson(root);
    expect(
      report.checks.filter((c) => c.status === 'fail'),
      run.stdout,
    ).toEqual([]);
  });

  it('--no-packages skips upgrade and autoremove', () => {
    const root = dirty(fullRoot('apt', APT_NONE));
    const r = cleanup(root, ['--no-packages']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('nothing to do: skipped: --no-packages');
    expect(readCalls(root)).toEqual([]);
  });

  it('dry run only prints the package commands', () => {
    const root = fullRoot('apt', APT_NONE);
    const r = cleanup(root, ['--dry-run']);
    expect(r.stdout).toContain('would run: apt-get upgrade (non-interactive, keeping config files)');
    expect(readCalls(root)).toEqual([]);
  });
});

describe('fed to bash on stdin, as the runtime bundle may run them', () => {
  const viaStdin = (script: string, args: string[]) =>
    spawnSync('bash', ['-s', '--', ...args], {
      input: readFileSync(script),
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });

  it('check: package commands do not swallow the rest of the script', () => {
    const root = fullRoot('apt', APT_PENDING);
    const r = viaStdin(CHECK_SCRIPT, ['--root', root]);
    expect(r.stdout).toMatch(/^\[FAIL\] security-updates: 2 package/m);
    expect(r.stdout).toMatch(/^\[PASS\] bundle:/m);
    expect(r.stdout).toMatch(/^Result: FAIL/m);
    expect(r.status).toBe(1);
    expect(readFileSync(join(root, 'pm-stdin.log'), 'utf8')).toBe('');
  });

  it('cleanup: runs every step to the summary', () => {
    const root = dirty(fullRoot('apt', APT_NONE));
    const r = viaStdin(CLEANUP_SCRIPT, ['--root', root]);
    expect(r.stdout).toMatch(/^Summary: 12 steps, \d+ change\(s\), .* freed, 0 error\(s\)$/m);
    expect(r.status).toBe(0);
    expect(readCalls(root)).toHaveLength(4);
    expect(readFileSync(join(root, 'pm-stdin.log'), 'utf8')).toBe('');
  });
});

describe('check run by an unprivileged user', () => {
  it('reports package-manager checks as skipped: chroot needs root', () => {
    const root = fullRoot('apt', APT_PENDING);
    chmodSync(root, 0o755);
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', CHECK_SCRIPT, '--root', root, '--json'],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      },
    );
    const report = JSON.parse(r.stdout) as CheckReport;
    expect(report.mode).toBe('staged');
    const entry = report.checks.find((c) => c.id === 'security-updates');
    expect(entry?.status).toBe('skip');
    expect(entry?.message).toContain('needs chroot, which needs root');
    // /etc/shadow (0640 root) is unreadable: skipped, not passed.
    expect(report.checks.find((c) => c.id === 'passwords')?.status).toBe('skip');
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    expect(readCalls(root)).toEqual([]);
  });
});
