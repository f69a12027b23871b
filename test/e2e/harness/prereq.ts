import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Host programs the e2e suite runs, with the Debian package that provides each (for the fix hint). */
export const HOST_TOOLS: ReadonlyArray<{ cmd: string; pkg: string; why: string }> = [
  { cmd: 'debootstrap', pkg: 'debootstrap', why: 'builds the Debian root filesystems' },
  { cmd: 'unshare', pkg: 'util-linux', why: 'fresh mount/uts/ipc/pid namespaces' },
  { cmd: 'setpriv', pkg: 'util-linux', why: 'drops CAP_NET_ADMIN and friends before chroot' },
  { cmd: 'nsenter', pkg: 'util-linux', why: 'powers off the systemd-nspawn boot' },
  { cmd: 'mount', pkg: 'mount', why: 'overlayfs layers' },
  { cmd: 'umount', pkg: 'mount', why: 'teardown' },
  { cmd: 'chroot', pkg: 'coreutils', why: 'runs everything inside the root filesystem' },
  { cmd: 'tar', pkg: 'tar', why: 'root filesystem cache' },
  { cmd: 'zstd', pkg: 'zstd', why: 'root filesystem cache compression' },
  { cmd: 'systemd-nspawn', pkg: 'systemd-container', why: 'the boot with systemd as PID 1' },
  { cmd: 'ssh', pkg: 'openssh-client', why: 'logins into the droplet sshd' },
  { cmd: 'scp', pkg: 'openssh-client', why: 'the scp-does-not-trigger-first-login scenario' },
  { cmd: 'ssh-keygen', pkg: 'openssh-client', why: 'test keys' },
  { cmd: 'make', pkg: 'make', why: "runs the generated project's Makefile" },
  { cmd: 'ip', pkg: 'iproute2', why: 'proves the host network is left alone' },
  {
    cmd: 'slirp4netns',
    pkg: 'slirp4netns',
    why: "build droplets' own network, carried through this machine's sockets",
  },
  { cmd: 'pebble', pkg: 'pebble', why: 'the local ACME server droplets ask for TLS certificates' },
];

function onPath(cmd: string, path: string): boolean {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/** Every reason the e2e suite cannot run here, each with its fix. Empty means ready. */
export function prerequisiteProblems({
  env = process.env,
  uid = process.getuid?.() ?? -1,
}: { env?: NodeJS.ProcessEnv; uid?: number } = {}): string[] {
  const problems: string[] = [];
  if (uid !== 0) {
    problems.push(
      'not running as root: the e2e suite mounts overlayfs, creates namespaces and chroots.\n    fix: run it as root, e.g. `sudo npm run test:e2e` (CI runs it as root)',
    );
  }
  const path = `${env.PATH ?? ''}:/usr/sbin:/sbin`;
  const missing = HOST_TOOLS.filter((t) => !onPath(t.cmd, path));
  if (missing.length) {
    const pkgs = [...new Set(missing.map((t) => t.pkg))];
    problems.push(
      `missing programs: ${missing.map((t) => `${t.cmd} (${t.why})`).join(', ')}\n    fix: apt-get install -y ${pkgs.join(' ')}`,
    );
  }
  let fs = '';
  try {
    fs = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    /* reported below */
  }
  if (!/\boverlay\b/.test(fs)) {
    problems.push(
      'the kernel offers no overlayfs (not in /proc/filesystems).\n    fix: `modprobe overlay`, or run on a kernel with overlayfs',
    );
  }
  return problems;
}

export function assertPrerequisites(opts: { env?: NodeJS.ProcessEnv; uid?: number } = {}): void {
  const problems = prerequisiteProblems(opts);
  if (problems.length) {
    throw new Error(
      `e2e prerequisites missing, the suite cannot run (it never skips):\n  - ${problems.join('\n  - ')}`,
    );
  }
}
