/**
 * Which DigitalOcean distribution a machine runs, from its /etc/os-release: the slug (debian-12-x64)
 * and the package family. Used on the droplet (plans that differ per family) and by the build tasks.
 */
import { DISTRIBUTIONS } from './manifest.js';
import { DNF_SLUG_RE } from './sections/common.js';

export type Family = 'apt' | 'dnf';

export interface Distro {
  /** DigitalOcean image slug, e.g. ubuntu-24-04-x64 (derived for releases newer than the table). */
  slug: string;
  family: Family;
}

/** os-release text → its KEY=value pairs (values unquoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export function distroFromOsRelease(text: string): Distro | undefined {
  const os = parseOsRelease(text);
  const id = (os.ID ?? '').toLowerCase();
  const like = `${id} ${(os.ID_LIKE ?? '').toLowerCase()}`;
  const major = (os.VERSION_ID ?? '').split('.')[0];
  let slug: string | undefined;
  if (id === 'ubuntu') slug = `ubuntu-${(os.VERSION_ID ?? '').replace('.', '-')}-x64`;
  else if (id === 'debian') slug = `debian-${major}-x64`;
  else if (id === 'rocky') slug = `rockylinux-${major}-x64`;
  else if (id === 'almalinux') slug = `almalinux-${major}-x64`;
  else if (id === 'centos') slug = `centos-stream-${major}-x64`;
  const family: Family | undefined = /\b(debian|ubuntu)\b/.test(like)
    ? 'apt'
    : /\b(rhel|fedora|centos)\b/.test(like)
      ? 'dnf'
      : undefined;
  if (!family) return undefined;
  return { slug: slug ?? `${id}-${major}-x64`, family };
}

/** The family of a distribution slug of the manifest (table first, then the name). */
export function familyOf(slug: string): Family {
  return DISTRIBUTIONS.find((d) => d.slug === slug)?.family ?? (DNF_SLUG_RE.test(slug) ? 'dnf' : 'apt');
}
