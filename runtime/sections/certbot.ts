/**
 * $.certbot: HTTPS the customer sets up at first login (TLS pattern (a) of DigitalOcean's 1-clicks).
 * The image carries certbot and its nginx or Apache plugin (added to the packages); at first login a
 * command of the image's own (`<slug>-tls`, templates/droplet/tls.sh.ejs) asks for a domain, checks
 * that it resolves to this droplet's public address, asks for an email (or none), and lets certbot
 * get the certificate from the ACME server ($.certbot.acme, Let's Encrypt by default) and configure
 * the web server with a redirect to HTTPS; Debian's and Ubuntu's certbot.timer renews it. Skipping
 * or failing leaves the login as it is and the command there to run again; the MOTD says which.
 */
import type { Check } from '../schema.js';
import { ACME_SCHEMA, acmeDirectoryOf, LETS_ENCRYPT_DIRECTORY, type Acme } from './acme.js';
import { DNF_SLUG_RE, obj, oneOf, push } from './common.js';
import { firewallRules, type Firewall } from './firewall.js';

export interface Certbot {
  /** The web server certbot configures (its plugin: certbot --nginx or --apache). */
  server: 'nginx' | 'apache';
  /** The ACME server (Let's Encrypt when left out). */
  acme?: Acme;
}

export const CERTBOT_SCHEMA = obj(
  {
    server: oneOf(['nginx', 'apache'] as const, {
      description:
        'The web server of the image that certbot configures for HTTPS (its plugin: `certbot --nginx` or `certbot --apache`, which adds the certificate to the site that serves the domain and redirects http to https).',
      'x-message': 'certbot cannot configure {value}',
      'x-hint': '"nginx" or "apache"',
    }),
    acme: ACME_SCHEMA,
  },
  {
    required: ['server'],
    description:
      'HTTPS with certbot, set up by the customer at first login: certbot and python3-certbot-nginx (or -apache) are installed with the packages (apt distributions; on the dnf family certbot comes from EPEL, which this section does not add: `mpimg validate` warns and `mpimg bundle` refuses those distributions); at first login `/usr/local/sbin/<slug>-tls` asks for a domain (empty, "skip" or Ctrl-C skips), checks that it resolves to this droplet\'s public address, asks for an email for the CA\'s notices (or none), and runs certbot against the ACME server ("acme", Let\'s Encrypt by default) with a redirect to https; certbot.timer renews the certificate from the same server. The MOTD says "run <slug>-tls" until a certificate is there, then names https://<domain>. The command can be run again at any time (also `<slug>-tls --domain NAME --email ADDRESS|--no-email`, without questions). Port 80 must be open (the CA checks the domain over http), and 443 for the site. With a directory of your own, `certbot renew --dry-run` needs `--server <directory>` (certbot\'s dry run otherwise asks Let\'s Encrypt\'s staging); real renewals use the recorded one.',
    'x-check': 'certbot',
  },
);

/** A path that stays one word in a systemd Environment= line and on a command line. */
const SAFE_PATH_RE = /^\/[A-Za-z0-9._+\/-]+$/;

/** The firewall lets `port`/tcp in (a rule naming it, its range, or every protocol). */
function firewallOpens(f: Firewall, port: number): boolean {
  return firewallRules(f).some((r) => {
    if (r.proto === 'udp') return false;
    const [lo, hi] = r.ports.split(':').map(Number);
    return port >= lo && port <= (hi ?? lo);
  });
}

export const CERTBOT_CHECKS: Record<string, Check> = {
  certbot(v, at, out, root) {
    if (typeof v !== 'object' || v === null) return;
    if (root.caddy !== undefined)
      push(
        out,
        at,
        'both "certbot" and "caddy" would set up HTTPS: two servers cannot both answer on ports 80 and 443',
        'keep one: "certbot" (nginx or Apache, certificate at first login) or "caddy" (Caddy\'s automatic HTTPS)',
      );
    const caRoot = (v as Certbot).acme?.caRoot;
    if (typeof caRoot === 'string' && !SAFE_PATH_RE.test(caRoot))
      push(
        out,
        `${at}.acme.caRoot`,
        `the CA file ${JSON.stringify(caRoot)} has characters a systemd drop-in cannot hold as written`,
        'use a path of letters, digits, "/", ".", "_", "+" and "-", e.g. "/etc/acme/acme-ca.pem"',
      );
    const fw = root.firewall as Firewall | undefined;
    if (fw && typeof fw === 'object')
      for (const port of [80, 443])
        if (!firewallOpens(fw, port))
          push(
            out,
            at,
            `the firewall does not let ${port}/tcp in: ${port === 80 ? 'the CA checks the domain over http (port 80), so no certificate could be issued' : 'the site would not answer over https'}`,
            `add "${port}/tcp" to firewall.allow`,
          );
  },
};

/** The command on the droplet that sets up HTTPS (at first login, and again whenever the customer runs it). */
export const tlsCommand = (slug: string): string => `/usr/local/sbin/${slug}-tls`;

/** Where the command records the domain it set up (the MOTD reads it): in the tool's state folder. */
export const tlsDomainFile = (state: string): string => `${state}/tls-domain`;

/**
 * A drop-in for Debian's certbot.service (the renewal certbot.timer starts) when the ACME server's
 * HTTPS has a private CA: the renewal must trust it as the first certificate did.
 */
export const certbotCaDropIn = (slug: string): string => `/etc/systemd/system/certbot.service.d/${slug}-acme-ca.conf`;

/** What the command template is told of the section. */
export function certbotTemplateData(c: Certbot): {
  plugin: 'nginx' | 'apache';
  directory: string;
  caRoot: string;
  caName: string;
} {
  const directory = acmeDirectoryOf(c.acme);
  return {
    plugin: c.server,
    directory,
    caRoot: c.acme?.caRoot ?? '',
    caName: directory === LETS_ENCRYPT_DIRECTORY ? "Let's Encrypt" : `the ACME server ${directory}`,
  };
}

/** Why the dnf family cannot have $.certbot: its certbot is EPEL's, which this section does not add. */
const dnfRefusal = (which: string): string =>
  `$.certbot: certbot on ${which} comes from EPEL, which "certbot" does not add: build those images on an apt distribution (Debian, Ubuntu), or leave "certbot" out and install epel-release, certbot and its plugin in a build script`;

/** `mpimg validate`'s warning for a manifest with $.certbot and dnf distributions (their build refuses it). */
export function certbotWarnings(m: { certbot?: Certbot; distributions: string[]; regenerate?: unknown[] }): string[] {
  const dnf = m.certbot ? m.distributions.filter((d) => DNF_SLUG_RE.test(d)) : [];
  const out = dnf.length
    ? [
        `${dnfRefusal(dnf.join(', '))}; until then their build stops at the packages step (and \`mpimg bundle\` makes no Packer template for them)`,
      ]
    : [];
  // apache2 recommends ssl-cert, whose snakeoil key (made at install) the image check refuses to ship.
  if (m.certbot?.server === 'apache' && !(m.regenerate ?? []).includes('ssl-cert-snakeoil'))
    out.push(
      '$.certbot: Apache comes with ssl-cert, whose snakeoil key would be every droplet\'s: the image check fails the build until "ssl-cert-snakeoil" is in "regenerate" (first boot then makes each droplet its own)',
    );
  return out;
}

/**
 * What build.packages gets for certbot: certbot and its plugin on apt distributions. The dnf family's
 * certbot is EPEL's: refused here, so neither the build nor the Packer template makes an image
 * without the certbot its first login needs.
 */
export function certbotPackages(c: Certbot | undefined, family: 'apt' | 'dnf'): string[] {
  if (!c) return [];
  if (family === 'dnf') throw new Error(dnfRefusal('the dnf family (Rocky, AlmaLinux, CentOS Stream)'));
  return ['certbot', `python3-certbot-${c.server}`];
}

/** The image check's --certbot argument: the plugin. */
export const certbotCheckArg = (c: Certbot): string => c.server;
