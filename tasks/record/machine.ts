/** What a build record says of the machine being built, read over SSH: distribution, kernel, packages, droplet id. */
import { distroFromOsRelease, familyOf, parseOsRelease } from '../../runtime/distro.js';
import type { Connection } from '../ssh/connection.js';
import { shellQuote } from '../ssh/quote.js';
import { targetRoot } from '../standard/project.js';
import { listPackagesCommand, parsePackageList } from './packages.js';
import type { BuildRecord } from './types.js';

// DigitalOcean's metadata service (link-local, answers only on a droplet); a few seconds at most.
const DROPLET_ID =
  'u=http://169.254.169.254/metadata/v1/id; if command -v curl >/dev/null 2>&1; then curl -fsS -m 3 "$u"; elif command -v wget >/dev/null 2>&1; then wget -q -T 3 -t 1 -O - "$u"; fi 2>/dev/null || true';

export interface MachineFacts {
  system: BuildRecord['system'];
  packages: BuildRecord['packages'];
  dropletId: number | null;
}

const quiet = { quiet: true, echo: false } as const;

/** `fallback`: the distribution slug to record when the machine has no usable os-release (a bare staged root). */
export async function machineFacts(c: Connection, fallback: string): Promise<MachineFacts> {
  const root = targetRoot();
  const r = root === '/' ? '' : root.replace(/\/+$/, '');
  const files = [`${r}/etc/os-release`, `${r}/usr/lib/os-release`].map(shellQuote).join(' ');
  const osText = (
    await c.run(`for f in ${files}; do if [ -f "$f" ]; then cat "$f"; exit 0; fi; done; true`, { ...quiet })
  ).stdout;
  let distro = distroFromOsRelease(osText);
  if (!distro) {
    c.log(`no usable os-release on ${c.target}${r ? ` in ${root}` : ''}: the record names ${fallback}, the build base`);
    distro = { slug: fallback, family: familyOf(fallback) };
  }
  const os = parseOsRelease(osText);
  const kernel = (await c.run('uname -r', quiet)).stdout.trim();
  const listing = await c.run(listPackagesCommand(root), { ...quiet, hint: 'the package database could not be read' });
  const { database, packages } = parsePackageList(listing.stdout);
  const id = r ? '' : (await c.run(DROPLET_ID, { ...quiet, check: false })).stdout.trim();
  return {
    system: {
      distribution: distro.slug,
      id: os.ID ?? '',
      versionId: os.VERSION_ID ?? '',
      prettyName: os.PRETTY_NAME ?? '',
      family: distro.family,
      kernel,
    },
    packages: { database, count: packages.length, list: packages },
    dropletId: /^[1-9]\d{0,15}$/.test(id) ? Number(id) : null,
  };
}
