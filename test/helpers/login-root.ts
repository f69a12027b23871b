/**
 * A real console login in a hostRoot (test/helpers/host-root.ts): this machine's login(1) with its
 * PAM stack (Debian's /etc/pam.d/login and common-*, copied into the root, never changed here),
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
  for (const f of ['login', 'common-auth', 'common-account', 'common-session', 'common-password', 'other'])
    copyFileSync(`/etc/pam.d/${f}`, join(root, 'etc/pam.d', f));
  cpSync('/etc/security', join(root, 'etc/security'), { recursive: true });
  mkdirSync(join(root, 'etc/profile.d'), { recursive: true });
  put(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
  put(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o600);
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
