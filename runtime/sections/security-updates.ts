/**
 * $.securityUpdates: opt-in automatic security updates of every droplet made from the image, with a
 * reboot policy. apt distributions: unattended-upgrades limited to the security archive, its daily
 * run switched on (APT::Periodic); the dnf family: dnf-automatic with upgrade_type = security and
 * apply_updates = yes, dnf-automatic.timer enabled. The build step (tasks/steps/security-updates.ts,
 * templates/droplet/build/security-updates.sh.ejs) writes it and reads it back; the image check
 * (--security-updates) verifies it.
 */
import type { Check } from '../schema.js';
import { bool, obj, push, str } from './common.js';

export interface SecurityUpdates {
  /** true: the droplets install security updates by themselves; false: mpimg leaves updates as they are. */
  automatic: boolean;
  /** "never" (default), "when-needed" (right after an update that needs it) or "HH:MM" (then, that day). */
  reboot?: string;
}

export const REBOOT_RE = /^(never|when-needed|([01][0-9]|2[0-3]):[0-5][0-9])$/;

export const SECURITY_UPDATES_SCHEMA = obj(
  {
    automatic: bool(
      "true: every droplet made from the image installs security updates by itself, daily (unattended-upgrades on apt distributions, dnf-automatic on the dnf family), from the security archive only; false: mpimg leaves the distribution's own setting as it is.",
    ),
    reboot: str({
      description:
        'When a droplet reboots after an update that needs it (a new kernel, libc): "never" (the default: the customer decides), "when-needed" (right after the update) or "HH:MM" (that time of the day, droplet time, e.g. "04:30"). On the dnf family it needs a dnf-automatic with its reboot option (dnf 4.15 and later; RHEL 9.3+): the build stops, saying so, when the image\'s has none.',
      pattern: REBOOT_RE.source,
      'x-message': 'bad reboot policy {value}',
      'x-hint': '"never", "when-needed" or a time of day as "HH:MM" (24 hours, e.g. "04:30")',
    }),
  },
  {
    required: ['automatic'],
    description:
      'Automatic security updates (opt-in), e.g. {"automatic": true, "reboot": "04:30"}: the packages are added to build.packages (unattended-upgrades, or dnf-automatic), the configuration is written at build and read back, and the image check verifies it (on a droplet made from the image, `mpimg verify`: the timers enabled, the security origin only).',
    'x-check': 'securityUpdates',
  },
);

export const SECURITY_UPDATES_CHECKS: Record<string, Check> = {
  securityUpdates(v, at, out) {
    const s = v as Partial<SecurityUpdates>;
    if (typeof s !== 'object' || s === null) return;
    if (s.automatic === false && s.reboot !== undefined && s.reboot !== 'never')
      push(
        out,
        `${at}.reboot`,
        `a reboot policy ("${s.reboot}") without automatic updates does nothing`,
        'set "automatic": true, or remove "reboot"',
      );
  },
};

/** The reboot policy, "never" when none is given. */
export const rebootOf = (s: SecurityUpdates): string => s.reboot ?? 'never';

/** What build.packages gets for automatic security updates on `family`. */
export const securityUpdatePackages = (s: SecurityUpdates | undefined, family: 'apt' | 'dnf'): string[] =>
  s?.automatic ? [family === 'apt' ? 'unattended-upgrades' : 'dnf-automatic'] : [];

/**
 * The apt files of mpimg's: the daily run (the file unattended-upgrades' own debconf question
 * writes, so `dpkg-reconfigure unattended-upgrades` still switches it), and the policy.
 */
export const APT_PERIODIC_FILE = '/etc/apt/apt.conf.d/20auto-upgrades';
export const aptPolicyFile = (slug: string): string => `/etc/apt/apt.conf.d/52${slug}-security-updates`;
export const DNF_AUTOMATIC_FILE = '/etc/dnf/automatic.conf';

export const SECURITY_UPDATES_MARK = '// generator-mpimg: automatic security updates of mpimg.json ($.securityUpdates)';

/** The daily apt run: package lists refreshed, unattended-upgrade run (as dpkg-reconfigure writes it). */
export const aptPeriodic = (): string =>
  [
    SECURITY_UPDATES_MARK,
    'APT::Periodic::Update-Package-Lists "1";',
    'APT::Periodic::Unattended-Upgrade "1";',
    '',
  ].join('\n');

/**
 * The origins unattended-upgrades takes updates from, by distribution ID: the security archive
 * only. `#clear` empties the lists the package's 50unattended-upgrades filled (apt appends to lists).
 */
const ORIGINS: Record<string, string[]> = {
  debian: [
    '#clear Unattended-Upgrade::Allowed-Origins;',
    '#clear Unattended-Upgrade::Origins-Pattern;',
    'Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename}-security,label=Debian-Security"; };',
  ],
  ubuntu: [
    '#clear Unattended-Upgrade::Allowed-Origins;',
    '#clear Unattended-Upgrade::Origins-Pattern;',
    'Unattended-Upgrade::Allowed-Origins { "${distro_id}:${distro_codename}-security"; };',
  ],
};

/** The apt policy file for distribution ID `id` ("debian" or "ubuntu"): security origins, reboot policy. */
export function aptPolicy(s: SecurityUpdates, id: 'debian' | 'ubuntu'): string {
  const reboot = rebootOf(s);
  return [
    SECURITY_UPDATES_MARK,
    ...ORIGINS[id],
    `Unattended-Upgrade::Automatic-Reboot "${reboot === 'never' ? 'false' : 'true'}";`,
    ...(reboot.includes(':') ? [`Unattended-Upgrade::Automatic-Reboot-Time "${reboot}";`] : []),
    '',
  ].join('\n');
}

/**
 * dnf-automatic's [commands] settings (written into /etc/dnf/automatic.conf, the file its timer
 * reads): security updates applied; the reboot policy as dnf 4.15+ has it.
 */
export function dnfCommands(s: SecurityUpdates): Array<[string, string]> {
  const reboot = rebootOf(s);
  const out: Array<[string, string]> = [
    ['upgrade_type', 'security'],
    ['download_updates', 'yes'],
    ['apply_updates', 'yes'],
  ];
  if (reboot === 'never') return out;
  out.push(['reboot', 'when-needed']);
  if (reboot.includes(':'))
    out.push(['reboot_command', `shutdown -r ${reboot} 'Rebooting after applying security updates'`]);
  return out;
}

/** The image check's --security-updates argument: the reboot policy. */
export const securityUpdatesCheckArg = (s: SecurityUpdates): string => rebootOf(s);
