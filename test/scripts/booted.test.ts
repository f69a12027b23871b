// The image check's --booted mode (what `mpimg verify` runs on a droplet made from the image):
// what first boot rightly made there is expected; what must still hold does. Real bash on staged roots.
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FAKE_PRIVATE_KEY,
  SLUG,
  VENDOR,
  check,
  checkJson,
  cleanRoot,
  cleanupFixtures,
  leaks,
  link,
  put,
  remove,
  tagOf,
  tempRoot,
} from './fixture-root.js';

afterAll(cleanupFixtures);

const SEED_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMpimgSeedKeyOfTheNewDroplet0000000000000 vendor@laptop';
const OTHER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBakedIntoTheImageByTheBuild00000000000000 build@droplet';
const PASSWORD = 'Fake-Admin-Password-0123456789';

/** A clean image after the first boot of a new droplet: what cloud-init and the image's steps made. */
function bootedRoot(): string {
  const root = cleanRoot();
  // The login hold was released by the last first-boot step.
  put(
    root,
    'etc/ssh/sshd_config',
    [
      'Include /etc/ssh/sshd_config.d/*.conf',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      '',
    ].join('\n'),
  );
  for (const k of ['rsa', 'ecdsa', 'ed25519']) {
    put(root, `etc/ssh/ssh_host_${k}_key`, FAKE_PRIVATE_KEY, 0o600);
    put(root, `etc/ssh/ssh_host_${k}_key.pub`, `ssh-${k} AAAAFAKE root@new-droplet\n`);
  }
  put(root, 'etc/machine-id', '0123456789abcdef0123456789abcdef\n', 0o444);
  put(root, 'root/.ssh/authorized_keys', `${SEED_KEY}\n`, 0o600);
  put(
    root,
    'run/cloud-init/instance-data.json',
    `${JSON.stringify({ v1: { instance_id: 'i-new', public_ssh_keys: [SEED_KEY] } }, null, 1)}\n`,
  );
  put(root, 'var/lib/cloud/instances/i-new/sem/config_scripts_per_instance', '');
  put(root, 'var/lib/cloud/instances/i-new/user-data.txt', '#cloud-config\n');
  link(root, 'var/lib/cloud/instance', '/var/lib/cloud/instances/i-new');
  put(root, 'var/lib/cloud/data/instance-id', 'i-new\n');
  put(root, 'var/log/cloud-init.log', 'boot\n');
  put(root, 'var/log/cloud-init-output.log', 'boot\n');
  put(root, 'var/log/syslog', 'Dec  1 sshd: started\n');
  put(root, `var/log/mpimg/${SLUG}/10-setup.log`, 'password saved\n');
  put(root, 'var/log/wtmp', Buffer.alloc(384, 1), 0o664);
  put(root, 'var/log/journal/0123abcd/system.journal', Buffer.alloc(4096, 4), 0o640);
  put(root, `root/.${SLUG}-credentials`, `ADMIN_PASSWORD='${PASSWORD}'\n`, 0o600);
  put(root, `var/lib/mpimg/${SLUG}/first-boot.last`, '10-setup 0\n');
  // first boot keeps its records root's alone (lib.sh's mpimg_run_first_boot)
  chmodSync(join(root, `var/lib/mpimg/${SLUG}`), 0o700);
  return root;
}

const booted = (root: string, args: string[] = []) => checkJson(root, ['--booted', ...args]);
const statusOf = (r: ReturnType<typeof booted>, id: string) => r.report.checks.find((c) => c.id === id)?.status;

describe('99-img-check.sh --booted', () => {
  it('passes a droplet after its first boot that the build-time check fails, and prints no secret', () => {
    const root = bootedRoot();
    const b = booted(root);
    expect(b.run.code, b.run.stdout + b.run.stderr).toBe(0);
    expect(b.report).toMatchObject({ booted: true, result: 'pass', summary: { fail: 0, warn: 0 } });
    expect(b.report.checks.find((c) => c.id === 'authorized-keys')).toMatchObject({
      status: 'pass',
      evidence: [
        '/root/.ssh/authorized_keys: 1 key(s) of the droplet (from /run/cloud-init/instance-data.json /var/lib/cloud/instance/user-data.txt)',
      ],
    });
    expect(b.report.checks.find((c) => c.id === 'cloud-init-data')?.evidence).toEqual(['instance i-new']);
    // The same droplet fails the check made for the image before its snapshot: that is the point of --booted.
    const built = checkJson(root);
    expect(built.run.code).toBe(1);
    expect(built.report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'authorized-keys',
      'cloud-init-data',
      'ssh-host-keys',
      'machine-id',
      'first-boot-secrets',
    ]);
    const text = check(root, ['--booted']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^mpimg image check of .* \(a droplet made from the image, after its first boot\)/m);
    expect(text.stdout).toMatch(/^\[PASS\] ssh-host-keys: SSH host keys made at first boot$/m);
    expect(text.stdout).toMatch(/^\[PASS\] logs: logs written since boot/m);
    // The credentials file first boot wrote is no finding, and its contents never show.
    expect(text.stdout + b.run.stdout).not.toContain(PASSWORD);
    expect(text.stdout).not.toContain(`.${SLUG}-credentials`);
    expect(leaks(text.stdout + text.stderr + b.run.stdout + b.run.stderr)).toEqual([]);
  });

  it("fails a key in authorized_keys that is not one of the droplet's own (it came with the image)", () => {
    const root = bootedRoot();
    put(root, 'root/.ssh/authorized_keys', `${SEED_KEY}\n# a comment\n\n${OTHER_KEY}\n`, 0o600);
    const b = booted(root);
    expect(b.run.code).toBe(1);
    expect(b.report.checks.find((c) => c.id === 'authorized-keys')).toMatchObject({
      status: 'fail',
      evidence: ["/root/.ssh/authorized_keys: 1 key(s) that are not the droplet's own SSH keys"],
    });
    expect(tagOf(check(root, ['--booted']).stdout, 'authorized-keys')).toBe('FAIL');
  });

  it("takes the droplet's keys from --seed-keys, from the NoCloud seed, or warns when nothing names them", () => {
    const root = bootedRoot();
    remove(root, 'run/cloud-init');
    remove(root, 'var/lib/cloud/instances/i-new/user-data.txt');
    const none = booted(root);
    expect(none.run.code).toBe(0);
    expect(statusOf(none, 'authorized-keys')).toBe('warn');

    const dir = tempRoot('mpimg-seed-');
    const keys = put(dir, 'keys', `${SEED_KEY}\n`);
    expect(statusOf(booted(root, ['--seed-keys', keys]), 'authorized-keys')).toBe('pass');
    put(dir, 'keys', `${OTHER_KEY}\n`);
    expect(statusOf(booted(root, ['--seed-keys', keys]), 'authorized-keys')).toBe('fail');

    put(root, 'var/lib/cloud/seed/nocloud/meta-data', `instance-id: i-new\npublic-keys:\n  - ${SEED_KEY}\n`);
    expect(statusOf(booted(root), 'authorized-keys')).toBe('pass');
  });

  it("fails cloud-init data of another instance (the build droplet's) and a dangling instance link", () => {
    const root = bootedRoot();
    put(root, 'var/lib/cloud/instances/i-build/user-data.txt', '#cloud-config\n', 0o600);
    const b = booted(root);
    expect(b.run.code).toBe(1);
    expect(b.report.checks.find((c) => c.id === 'cloud-init-data')).toMatchObject({
      status: 'fail',
      evidence: ["/var/lib/cloud/instances/i-build/ (not this droplet's instance i-new)"],
    });
    remove(root, 'var/lib/cloud/instances');
    const dangling = booted(root);
    expect(dangling.report.checks.find((c) => c.id === 'cloud-init-data')).toMatchObject({
      status: 'fail',
      evidence: ['/var/lib/cloud/instance (dangling link)'],
    });
  });

  it('fails a login hold that was not released, in sshd_config or as its drop-in', () => {
    for (const where of ['config', 'drop-in'] as const) {
      const root = bootedRoot();
      const block = [
        `# >>> mpimg:${SLUG} login-hold >>>`,
        'Match User root',
        `\tForceCommand /opt/${VENDOR}/${SLUG}/login-hold wait`,
        'Match all',
        `# <<< mpimg:${SLUG} login-hold <<<`,
        '',
      ].join('\n');
      if (where === 'config')
        put(root, 'etc/ssh/sshd_config', `${readFileSync(join(root, 'etc/ssh/sshd_config'), 'utf8')}${block}`);
      else put(root, `etc/ssh/sshd_config.d/00-${SLUG}-login-hold.conf`, block);
      const text = check(root, ['--booted']);
      expect(text.code, where).toBe(1);
      expect(text.stdout).toMatch(/^\[FAIL\] login-hold: the login hold was not released after first boot/m);
      // Before the snapshot the same hold, with its release script, is what the image should have.
      expect(tagOf(check(root).stdout, 'login-hold')).toBe('PASS');
    }
  });

  it('still fails what must hold on every droplet: private keys, histories, a ForceCommand of its own', () => {
    const root = bootedRoot();
    put(root, 'root/.ssh/id_ed25519', FAKE_PRIVATE_KEY, 0o600);
    put(root, 'root/.bash_history', 'ls\n', 0o600);
    put(root, 'etc/ssh/sshd_config.d/50-x.conf', 'ForceCommand /bin/false\n');
    const b = booted(root);
    expect(b.run.code).toBe(1);
    expect(b.report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([
      'private-keys',
      'histories',
      'login-hold',
    ]);
    expect(leaks(b.run.stdout)).toEqual([]);
  });

  it('--seed-keys needs --booted and a readable file (exit 2)', () => {
    const root = bootedRoot();
    const a = check(root, ['--seed-keys', '/nonexistent']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--seed-keys goes with --booted');
    const b = check(root, ['--booted', '--seed-keys', join(root, 'nope')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('is not a readable file');
    expect(check(root, ['--help']).stdout).toContain('--booted');
  });
});
