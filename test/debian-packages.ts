/**
 * The Debian packages the suites run (real sshd, shellcheck, packer, gpg, debootstrap, ...). The test
 * command installs what is missing when it runs as root on Debian, and otherwise stops and names the
 * packages and the command to install them: `npm test && npm run test:e2e` works as it is on a fresh
 * Debian machine. (.ci/run installs the same list before it runs the test command.)
 */
import { execFileSync, spawnSync } from 'node:child_process';

export const UNIT_PACKAGES = [
  'shellcheck',
  'openssh-server',
  'openssh-client',
  'packer',
  'util-linux',
  'procps',
  'make',
  'bsdutils',
  'gnupg',
  'apt-utils',
  'dpkg-dev',
  'jq',
  'git',
  'rpm',
  'dnf',
  'createrepo-c',
  'firewalld',
  'nftables',
  'ufw',
  'dbus-daemon',
  'iproute2',
  'ssl-cert',
  // $.fail2ban: the jail file tested by the real fail2ban-client (-t, -d) in roots of the tests
  'fail2ban',
  'python3-systemd',
  // $.securityUpdates: the apt files read back by the real unattended-upgrade --dry-run
  'unattended-upgrades',
  // $.caddy: the Caddyfile and the site script's sites read by the real caddy validate and caddy adapt
  'caddy',
  // $.docker: the DOCKER-USER rules read by the real iptables-restore, the unit by systemd-analyze verify
  'iptables',
  'systemd',
];
export const E2E_PACKAGES = [
  'debootstrap',
  'systemd-container',
  'zstd',
  'iproute2',
  'slirp4netns',
  'openssh-client',
  'openssh-server',
  'make',
  'util-linux',
  'gnupg',
  'apt-utils',
  'dpkg-dev',
  // the pebble fixture: a local ACME server copied into droplets (certbot and Caddy ask it for certificates)
  'pebble',
  // $.docker: the registry a build droplet pulls a compose project's image from (test/e2e/docker.test.ts)
  'docker-registry',
];

export function missingPackages(pkgs: readonly string[]): string[] {
  const q = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${Status}\\n', ...pkgs], { encoding: 'utf8' });
  if (q.error) return []; // not a Debian system: the suites' own checks name what is missing
  const installed = new Set(
    q.stdout
      .split('\n')
      .filter((l) => l.endsWith(' install ok installed'))
      .map((l) => l.split(' ')[0]),
  );
  return pkgs.filter((p) => !installed.has(p));
}

export function ensureDebianPackages(pkgs: readonly string[], suite: string): void {
  const missing = missingPackages(pkgs);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the ${suite} needs these Debian packages, which are missing: ${missing.join(' ')}\n  fix: sudo apt-get install -y --no-install-recommends ${missing.join(' ')} (or run the tests as root, which installs them)`,
    );
  }
  process.stderr.write(`[${suite}] installing the Debian packages the tests need: ${missing.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}
