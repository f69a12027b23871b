/**
 * The test lanes (vitest.config.ts projects). `unit` needs only what a fresh Node machine has, as an
 * ordinary user: `npm run test:unit`. `system` needs root or Debian packages (a real sshd, shellcheck,
 * packer, gpg, make, chroots, ...). `npm test` runs both; `npm run test:e2e` the Debian bed.
 *
 * A file not listed in SYSTEM_TESTS is a unit test. In the unit lane the commands of SYSTEM_COMMANDS
 * are stubs that fail naming the fix, so a unit test that needs one fails there (also as root in CI)
 * instead of passing only on machines that happen to have it.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYSTEM_TESTS: readonly string[] = [
  // root: chroots, tmpfs mounts, useradd --root, chown, dropping to another uid
  'test/bundle/build-script.test.ts',
  'test/bundle/build-policy.test.ts',
  'test/bundle/build-remove.test.ts',
  'test/bundle/freshen.test.ts',
  'test/bundle/break23-freshen.test.ts',
  'test/bundle/service-check.test.ts',
  'test/bundle/debconf.test.ts',
  'test/bundle/fail2ban.test.ts',
  'test/bundle/caddy.test.ts',
  'test/bundle/docker.test.ts',
  'test/bundle/autoupdates.test.ts',
  'test/scripts/check-hardening.test.ts',
  'test/bundle/build-property.test.ts',
  'test/generators/new-command.test.ts',
  'test/runtime/catalog-droplet.test.ts',
  'test/runtime/services-dbaas.test.ts',
  'test/runtime/after-first-boot.test.ts',
  'test/runtime/droplet-scripts.test.ts',
  'test/runtime/first-boot-secrets.test.ts',
  'test/runtime/first-boot-secrets-image.test.ts',
  'test/runtime/first-boot-secrets-lock.test.ts',
  'test/runtime/regenerate.test.ts',
  'test/runtime/credential-lock.test.ts',
  'test/runtime/hostile-names.test.ts',
  'test/runtime/install-safety.test.ts',
  'test/runtime/login-hold.test.ts',
  'test/runtime/root-guard.test.ts',
  'test/runtime/stages.test.ts',
  'test/generators/subgenerators.test.ts',
  'test/scripts/blocks.test.ts',
  'test/scripts/careless.test.ts',
  'test/scripts/chroot.test.ts',
  // a real apt-get update in a network namespace of its own; chroots of fixture roots
  'test/scripts/break23.test.ts',
  // the real dnf, rpm, rpmbuild, createrepo_c in a private mount namespace
  'test/scripts/pending-dnf.test.ts',
  'test/scripts/cleanup.test.ts',
  'test/scripts/live-guard.test.ts',
  'test/scripts/sshd.test.ts',
  'test/scripts/symlinks.test.ts',
  // the image check on a staged root: its root-run check wants the tree owned by root (as another user
  // every file is that user's, so it FAILs), and fixtures chown to app users
  'test/scripts/check.test.ts',
  'test/scripts/check-system.test.ts',
  'test/scripts/check-leftovers.test.ts',
  'test/scripts/check-firewall.test.ts',
  'test/scripts/booted.test.ts',
  // chown to another user, a tmpfs mount
  'test/runtime/first-boot-secrets-attacks.test.ts',
  // a droplet root behind a real sshd (mknod, sshd, ssh-keygen)
  'test/do/image-all.test.ts',
  'test/do/image-ssh.test.ts',
  'test/do/verify-command.test.ts',
  'test/do/outdated-command.test.ts',
  'test/do/verify-task.test.ts',
  'test/tasks/catalog.test.ts',
  'test/tasks/build-secrets.test.ts',
  // also the real dnf, rpmbuild and createrepo_c (a private rpm repository behind basic auth)
  'test/tasks/dnf-repository-auth.test.ts',
  'test/tasks/dnf-repository-signed-ssh.test.ts',
  'test/tasks/record.test.ts',
  'test/tasks/child-env.test.ts',
  'test/tasks/cloud-init.test.ts',
  'test/tasks/connection.test.ts',
  'test/tasks/hostkeys-wait.test.ts',
  'test/tasks/mpimgfile.test.ts',
  'test/tasks/series.test.ts',
  'test/tasks/ssh-options.test.ts',
  'test/tasks/timeout.test.ts',
  'test/tasks/transfer.test.ts',
  // ufw and firewalld (network namespaces of the test's own)
  'test/bundle/firewall-ufw.test.ts',
  'test/bundle/firewall-firewalld.test.ts',
  // the real rpm, rpmsign, createrepo_c and dnf in a root of its own (a signed repository; a login)
  'test/bundle/dnf-repository-signed.test.ts',
  'test/bundle/fail2ban-dnf.test.ts',
  'test/bundle/dnf-repository-metadata.test.ts',
  'test/bundle/motd-login-rhel.test.ts',
  // shellcheck, packer, make, apt-ftparchive/gpg
  'test/cli-shellcheck.test.ts',
  'test/cli/validate.test.ts',
  'test/bundle/packer-template.test.ts',
  'test/bundle/packer-build-secrets.test.ts',
  'test/bundle/packer-repository-auth.test.ts',
  'test/bundle/packer-record.test.ts',
  'test/bundle/packer-version.test.ts',
  'test/cli/bundle-out.test.ts',
  'test/cli/project-option.test.ts',
  'test/examples.test.ts',
  'test/generators/first-hour.test.ts',
  'test/generators/package-source.test.ts',
  'test/runtime/shellcheck.test.ts',
  'test/scripts/lint.test.ts',
  'test/tasks/shell-scripts.test.ts',
  'test/do/packer.test.ts',
  'test/cli/run-log.test.ts',
  'test/do/workflow.test.ts',
  'test/do/workflow-refresh.test.ts',
  'test/generators/integration.test.ts',
  'test/generators/project-scripts.test.ts',
  'test/readme.test.ts',
  'test/helpers/apt-repo.test.ts',
  'test/import/recognizers.test.ts',
  'test/import/layouts.test.ts',
];

/**
 * Commands a fresh Node machine (Debian's essential packages plus Node) does not have, or that need
 * root: from shellcheck, openssh-client/-server, packer, procps, make, gnupg, apt-utils, dpkg-dev, dnf, rpm,
 * createrepo-c,
 * ufw, firewalld, debootstrap, systemd-container, sudo, and util-linux's root-only tools.
 */
export const SYSTEM_COMMANDS: readonly string[] = [
  'shellcheck',
  'ssh',
  'sshd',
  'ssh-keygen',
  'ssh-keyscan',
  'ssh-agent',
  'ssh-add',
  'scp',
  'sftp',
  'packer',
  'ps',
  'pgrep',
  'pkill',
  'make',
  'gmake',
  'gpg',
  'gpgv',
  'gpg-agent',
  'gpgconf',
  'apt-ftparchive',
  'dpkg-scanpackages',
  'dnf',
  'rpmbuild',
  'createrepo_c',
  'ufw',
  'firewall-cmd',
  'debootstrap',
  'systemd-nspawn',
  'sudo',
  'runuser',
  'setpriv',
  'unshare',
  'nsenter',
  'chroot',
  'mount',
  'umount',
  'caddy',
];

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The folder of the unit lane's stubs (first on its PATH). */
export const UNIT_STUBS = join(repoRoot, 'node_modules', '.cache', 'mpimg-unit-lane', 'bin');

/** Writes the stubs: each prints what it is and where the test belongs, and exits 127 (not found). */
export function writeUnitStubs(): void {
  mkdirSync(UNIT_STUBS, { recursive: true });
  for (const cmd of SYSTEM_COMMANDS) {
    const file = join(UNIT_STUBS, cmd);
    writeFileSync(
      file,
      `#!/bin/sh\necho "unit test lane: ${cmd} is not on a fresh Node machine (or needs root); a test that runs it belongs in SYSTEM_TESTS of test/lanes.ts" >&2\nexit 127\n`,
    );
    chmodSync(file, 0o755);
  }
}
