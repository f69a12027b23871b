/** What a build record says of the machine being built, read over SSH: distribution, kernel, packages, droplet id. */
import { distroFromOsRelease, familyOf, parseOsRelease } from '../../runtime/distro.js';
import type { Connection } from '../ssh/connection.js';
import { shellQuote } from '../ssh/quote.js';
import { targetRoot } from '../standard/project.js';
import { listPackagesCommand, parsePackageList } from './packages.js';
import type { BuildRecord } from './types.js';

// DigitalOcean's metadata service (link-local, answers only on a droplet); a few seconds at most.
export const DROPLET_ID_COMMAND =
  'u=http://169.254.169.254/metadata/v1/id; if command -v curl >/dev/null 2>&1; then curl -fsS -m 3 "$u"; elif command -v wget >/dev/null 2>&1; then wget -q -T 3 -t 1 -O - "$u"; fi 2>/dev/null || true';

export interface MachineFacts {
  system: BuildRecord['system'];
  packages: BuildRecord['packages'];
  dropletId: number | null;
}

const quiet = { quiet: true, echo: false } as const;

/** The os-release of the root given as $1 (/etc's, else /usr/lib's), or nothing. */
export const OS_RELEASE_SCRIPT =
  'r=${1%/}; for f in "$r/etc/os-release" "$r/usr/lib/os-release"; do if [ -f "$f" ]; then cat "$f"; exit 0; fi; done; true';
export const KERNEL_COMMAND = 'uname -r';

/** What the machine printed for the commands above (over SSH, or in the Packer template's facts file). */
export interface MachineOutput {
  osRelease: string;
  kernel: string;
  packageListing: string;
  dropletId: string;
}

/**
 * The facts of a machine from its commands' output. `fallback`: the distribution slug to record when
 * the machine has no usable os-release (a bare staged root); `note` says so.
 */
export function factsOf(out: MachineOutput, fallback: string, note: (what: string) => void): MachineFacts {
  let distro = distroFromOsRelease(out.osRelease);
  if (!distro) {
    note(`no usable os-release: the record names ${fallback}, the build base`);
    distro = { slug: fallback, family: familyOf(fallback) };
  }
  const os = parseOsRelease(out.osRelease);
  const { database, packages } = parsePackageList(out.packageListing);
  const id = out.dropletId.trim();
  return {
    system: {
      distribution: distro.slug,
      id: os.ID ?? '',
      versionId: os.VERSION_ID ?? '',
      prettyName: os.PRETTY_NAME ?? '',
      family: distro.family,
      kernel: out.kernel.trim(),
    },
    packages: { database, count: packages.length, list: packages },
    dropletId: /^[1-9]\d{0,15}$/.test(id) ? Number(id) : null,
  };
}

/** `fallback`: the distribution slug to record when the machine has no usable os-release (a bare staged root). */
export async function machineFacts(c: Connection, fallback: string): Promise<MachineFacts> {
  const root = targetRoot();
  const staged = root !== '/';
  const osRelease = (await c.run(`sh -c ${shellQuote(OS_RELEASE_SCRIPT)} mpimg-os ${shellQuote(root)}`, quiet)).stdout;
  const kernel = (await c.run(KERNEL_COMMAND, quiet)).stdout;
  const listing = await c.run(listPackagesCommand(root), { ...quiet, hint: 'the package database could not be read' });
  const dropletId = staged ? '' : (await c.run(DROPLET_ID_COMMAND, { ...quiet, check: false })).stdout;
  return factsOf({ osRelease, kernel, packageListing: listing.stdout, dropletId }, fallback, (what) =>
    c.log(
      `${what.replace(/^no usable os-release/, `no usable os-release on ${c.target}${staged ? ` in ${root}` : ''}`)}`,
    ),
  );
}
