import { spawn, type ChildProcess } from 'node:child_process';
import { run, type RunOptions, type RunResult } from './exec.js';

/**
 * Runs commands inside a root filesystem the tests made, never on this machine:
 * fresh mount/uts/ipc/pid namespaces (so mounts, hostname and processes die with the command),
 * a minimal /dev without any disk, /proc of the new pid namespace, read-only /sys, the given
 * directory as /run, and a bounding set without the capabilities that could touch the host's
 * network, clock, kernel modules or (through mknod) the host disks.
 */

export const DROPPED_CAPS = ['net_admin', 'sys_module', 'sys_time', 'sys_boot', 'sys_rawio', 'mknod'] as const;

export type Network = 'host' | 'private' | 'nat';

/**
 * The bounding set's removals for a network. A build droplet (nat) keeps CAP_NET_ADMIN: its network
 * namespace is its own, and ufw must probe netfilter there (without it, ufw silently leaves out
 * IPv6 `limit` rules).
 */
function droppedCaps(network: Network): string {
  return DROPPED_CAPS.filter((c) => c !== 'net_admin' || network !== 'nat')
    .map((c) => `-${c}`)
    .join(',');
}

/** The address a droplet with a private network has (TEST-NET-2: never routed anywhere). */
export const DROPLET_IP = '198.51.100.10';
const DROPLET_CIDR = `${DROPLET_IP}/24`;

/** Clean environment inside the chroot: nothing of the host's env leaks in. */
export const CHROOT_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'xterm',
  USER: 'root',
  LOGNAME: 'root',
};

/*
 * Host-side setup, run by the host's /bin/sh in the new namespaces before anything of the root
 * filesystem runs. Mounts made here exist only in the new, private mount namespace and vanish with it.
 * It then execs into the chroot, so PID 1 of the namespace is the droplet's own /bin/sh, inside its root
 * as on a real machine (systemctl otherwise sees a chroot and silently does nothing). The trailing
 * `exit` keeps that shell alive as PID 1 instead of exec'ing the last command: cloud-init reads
 * /proc/1/environ, which a daemon such as sshd overwrites with its process title.
 */
const SETUP = `set -eu
R=$1 RUNDIR=$2 HN=$3 CAPS=$4 NET=$5
shift 5
if [ "$NET" = private ]; then
  # A network of its own: loopback plus one address from a documentation range on a veth pair whose
  # both ends stay inside, so \`hostname -I\` answers as on a droplet while nothing (e.g. the metadata
  # address) is reachable. (No dummy links: this kernel may lack the module.)
  ip link set lo up
  ip link add eth0 type veth peer name eth0-peer
  ip link set eth0-peer up
  ip addr add ${DROPLET_CIDR} dev eth0
  ip link set eth0 up
fi
if [ "$NET" = nat ]; then
  # slirp4netns adds tap0 from the host once PID 1 runs; until then only loopback.
  ip link set lo up
fi
mount --make-rprivate /
mount -t tmpfs -o mode=0755,nosuid,size=8m mpimg-dev "$R/dev"
for n in null zero full random urandom tty; do : > "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount --bind "$RUNDIR" "$R/run"
hostname "$HN"
exec setpriv --bounding-set "$CAPS" -- chroot "$R" /bin/sh -c "$1
exit \\$?"
`;

export interface SandboxSpec {
  /** Root filesystem directory (host path). */
  root: string;
  /**
   * host: shares this machine's network (only the test bed's own checks use it).
   * private: a network namespace of its own (droplets made from the image: their first boot and
   * logins ask the metadata address, which must never leave this machine).
   * nat: a network namespace of its own whose traffic slirp4netns carries through this machine's
   * sockets (build droplets: apt needs the Debian mirror, ufw needs a netfilter it may probe);
   * nothing in it can change this machine's network. See droplet.ts.
   */
  network: Network;
  /** Host directory bound onto /run (a tmpfs per "boot"). */
  runDir: string;
  hostname: string;
}

function unshareArgs(spec: SandboxSpec, script: string): string[] {
  const caps = droppedCaps(spec.network);
  return [
    '--mount',
    '--uts',
    '--ipc',
    '--pid',
    ...(spec.network === 'host' ? [] : ['--net']),
    '--fork',
    '--kill-child',
    '--propagation',
    'private',
    '/bin/sh',
    '-c',
    SETUP,
    'mpimg-sandbox',
    spec.root,
    spec.runDir,
    spec.hostname,
    caps,
    spec.network,
    script,
  ];
}

/** Runs `script` with the root filesystem's /bin/sh inside the sandbox and waits for it. */
export function sandboxRun(
  spec: SandboxSpec,
  script: string,
  opts: Omit<RunOptions, 'env' | 'cwd'> = {},
): Promise<RunResult> {
  return run('unshare', unshareArgs(spec, script), { ...opts, env: CHROOT_ENV, cwd: '/' });
}

/**
 * Starts a "machine": namespaces set up as above with the droplet's /bin/sh as PID 1, idling and
 * reaping orphans like an init. Commands join it with `enterArgs`, so everything of one boot (cloud-init,
 * sshd, logins) shares one pid/uts/mount namespace, as on a real droplet: a first-boot script can
 * signal the running sshd. Killing the returned process (SIGKILL to unshare) ends the namespace.
 */
export function startMachine(spec: SandboxSpec): ChildProcess {
  return spawn('unshare', unshareArgs(spec, 'while :; do sleep 3600 & wait $!; done'), {
    env: CHROOT_ENV,
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Command line that runs `script` with the droplet's /bin/sh inside the machine whose PID 1 is `pid`. */
export function enterArgs(pid: number, script: string, network: Network): [string, string[]] {
  const caps = droppedCaps(network);
  return [
    'setpriv',
    [
      '--bounding-set',
      caps,
      '--',
      'nsenter',
      '-t',
      String(pid),
      '-m',
      '-u',
      '-i',
      '-p',
      '-n',
      '-r',
      '-w',
      '--',
      '/bin/sh',
      '-c',
      script,
    ],
  ];
}

export function enterRun(
  pid: number,
  network: Network,
  script: string,
  opts: Omit<RunOptions, 'env' | 'cwd'> = {},
): Promise<RunResult> {
  const [file, args] = enterArgs(pid, script, network);
  return run(file, args, { ...opts, env: CHROOT_ENV, cwd: '/' });
}

export function enterSpawn(pid: number, network: Network, script: string): ChildProcess {
  const [file, args] = enterArgs(pid, script, network);
  return spawn(file, args, { env: CHROOT_ENV, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
}
