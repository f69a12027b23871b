/**
 * The packages sections of mpimg.json other than build.packages need on a distribution family
 * ($.fail2ban, $.securityUpdates, $.certbot, $.caddy): the packages step installs them with build.packages, over SSH
 * and in the Packer template alike, so the vendor does not list them twice.
 */
import type { Family } from './distro.js';
import type { Manifest } from './manifest.js';
import { certbotPackages } from './sections/certbot.js';
import { fail2banPackages } from './sections/fail2ban.js';
import { caddyPackages } from './sections/caddy.js';
import { dockerPackages } from './sections/docker.js';
import { securityUpdatePackages } from './sections/security-updates.js';

export const sectionPackages = (
  m: Pick<Manifest, 'fail2ban' | 'securityUpdates' | 'certbot' | 'caddy' | 'docker'>,
  family: Family,
): string[] => [
  ...fail2banPackages(m.fail2ban, family),
  ...dockerPackages(m.docker, family),
  ...securityUpdatePackages(m.securityUpdates, family),
  ...caddyPackages(m.caddy, family),
  ...certbotPackages(m.certbot, family),
];

/** build.packages' entries for the distribution, then the sections' packages it does not list already. */
export const withSectionPackages = (
  entries: string[],
  m: Pick<Manifest, 'fail2ban' | 'securityUpdates' | 'certbot' | 'caddy' | 'docker'>,
  family: Family,
): string[] => [...entries, ...sectionPackages(m, family).filter((p) => !entries.includes(p))];
