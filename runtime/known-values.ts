/**
 * What DigitalOcean offers that a manifest names: distributions (runtime/manifest.ts DISTRIBUTIONS,
 * the one list), regions and droplet sizes. The schema accepts any well-formed slug, so a release
 * newer than this list still builds; these say when a value is not one DigitalOcean is known to
 * offer, as a warning (`mpimg validate`, `mpimg new`), never as an error.
 */
import { DISTRIBUTIONS } from './manifest.js';

/** Distribution families by slug prefix; the version is what follows, up to -x64. */
const FAMILIES: ReadonlyArray<{ prefix: string; name: string }> = [
  { prefix: 'ubuntu-', name: 'Ubuntu' },
  { prefix: 'debian-', name: 'Debian' },
  { prefix: 'rockylinux-', name: 'Rocky Linux' },
  { prefix: 'almalinux-', name: 'AlmaLinux' },
  { prefix: 'centos-stream-', name: 'CentOS Stream' },
];

/** Regions that take new droplets (doctl compute region list). */
export const REGIONS: readonly string[] = [
  'nyc1',
  'nyc3',
  'sfo2',
  'sfo3',
  'ams3',
  'sgp1',
  'lon1',
  'fra1',
  'tor1',
  'blr1',
  'syd1',
  'atl1',
];

/**
 * Droplet size slugs: basic (s-), CPU-optimised (c-, c2-), general purpose (g-, gd-), memory (m-, m3-, m6-), storage
 * (so-, so1_5-).
 */
const SIZE_RE =
  /^(s-\d+vcpu-\d+(mb|gb)(-\d+gb)?(-(amd|intel))?|(c|c2|g|gd|m|m3|m6|so|so1_5)-\d+vcpu-\d+gb(-intel)?|c-\d+(-intel)?)$/;

const versionOf = (slug: string, prefix: string): number[] | undefined => {
  const m = new RegExp(`^${prefix.replace(/-/g, '\\-')}(\\d+(?:-\\d+)*)-x64$`).exec(slug);
  return m ? m[1].split('-').map(Number) : undefined;
};
const compare = (a: number[], b: number[]): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
};

export type DistributionKind = 'known' | 'newer' | 'other-release' | 'unknown';

/**
 * How a distribution slug relates to the list: known, a newer release of a known family, another release of one, or
 * unknown.
 */
export function distributionKind(slug: string): DistributionKind {
  if (DISTRIBUTIONS.some((d) => d.slug === slug)) return 'known';
  for (const f of FAMILIES) {
    const v = versionOf(slug, f.prefix);
    if (!v) continue;
    const known = DISTRIBUTIONS.map((d) => versionOf(d.slug, f.prefix)).filter((x): x is number[] => x !== undefined);
    return known.every((k) => compare(v, k) > 0) ? 'newer' : 'other-release';
  }
  return 'unknown';
}

const knownList = () => DISTRIBUTIONS.map((d) => d.slug).join(', ');

/** A warning for a distribution slug DigitalOcean is not known to offer, else undefined. */
export function distributionWarning(slug: string): string | undefined {
  switch (distributionKind(slug)) {
    case 'known':
      return undefined;
    case 'newer':
      return `distribution "${slug}" is newer than the ones this generator-mpimg knows (${knownList()}): fine if DigitalOcean offers it (\`doctl compute image list-distribution\`); the image check and the build steps are tested on the known ones`;
    case 'other-release':
      return `distribution "${slug}" is not one DigitalOcean offers today (known: ${knownList()}); check \`doctl compute image list-distribution\``;
    default:
      return `distribution "${slug}" is unknown to generator-mpimg (known: ${knownList()}); check the slug with \`doctl compute image list-distribution\``;
  }
}

export function regionWarning(region: string): string | undefined {
  if (REGIONS.includes(region)) return undefined;
  return `region "${region}" is not one DigitalOcean takes new droplets in (known: ${REGIONS.join(', ')}); check it with \`doctl compute region list\``;
}

export function sizeWarning(size: string): string | undefined {
  if (SIZE_RE.test(size)) return undefined;
  return `droplet size "${size}" does not look like a DigitalOcean size slug (e.g. s-1vcpu-512mb-10gb, s-2vcpu-4gb); check it with \`doctl compute size list\``;
}
