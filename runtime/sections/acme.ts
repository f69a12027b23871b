/**
 * The ACME server a droplet asks for its TLS certificate, shared by the two TLS patterns ($.certbot:
 * certbot at first login; $.caddy: Caddy's automatic HTTPS). Let's Encrypt unless the vendor names
 * another directory (Let's Encrypt's staging, a private CA such as step-ca, pebble in the tests), and
 * then, when that server's own HTTPS certificate is not from a public CA, the CA file to trust for it.
 */
import type { Check } from '../schema.js';
import { dropletPath, obj, push, str } from './common.js';

export interface Acme {
  /** The ACME directory URL (https); Let's Encrypt's production directory when not given. */
  directory?: string;
  /** A PEM file in the image: the CA that signed the ACME server's own HTTPS certificate. */
  caRoot?: string;
}

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** An https URL that stays one word in a config file and on a command line. */
export const ACME_DIRECTORY_RE = /^https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~%/+=-]*)?$/;

export const ACME_SCHEMA = obj(
  {
    directory: str({
      description: `The ACME directory URL certificates are asked of (default: Let's Encrypt, ${LETS_ENCRYPT_DIRECTORY}); e.g. Let's Encrypt's staging directory while testing, or a private CA's.`,
      pattern: ACME_DIRECTORY_RE.source,
      'x-message': 'bad ACME directory {value}',
      'x-hint':
        'an https URL without blanks, quotes or query, e.g. "https://acme-staging-v02.api.letsencrypt.org/directory"',
    }),
    caRoot: dropletPath(
      "A PEM file in the image (shipped with $.files) holding the CA that signed the ACME server's own HTTPS certificate, for a private ACME server; not needed for Let's Encrypt.",
    ),
  },
  {
    description:
      'The ACME server the droplet asks for its certificate: Let\'s Encrypt when left out. {"directory": "https://...", "caRoot": "/etc/<vendor>/acme-ca.pem"} for another one.',
    'x-check': 'acme',
  },
);

export const ACME_CHECKS: Record<string, Check> = {
  acme(v, at, out) {
    const a = v as Acme;
    if (typeof a !== 'object' || a === null) return;
    if (a.caRoot !== undefined && a.directory === undefined)
      push(
        out,
        `${at}.caRoot`,
        "a CA for the ACME server's HTTPS without a directory: Let's Encrypt needs none",
        'name the private ACME server as "directory", or remove "caRoot"',
      );
  },
};

/** The directory a droplet asks: the vendor's, else Let's Encrypt's. */
export const acmeDirectoryOf = (a: Acme | undefined): string => a?.directory ?? LETS_ENCRYPT_DIRECTORY;
