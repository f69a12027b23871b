/** $.listing: the Marketplace listing this image updates (`mpimg release`, the Vendor API). */
import type { Check } from '../schema.js';
import { DISTRO_SLUG_RE, obj, push, str, strings } from './common.js';
import { VARIABLE_NAME_RE } from './variables.js';

export interface Software {
  name: string;
  version: string;
  releaseNotes?: string;
  website?: string;
  licenseType?: string;
  licenseLink?: string;
}

export interface Listing {
  /** The app id from the listing's URL in the Vendor Portal. */
  appId?: string;
  /** Which of $.distributions the listing's image is built on (default: the build base). */
  distribution?: string;
  /** What the listing shows as its OS (default: from the distribution, e.g. "Ubuntu 24.04 LTS"). */
  osVersion?: string;
  software?: Software[];
}

export const APP_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** {{NAME}} placeholders of the listing's texts: filled in from $.variables at release. */
export const PLACEHOLDER_RE = /\{\{([^{}]*)\}\}/g;

const text = (description: string, maxLength: number) =>
  str({ description: `${description} {{VARIABLE}} is filled in from $.variables.`, maxLength });
const url = (description: string) =>
  str({
    description: `${description} {{VARIABLE}} is filled in from $.variables.`,
    pattern: '^https?://\\S+$',
    'x-message': 'bad URL {value}',
    'x-hint': 'a full http(s):// address without spaces',
  });

const SOFTWARE = obj(
  {
    name: str({
      description: 'The software\'s name, e.g. "Nginx".',
      minLength: 1,
      maxLength: 100,
      'x-message': 'bad software name {value}',
      'x-hint': '1-100 characters',
    }),
    version: str({
      description: 'Its version, e.g. "1.24.0" or "{{NGINX_VERSION}}". {{VARIABLE}} is filled in from $.variables.',
      minLength: 1,
      maxLength: 100,
      'x-message': 'bad software version {value}',
      'x-hint': '1-100 characters, e.g. "1.24.0" or "{{APP_VERSION}}"',
    }),
    releaseNotes: text('Link or text of its release notes.', 2000),
    website: url('Its website.'),
    licenseType: text('Its license, e.g. "MIT" or "GPLv2".', 100),
    licenseLink: url('Where its license is.'),
  },
  { required: ['name', 'version'] },
);

export const LISTING_SCHEMA = obj(
  {
    appId: str({
      description:
        'The app id of the listing (from its URL in the Vendor Portal): `mpimg release` updates this listing.',
      pattern: APP_ID_RE.source,
      'x-message': 'bad app id {value}',
      'x-hint': 'copy the id from the listing\'s URL in the Vendor Portal (letters, digits, "-", "_")',
    }),
    distribution: str({
      description:
        "Which of $.distributions the listing's image is built on (default: the build base, $.droplet.image or distributions[0]).",
      pattern: DISTRO_SLUG_RE.source,
      'x-message': 'bad distribution {value}',
      'x-hint': 'one of $.distributions, e.g. "ubuntu-24-04-x64"',
    }),
    osVersion: str({
      description: 'The OS the listing names (default: from the distribution, e.g. "Ubuntu 24.04 LTS").',
      minLength: 1,
      maxLength: 100,
    }),
    software: strings(SOFTWARE, {
      description:
        'The software included, as the listing shows it (name, version, releaseNotes, website, licenseType, licenseLink).',
    }),
  },
  {
    description:
      'The Marketplace listing `mpimg release` updates through the Vendor API. Every {{NAME}} in its texts must be a variable of $.variables.',
    'x-check': 'listing',
  },
);

/** Every {{NAME}} in the listing's texts, with where it is. */
export function listingPlaceholders(l: Listing): Array<{ name: string; at: string }> {
  const out: Array<{ name: string; at: string }> = [];
  (l.software ?? []).forEach((s, i) => {
    for (const [k, v] of Object.entries(s)) {
      if (typeof v !== 'string') continue;
      for (const m of v.matchAll(PLACEHOLDER_RE)) out.push({ name: m[1], at: `software[${i}].${k}` });
    }
  });
  return out;
}

export const LISTING_CHECKS: Record<string, Check> = {
  listing(v, at, out, root) {
    const l = v as Listing;
    if (typeof l !== 'object' || l === null || Array.isArray(l)) return;
    const vars = root.variables && typeof root.variables === 'object' ? Object.keys(root.variables) : [];
    for (const p of listingPlaceholders(l)) {
      if (!VARIABLE_NAME_RE.test(p.name))
        push(
          out,
          `${at}.${p.at}`,
          `bad placeholder {{${p.name}}}`,
          'placeholders are {{NAME}} with a variable name of $.variables (capital letters, digits, "_")',
        );
      else if (!vars.includes(p.name))
        push(
          out,
          `${at}.${p.at}`,
          `{{${p.name}}} is not a variable of $.variables`,
          `add "${p.name}" to $.variables (e.g. "variables": {"${p.name}": "1.0"}) or write the value itself`,
        );
    }
    const dists = Array.isArray(root.distributions) ? root.distributions : [];
    if (typeof l.distribution === 'string' && DISTRO_SLUG_RE.test(l.distribution) && !dists.includes(l.distribution)) {
      push(
        out,
        `${at}.distribution`,
        `"${l.distribution}" is not one of $.distributions`,
        `use one of ${dists.map((d) => JSON.stringify(d)).join(', ') || 'the distributions'} or add it there`,
      );
    }
  },
};

/** The listing's texts with {{NAME}} filled in from the variables' values (unknown names stay). */
export function fillListing(s: string, values: Record<string, string>): string {
  return s.replace(PLACEHOLDER_RE, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole,
  );
}
