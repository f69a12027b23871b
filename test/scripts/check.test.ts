// The image check (templates/droplet/99-img-check.sh) run with real
// bash on staged roots built in temp dirs.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CHECK_SCRIPT,
  check,
  checkJson,
  cleanRoot,
  cleanupFixtures,
  dirty,
  leaks,
  put,
  treeHash,
} from './fixture-root.js';
import { LEFTOVER_IDS, SYSTEM_IDS } from './check-cases.js';

afterAll(cleanupFixtures);

describe('99-img-check.sh on a clean staged root', () => {
  it('passes every check (package-manager checks and sshd -t skipped with a reason), exit 0, no secrets', () => {
    const root = cleanRoot();
    const r = check(root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\[(FAIL|WARN)\]/);
    expect(r.stdout).toMatch(/^\[SKIP\] security-updates: .*not a full root filesystem/m);
    expect(r.stdout).toMatch(/^\[SKIP\] sshd-config: sshd -t not tested: .*not a full root filesystem/m);
    expect(r.stdout).toMatch(/^Summary: \d+ passed, 0 warnings, 0 failed, 2 skipped$/m);
    expect(r.stdout).toMatch(/^Result: PASS/m);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
  });

  it('prints one JSON report with id, status, message and evidence for every check', () => {
    const root = cleanRoot();
    const { run, report } = checkJson(root);
    expect(run.code).toBe(0);
    expect(report).toMatchObject({ tool: 'mpimg-img-check', version: 1, root, mode: 'staged', result: 'pass' });
    expect(report.summary).toEqual({ pass: report.checks.length - 2, warn: 0, fail: 0, skip: 2 });
    const ids = report.checks.map((c) => c.id);
    // Every check (but security-updates, tested in chroot.test.ts, and sshd-config, in sshd.test.ts)
    // has its fixture table.
    expect([...SYSTEM_IDS, ...LEFTOVER_IDS, 'security-updates', 'sshd-config'].sort()).toEqual([...ids].sort());
    expect(ids).toEqual([
      'os',
      'cloud-init',
      'openssh-server',
      'sshd-config',
      'sftp',
      'firewall',
      'security-updates',
      'passwords',
      'authorized-keys',
      'private-keys',
      'histories',
      'logs',
      'rotated-logs',
      'journal',
      'login-records',
      'cloud-init-data',
      'ssh-host-keys',
      'revoked-keys',
      'machine-id',
      'droplet-agent',
      'login-hold',
      'per-instance',
      'first-login',
      'motd',
      'root-run',
      'tmp',
      'package-caches',
      'swap',
      'bundle',
      'first-boot-secrets',
      'package-secrets',
    ]);
    for (const c of report.checks) {
      expect(typeof c.message).toBe('string');
      expect(Array.isArray(c.evidence)).toBe(true);
    }
    expect(report.checks.find((c) => c.id === 'cloud-init')?.evidence).toEqual([
      'version 22.4.2-1+deb12u1 (from /var/lib/dpkg/status)',
    ]);
  });

  it('counts warnings in the summary and result, and still exits 0', () => {
    const root = cleanRoot();
    put(root, 'etc/ufw/ufw.conf', 'ENABLED=no\n');
    put(root, 'var/tmp/x', 'x');
    const r = check(root);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Summary: \d+ passed, 2 warnings, 0 failed, 2 skipped$/m);
    expect(r.stdout).toMatch(/^Result: PASS with warnings/m);
    const { report } = checkJson(root);
    expect(report.result).toBe('warn');
    expect(report.summary.warn).toBe(2);
  });

  it('keeps the JSON valid and the text one line per item with odd file names', () => {
    const root = cleanRoot();
    put(root, 'tmp/we"ird\\name\nwith newline\tand tab', 'x');
    const { run, report } = checkJson(root);
    expect(report.checks.find((c) => c.id === 'tmp')?.evidence).toEqual(['/tmp/we"ird\\name?with newline?and tab']);
    expect(run.code).toBe(0);
    expect(check(root).stdout).toContain('       - /tmp/we"ird\\name?with newline?and tab\n');
  });

  it('has no side effects: the root is byte-identical afterwards, even when dirty', () => {
    const root = dirty(cleanRoot());
    const before = treeHash(root);
    check(root);
    check(root, ['--json']);
    expect(treeHash(root)).toBe(before);
  });

  it('uses colour only on a terminal and honours NO_COLOR', () => {
    const root = cleanRoot();
    expect(check(root).stdout).not.toContain('\u001b[');
    const tty = (env: NodeJS.ProcessEnv) =>
      spawnSync('script', ['-qec', `bash '${CHECK_SCRIPT}' --root '${root}'`, '/dev/null'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...env },
      }).stdout;
    expect(tty({})).toContain('\u001b[32m[PASS]');
    const plain = tty({ NO_COLOR: '1' });
    expect(plain).toContain('[PASS] os:');
    expect(plain).not.toContain('\u001b[');
  });

  it('rejects bad arguments with exit 2 and says how to fix them', () => {
    const root = cleanRoot();
    const missing = check(join(root, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is not a directory');
    const bad = check(root, ['--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown argument '--bogus'");
    expect(bad.stderr).toContain('--help');
  });
});

describe('99-img-check.sh on a dirty root', () => {
  it('fails with every finding listed, exit 1, and prints no secret', () => {
    const root = dirty(cleanRoot());
    const { run, report } = checkJson(root);
    expect(run.code).toBe(1);
    expect(report.result).toBe('fail');
    const byStatus = (s: string) => report.checks.filter((c) => c.status === s).map((c) => c.id);
    expect(byStatus('fail')).toEqual([
      'authorized-keys',
      'private-keys',
      'histories',
      'cloud-init-data',
      'ssh-host-keys',
      'revoked-keys',
      'machine-id',
      'bundle',
    ]);
    expect(byStatus('warn')).toEqual(['logs', 'rotated-logs', 'journal', 'login-records', 'tmp', 'package-caches']);
    const text = check(root);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^Summary: \d+ passed, 6 warnings, 8 failed, 2 skipped$/m);
    expect(leaks(run.stdout + text.stdout + text.stderr)).toEqual([]);
    // Evidence names files but never quotes them.
    expect(text.stdout).toContain('/root/.ssh/id_ecdsa');
    expect(text.stdout).not.toContain('PRIVATE KEY-----');
  });

  it('shows the secrets really are in the fixture (so the leak assertions can fail)', () => {
    const root = dirty(cleanRoot());
    const all = ['root/.bash_history', 'root/.ssh/id_ecdsa', 'etc/shadow']
      .map((f) => readFileSync(join(root, f), 'utf8'))
      .join('');
    expect(leaks(all).length).toBeGreaterThanOrEqual(3);
    expect(statSync(join(root, 'etc/shadow')).mode & 0o777).toBe(0o640);
  });
});
