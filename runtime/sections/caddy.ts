/**
 * $.caddy: Caddy in front of the app with automatic HTTPS. The build step (tasks/steps/caddy.ts,
 * templates/droplet/build/caddy.sh.ejs) writes mpimg's Caddyfile (global options naming the ACME
 * directory, the app as a snippet, an import of the site files), the site script and its first-boot
 * hook, validates it all with the real `caddy validate`/`caddy adapt`, and enables caddy.service.
 * The site names are per droplet: its public IPv4 (the source of the templates' {{ip}}), written by
 * the site script at first boot, and a domain the customer gives later with `<home>/caddy-site NAME`.
 */
import { runtimeHome } from '../policy.js';
import type { Check } from '../schema.js';
import { ACME_SCHEMA, acmeDirectoryOf, type Acme } from './acme.js';
import { bool, dropletPath, obj, push, str } from './common.js';
import { RULE_RE, type Firewall } from './firewall.js';

export interface Caddy {
  /** host:port of the app Caddy passes requests to (with root: those for no file), e.g. "127.0.0.1:3000". */
  reverseProxy?: string;
  /** A folder of static files Caddy serves. */
  root?: string;
  /** The droplet's address gets an HTTPS certificate from the ACME server too (not Let's Encrypt's). */
  ipCertificate?: boolean;
  /** The ACME account's contact address. */
  email?: string;
  acme?: Acme;
}

export const CADDYFILE = '/etc/caddy/Caddyfile';
/** The site files mpimg's Caddyfile imports: ip.caddy (first boot) and domain.caddy (caddy-site NAME). */
export const CADDY_SITES_DIR = '/etc/caddy/sites';
/** The snippet each site file imports: what Caddy serves. */
export const CADDY_SNIPPET = 'mpimg-app';
/** The first line of mpimg's Caddyfile: the build writes over no Caddyfile without it but the package's own. */
export const CADDY_MARK = '# generator-mpimg: Caddy of mpimg.json ($.caddy); written again by every build';
/** Where Caddy keeps its certificates (Debian's caddy user has HOME=/var/lib/caddy). */
export const CADDY_CERTIFICATES = '/var/lib/caddy/.local/share/caddy/certificates';

/** host:port, one Caddyfile token: a name or IPv4, or an IPv6 address in brackets. */
export const UPSTREAM_RE = /^([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]):([0-9]{1,5})$/;
export const EMAIL_RE =
  /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
/**
 * A path that stays one plain token in a Caddyfile and one word in a shell: no blank, quote, brace,
 * backslash, "$" or "#" (Caddy reads {...} as placeholders and {$X} as the environment).
 */
export const CADDY_PATH_RE = /^\/[A-Za-z0-9._/@+,=-]*$/;
/** A domain the site script takes, in the same words (one line, lower case, a letter-led top label). */
export const DOMAIN_RE = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const CADDY_SCHEMA = obj(
  {
    reverseProxy: str({
      description:
        'host:port of the app Caddy passes requests to, e.g. "127.0.0.1:3000" (the app listening on loopback only): every request, or with "root" those for which no file is there.',
      pattern: UPSTREAM_RE.source,
      'x-message': 'bad reverseProxy address {value}',
      'x-hint': 'host:port without scheme, blanks or quotes, e.g. "127.0.0.1:3000" or "[::1]:8080"',
    }),
    root: dropletPath(
      'A folder of static files Caddy serves (file_server), e.g. "/var/www/html"; with "reverseProxy" too, a request for a file that is there gets the file, any other goes to the app.',
    ),
    ipCertificate: bool(
      "true: the droplet's address is served over HTTPS with a certificate from the ACME server (http redirects to https). Only with acme.directory of a server that issues certificates for IP addresses (pebble, step-ca): Let's Encrypt gives them only under its short-lived profile, which Caddy 2.6 (Debian 12's) cannot ask for. false or left out: the address serves the app over plain HTTP until a domain is set.",
    ),
    email: str({
      description: 'The ACME account\'s contact address (expiry notices), e.g. "ops@example.com".',
      pattern: EMAIL_RE.source,
      'x-message': 'bad email {value}',
      'x-hint': 'one plain address such as "ops@example.com" (no name, blanks or quotes)',
    }),
    acme: ACME_SCHEMA,
  },
  {
    description:
      "Caddy serving the app with automatic HTTPS: installed with the packages (Debian's caddy; on the dnf family Caddy is in no distribution repository: add Caddy's COPR to build.repositories, or the build refuses), /etc/caddy/Caddyfile written by mpimg (the ACME directory, Let's Encrypt unless acme names another, and what it serves: reverseProxy, root, or the files of root and the app for the rest), validated at build with `caddy validate` and `caddy adapt`, caddy.service enabled at boot. The site names are per droplet, in /etc/caddy/sites/: first boot writes the droplet's public IPv4 (the address {{ip}} stands for); the customer adds a domain pointed at the droplet with `<home>/caddy-site example.com` (validated, checked by Caddy, then Caddy reloads; it gets a certificate, http redirects to https, and Caddy renews it by itself; run again with another name, that one replaces it).",
    'x-check': 'caddy',
  },
);

export const CADDY_CHECKS: Record<string, Check> = {
  caddy(v, at, out) {
    if (typeof v !== 'object' || v === null) return;
    const c = v as Caddy;
    if (c.reverseProxy === undefined && c.root === undefined)
      push(
        out,
        at,
        'Caddy serves nothing',
        'give "reverseProxy": "127.0.0.1:3000" (an app), "root": "/var/www/html" (static files), or both',
      );
    const port = c.reverseProxy?.match(UPSTREAM_RE)?.[3];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
      push(out, `${at}.reverseProxy`, `port ${port} is not one from 1 to 65535`, 'e.g. "127.0.0.1:3000"');
    for (const [key, p] of [
      ['root', c.root],
      ['acme.caRoot', c.acme?.caRoot],
    ] as const) {
      if (typeof p === 'string' && p.startsWith('/') && !CADDY_PATH_RE.test(p))
        push(
          out,
          `${at}.${key}`,
          `path "${p}" cannot stand plainly in a Caddyfile`,
          'letters, digits and . _ / @ + , = - only (no blanks, quotes, braces, "$" or "#")',
        );
    }
    if (c.ipCertificate && LETS_ENCRYPT_RE.test(acmeDirectoryOf(c.acme)))
      push(
        out,
        `${at}.ipCertificate`,
        "Let's Encrypt issues certificates for IP addresses only under its short-lived profile, which Caddy 2.6 (Debian 12's) cannot ask for",
        'leave "ipCertificate" out (the address serves plain HTTP; a domain gets HTTPS), or name an ACME server that issues them in acme.directory',
      );
  },
};

/** Let's Encrypt's directories, production and staging. */
const LETS_ENCRYPT_RE = /^https:\/\/acme(-staging)?-v02\.api\.letsencrypt\.org\//;

/** What the site snippet serves: the app, the files, or the files that exist and the app for the rest. */
function serves(c: Caddy): string[] {
  if (c.root === undefined) return [`\treverse_proxy ${c.reverseProxy}`];
  if (c.reverseProxy === undefined) return [`\troot * ${c.root}`, '\tfile_server'];
  return [
    `\troot * ${c.root}`,
    '\t@static file',
    '\thandle @static {',
    '\t\tfile_server',
    '\t}',
    '\thandle {',
    `\t\treverse_proxy ${c.reverseProxy}`,
    '\t}',
  ];
}

/**
 * mpimg's Caddyfile: global options (the ACME account's email, the directory, always named, and the
 * CA of a private directory's HTTPS), the app as a snippet, and the site files of `sitesDir`.
 */
export function caddyfile(c: Caddy, sitesDir = CADDY_SITES_DIR): string {
  const global = [
    ...(c.email ? [`\temail ${c.email}`] : []),
    `\tacme_ca ${acmeDirectoryOf(c.acme)}`,
    ...(c.acme?.caRoot ? [`\tacme_ca_root ${c.acme.caRoot}`] : []),
  ];
  return [
    CADDY_MARK,
    `# The sites are the files of ${sitesDir}: the droplet's address (first boot) and a domain (caddy-site NAME).`,
    '{',
    ...global,
    '}',
    '',
    `(${CADDY_SNIPPET}) {`,
    ...serves(c),
    '}',
    '',
    `import ${sitesDir}/*.caddy`,
    '',
  ].join('\n');
}

/** The site script, <home>/caddy-site. */
export const caddySiteScript = (vendor: string, slug: string): string => `${runtimeHome(vendor, slug)}/caddy-site`;

/** The first-boot hook that runs it (sorts before the NN- steps, after nothing it needs). */
export const caddyFirstBootHook = (slug: string): string => `/var/lib/cloud/scripts/per-instance/0-${slug}-caddy`;

/** The packages Caddy needs: Debian's caddy; on the dnf family the caddy step installs it (a COPR the vendor adds). */
export const caddyPackages = (c: Caddy | undefined, family: 'apt' | 'dnf'): string[] =>
  c && family === 'apt' ? ['caddy'] : [];

/** $.firewall lets `port`/tcp in (a rule of allow or limit covering it, tcp or no protocol). */
const letsIn = (f: Firewall, port: number): boolean =>
  [...(f.allow ?? []), ...(f.limit ?? [])].some((r) => {
    const m = r.match(RULE_RE);
    return m !== null && m[3] !== 'udp' && Number(m[1]) <= port && port <= Number(m[2] ?? m[1]);
  });

/**
 * What `mpimg validate` warns about $.caddy: a firewall that keeps out 80/tcp or 443/tcp, which Caddy
 * serves and through which the ACME server checks the domain (no certificate without them).
 */
export function caddyWarnings(m: { caddy?: Caddy; firewall?: Firewall }): string[] {
  if (!m.caddy || !m.firewall) return [];
  const shut = [80, 443].filter((p) => !letsIn(m.firewall!, p)).map((p) => `"${p}/tcp"`);
  return shut.length
    ? [
        `$.firewall: Caddy ($.caddy) serves ports 80 and 443, and the ACME server checks the domain through them, but the firewall does not let in ${shut.join(' and ')}: add ${shut.join(' and ')} to "allow"`,
      ]
    : [];
}
