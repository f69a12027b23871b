/**
 * $.name, $.slug, $.vendor, $.version and $.distributions (with $schema): what the image is. One
 * concern, one module: they are the manifest's required keys, and every installed name is made of
 * them (/opt/<vendor>/<slug>, /var/log/mpimg/<slug>, the snapshot's name).
 */
import { RESERVED_VENDORS } from '../policy.js';
import type { Check } from '../schema.js';
import { DISTRO_SLUG_RE, push, SLUG_RE, str, strings, VENDOR_RE } from './common.js';

export interface Identity {
  $schema?: string;
  name: string;
  slug: string;
  vendor: string;
  version: string;
  distributions: string[];
}

export const IDENTITY_REQUIRED = ['name', 'slug', 'vendor', 'version', 'distributions'] as const;

export const IDENTITY_PROPERTIES = {
  $schema: str({ description: 'This schema, for editors.' }),
  name: str({
    description: 'Display name, e.g. "Acme Wiki".',
    minLength: 1,
    pattern: '\\S',
    'x-message': 'name must be one non-empty line',
    'x-hint': 'use the product name as customers see it',
  }),
  slug: str({
    description: 'Lower-case id used in every installed name: /var/log/mpimg/<slug>, 99-<slug>, ...',
    pattern: SLUG_RE.source,
    'x-message': 'bad slug {value}',
    'x-hint': '2-40 characters: lower-case letters, digits and "-", starting with a letter, not ending with "-"',
  }),
  vendor: str({
    description:
      'Company folder under /opt: /opt/<vendor>/<slug>. "digitalocean" is reserved (it fails the Marketplace check).',
    pattern: VENDOR_RE.source,
    'x-message': 'bad vendor folder name {value}',
    'x-hint': 'lower-case letters, digits, ".", "_" and "-" only (it becomes /opt/<vendor>)',
    'x-check': 'vendor',
  }),
  version: str({
    description: "The image's version.",
    pattern: '^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$',
    'x-message': 'bad version {value}',
    'x-hint': 'use something like 1.0.0 (letters, digits, ".", "+", "_", "-")',
  }),
  distributions: strings(
    str({
      pattern: DISTRO_SLUG_RE.source,
      'x-message': 'bad distribution {value}',
      'x-hint': 'use a DigitalOcean image slug such as ubuntu-24-04-x64',
    }),
    {
      description: 'DigitalOcean base image slugs this image is built for; the first is the build base.',
      minItems: 1,
      'x-hint': 'add one, e.g. "ubuntu-24-04-x64"',
    },
  ),
};

export const IDENTITY_CHECKS: Record<string, Check> = {
  vendor(v, at, out) {
    if (typeof v === 'string' && RESERVED_VENDORS.has(v))
      push(
        out,
        at,
        `vendor "${v}" is reserved`,
        '/opt/digitalocean alone fails the Marketplace check: use your company name',
      );
  },
};
