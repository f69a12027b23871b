// --root DIR never escapes through symlinks: every path both scripts touch or read under DIR is
// resolved inside DIR (an absolute link starts again at DIR, ".." stops at DIR). The "host" here is
// a temp dir standing for this machine: links in the root point into it, and it must not change.
import { existsSync, lstatSync, readFileSync, renameSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CheckReport,
  FAKE_PRIVATE_KEY,
  FAKE_TOKEN,
  checkJson,
  cleanup,
  cleanupFixtures,
  dirty,
  exists,
  fullRoot,
  leaks,
  link,
  put,
  remove,
  tempRoot,
  treeHash,
} from './fixture-root.js';

afterAll(cleanupFixtures);
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests chroot into fixture roots and must run as root (CI does)');
});

const entry = (report: CheckReport, id: string) => report.checks.find((c) => c.id === id);
const appendPasswd = (root: string, lines: string[]) =>
  put(root, 'etc/passwd', `${readFileSync(join(root, 'etc/passwd'), 'utf8')}${lines.join('\n')}\n`);

/**
 * A dirty full root whose /opt, /var, /run, /home/alice, /home/dave and some files are links
 * out of it, into `host`, which holds what a build droplet's own files would look like.
 */
function escapingRoot(): { root: string; host: string } {
  const host = tempRoot('mpimg-scripts-host-');
  const root = dirty(fullRoot('apt', ''));
  // /opt -> <host>/opt (an absolute link), with what the check flags and the cleanup would remove.
  put(host, 'opt/digitalocean/bin/droplet-agent', '', 0o755);
  put(host, 'opt/acme/acme-app.cjs', '"use strict";// mpimg-runtime 0.1.0\n');
  remove(root, 'opt');
  symlinkSync(join(host, 'opt'), join(root, 'opt'));
  // /home/alice -> <host>/home/alice, alice in the image's passwd.
  put(host, 'home/alice/.ssh/authorized_keys', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHOST alice@host\n', 0o600);
  put(host, 'home/alice/.ssh/id_ed25519', FAKE_PRIVATE_KEY, 0o600);
  put(host, 'home/alice/.bash_history', `export TOKEN=${FAKE_TOKEN}\n`, 0o600);
  put(host, 'home/alice/.bashrc', '# alice\n');
  link(root, 'home/alice', join(host, 'home/alice'));
  // /home/dave climbs out with "..": stops at the root.
  put(host, 'home/dave/.bash_history', 'ls\n', 0o600);
  link(root, 'home/dave', `${'../'.repeat(12)}${join(host, 'home/dave').slice(1)}`);
  // A loop: bounded, skipped.
  link(root, 'home/loop', '/home/loop');
  appendPasswd(root, [
    'alice:x:1001:1001::/home/alice:/bin/bash',
    'dave:x:1002:1002::/home/dave:/bin/bash',
    'loop:x:1003:1003::/home/loop:/bin/bash',
  ]);
  // /var -> <host>/var: the dirty /var of the image moves to the host.
  renameSync(join(root, 'var'), join(host, 'var'));
  symlinkSync(join(host, 'var'), join(root, 'var'));
  // /run -> <host>/run: the check's private tmpfs for sshd must not land there.
  put(host, 'run/keep', 'x');
  remove(root, 'run');
  symlinkSync(join(host, 'run'), join(root, 'run'));
  // Links in trees being cleaned, pointing out: removed as links, never followed.
  put(host, 'ssh/ssh_host_ed25519_key', FAKE_PRIVATE_KEY, 0o600);
  remove(root, 'etc/ssh/ssh_host_ed25519_key');
  link(root, 'etc/ssh/ssh_host_ed25519_key', join(host, 'ssh/ssh_host_ed25519_key'));
  put(host, 'tmpdir/file', 'x');
  link(root, 'tmp/escape', join(host, 'tmpdir'));
  link(root, 'tmp/work/inner', join(host, 'tmpdir'));
  put(host, 'machine-id', '0123456789abcdef0123456789abcdef\n');
  remove(root, 'etc/machine-id');
  link(root, 'etc/machine-id', join(host, 'machine-id'));
  // A dangling RevokedKeys link: created inside the image, not on the host.
  link(root, 'etc/ssh/revoked_keys', join(host, 'revoked_keys'));
  link(root, 'root/.ssh/authorized_keys2', join(host, 'home/alice/.ssh/authorized_keys'));
  return { root, host };
}

describe('--root with links pointing out of the root', () => {
  it('cleanup and check change nothing outside the root and never read there', () => {
    const { root, host } = escapingRoot();
    const before = treeHash(host);

    const pre = checkJson(root);
    expect(treeHash(host)).toBe(before);
    // Nothing of the host is reported as the image's.
    const all = pre.report.checks.flatMap((c) => c.evidence).join('\n');
    expect(all).not.toMatch(/alice|dave|droplet-agent|acme-app\.cjs/);
    expect(entry(pre.report, 'droplet-agent')?.status).toBe('pass');
    expect(entry(pre.report, 'bundle')?.evidence).toEqual(['/tmp/acme-app-install.sh']);
    expect(entry(pre.report, 'machine-id')?.status).toBe('pass');
    expect(entry(pre.report, 'logs')?.message).toBe('no /var/log');
    expect(entry(pre.report, 'sshd-config')).toMatchObject({
      status: 'skip',
      message: 'sshd -t not tested: the image has no /run directory',
    });
    expect(pre.run.stderr).toMatch(/cannot resolve \/home\/loop\/\.ssh inside .* \(a symlink loop\?\); not checked/);

    const r = cleanup(root);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    expect(treeHash(host)).toBe(before);
    expect(r.stderr).toMatch(/cannot resolve \/home\/loop\/\.bash_history inside .* \(a symlink loop\?\); skipped/);
    // The links themselves went; what they point to stayed.
    for (const l of ['etc/ssh/ssh_host_ed25519_key', 'tmp/escape', 'tmp/work', 'root/.ssh/authorized_keys2'])
      expect(exists(root, l), l).toBe(false);
    expect(existsSync(join(host, 'ssh/ssh_host_ed25519_key'))).toBe(true);
    // The dangling RevokedKeys link became the empty file sshd needs, inside the image.
    expect(existsSync(join(host, 'revoked_keys'))).toBe(false);
    expect(lstatSync(join(root, 'etc/ssh/revoked_keys')).isFile()).toBe(true);
    expect(statSync(join(root, 'etc/ssh/revoked_keys')).mode & 0o777).toBe(0o600);
    // An unresolvable path (the loop) is skipped, not an error.
    expect(r.stdout).toMatch(/^Summary: 12 steps, \d+ change\(s\), .* freed, 0 error\(s\)$/m);
    expect(r.code).toBe(0);

    checkJson(root);
    expect(treeHash(host)).toBe(before);
  });

  it('absolute links inside the image are followed inside the image (re-rooted), so nothing is missed', () => {
    const root = dirty(fullRoot('apt', ''));
    // /home/carol -> /srv/carol: absolute, meant for the image.
    put(root, 'srv/carol/.ssh/authorized_keys', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICAROL carol@laptop\n', 0o600);
    put(root, 'srv/carol/.bash_history', 'ls\n', 0o600);
    link(root, 'home/carol', '/srv/carol');
    appendPasswd(root, ['carol:x:1001:1001::/home/carol:/bin/bash']);
    // /var/log/app -> /srv/applogs (absolute) is another tree inside the image.
    put(root, 'srv/applogs/app.log', 'GET /\n');
    link(root, 'var/log/app', '/srv/applogs');
    // /etc/machine-id -> ../var/lib/dbus/machine-id (relative), as some systems have it.
    put(root, 'var/lib/dbus/machine-id', '0123456789abcdef0123456789abcdef\n');
    remove(root, 'etc/machine-id');
    link(root, 'etc/machine-id', '../var/lib/dbus/machine-id');

    const pre = checkJson(root).report;
    expect(entry(pre, 'authorized-keys')?.evidence).toContain('/srv/carol/.ssh/authorized_keys: 1 key(s)');
    expect(entry(pre, 'histories')?.evidence).toContain('/srv/carol/.bash_history (3 bytes)');
    expect(entry(pre, 'machine-id')?.status).toBe('fail');

    const r = cleanup(root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(exists(root, 'srv/carol/.ssh/authorized_keys')).toBe(false);
    expect(exists(root, 'srv/carol/.bash_history')).toBe(false);
    expect(readFileSync(join(root, 'var/lib/dbus/machine-id'), 'utf8')).toBe('');
    // A link inside /var/log is not a log: left as it is (the log it points to is in another tree).
    expect(readFileSync(join(root, 'srv/applogs/app.log'), 'utf8')).toBe('GET /\n');

    const post = checkJson(root);
    expect(
      post.report.checks.filter((c) => c.status === 'fail'),
      post.run.stdout,
    ).toEqual([]);
  });
});
