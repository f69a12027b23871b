/**
 * Roots for running this machine's OWN ufw, firewalld, nft, dbus-daemon and python3 for real, kept
 * out of this machine: the root's /usr is this machine's /usr, bound READ-ONLY inside a private
 * mount namespace that ends with the run; its /etc, /run, /var and /tmp are its own, in a temp
 * folder. Every run is `chroot` into it in new mount and pid namespaces (all its processes die
 * with it, nothing stays mounted) and, with `net`, a network namespace of its own (loopback only,
 * plus what the run's script makes). So the programs read their config from the temp root and
 * write only there, and touch no firewall but the namespace's own.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OS_RELEASE, type Os } from './build-root.js';
import { put, type Run } from '../scripts/fixture-root.js';
import { tempDir } from './temp.js';

/** A root to run this machine's tools in with inHostRoot(); `os` sets its /etc/os-release. */
export function hostRoot(os: Os): string {
  const root = tempDir('mpimg-host-root-');
  for (const d of ['usr', 'proc', 'run', 'root', 'var/lib', 'var/log', 'var/tmp', 'mpimg-test', 'etc/systemd/system'])
    mkdirSync(join(root, d), { recursive: true });
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  // usr-merged, as this machine and every supported distribution are
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) if (existsSync(`/usr/${d}`)) symlinkSync(`usr/${d}`, join(root, d));
  mkdirSync(join(root, 'dev'));
  for (const [name, minor] of [
    ['null', 3],
    ['zero', 5],
    ['urandom', 9],
  ] as const) {
    const mk = spawnSync('mknod', ['-m', '666', join(root, 'dev', name), 'c', '1', String(minor)], {
      encoding: 'utf8',
    });
    if (mk.status !== 0) throw new Error(`mknod ${root}/dev/${name}: ${mk.stderr}`);
  }
  // as on a running system (bash's <(...) reads /dev/fd/N)
  symlinkSync('/proc/self/fd', join(root, 'dev/fd'));
  for (const [n, fd] of [
    ['stdin', 0],
    ['stdout', 1],
    ['stderr', 2],
  ] as const)
    symlinkSync(`/proc/self/fd/${fd}`, join(root, 'dev', n));
  put(root, 'etc/os-release', OS_RELEASE[os]);
  put(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  put(root, 'etc/group', 'root:x:0:\n');
  // Public tables the tools look names up in (ports, protocols), copied read-only.
  for (const f of ['protocols', 'services']) copyFileSync(`/etc/${f}`, join(root, 'etc', f));
  // awk, iptables, ip6tables, ...: Debian picks the implementation through /etc/alternatives links.
  mkdirSync(join(root, 'etc/alternatives'));
  for (const n of readdirSync('/etc/alternatives')) {
    if (lstatSync(join('/etc/alternatives', n)).isSymbolicLink())
      symlinkSync(readlinkSync(join('/etc/alternatives', n)), join(root, 'etc/alternatives', n));
  }
  return root;
}

export const HOST_ROOT_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  HOME: '/root',
};

/**
 * Runs `script` with /bin/sh inside `root` (a hostRoot), as described above. `net`: in a network
 * namespace of its own. Bounded by `timeoutMs`: then everything in it is killed.
 */
export function inHostRoot(
  root: string,
  script: string,
  opts: { net?: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Run {
  if (!root.startsWith(`${tmpdir()}/`) || !existsSync(join(root, 'mpimg-test')))
    throw new Error('inHostRoot needs a hostRoot()');
  const setup =
    'r=$1; shift; mount --bind /usr "$r/usr" && mount -o remount,bind,ro "$r/usr" && mount -t proc -o nosuid,nodev,noexec proc "$r/proc" && exec chroot "$r" /bin/sh -c "$1"';
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--pid',
      '--fork',
      '--kill-child',
      ...(opts.net ? ['--net'] : []),
      'sh',
      '-c',
      setup,
      'sh',
      root,
      script,
    ],
    {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
      env: { ...HOST_ROOT_ENV, ...opts.env },
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Processes of this machine still running inside `root` (none may outlive a run). */
export function processesIn(root: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/root`) === root) out.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}
