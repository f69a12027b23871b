/**
 * The image check's fail2ban and auto-updates checks (--fail2ban JAILS, --security-updates REBOOT,
 * as the bundle passes mpimg.json's $.fail2ban and $.securityUpdates), run as on the droplet inside
 * roots the REAL build steps configured (test/helpers/host-root.ts: this machine's fail2ban, apt and
 * unattended-upgrades, /usr read-only): fail2ban's own dump and apt-config's are what it reads; with
 * --booted a real fail2ban server runs in the root and answers `fail2ban-client status JAIL`.
 * Staged roots (--root, where nothing can run) are read from the files.
 */
import { readFileSync, symlinkSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../runtime/manifest.js';
import { imageCheckArgs } from '../../runtime/script-args.js';
import { loadProject } from '../../tasks/bundle/project.js';
import { writeBundle } from '../../tasks/bundle/write-bundle.js';
import { hostRoot, inHostRoot, processesIn } from '../helpers/host-root.js';
import { makeProject } from '../helpers/project-fixture.js';
import { CHECK_SCRIPT, check, checkJson, cleanRoot, dir, put, type CheckReport } from './fixture-root.js';

beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('these tests run fail2ban and apt in namespaces of their own: run them as root');
});

const MANIFEST: Partial<Manifest> = {
  fail2ban: { jails: ['sshd', 'nginx-http-auth'] },
  securityUpdates: { automatic: true, reboot: '04:30' },
};

/** A Debian root the build's fail2ban and autoupdates steps configured, with the image check in it. */
function builtRoot(manifest: Partial<Manifest> = MANIFEST): string {
  const b = writeBundle(loadProject(makeProject({ manifest })));
  const root = hostRoot('debian');
  cpSync('/etc/fail2ban', join(root, 'etc/fail2ban'), { recursive: true });
  put(root, 'etc/apt/apt.conf.d/50unattended-upgrades', readFileSync('/etc/apt/apt.conf.d/50unattended-upgrades'));
  put(root, 'var/log/nginx/error.log', '');
  symlinkSync('/run', join(root, 'var/run'));
  put(root, 'mpimg-test/build.sh', readFileSync(b.build), 0o755);
  put(root, 'mpimg-test/99-img-check.sh', readFileSync(CHECK_SCRIPT), 0o755);
  const r = inHostRoot(root, 'sh /mpimg-test/build.sh fail2ban autoupdates');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return root;
}

const checkArgs = (m: Partial<Manifest> = MANIFEST) =>
  imageCheckArgs({ slug: 'acme-wiki', vendor: 'acme', ...m }, readFileSync(CHECK_SCRIPT, 'utf8'));

/** The check run inside the root as on the droplet (no --root); `before` runs first in the same namespaces. */
function liveCheck(root: string, args: string[], before = ':'): CheckReport {
  const words = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = inHostRoot(root, `${before}; bash /mpimg-test/99-img-check.sh --json ${words}`);
  expect(r.stdout, r.stderr).toMatch(/^\{/);
  return JSON.parse(r.stdout) as CheckReport;
}
const pick = (report: CheckReport, id: string) => {
  const c = report.checks.find((x) => x.id === id);
  return c && { status: c.status, message: c.message, evidence: c.evidence };
};

describe('the image check of $.fail2ban and $.securityUpdates', () => {
  it('the bundle passes both from mpimg.json', () => {
    expect(checkArgs().slice(-4)).toEqual(['--fail2ban', 'sshd nginx-http-auth', '--security-updates', '04:30']);
    const without = checkArgs({ securityUpdates: { automatic: false } });
    expect(without).not.toContain('--security-updates');
    expect(without).not.toContain('--fail2ban');
  });

  it('passes a root the build configured, as fail2ban and apt themselves read it', () => {
    const root = builtRoot();
    const report = liveCheck(root, checkArgs());
    expect(pick(report, 'fail2ban')).toEqual({
      status: 'pass',
      message: 'fail2ban enabled at boot with the jails of mpimg.json (sshd nginx-http-auth)',
      evidence: [],
    });
    expect(pick(report, 'auto-updates')).toEqual({
      status: 'pass',
      message: 'unattended-upgrades installs security updates only, daily, reboot: 04:30',
      evidence: [],
    });
  });

  it('fails on a jail missing or extra, fail2ban off at boot, other origins, another reboot policy', () => {
    const root = builtRoot();
    put(
      root,
      'etc/fail2ban/jail.d/zz-late.local',
      '[nginx-http-auth]\nenabled = false\n[pam-generic]\nenabled = true\nbackend = systemd\n',
    );
    put(root, 'etc/apt/apt.conf.d/60vendor', 'Unattended-Upgrade::Origins-Pattern { "origin=*"; };\n');
    inHostRoot(root, 'rm /etc/systemd/system/multi-user.target.wants/fail2ban.service');
    const report = liveCheck(root, ['--fail2ban', 'sshd nginx-http-auth', '--security-updates', 'never']);
    expect(pick(report, 'fail2ban')).toEqual({
      status: 'fail',
      message: "fail2ban is not as mpimg.json says (below): run the build's fail2ban step again",
      evidence: [
        'fail2ban.service is not enabled at boot',
        'jail nginx-http-auth: not enabled (read by fail2ban-client -d)',
        'jail pam-generic: enabled, but not in mpimg.json',
      ],
    });
    expect(pick(report, 'auto-updates')?.status).toBe('fail');
    expect(pick(report, 'auto-updates')?.evidence).toEqual([
      'unattended-upgrades also installs from: origin=*',
      'Unattended-Upgrade::Automatic-Reboot is "true": mpimg.json says never',
    ]);
  });

  it('fails when fail2ban refuses its configuration (it would not start)', () => {
    const root = builtRoot();
    inHostRoot(root, 'rm /var/log/nginx/error.log');
    const report = liveCheck(root, ['--fail2ban', 'sshd nginx-http-auth']);
    expect(pick(report, 'fail2ban')?.status).toBe('fail');
    expect(pick(report, 'fail2ban')?.message).toMatch(/^fail2ban refuses its configuration/);
  });

  it('--booted: each jail answers fail2ban-client status from a running fail2ban; none when it is not running', () => {
    const root = builtRoot();
    dir(root, 'run/fail2ban');
    dir(root, 'var/lib/fail2ban');
    const running = liveCheck(
      root,
      [...checkArgs(), '--booted'],
      'fail2ban-client -x start >/dev/null 2>&1; i=0; until fail2ban-client ping >/dev/null 2>&1 || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done',
    );
    expect(pick(running, 'fail2ban')).toEqual({
      status: 'pass',
      message:
        'fail2ban enabled at boot with the jails of mpimg.json (sshd nginx-http-auth), each answering fail2ban-client status',
      evidence: [],
    });
    const stopped = liveCheck(root, [...checkArgs(), '--booted']);
    expect(pick(stopped, 'fail2ban')?.status).toBe('fail');
    expect(pick(stopped, 'fail2ban')?.evidence).toEqual([
      'fail2ban-client status sshd: no answer (is fail2ban running? systemctl status fail2ban)',
      'fail2ban-client status nginx-http-auth: no answer (is fail2ban running? systemctl status fail2ban)',
    ]);
    expect(processesIn(root)).toEqual([]);
  });

  it('a staged root: fail2ban read from its files; apt-config cannot run there, so that check is skipped', () => {
    const root = cleanRoot();
    put(root, 'usr/bin/fail2ban-client', '#!/bin/sh\nexit 1\n', 0o755);
    put(root, 'usr/bin/unattended-upgrade', '#!/bin/sh\nexit 1\n', 0o755);
    put(root, 'usr/bin/apt-config', '#!/bin/sh\nexit 1\n', 0o755);
    put(root, 'etc/fail2ban/jail.conf', '[DEFAULT]\nenabled = false\n[sshd]\nport = ssh\n[recidive]\nlogpath = x\n');
    put(root, 'etc/fail2ban/jail.d/defaults-debian.conf', '[sshd]\nenabled = true\n');
    put(root, 'etc/fail2ban/jail.d/acme-wiki.local', '[sshd]\nenabled = true\nbackend = systemd\n');
    const { report } = checkJson(root, ['--fail2ban', 'sshd recidive', '--security-updates', 'never']);
    if (report.mode !== 'staged') throw new Error(`expected a staged root, got ${report.mode}`);
    expect(pick(report, 'fail2ban')?.evidence).toEqual([
      'fail2ban.service is not enabled at boot',
      'jail recidive: not enabled (read by its files (fail2ban cannot run here))',
    ]);
    expect(pick(report, 'auto-updates')?.status).toBe('skip');
  });

  it('refuses a bad jail name or reboot policy as a usage error', () => {
    const root = cleanRoot();
    for (const args of [
      ['--fail2ban', 'sshd $(id)'],
      ['--fail2ban', ''],
      ['--security-updates', '25:00'],
      ['--security-updates'],
    ]) {
      const r = check(root, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
  });
});
