// The image check's sshd-config and sftp checks with this machine's real sshd (copied with its
// libraries into full fixture roots): `sshd -t` / `sshd -T` run with chroot in a private mount
// namespace (--root), or inside a chroot as on a live system. sshd only parses its config here:
// it never listens.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROOT_ENV,
  type CheckReport,
  check,
  checkJson,
  chrootCommand,
  cleanupFixtures,
  fullRoot,
  leaks,
  liveCheck,
  liveRoot,
  put,
  tagOf,
  treeHash,
} from './fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests chroot into fixture roots and must run as root (CI does)');
});

const APT_NONE = 'Reading package lists...\n';
const entry = (report: CheckReport, id: string) => report.checks.find((c) => c.id === id);
const mountsUnder = (root: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(root));

// The Lessons case: something appended after the login-hold block lands inside its Match.
const OPEN_MATCH = 'UsePAM yes\n';

describe('sshd -t on a full root (--root, chroot in a private mount namespace)', () => {
  it('a good config passes, sftp comes from sshd -T; nothing is left in the root or mounted', () => {
    const root = fullRoot('apt', APT_NONE);
    // The image, but for the log the fixture's fake apt-get writes.
    const image = () => ['etc', 'run', 'dev', 'tmp', 'usr', 'var', 'root'].map((d) => treeHash(join(root, d))).join();
    const before = image();
    const { run, report } = checkJson(root);
    expect(report.mode).toBe('chroot');
    expect(entry(report, 'sshd-config'), run.stderr).toMatchObject({
      status: 'pass',
      message: 'sshd accepts its configuration (sshd -t)',
    });
    expect(entry(report, 'sshd-config')?.evidence[0]).toMatch(
      /^\/usr\/sbin\/sshd -t -f \/etc\/ssh\/sshd_config with a throw-away host key, inside /,
    );
    expect(entry(report, 'sftp')).toMatchObject({
      status: 'pass',
      evidence: ['Subsystem sftp /usr/lib/openssh/sftp-server (sshd -T for a root login)'],
    });
    expect(run.code).toBe(0);
    // The throw-away key lived in the namespace's tmpfs: the image is byte-identical, no mount is left.
    expect(image()).toBe(before);
    expect(mountsUnder(root)).toEqual([]);
    expect(run.stdout + run.stderr).not.toMatch(/PRIVATE KEY|mpimg-check\/hostkey/);
  });

  it("a Match block left open before a global keyword: FAIL with sshd's reason, exit 1", () => {
    const root = fullRoot('apt', APT_NONE);
    appendFileSync(join(root, 'etc/ssh/sshd_config'), OPEN_MATCH);
    const { run, report } = checkJson(root);
    const e = entry(report, 'sshd-config');
    expect(e?.status, JSON.stringify(e)).toBe('fail');
    expect(e?.message).toMatch(/^sshd rejects its configuration \(sshd -t, exit 255\): sshd would not start/);
    expect(e?.evidence).toEqual([
      "/etc/ssh/sshd_config line 10: Directive 'UsePAM' is not allowed within a Match block",
    ]);
    expect(run.code).toBe(1);
    // The text report carries the same verdict.
    const text = check(root);
    expect(tagOf(text.stdout, 'sshd-config')).toBe('FAIL');
    expect(text.stdout).toMatch(/^Result: FAIL/m);
    expect(text.code).toBe(1);
  });

  it('the same keyword after "Match all" passes', () => {
    const root = fullRoot('apt', APT_NONE);
    appendFileSync(join(root, 'etc/ssh/sshd_config'), `Match all\n${OPEN_MATCH}`);
    expect(entry(checkJson(root).report, 'sshd-config')?.status).toBe('pass');
  });

  it('a bad keyword in a drop-in fails', () => {
    const root = fullRoot('apt', APT_NONE);
    put(root, 'etc/ssh/sshd_config.d/50-vendor.conf', 'PermitRootLogn yes\n');
    const e = entry(checkJson(root).report, 'sshd-config');
    expect(e?.status).toBe('fail');
    expect(e?.evidence.join('\n')).toMatch(/50-vendor\.conf: line 1: Bad configuration option: PermitRootLogn/);
  });

  it('an image without the sshd privilege separation user fails: its sshd would not start', () => {
    const root = fullRoot('apt', APT_NONE);
    put(root, 'etc/passwd', readFileSync(join(root, 'etc/passwd'), 'utf8').replace(/^sshd:.*\n/m, ''));
    const e = entry(checkJson(root).report, 'sshd-config');
    expect(e?.status).toBe('fail');
    expect(e?.evidence).toEqual(['Privilege separation user sshd does not exist']);
  });

  it('no sftp subsystem: WARN from sshd -T, exit 0', () => {
    const root = fullRoot('apt', APT_NONE);
    put(
      root,
      'etc/ssh/sshd_config',
      readFileSync(join(root, 'etc/ssh/sshd_config'), 'utf8').replace(/^Subsystem sftp .*\n/m, ''),
    );
    const { run, report } = checkJson(root);
    expect(entry(report, 'sshd-config')?.status).toBe('pass');
    expect(entry(report, 'sftp')).toMatchObject({
      status: 'warn',
      evidence: ['no Subsystem sftp (sshd -T for a root login)'],
    });
    expect(entry(report, 'sftp')?.message).toContain('the Marketplace guide recommends sftp');
    expect(run.code).toBe(0);
  });
});

describe('sshd -t on the running system (the check run inside a chroot, no --root)', () => {
  const liveSshd = (root: string) => {
    const r = liveCheck(root);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    return r;
  };

  it('passes a good config and removes its throw-away key dir', () => {
    const root = liveRoot();
    const r = liveSshd(root);
    expect(r.stdout).toMatch(/^mpimg image check of \/\n/);
    expect(tagOf(r.stdout, 'sshd-config'), r.stdout + r.stderr).toBe('PASS');
    expect(tagOf(r.stdout, 'sftp')).toBe('PASS');
    expect(readdirSync(join(root, 'tmp')).filter((f) => f.startsWith('mpimg-check'))).toEqual([]);
  });

  it('fails an open Match block', () => {
    const root = liveRoot();
    appendFileSync(join(root, 'etc/ssh/sshd_config'), OPEN_MATCH);
    const r = liveSshd(root);
    expect(tagOf(r.stdout, 'sshd-config')).toBe('FAIL');
    expect(r.stdout).toContain(
      "       - /etc/ssh/sshd_config line 10: Directive 'UsePAM' is not allowed within a Match block\n",
    );
    expect(r.code).toBe(1);
    expect(readdirSync(join(root, 'tmp')).filter((f) => f.startsWith('mpimg-check'))).toEqual([]);
  });

  it('interrupted (Ctrl-C) while sshd runs: the throw-away key dir is removed too', async () => {
    const root = liveRoot();
    // An sshd that takes its time, so that the interrupt lands while the key exists.
    put(root, 'usr/sbin/sshd', '#!/bin/sh\n: > /sshd-started\nexec sleep 60\n', 0o755);
    const [cmd, args] = chrootCommand(root, ['/usr/bin/bash', '/mpimg-test/99-img-check.sh']);
    const child = spawn(cmd, args, { env: CHROOT_ENV, detached: true, stdio: 'ignore' });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    for (let i = 0; i < 200 && !existsSync(join(root, 'sshd-started')); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(root, 'sshd-started'))).toBe(true);
    expect(readdirSync(join(root, 'tmp')).filter((f) => f.startsWith('mpimg-check'))).toHaveLength(1);
    // The terminal sends SIGINT to the whole foreground process group.
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    for (let i = 0; i < 40 && readdirSync(join(root, 'tmp')).some((f) => f.startsWith('mpimg-check')); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(readdirSync(join(root, 'tmp')).filter((f) => f.startsWith('mpimg-check'))).toEqual([]);
  });
});
