/**
 * $.fail2ban: fail2ban in the image, with exactly the jails mpimg.json names enabled (one jail.d
 * file of mpimg's, read after the distribution's own), on at boot. The build step (tasks/steps/
 * fail2ban.ts, templates/droplet/build/fail2ban.sh.ejs) writes the file and tests it with the real
 * `fail2ban-client -t`; the image check (--fail2ban) looks for it, and on a booted droplet asks
 * `fail2ban-client status JAIL` of each jail.
 */
import type { Check } from '../schema.js';
import { obj, push, str, strings } from './common.js';

export interface Fail2ban {
  /** The jails of the distribution's fail2ban to enable, e.g. ["sshd", "nginx-http-auth"]. */
  jails: string[];
}

/**
 * A jail name as it stands in an INI section header and on fail2ban-client's command line: no
 * blank, bracket, dot, quote or shell character.
 */
export const JAIL_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Section names of fail2ban's INI files that are not jails. */
const NOT_JAILS = ['DEFAULT', 'INCLUDES', 'Definition', 'Init'];

/**
 * Jails whose service logs to the journal on every supported distribution, so they read it
 * (backend = systemd): Debian 12 and newer have no /var/log/auth.log (no rsyslog), and fail2ban
 * then refuses to start ("Have not found any log file for sshd jail"). Other jails read the log
 * files the distribution's fail2ban names (nginx's error.log).
 */
export const JOURNAL_JAILS: readonly string[] = ['sshd'];

export const FAIL2BAN_SCHEMA = obj(
  {
    jails: strings(
      str({
        pattern: JAIL_RE.source,
        'x-message': 'bad fail2ban jail name {value}',
        'x-hint':
          'a jail of fail2ban\'s jail.conf, e.g. "sshd" or "nginx-http-auth" (letters, digits, _ and -; no blanks, dots or quotes)',
      }),
      {
        description:
          'The jails of the distribution\'s fail2ban to enable, e.g. ["sshd", "nginx-http-auth"]: exactly these (a jail the distribution enables by itself, Debian\'s sshd, is switched off when it is not listed). sshd reads the systemd journal (Debian 12 and newer have no /var/log/auth.log); other jails read the log files fail2ban\'s jail.conf names, which must exist at build (the build tests the configuration with `fail2ban-client -t`).',
        'x-check': 'fail2banJails',
      },
    ),
  },
  {
    required: ['jails'],
    description:
      "fail2ban in the image: installed with the packages (fail2ban and python3-systemd on apt distributions; on the dnf family EPEL's fail2ban-server, with fail2ban-firewalld when the image has firewalld and the distribution's python3-systemd, installed by the fail2ban step after epel-release, not EPEL's fail2ban meta-package, which pulls in a mail server), the jails of \"jails\" enabled in /etc/fail2ban/jail.d/<slug>.local (written by mpimg, read after the distribution's files), and fail2ban.service enabled at boot. The image check verifies the jails as fail2ban itself reads its configuration and that the service is enabled, and on a droplet made from the image (`mpimg verify`) that `fail2ban-client status JAIL` answers for each jail.",
  },
);

export const FAIL2BAN_CHECKS: Record<string, Check> = {
  fail2banJails(v, at, out) {
    if (!Array.isArray(v)) return;
    if (v.length === 0)
      return push(out, at, 'fail2ban has no jails', 'name at least one, e.g. "jails": ["sshd"], or remove "fail2ban"');
    const seen = new Set<string>();
    v.forEach((j, i) => {
      if (typeof j !== 'string') return;
      if (NOT_JAILS.some((n) => n.toLowerCase() === j.toLowerCase()))
        push(
          out,
          `${at}[${i}]`,
          `"${j}" is a section of fail2ban's configuration, not a jail`,
          'name a jail of /etc/fail2ban/jail.conf, e.g. "sshd"',
        );
      if (seen.has(j)) push(out, `${at}[${i}]`, `jail "${j}" is listed twice`, 'list each jail once');
      seen.add(j);
    });
  },
};

/** The jail.d file of mpimg's: jail.d/*.local files are read after jail.conf, jail.d/*.conf and jail.local. */
export const fail2banJailFile = (slug: string): string => `/etc/fail2ban/jail.d/${slug}.local`;

/** The first line of mpimg's jail file: the build step writes over no file without it. */
export const FAIL2BAN_MARK = '# generator-mpimg: the jails of mpimg.json ($.fail2ban); written again by every build';

/**
 * The jail file: each declared jail enabled (journal ones with backend = systemd), and Debian's
 * sshd, which its defaults-debian.conf enables, switched off when mpimg.json does not name it.
 */
export function fail2banJailConfig(f: Fail2ban): string {
  const lines = [FAIL2BAN_MARK, ''];
  for (const j of f.jails) {
    lines.push(`[${j}]`, 'enabled = true');
    if (JOURNAL_JAILS.includes(j)) lines.push('backend = systemd');
    lines.push('');
  }
  if (!f.jails.includes('sshd')) lines.push('[sshd]', 'enabled = false', '');
  return lines.join('\n');
}

/**
 * What build.packages gets for fail2ban: on apt distributions fail2ban and python3-systemd (only
 * recommended by Debian's fail2ban, and the journal backend needs it). The dnf family's fail2ban is
 * EPEL's, which the packages step cannot reach in the same transaction: the fail2ban step installs it.
 */
export const fail2banPackages = (f: Fail2ban | undefined, family: 'apt' | 'dnf'): string[] =>
  f && family === 'apt' ? ['fail2ban', 'python3-systemd'] : [];

/** The image check's --fail2ban argument: the jails, blank-separated. */
export const fail2banCheckArg = (f: Fail2ban): string => f.jails.join(' ');
