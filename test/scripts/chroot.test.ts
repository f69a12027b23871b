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
  cleanRoot,
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

// Recorded from `apt-get -s dist-upgrade` on Debian 12: two security fixes, one
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
// `apt-cache policy libssl3 openssl tzdata` on that system: where each version comes from.
const POLICY_PENDING = `libssl3:
  Installed: 3.0.11-1~deb12u1
  Candidate: 3.0.11-1~deb12u2
  Version table:
     3.0.11-1~deb12u2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 3.0.11-1~deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
openssl:
  Installed: 3.0.11-1~deb12u1
  Candidate: 3.0.11-1~deb12u2
  Version table:
     3.0.11-1~deb12u2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 3.0.11-1~deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
tzdata:
  Installed: 2024a-0+deb12u1
  Candidate: 2025b-0+deb12u1
  Version table:
     2025b-0+deb12u1 500
        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
 *** 2024a-0+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
`;
const POLICY_NONE = POLICY_PENDING.slice(POLICY_PENDING.indexOf('tzdata:'));
// A fix held back by \`upgrade\` (its new version needs a new package): only dist-upgrade installs it.
const APT_HELD = `Inst libnew1 (1.0-1 Debian-Security:12/stable-security [amd64])
Inst libfoo [1.0-1] (1.0-2 Debian-Security:12/stable-security [amd64])
Conf libnew1 (1.0-1 Debian-Security:12/stable-security [amd64])
Conf libfoo (1.0-2 Debian-Security:12/stable-security [amd64])
`;
const POLICY_HELD = `libfoo:
  Installed: 1.0-1
  Candidate: 1.0-2
  Version table:
     1.0-2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 1.0-1 100
        100 /var/lib/dpkg/status
`;
// Ubuntu lists the security pocket after the updates pocket on one line.
const APT_UBUNTU = `Inst libc6 [2.39-0ubuntu8] (2.39-0ubuntu8.3 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
Conf libc6 (2.39-0ubuntu8.3 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
`;
const POLICY_UBUNTU = `libc6:
  Installed: 2.39-0ubuntu8
  Candidate: 2.39-0ubuntu8.3
  Version table:
     2.39-0ubuntu8.3 500
        500 http://archive.ubuntu.com/ubuntu noble-updates/main amd64 Packages
        500 http://security.ubuntu.com/ubuntu noble-security/main amd64 Packages
 *** 2.39-0ubuntu8 500
        500 http://archive.ubuntu.com/ubuntu noble/main amd64 Packages
        100 /var/lib/dpkg/status
`;
// Recorded shape of `dnf updateinfo list --security`: one package in two advisories.
const DNF_PENDING = `RLSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-25.el9_3.x86_64
RLSA-2024:1234 Important/Sec. openssl-1:3.0.7-25.el9_3.x86_64
RLSA-2024:2000 Moderate/Sec.  openssl-libs-1:3.0.7-27.el9.x86_64
`;
// `dnf check-update` on that system (a long name wraps onto a second line), and `rpm -qa`.
const DNF_CHECK = `
openssl.x86_64                      1:3.0.7-27.el9              baseos
openssl-libs.x86_64                 1:3.0.7-27.el9              baseos
python3-a-very-long-package-name-indeed.noarch
                                    2.0-1.el9                   appstream
`;
const DNF_RPM = 'openssl.x86_64\t1:3.0.7-24.el9\nopenssl-libs.x86_64\t1:3.0.7-24.el9\n';

function security(root: string, args: string[] = []) {
  const { run, report } = checkJson(root, args);
  expect(leaks(run.stdout + run.stderr)).toEqual([]);
  return { run, report, entry: report.checks.find((c) => c.id === 'security-updates') };
}

describe('check on a full root filesystem (chroot)', () => {
  it('counts pending security updates by package, not by line: FAIL, exit 1', () => {
    const root = fullRoot('apt', APT_PENDING, { policy: POLICY_PENDING });
    const { run, report, entry } = security(root);
    expect(report.mode).toBe('chroot');
    expect(entry?.status).toBe('fail');
    expect(entry?.message).toMatch(/^2 package\(s\) have pending security updates/);
    expect(entry?.evidence).toEqual(['libssl3', 'openssl']);
    expect(run.code).toBe(1);
    // Simulation only (dist-upgrade: what a held-back fix needs), without touching the indexes unless --refresh.
    const opts = '-o Debug::NoLocking=1 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=';
    expect(readCalls(root)).toEqual([
      `apt-get DEBIAN_FRONTEND= -s ${opts} dist-upgrade`,
      `apt-cache DEBIAN_FRONTEND= ${opts} policy libssl3 openssl tzdata`,
    ]);
  });

  it('counts a security fix that only dist-upgrade applies (held back by upgrade for a new dependency)', () => {
    const { entry } = security(fullRoot('apt', APT_HELD, { policy: POLICY_HELD }));
    expect(entry?.status).toBe('fail');
    expect(entry?.evidence).toEqual(['libfoo']);
  });

  it("takes only the security suite of this release: another codename's is not it", () => {
    const { entry } = security(fullRoot('apt', APT_HELD, { policy: POLICY_HELD, codename: 'trixie' }));
    expect(entry?.status).toBe('pass');
  });

  it('passes when only non-security updates are pending', () => {
    const root = fullRoot('apt', APT_NONE, { policy: POLICY_NONE });
    const { run, entry, report } = security(root);
    expect(entry?.status).toBe('pass');
    expect(report.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(run.code).toBe(0);
  });

  it('counts the Ubuntu security pocket', () => {
    const { entry } = security(fullRoot('apt', APT_UBUNTU, { policy: POLICY_UBUNTU, codename: 'noble' }));
    expect(entry?.status).toBe('fail');
    expect(entry?.evidence).toEqual(['libc6']);
  });

  it('refreshes the package index only with --refresh', () => {
    const root = fullRoot('apt', APT_NONE);
    security(root, ['--refresh']);
    expect(readCalls(root)[0]).toBe(
      'apt-get DEBIAN_FRONTEND= -qq -o DPkg::Lock::Timeout=300 -o APT::Update::Error-Mode=any update',
    );
  });

  it('asks dnf for pending updates and security advisories and counts packages', () => {
    const root = fullRoot('dnf', DNF_PENDING, { checkUpdate: DNF_CHECK, rpm: DNF_RPM });
    const { entry } = security(root);
    expect(entry?.status).toBe('fail');
    expect(entry?.evidence).toEqual(['openssl', 'openssl-libs']);
    expect(readCalls(root).slice(0, 2)).toEqual([
      'dnf DEBIAN_FRONTEND= -q -C check-update',
      'dnf DEBIAN_FRONTEND= -q -C updateinfo list --security',
    ]);
    expect(readCalls(root)[2]).toMatch(/^rpm DEBIAN_FRONTEND= -qa --qf /);
  });

  it('understands the dnf 5 column layout too', () => {
    const dnf5 =
      'Name                  Type        Severity                 Package              Issued\n' +
      'RLSA-2025:0001 security    Important  curl-8.12.1-1.el10.x86_64 2025-01-02 00:00:00\n' +
      'RLSA-2025:0002 bugfix      None       tzdata-2025a-1.el10.noarch 2025-01-03 00:00:00\n';
    const checkUpdate = 'curl.x86_64 8.12.1-1.el10 baseos\ntzdata.noarch 2025a-1.el10 baseos\n';
    const { entry } = security(fullRoot('dnf', dnf5, { checkUpdate }));
    expect(entry?.evidence).toEqual(['curl']);
  });

  it('--pending-updates lists every pending update as data (what `mpimg outdated` reads), no checks', () => {
    const root = fullRoot('apt', APT_PENDING, { policy: POLICY_PENDING });
    const r = spawnSync('bash', [CHECK_SCRIPT, '--root', root, '--pending-updates'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        'distribution\tdebian 12 (bookworm)',
        'manager\tapt',
        'update\tlibssl3\t3.0.11-1~deb12u1\t3.0.11-1~deb12u2\t1\tbookworm-security',
        'update\topenssl\t3.0.11-1~deb12u1\t3.0.11-1~deb12u2\t1\tbookworm-security',
        'update\ttzdata\t2024a-0+deb12u1\t2025b-0+deb12u1\t0\tbookworm-updates',
        '',
      ].join('\n'),
    );
    const dnf = fullRoot('dnf', DNF_PENDING, { checkUpdate: DNF_CHECK, rpm: DNF_RPM });
    const d = spawnSync('bash', [CHECK_SCRIPT, '--root', dnf, '--pending-updates', '--refresh'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout.split('\n').slice(1)).toEqual([
      'manager\tdnf',
      'update\topenssl\t1:3.0.7-24.el9\t1:3.0.7-27.el9\t1\tbaseos',
      'update\topenssl-libs\t1:3.0.7-24.el9\t1:3.0.7-27.el9\t1\tbaseos',
      'update\tpython3-a-very-long-package-name-indeed\t-\t2.0-1.el9\t0\tappstream',
      '',
    ]);
    expect(readCalls(dnf).slice(0, 2)).toEqual([
      'dnf DEBIAN_FRONTEND= -q --refresh check-update',
      'dnf DEBIAN_FRONTEND= -q --refresh updateinfo list --security',
    ]);
  });

  it('--pending-updates says it could not tell (exit 1) on a staged root', () => {
    const r = spawnSync('bash', [CHECK_SCRIPT, '--root', cleanRoot(), '--pending-updates'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/pending updates need the package manager inside the image/);
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
    const root = fullRoot('apt', APT_PENDING, { policy: POLICY_PENDING });
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
