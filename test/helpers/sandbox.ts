import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';

/** The droplet folders the runtime writes to; a staged root provides each of them. */
const MOUNTS = ['/opt', '/root', '/var', '/etc/ssh', '/etc/update-motd.d'];

/**
 * Runs a shell script with a staged root's folders bind-mounted over the host's, in a private
 * mount namespace: installed scripts use their real absolute paths (/opt/..., /root/.bashrc) while
 * the host's own folders are never written (the mounts vanish with the namespace).
 */
export function runInSandbox(
  root: string,
  script: string,
  opts: { input?: string; env?: NodeJS.ProcessEnv; mounts?: string[] } = {},
): SpawnSyncReturns<string> {
  // opts.mounts: more droplet folders of the root to bind (e.g. /etc/ssl for make-ssl-cert)
  const mounts = [...MOUNTS, ...(opts.mounts ?? [])];
  for (const m of mounts) fs.mkdirSync(`${root}${m}`, { recursive: true });
  // A private /run too: nothing run here can reach this machine's services (systemctl, sshd's pid file).
  const binds = [
    ...mounts.filter((m) => fs.existsSync(m)).map((m) => `mount --bind '${root}${m}' '${m}'`),
    'mount -t tmpfs -o mode=755 tmpfs /run',
  ].join(' && ');
  return spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'bash', '--norc', '-c', `set -e; ${binds}; set +e; ${script}`],
    {
      encoding: 'utf8',
      input: opts.input ?? '',
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '/root',
        LANG: 'C.UTF-8',
        ...opts.env,
      },
    },
  );
}
