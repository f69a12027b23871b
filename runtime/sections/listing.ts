/** $.listing: the Marketplace listing this image updates (`mpimg release`, the Vendor API). */
import type { Check } from '../schema.js';
import { DISTRO_SLUG_RE, int, obj, push, str, strings } from './common.js';
import { VARIABLE_NAME_RE } from './variables.js';

export interface Software {
  name: string;
  /** Written in mpimg.json; without it, $.package names the package whose installed version is sent. */
  version?: string;
  /** A package of the image: `mpimg release` sends its version from the image's build record. */
  package?: string;
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
  /** `mpimg release` warns about an image older than this many days (default 14). */
  maxImageAgeDays?: number;
}

export const DEFAULT_MAX_IMAGE_AGE_DAYS = 14;
/** A package name as dpkg and rpm write it. */
export const PACKAGE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9+._~-]{0,99}$/;

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
    package: str({
      description:
        'A package of the image (as dpkg or rpm names it, e.g. "nginx") whose installed version `mpimg release` sends as the version, read from the released image\'s build record (images/<id>/record.json). Instead of version.',
      pattern: PACKAGE_NAME_RE.source,
      'x-message': 'bad package name {value}',
      'x-hint': 'the package\'s name as `dpkg -l` or `rpm -qa` shows it, e.g. "nginx"',
    }),
    releaseNotes: text('Link or text of its release notes.', 2000),
    website: url('Its website.'),
    licenseType: text('Its license, e.g. "MIT" or "GPLv2".', 100),
    licenseLink: url('Where its license is.'),
  },
  { required: ['name'] },
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
        'The software included, as the listing shows it (name, version, releaseNotes, website, licenseType, licenseLink). Each entry has a version or a package to take it from.',
    }),
    maxImageAgeDays: int({
      description: `\`mpimg release\` warns (and still releases) when the image is older than this many days: since the build's review-day upgrade (freshen) in its build record, else since the snapshot was made. Default ${DEFAULT_MAX_IMAGE_AGE_DAYS}.`,
      minimum: 1,
      maximum: 3650,
      'x-message': 'bad maxImageAgeDays {value}',
      'x-hint': 'a whole number of days from 1 to 3650, e.g. 14',
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
    (Array.isArray(l.software) ? l.software : []).forEach((s, i) => {
      if (typeof s !== 'object' || s === null) return;
      if (s.version === undefined && s.package === undefined)
        push(
          out,
          `${at}.software[${i}]`,
          'no version and no package',
          'add "version": "1.2.3" (or "{{VARIABLE}}"), or "package": "<name>" to send the version installed in the image',
        );
      else if (s.version !== undefined && s.package !== undefined)
        push(
          out,
          `${at}.software[${i}]`,
          'both version and package',
          'keep one: "version" is sent as written, "package" sends the version installed in the released image',
        );
    });
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
