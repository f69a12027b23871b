/**
 * Real logins in a hostRoot (test/helpers/host-root.ts): this machine's login(1) and sshd with their
 * PAM stacks (Debian's /etc/pam.d/login, sshd and common-*, copied into the root, never changed here),
 * Debian's /etc/profile and bash as root's login shell, on a pseudo-terminal of a devpts instance
 * of the run's own, made by script(1). What the login prints is what a person at the console sees.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { inHostRoot } from './host-root.js';
import { put, type Run } from '../scripts/fixture-root.js';

/** Puts what login(1) and a bash login shell read into `root` (a hostRoot). */
export function addLogin(root: string): void {
  for (const f of ['profile', 'bash.bashrc', 'login.defs', 'nsswitch.conf', 'environment', 'default/locale'])
    if (existsSync(`/etc/${f}`)) {
      mkdirSync(join(root, 'etc', f, '..'), { recursive: true });
      copyFileSync(`/etc/${f}`, join(root, 'etc', f));
    }
  mkdirSync(join(root, 'etc/pam.d'), { recursive: true });
  for (const f of ['login', 'sshd', 'common-auth', 'common-account', 'common-session', 'common-password', 'other'])
    copyFileSync(`/etc/pam.d/${f}`, join(root, 'etc/pam.d', f));
  cpSync('/etc/security', join(root, 'etc/security'), { recursive: true });
  mkdirSync(join(root, 'etc/profile.d'), { recursive: true });
  // sshd's privilege separation user, as Debian's openssh-server makes it
  put(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n');
  put(root, 'etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  put(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n', 0o600);
  mkdirSync(join(root, 'dev/pts'), { recursive: true });
  symlinkSync('pts/ptmx', join(root, 'dev/ptmx'));
  put(root, 'var/log/lastlog', '');
}

/**
 * Logs in as root on a new pseudo-terminal and types `typed` (lines ending with "exit") into the
 * login shell; its output with the terminal's CR LF turned into LF. In a network namespace of its
 * own: nothing reaches this machine's network (the metadata service is unreachable at once).
 */
export function login(root: string, typed: string): Run {
  const script = `mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts || exit 97
printf '%s' "$TYPED" | script -qec 'login -f root' /dev/null`;
  const r = inHostRoot(root, script, { net: true, timeoutMs: 60_000, env: { TYPED: typed } });
  return { ...r, stdout: r.stdout.replace(/\r\n/g, '\n') };
}

/**
 * Logs in as root over SSH, as a customer does: this machine's sshd (PAM on, Debian's
 * /etc/pam.d/sshd) started inside the root on 127.0.0.1 of a network namespace of the run's own,
 * and this machine's ssh client, with keys made for the run. `command` absent: an interactive
 * session on a pseudo-terminal (ssh -tt) that gets `typed`; given: `ssh host command`, no terminal.
 */
export function sshLogin(root: string, typed: string, command?: string): Run {
  const script = `set -u
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts || exit 97
ip link set lo up
mkdir -p -m 0755 /run/sshd /etc/ssh /root/.ssh
chmod 0700 /root/.ssh
[ -f /etc/ssh/host_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/host_key
[ -f /root/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519
cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys
printf '%s\\n' 'Port 2222' 'ListenAddress 127.0.0.1' 'HostKey /etc/ssh/host_key' 'UsePAM yes' \\
  'PermitRootLogin prohibit-password' 'PasswordAuthentication no' 'KbdInteractiveAuthentication no' \\
  'PidFile /run/sshd.pid' >/etc/ssh/sshd_config
# (sshd writes its pid file once it listens; one of an earlier run in the root's /run is removed first)
rm -f /run/sshd.pid
/usr/sbin/sshd -E /var/log/sshd.log || { cat /var/log/sshd.log; exit 98; }
n=0; until [ -s /run/sshd.pid ]; do n=$((n + 1)); [ $n -le 100 ] || exit 99; sleep 0.1; done
set -- -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p 2222
if [ -n "$COMMAND" ]; then ssh "$@" root@127.0.0.1 "$COMMAND" </dev/null; else printf '%s' "$TYPED" | ssh -tt "$@" root@127.0.0.1; fi`;
  const r = inHostRoot(root, script, { net: true, timeoutMs: 60_000, env: { TYPED: typed, COMMAND: command ?? '' } });
  return { ...r, stdout: r.stdout.replace(/\r\n/g, '\n') };
}
